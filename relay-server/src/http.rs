//! The relay's HTTP surface: the web page (static files) and `/healthz`.

use std::path::Path;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::shutdown::Shutdown;

/// The relay's routes: `/healthz`, and the files of `web_dir` for every
/// other path (`/` serves `index.html`; `.wasm` goes out as
/// `application/wasm` so browsers can stream-compile it).
pub fn router(web_dir: &Path) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback_service(ServeDir::new(web_dir).append_index_html_on_directories(true))
        .layer(TraceLayer::new_for_http())
}

/// Liveness: answers `ok` while the relay runs.
async fn healthz() -> &'static str {
    "ok"
}

/// Serves `router` on `listener` until `shutdown` fires, then stops
/// accepting and waits for open requests to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.wait())
        .await
}
