//! The BitCraps engine.
//!
//! Everything the players must agree on lives here: the craps rules, the
//! way dice are derived from the players' shared randomness, and the wire
//! vocabulary. The crate is pure and deterministic: it opens no socket,
//! reads no clock and spawns no task, so the very same code runs inside the
//! browser (compiled to `wasm32-unknown-unknown`) and inside the native
//! relay.
//!
//! See the crate README for the module map and a two-player round.
//!
//! It deliberately does not do I/O of any kind; the relay and the browser
//! client are thin shells that move bytes and pass the time in.

pub mod codec;
pub mod commit_reveal;
pub mod craps;
pub mod decode;
pub mod dice;
pub mod manager;
pub mod message;
pub mod peer;
pub mod queue;
pub mod ratio;
pub mod session;
pub mod sig;
pub mod stun;
pub mod transcript;
pub mod verify;
pub mod wire;

pub use dice::{DiceError, Roll};
/// The ed25519 signing key type players use (re-exported so callers need
/// not depend on `ed25519-dalek` themselves).
pub use ed25519_dalek::SigningKey;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Lower-case hex of bytes (ids, hashes), as every program of the
/// project prints them.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Version of this engine crate, as published in `Cargo.toml`.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Version of the wire protocol spoken between peers and the relay.
///
/// Peers with different protocol versions cannot share a table.
pub const PROTOCOL_VERSION: u8 = 2;
