//! The WebSocket transport under `/ws`: the HTTP upgrade, the socket's
//! settings, what each way a socket can fail means (its close code), and
//! a lingering close.
//!
//! The relay upgrades the connection itself (hyper's upgrade and
//! tokio-tungstenite) rather than through axum's `WebSocket`, for two
//! things axum hides: the socket's errors (an oversized message, invalid
//! UTF-8, a protocol violation), each of which gets its own close code
//! instead of a silently dropped connection; and the TCP stream after the
//! close frame is sent. A client still sending (a 16 MB frame, say) when
//! the relay closes would otherwise get a TCP reset that can destroy the
//! close frame before it reads it; the relay half-closes instead and reads
//! (and discards) what is still coming, for at most [`LINGER`].
//!
//! It deliberately does not negotiate extensions (no permessage-deflate:
//! frames are small and already compact) or subprotocols.

use std::future::{ready, Ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::config::Limits;
use crate::connection::{self, WsIn, WsOut};
use crate::rooms::Hub;
use crate::shutdown::Shutdown;

/// The socket of one upgraded connection.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// How long the relay keeps reading (and discarding) after its close frame.
pub const LINGER: Duration = Duration::from_secs(2);
/// The same while the relay shuts down.
pub const LINGER_AT_SHUTDOWN: Duration = Duration::from_millis(200);
/// The most it reads while lingering.
const LINGER_BYTES: usize = 64 * 1024 * 1024;

/// The socket settings for these limits. tungstenite's defaults are a
/// 128 KiB read buffer per connection and 64 MiB messages; the read buffer
/// is allocated up front and grows for a larger message, so 1 KiB keeps
/// idle connections cheap (7 KiB each in all), and a smaller write buffer
/// than 4 KiB costs throughput (BENCHMARKS.md). No message or frame may be
/// larger than one relay frame: anything bigger is refused as its header
/// arrives, before its payload is buffered, and closes with 1009.
pub fn config(limits: &Limits) -> WebSocketConfig {
    let max = limits.max_frame_bytes;
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(max + 64 * 1024)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Why a request is not a WebSocket upgrade we accept.
fn not_an_upgrade(why: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// Answers an HTTP/1.1 upgrade request with 101 and runs `on_socket` on
/// the socket once the upgrade completes; anything else gets 400 (426 for
/// another WebSocket version).
pub fn accept<F, Fut>(mut request: Request, config: WebSocketConfig, on_socket: F) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let headers = request.headers();
    if request.version() != Version::HTTP_11 {
        return not_an_upgrade("WebSocket upgrades need HTTP/1.1");
    }
    if !header_has(headers, header::CONNECTION, "upgrade")
        || !header_has(headers, header::UPGRADE, "websocket")
    {
        return not_an_upgrade("expected a WebSocket upgrade");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            )],
            "WebSocket version 13 only",
        )
            .into_response();
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return not_an_upgrade("no Sec-WebSocket-Key");
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        on_socket(socket).await;
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// What a message (or a socket error) from the client means to the
/// connection. Errors that only say the client went away stay errors.
fn incoming(item: Result<Message, WsError>) -> Result<WsIn, WsError> {
    match item {
        Ok(Message::Binary(bytes)) => Ok(WsIn::Binary(bytes)),
        Ok(Message::Text(_)) => Ok(WsIn::Text),
        Ok(Message::Ping(_) | Message::Frame(_)) => Ok(WsIn::Ping),
        Ok(Message::Pong(_)) => Ok(WsIn::Pong),
        Ok(Message::Close(_)) => Ok(WsIn::Close),
        Err(WsError::Capacity(_)) => Ok(WsIn::TooBig),
        Err(WsError::Utf8(_)) => Ok(WsIn::BadUtf8),
        Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
            Err(WsError::ConnectionClosed)
        }
        Err(WsError::Protocol(violation)) => Ok(WsIn::ProtocolViolation(violation.to_string())),
        Err(other) => Err(other),
    }
}

fn outgoing(out: WsOut) -> Ready<Result<Message, WsError>> {
    ready(Ok(match out {
        WsOut::Binary(bytes) => Message::Binary(bytes),
        WsOut::Ping => Message::Ping(Default::default()),
        WsOut::Close(code, reason) => Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })),
    }))
}

/// Serves one upgraded socket: the connection itself (its frames sent
/// one per message or packed, `pack`), then the lingering close.
pub async fn serve(
    hub: Arc<Hub>,
    addr: Option<SocketAddr>,
    socket: Socket,
    shutdown: Shutdown,
    pack: connection::Pack,
) {
    let (sink, stream) = socket.split();
    let stream = stream.map(incoming as fn(_) -> _);
    let sink = sink.with(outgoing as fn(_) -> _);
    let stopping = shutdown.clone();
    let metrics = Arc::clone(hub.metrics());
    let Some((stream, sink)) = connection::serve(hub, addr, stream, sink, shutdown, pack).await
    else {
        return;
    };
    let Ok(mut socket) = stream.into_inner().reunite(sink.into_inner()) else {
        return;
    };
    // A relay that is stopping lingers briefly: it has every socket to close.
    let time = if stopping.is_triggered() {
        LINGER_AT_SHUTDOWN
    } else {
        LINGER
    };
    metrics.lingering.inc();
    linger(socket.get_mut(), time).await;
    metrics.lingering.dec();
}

/// Half-closes the TCP stream after the close frame and reads what the
/// client still sends, until it closes too, `time` passes, or
/// [`LINGER_BYTES`] have been read.
async fn linger(io: &mut TokioIo<Upgraded>, time: Duration) {
    if io.shutdown().await.is_err() {
        return;
    }
    // On the heap, and only now: an array here would sit in every
    // connection's task for its whole life (8 KiB per idle connection).
    let mut buf = vec![0u8; 8 * 1024];
    let mut read = 0;
    let _ = tokio::time::timeout(time, async {
        while read < LINGER_BYTES {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}
