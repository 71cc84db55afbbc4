//! The shutdown signal every task of the relay watches.
//!
//! One `watch` channel: the sender flips it once (on SIGINT/SIGTERM, or when
//! a test asks), and every holder of a [`Shutdown`] sees it. Cloning is cheap.
//!
//! The binary waits for the OS signals on a thread of its own
//! ([`spawn_watchdog`]), with its own small runtime: however stuck the
//! relay's runtime is, the signal is seen, and the process exits once the
//! grace period has passed, whatever is still running.

use tokio::sync::watch;

/// Tells whoever holds a [`Shutdown`] to stop.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Resolves once the relay is asked to shut down.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger and signal.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Asks every task to stop. Calling it again does nothing.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Waits until shutdown is triggered (or the trigger is dropped).
    pub async fn wait(mut self) {
        // An error means the trigger is gone: nobody can ask any more, so stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether shutdown has been triggered already.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }
}

/// Starts the thread that waits for SIGINT/SIGTERM, then triggers
/// shutdown and, if the process is still running `grace` later, exits it.
pub fn spawn_watchdog(
    trigger: ShutdownTrigger,
    grace: std::time::Duration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("shutdown-watchdog".into())
        .spawn(move || {
            runtime.block_on(os_signal());
            trigger.trigger();
            std::thread::sleep(grace);
            tracing::warn!(
                ?grace,
                "still running after the shutdown grace period; exiting now"
            );
            // Not a clean stop: say so to whoever supervises the relay.
            std::process::exit(1);
        })
}

/// Waits for SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn os_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
