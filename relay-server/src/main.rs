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
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr().context("no local address")?;
    tracing::info!(
        version = shared::ENGINE_VERSION,
        "BitCraps relay listening on http://{local}"
    );

    let (trigger, signal) = shutdown::channel();
    let app = relay::Relay::new(&config, signal);
    let web_dir = config.web_dir.clone();
    let server = tokio::spawn(async move { relay::serve(listener, app, &web_dir).await });
    shutdown::os_signal().await;
    trigger.trigger();

    let grace = Duration::from_secs(config.shutdown_grace_secs);
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined
            .context("server task failed")?
            .context("server failed")?,
        Err(_) => tracing::warn!(
            ?grace,
            "connections still open after the grace period; exiting"
        ),
    }
    tracing::info!("relay stopped");
    Ok(())
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
