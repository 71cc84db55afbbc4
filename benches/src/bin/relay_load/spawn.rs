//! Starting the servers a run drives (our relay, the baseline,
//! matchbox_server, nats-server) and measuring their processes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};
use benches::load::{self, ProcSample};

use crate::args::RelayKind;

/// The relay process this run started, killed on drop.
pub struct Spawned(pub Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `matchbox_server` on the PATH, if installed.
pub fn find_matchbox() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("matchbox_server"))
        .find(|path| path.is_file())
}

pub async fn spawn_relay(kind: RelayKind, extra: &[String]) -> anyhow::Result<(Spawned, String)> {
    let dir = std::env::current_exe()?
        .parent()
        .context("no binary folder")?
        .to_path_buf();
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut nats_monitor = None;
    let mut command = match kind {
        RelayKind::Ours => {
            let mut c = Command::new(dir.join("bitcraps-relay"));
            c.args([
                "--listen",
                &listen,
                "--no-stun-server",
                "--max-connections",
                "20000",
                // Every client comes from 127.0.0.1.
                "--max-connections-per-ip",
                "0",
                "--max-pending-http-per-ip",
                "0",
                "--max-pending-http",
                "20000",
            ])
            .args(["--max-peers-per-room", "1000"])
            .args([
                "--rate-per-sec",
                "100000",
                "--rate-burst",
                "100000",
                "--rate-bytes-per-sec",
                "100000000000",
                "--rate-bytes-burst",
                "100000000000",
                "--idle-timeout-secs",
                "600",
                "--room-idle-timeout-secs",
                "600",
            ])
            .args(extra)
            .env("RUST_LOG", "warn");
            c
        }
        RelayKind::Baseline => {
            let mut c = Command::new(dir.join("baseline-relay"));
            c.args(["--listen", &listen]);
            c
        }
        RelayKind::Matchbox => {
            let mut c = Command::new(find_matchbox().context("matchbox_server is not installed")?);
            c.arg(&listen).env("RUST_LOG", "warn");
            c
        }
        RelayKind::Nats => {
            // Client port, monitoring port (its /healthz), WebSocket port.
            let (client_port, monitor_port) = (free_port()?, free_port()?);
            let config = std::env::temp_dir().join(format!(
                "bitcraps-load-nats-{}-{port}.conf",
                std::process::id()
            ));
            std::fs::write(
                &config,
                format!(
                    "listen: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{monitor_port}\n\
                     max_connections: 100000\nping_interval: \"10m\"\n\
                     websocket {{ listen: \"{listen}\", no_tls: true }}\n"
                ),
            )?;
            nats_monitor = Some(monitor_port);
            let mut c = Command::new(benches::nats::binary());
            c.arg("-c").arg(&config);
            c
        }
    };
    // `BITCRAPS_LOAD_RELAY_LOGS=DIR`: each relay started here writes its
    // log (info, cluster traffic at debug) to DIR/relay-<port>.log.
    let log = match std::env::var_os("BITCRAPS_LOAD_RELAY_LOGS") {
        Some(dir) if kind == RelayKind::Ours => {
            command.env("RUST_LOG", "info,async_nats=warn,relay::cluster=debug");
            Stdio::from(std::fs::File::create(
                PathBuf::from(dir).join(format!("relay-{port}.log")),
            )?)
        }
        _ => Stdio::null(),
    };
    let child = command
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start the relay from {} (cargo build --release -p bitcraps-relay -p benches)", dir.display()))?;
    let spawned = Spawned(child);
    let (health, url) = match kind {
        RelayKind::Matchbox => (format!("http://{listen}/health"), format!("ws://{listen}")),
        RelayKind::Nats => (
            format!("http://127.0.0.1:{}/healthz", nats_monitor.unwrap_or(0)),
            format!("ws://{listen}"),
        ),
        _ => (
            format!("http://{listen}/healthz"),
            format!("ws://{listen}/ws"),
        ),
    };
    for _ in 0..100 {
        if reqwest::get(&health).await.is_ok() {
            return Ok((spawned, url));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the relay did not start")
}

/// The processes a run measures: the relays it started (summed) and
/// nats-server (apart).
pub struct Measured<'a> {
    /// The relays' process ids (none when driving `--url`).
    pub pids: Vec<u32>,
    /// nats-server in cluster mode.
    pub nats: Option<&'a benches::nats::Server>,
}

impl Measured<'_> {
    /// The relays' memory and CPU, summed; `None` unless every one answers.
    pub fn sample(&self) -> Option<ProcSample> {
        let all: Vec<ProcSample> = self
            .pids
            .iter()
            .filter_map(|p| load::proc_sample(*p))
            .collect();
        (!all.is_empty() && all.len() == self.pids.len()).then(|| ProcSample {
            rss_kib: all.iter().map(|s| s.rss_kib).sum(),
            cpu_ticks: all.iter().map(|s| s.cpu_ticks).sum(),
        })
    }

    /// nats-server's CPU ticks.
    pub fn nats_cpu(&self) -> Option<u64> {
        self.nats
            .and_then(|n| load::proc_sample(n.pid()))
            .map(|s| s.cpu_ticks)
    }
}
