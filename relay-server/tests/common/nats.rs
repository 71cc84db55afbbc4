//! A real `nats-server` (JetStream on, storage in a temporary folder) on a
//! free loopback port, stopped and cleaned up when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Nats {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

fn binary() -> &'static str {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server")
}

fn spawn(config: &std::path::Path) -> Child {
    Command::new(binary())
        .arg("-c")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server runs (Debian: apt-get install nats-server; scripts/setup.sh)")
}

async fn listening(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nats-server did not start on {port}");
}

impl Nats {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts one (Debian: `apt-get install nats-server`; the set-up
    /// installs it).
    pub async fn start() -> Nats {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("bitcraps-nats-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("nats.conf");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\" }}\n",
                dir.join("js").display()
            ),
        )
        .unwrap();
        let child = spawn(&config);
        listening(port).await;
        Nats { child, dir, port }
    }

    /// Kills it (SIGKILL): every relay loses NATS.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, same port, same storage.
    pub async fn restart(&mut self) {
        self.child = spawn(&self.dir.join("nats.conf"));
        listening(self.port).await;
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
