//! The relay's command line: every flag has a default that works with no
//! flags at all, and every flag can also be set by an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// BitCraps relay: serves the craps table page and carries players' messages.
#[derive(Debug, Clone, Parser)]
#[command(name = "bitcraps-relay", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on for HTTP and WebSocket.
    #[arg(long, env = "BITCRAPS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder with the web page to serve (index.html and the built wasm in pkg/).
    #[arg(long, env = "BITCRAPS_WEB_DIR", default_value = "web")]
    pub web_dir: PathBuf,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "BITCRAPS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Seconds to wait for open connections to finish after SIGINT/SIGTERM.
    #[arg(long, env = "BITCRAPS_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn no_flags_means_port_8080_on_loopback() {
        let config = Config::try_parse_from(["bitcraps-relay"]).expect("defaults parse");
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.web_dir, PathBuf::from("web"));
        assert_eq!(config.log_format, LogFormat::Text);
    }

    #[test]
    fn a_bad_address_is_refused() {
        assert!(Config::try_parse_from(["bitcraps-relay", "--listen", "nowhere"]).is_err());
    }
}
