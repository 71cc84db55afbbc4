//! Test helpers: a relay on a free loopback port, and a real WebSocket
//! client (tokio-tungstenite) that speaks the frame protocol.

#![allow(dead_code)] // each test file uses part of the harness

pub mod binary;
pub mod nats;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use relay::shutdown::{self, ShutdownTrigger};
use relay::{Config, Relay};
use shared::codec::{control, FrameRef};
use shared::peer::handshake;
use shared::wire::{FrameKind, PeerId, RoomId, MAX_FRAME_LEN};
use shared::SigningKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web")
}

pub struct Running {
    pub addr: String,
    pub relay: Relay,
    pub trigger: ShutdownTrigger,
    pub task: JoinHandle<()>,
}

impl Running {
    /// How many times input was refused for `reason` (`/metrics`' counter).
    pub fn rejections(&self, reason: &str) -> u64 {
        self.relay
            .metrics()
            .rejections
            .with_label_values(&[reason])
            .get()
    }

    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ws(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.http()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("relay stops within 10 s")
            .expect("relay task");
    }
}

/// Starts a relay with these extra flags on a free port.
pub async fn start(flags: &[&str]) -> Running {
    let mut args = vec!["bitcraps-relay", "--stun-listen", "127.0.0.1:0"];
    args.extend_from_slice(flags);
    let config = Config::parse_from(args);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (trigger, signal) = shutdown::channel();
    let relay = Relay::start(&config, signal).await.expect("relay starts");
    let app = relay.clone();
    let dir = if flags.contains(&"--web-dir") {
        config.web_dir.clone()
    } else {
        web_dir()
    };
    let task = tokio::spawn(async move {
        relay::serve(listener, app, &dir).await.unwrap();
    });
    // The STUN server binds as serving starts.
    if !flags.contains(&"--no-stun-server") {
        for _ in 0..200 {
            if relay.stun_addr().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Running {
        addr,
        relay,
        trigger,
        task,
    }
}

pub const ROOM: RoomId = [0x77; 16];

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub key: SigningKey,
    pub nonce: [u8; 32],
    pub challenge: control::Challenge,
}

/// A frame as the client received it.
#[derive(Debug, Clone)]
pub struct Got {
    pub kind: FrameKind,
    pub seq: u64,
    /// The relay time stamped on it (0 if not stamped).
    pub time: u64,
    pub room: RoomId,
    pub sender: PeerId,
    pub payload: Vec<u8>,
    /// The whole frame.
    pub raw: Bytes,
}

impl Client {
    /// Connects and reads the relay's challenge.
    pub async fn connect(url: &str, key: SigningKey) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let mut client = Client {
            ws,
            key,
            nonce: [0; 32],
            challenge: control::Challenge {
                nonce: [0; 32],
                epoch: 0,
            },
        };
        let challenge = client.recv().await.expect("challenge");
        assert_eq!(challenge.kind, FrameKind::Challenge);
        client.challenge = control::Challenge::decode(&challenge.payload).unwrap();
        client.nonce = client.challenge.nonce;
        client
    }

    pub fn id(&self) -> PeerId {
        self.key.verifying_key().to_bytes()
    }

    pub fn frame(
        &self,
        kind: FrameKind,
        room: RoomId,
        target: Option<PeerId>,
        payload: &[u8],
    ) -> Bytes {
        handshake::signed_frame(&self.key, kind, room, target, payload).unwrap()
    }

    pub async fn send_raw(&mut self, bytes: Bytes) {
        self.ws.send(Message::Binary(bytes)).await.expect("send");
    }

    pub async fn send(
        &mut self,
        kind: FrameKind,
        room: RoomId,
        target: Option<PeerId>,
        payload: &[u8],
    ) {
        let frame = self.frame(kind, room, target, payload);
        self.send_raw(frame).await;
    }

    /// Joins `room` (resuming after `resume_from` if non-zero).
    pub async fn join(&mut self, room: RoomId, resume_from: u64) {
        let frame = handshake::join_frame(&self.key, &self.challenge, room, resume_from, false);
        self.send_raw(frame).await;
    }

    /// Joins and reads frames up to the roster, which it returns.
    pub async fn join_and_roster(&mut self, room: RoomId) -> Vec<PeerId> {
        self.join(room, 0).await;
        let roster = self.recv_kind(FrameKind::Roster).await;
        control::decode_roster(&roster.payload).unwrap()
    }

    /// The next frame (5 s at most); `None` if the connection closed.
    pub async fn recv(&mut self) -> Option<Got> {
        self.recv_within(Duration::from_secs(5)).await
    }

    /// The next frame of `kind`, within `limit`.
    pub async fn recv_kind_within(&mut self, kind: FrameKind, limit: Duration) -> Got {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let got = self.recv_within(left).await.expect("connection open");
            if got.kind == kind {
                return got;
            }
        }
    }

    /// The next frame (within `limit`); `None` if the connection closed.
    pub async fn recv_within(&mut self, limit: Duration) -> Option<Got> {
        loop {
            let next = tokio::time::timeout(limit, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("a frame within {limit:?}"))?;
            match next.ok()? {
                Message::Binary(bytes) => {
                    let f =
                        FrameRef::parse(&bytes, MAX_FRAME_LEN).expect("relay sends valid frames");
                    return Some(Got {
                        kind: f.header.kind,
                        seq: f.header.seq,
                        time: f.header.time,
                        room: f.header.room,
                        sender: f.header.sender,
                        payload: f.payload.to_vec(),
                        raw: bytes.clone(),
                    });
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    pub async fn recv_kind(&mut self, kind: FrameKind) -> Got {
        loop {
            let got = self.recv().await.expect("connection open");
            if got.kind == kind {
                return got;
            }
        }
    }

    /// Reads until the relay closes; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("closed within 10 s");
            match next {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}
