//! STUN in the relay: a Binding server on UDP ([`server`]) so browsers can
//! use the relay as their ICE STUN server, and discovery of the relay's
//! own public address from configured STUN servers ([`discovery`]). The
//! codec and transaction logic live in `shared::stun`, sans I/O.

pub mod discovery;
pub mod server;
