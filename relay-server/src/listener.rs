//! The accept loop: every TCP connection the relay takes, until it is an
//! upgraded WebSocket or gone.
//!
//! `axum::serve` sets no timer, so a client that sends half a request
//! header holds its connection (and a task and a file descriptor) for as
//! long as it likes, and nothing bounds how many such connections there
//! are. Here each connection is served by hyper's HTTP/1.1 server with:
//!
//! - a header read timeout (`--header-timeout-secs`): a request whose
//!   headers have not all arrived by then, or a keep-alive connection
//!   that sends no next request, is closed;
//! - a cap on connections that are not (yet) WebSockets
//!   (`--max-pending-http`), a semaphore whose permit each connection
//!   holds until hyper hands it over as an upgrade or it closes; over the
//!   cap a new connection is closed at once, counted (`http_full`) and
//!   logged; and at most `--max-pending-http-per-ip` of them from one
//!   address (`http_ip_full`), so one address cannot hold them all.
//!   WebSockets have their own caps (`--max-connections`, per address
//!   `--max-connections-per-ip`).
//!
//! - an overall deadline (`--http-deadline-secs`) on a connection that has
//!   not become a WebSocket (a slow reader of a response holds its place no
//!   longer than that).
//!
//! It deliberately speaks HTTP/1.1 only: browsers use it for plain-HTTP
//! pages and for every WebSocket upgrade.
//!
//! Shutdown: the loop stops accepting when the signal fires, asks every
//! open connection to finish its request and close, and returns once all
//! of them (and every WebSocket) have ended. The binary's watchdog
//! (`crate::shutdown`) bounds how long that may take.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::metrics::Metrics;
use crate::per_ip::PerIp;
use crate::shutdown::Shutdown;

/// What the accept loop needs.
pub struct Accept {
    /// The routes.
    pub router: Router,
    /// Connections that are not WebSockets, at most.
    pub max_pending_http: usize,
    /// The same from one address (0: no limit).
    pub max_pending_http_per_ip: usize,
    /// How long a request's headers may take to arrive.
    pub header_timeout: Duration,
    /// The longest a connection may stay an HTTP connection (requests and
    /// responses, keep-alive included) before it is closed.
    pub http_deadline: Duration,
    /// The WebSocket cap, waited on at shutdown so that every socket has
    /// ended when the loop returns.
    pub websockets: Arc<Semaphore>,
    /// How many permits `websockets` has in all.
    pub max_websockets: usize,
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// When to stop.
    pub shutdown: Shutdown,
}

/// Accepts and serves connections until shutdown; returns once every one
/// has ended.
pub async fn run(listener: TcpListener, accept: Accept) -> std::io::Result<()> {
    let pending = Arc::new(Semaphore::new(accept.max_pending_http));
    let per_ip = PerIp::default();
    let stop = accept.shutdown.clone().wait();
    tokio::pin!(stop);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or the like: say so (rate
                    // limited) and give the system a moment.
                    crate::log::refused_upgrade(None, "accept_failed", &error.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Some(ip_slot) = per_ip.take(addr.ip(), accept.max_pending_http_per_ip) else {
            accept.metrics.reject("http_ip_full");
            crate::log::refused_upgrade(
                Some(addr),
                "http_ip_full",
                &format!(
                    "{} connections from this address are not WebSockets (--max-pending-http-per-ip)",
                    accept.max_pending_http_per_ip
                ),
            );
            drop(tcp);
            continue;
        };
        let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
            accept.metrics.reject("http_full");
            crate::log::refused_upgrade(
                Some(addr),
                "http_full",
                &format!(
                    "{} connections are not WebSockets (--max-pending-http)",
                    accept.max_pending_http
                ),
            );
            drop(tcp);
            continue;
        };
        // Frames are small and latency matters: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let service =
            accept
                .router
                .clone()
                .map_request(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(addr));
                    request.map(Body::new)
                });
        let service = TowerToHyperService::new(service);
        let header_timeout = accept.header_timeout;
        let http_deadline = accept.http_deadline;
        let shutdown = accept.shutdown.clone();
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = http
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(connection);
            let stop = shutdown.wait();
            tokio::pin!(stop);
            // A connection that has not become a WebSocket by its deadline
            // (a client reading a response at a trickle, say) gives its
            // place back.
            let deadline = tokio::time::sleep(http_deadline);
            tokio::pin!(deadline);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = &mut deadline => {}
                () = &mut stop => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(http_deadline, connection).await;
                }
            }
            drop(permit);
            drop(ip_slot);
        });
    }
    drop(listener);
    // Every connection still open finishes; then every WebSocket.
    let _ = pending.acquire_many(to_u32(accept.max_pending_http)).await;
    let _ = accept
        .websockets
        .acquire_many(to_u32(accept.max_websockets))
        .await;
    Ok(())
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
