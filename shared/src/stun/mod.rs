//! STUN, sans I/O: the message codec ([`message`]) and one client
//! transaction with retransmission ([`client`]). The relay wraps them
//! with sockets (its STUN server and its public-address discovery).

pub mod client;
pub mod message;

pub use client::{Answer, Retransmit, Transaction, TransactionError};
pub use message::{binding_error, binding_request, binding_success, Class, StunError, StunMessage};
