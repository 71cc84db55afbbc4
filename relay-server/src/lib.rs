//! The BitCraps relay.
//!
//! A thin I/O shell around the `shared` engine: it serves the web page and
//! its WebAssembly, answers health checks, and (as the product grows)
//! carries players' frames. It never decides anything about a game; the
//! players do that among themselves.

pub mod config;
pub mod http;
pub mod shutdown;

pub use config::Config;
pub use http::{router, serve};
