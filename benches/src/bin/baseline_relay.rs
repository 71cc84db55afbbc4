//! `baseline-relay`: the relay the way most people write it first, kept
//! only as the comparison point for the load generator.
//!
//! axum WebSocket + one `tokio::sync::broadcast` channel per room, default
//! WebSocket buffer sizes, no per-connection queue, no priorities, no
//! sequence numbers or replay, no signature checks. It speaks just enough
//! of the frame protocol for `relay-load`: a challenge on connect, a
//! roster after a join, and every client frame fanned out to the room.
//! (Lagging receivers silently lose frames: broadcast's own behaviour.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use shared::codec::{control, FrameHeader};
use shared::wire::{FrameKind, PeerId, RoomId};
use tokio::sync::broadcast;

/// The plain relay used as a baseline by the load generator.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Capacity of each room's broadcast channel.
    #[arg(long, default_value_t = 1024)]
    capacity: usize,
}

type Rooms = Arc<Mutex<HashMap<RoomId, broadcast::Sender<(PeerId, Bytes)>>>>;

#[derive(Clone)]
struct App {
    rooms: Rooms,
    capacity: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = App {
        rooms: Arc::default(),
        capacity: args.capacity,
    };
    let router = Router::new()
        .route("/ws", get(ws))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!("baseline relay on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

async fn ws(State(app): State<App>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| connection(app, socket))
}

fn frame(kind: FrameKind, room: RoomId, payload: &[u8]) -> Bytes {
    benches::load::relay_frame(FrameHeader::new(kind, room, [0; 32]), payload)
}

async fn connection(app: App, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let _ = out_tx.send(frame(FrameKind::Challenge, [0; 16], &[0; 40]));
    let writer = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if sink.send(Message::Binary(bytes)).await.is_err() {
                break;
            }
        }
    });
    let mut forwarders = Vec::new();
    while let Some(Ok(message)) = stream.next().await {
        let Message::Binary(bytes) = message else {
            continue;
        };
        let Ok((header, _)) = FrameHeader::peek(&bytes) else {
            continue;
        };
        let me = header.sender;
        match header.kind {
            FrameKind::Join => {
                let sender = {
                    let mut rooms = app.rooms.lock().unwrap_or_else(|e| e.into_inner());
                    rooms
                        .entry(header.room)
                        .or_insert_with(|| broadcast::channel(app.capacity).0)
                        .clone()
                };
                let mut rx = sender.subscribe();
                let out = out_tx.clone();
                forwarders.push(tokio::spawn(async move {
                    loop {
                        match rx.recv().await {
                            Ok((from, bytes)) if from != me => {
                                if out.send(bytes).is_err() {
                                    break;
                                }
                            }
                            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => break,
                        }
                    }
                }));
                let _ = out_tx.send(frame(
                    FrameKind::Roster,
                    header.room,
                    &control::encode_roster(&[me], 0),
                ));
            }
            _ => {
                let sender = app
                    .rooms
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&header.room)
                    .cloned();
                if let Some(sender) = sender {
                    let _ = sender.send((me, bytes));
                }
            }
        }
    }
    for f in forwarders {
        f.abort();
    }
    writer.abort();
}
