//! The relay binary on a free loopback port, as operators run it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub struct Binary {
    pub child: Child,
    pub addr: String,
    /// Every line it has written to stdout so far.
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the relay binary on a free port; returns once it listens.
pub fn start_binary(flags: &[&str]) -> Binary {
    // A relative BITCRAPS_RELAY_BIN is taken from the workspace's root.
    let bin = std::env::var("BITCRAPS_RELAY_BIN").map_or_else(
        |_| std::path::PathBuf::from(env!("CARGO_BIN_EXE_bitcraps-relay")),
        |path| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(path)
        },
    );
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--no-stun-server"])
        .args(flags)
        // Operators' default: every connection event logged (rate-limited).
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the relay binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    // Reads its log (so it never blocks on a full pipe), keeps it, and
    // reports the address from the line that says where it listens.
    let kept = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on http://".len()..];
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the relay listens within 20 s");
    Binary { child, addr, log }
}

pub fn terminate(binary: &Binary) {
    let status = Command::new("kill")
        .args(["-TERM", &binary.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

impl Binary {
    pub fn ws(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Ends it at once (SIGKILL): nothing it would do on its way out.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
