//! A `nats-server` of the benchmarks' own (JetStream on, storage in a
//! temporary folder, a free loopback port), for `nats-order` and for
//! `relay-load --cluster`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};

/// A running nats-server, stopped (and its storage removed) on drop.
pub struct Server {
    child: Child,
    dir: PathBuf,
    /// Its client URL (`nats://127.0.0.1:PORT`).
    pub url: String,
}

impl Server {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The nats-server program (Debian puts it in /usr/sbin).
pub fn binary() -> &'static str {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server")
}

/// Starts one (Debian: `apt-get install nats-server`); returns once it
/// accepts connections.
pub async fn start_server() -> anyhow::Result<Server> {
    let port = free_port()?;
    let dir =
        std::env::temp_dir().join(format!("bitcraps-bench-nats-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("nats.conf");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\" }}\n",
            dir.join("js").display()
        ),
    )?;
    let child = Command::new(binary())
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start nats-server (Debian: apt-get install nats-server)")?;
    let server = Server {
        child,
        dir,
        url: format!("nats://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nats-server did not start")
}
