//! `bitcraps-relay`: the relay binary. See `--help` for every flag.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use relay::config::LogFormat;
use relay::{shutdown, Config};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    init_logs(config.log_format);

    if !config.web_dir.join("index.html").is_file() {
        tracing::warn!(
            web_dir = %config.web_dir.display(),
            "no index.html in the web folder: the page will not be served (set --web-dir)"
        );
    }
    if let Some(dir) = &config.transcripts {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the transcripts folder {}", dir.display()))?;
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr().context("no local address")?;
    tracing::info!(
        version = shared::ENGINE_VERSION,
        "BitCraps relay listening on http://{local}"
    );

    let limits = config.limits.effective();
    tracing::info!(
        max_connections = limits.max_connections,
        max_connections_per_ip = limits.max_connections_per_ip,
        max_pending_http = limits.max_pending_http,
        max_pending_http_per_ip = limits.max_pending_http_per_ip,
        header_timeout_secs = limits.header_timeout_secs,
        http_deadline_secs = limits.http_deadline_secs,
        max_frame_bytes = limits.max_frame_bytes,
        max_rooms_per_connection = limits.max_rooms_per_connection,
        max_peers_per_room = limits.max_peers_per_room,
        rate_per_sec = limits.rate_per_sec,
        rate_burst = limits.rate_burst,
        rate_bytes_per_sec = limits.rate_bytes_per_sec,
        rate_bytes_burst = limits.rate_bytes_burst,
        queue_frames = limits.queue_frames,
        queue_bytes = limits.queue_bytes,
        slow_consumer_grace_ms = limits.slow_consumer_grace_ms,
        idle_timeout_secs = limits.idle_timeout_secs,
        join_timeout_secs = limits.join_timeout_secs,
        room_idle_timeout_secs = limits.room_idle_timeout_secs,
        replay_frames = limits.replay_frames,
        replay_bytes = limits.replay_bytes,
        replay_total_bytes = limits.replay_total_bytes,
        validate = limits.validate,
        transcripts = ?config.transcripts,
        allowed_origins = ?config.origins.allowed,
        shutdown_grace_secs = config.shutdown_grace_secs,
        "limits in force"
    );
    let (trigger, signal) = shutdown::channel();
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    shutdown::spawn_watchdog(trigger, grace).context("cannot start the signal thread")?;
    let app = relay::Relay::start(&config, signal)
        .await
        .context("cannot join the cluster")?;
    relay::serve(listener, app, &config.web_dir)
        .await
        .context("server failed")?;
    tracing::info!("relay stopped");
    Ok(())
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a terminal, never into files or collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
