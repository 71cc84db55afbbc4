//! The BitCraps relay.
//!
//! A thin I/O shell around the `shared` engine: it serves the web page and
//! its WebAssembly, carries players' frames between them over WebSocket
//! (rooms, one order per room, replay for reconnects, targeted WebRTC
//! signaling), and fans out through bounded per-connection queues so a
//! slow player never holds up a room. It never decides anything about a
//! game; in validation mode it only refuses frames the engine refuses.

pub mod cluster;
pub mod config;
pub mod connection;
pub mod http;
pub mod ice;
pub mod listener;
pub mod log;
pub mod metrics;
pub mod outbox;
pub mod per_ip;
pub mod rooms;
pub mod shutdown;
pub mod socket;
pub mod stun;
pub mod transcripts;

pub use config::Config;
pub use http::{serve, Relay};
