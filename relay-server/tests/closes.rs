//! Every way a client can break the WebSocket protocol, on the wire: a raw
//! TCP client writes the bytes an attacker would, and the relay answers
//! each with its close code (RFC 6455 section 7.4.1) in a close frame, and
//! counts it.

mod common;

use std::time::Duration;

use common::start;
use shared::wire::close;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A WebSocket client that writes whatever frames it is told to.
struct Raw {
    tcp: TcpStream,
    /// Bytes read but not yet parsed.
    buf: Vec<u8>,
}

const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

impl Raw {
    async fn connect(addr: &str) -> Raw {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let end = loop {
            let mut chunk = [0u8; 1024];
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the relay answers the upgrade");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        // RFC 6455's own example key and answer.
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        Raw {
            tcp,
            buf: buf[end..].to_vec(),
        }
    }

    /// A frame header: FIN and opcode byte as given, masked unless
    /// `masked` is false, with this payload length.
    fn header(first: u8, len: u64, masked: bool) -> Vec<u8> {
        let mask_bit = if masked { 0x80 } else { 0 };
        let mut out = vec![first];
        if len < 126 {
            out.push(mask_bit | len as u8);
        } else if len <= u64::from(u16::MAX) {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        if masked {
            out.extend_from_slice(&MASK);
        }
        out
    }

    fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
        let mut out = Self::header(first, payload.len() as u64, masked);
        out.extend(payload.iter().enumerate().map(
            |(i, b)| {
                if masked {
                    b ^ MASK[i % 4]
                } else {
                    *b
                }
            },
        ));
        out
    }

    async fn write(&mut self, bytes: &[u8]) {
        // The relay may already have closed: what it said is what counts.
        let _ = self.tcp.write_all(bytes).await;
    }

    /// Reads the relay's frames until its close frame; returns its code
    /// (`None`: the connection ended without one).
    async fn close_code(&mut self) -> Option<u16> {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Some((opcode, payload, used)) = parse(&self.buf) {
                    self.buf.drain(..used);
                    if opcode == 0x8 {
                        return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    }
                    continue;
                }
                let mut chunk = vec![0u8; 64 * 1024];
                match self.tcp.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .expect("the relay closes within 20 s")
    }
}

/// One unmasked frame from the relay: opcode, payload, bytes used.
fn parse(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let opcode = buf.first()? & 0x0f;
    let short = buf.get(1)? & 0x7f;
    let (len, at) = match short {
        126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(at..at + len)?.to_vec();
    Some((opcode, payload, at + len))
}

/// Sends `bytes` on a fresh connection and returns the close code.
async fn close_code_for(relay: &common::Running, bytes: &[u8]) -> Option<u16> {
    let mut raw = Raw::connect(&relay.addr).await;
    raw.write(bytes).await;
    raw.close_code().await
}

#[tokio::test]
async fn oversized_frames_and_messages_close_with_1009_at_every_size() {
    let relay = start(&[]).await;
    let max = relay.relay.hub().limits().max_frame_bytes;
    // Frames just over the limit, over twice the limit, and up to 16 MB,
    // each sent in full.
    for size in [max + 1, 131_202, 1 << 20, 16 << 20] {
        let payload = vec![0u8; size];
        let mut raw = Raw::connect(&relay.addr).await;
        // The relay refuses the frame at its header, and then lingers:
        // a client still sending is not reset, so it reads the close frame
        // instead of losing it to a TCP reset.
        raw.tcp
            .write_all(&Raw::frame(0x82, &payload, true))
            .await
            .unwrap_or_else(|e| panic!("a {size}-byte frame: reset while sending ({e})"));
        assert_eq!(
            raw.close_code().await,
            Some(close::TOO_BIG),
            "a {size}-byte frame"
        );
    }
    // A header that announces 2^62 bytes, and nothing after it.
    let code = close_code_for(&relay, &Raw::header(0x82, 1 << 62, true)).await;
    assert_eq!(code, Some(close::TOO_BIG), "an announced 2^62-byte frame");
    // A message over the limit in fragments that are each under it.
    let half = vec![0u8; max / 2 + 1];
    let mut bytes = Raw::frame(0x02, &half, true); // binary, not final
    bytes.extend(Raw::frame(0x80, &half, true)); // continuation, final
    let code = close_code_for(&relay, &bytes).await;
    assert_eq!(code, Some(close::TOO_BIG), "a fragmented message");
    assert_eq!(relay.rejections("too_big"), 6);
    relay.stop().await;
}

#[tokio::test]
async fn protocol_violations_close_with_1002_and_bad_utf8_with_1007() {
    let relay = start(&[]).await;
    let cases: [(&str, Vec<u8>); 6] = [
        ("unknown data opcode", Raw::frame(0x83, b"x", true)),
        ("unknown control opcode", Raw::frame(0x8b, b"x", true)),
        ("unmasked frame", Raw::frame(0x82, b"frame", false)),
        ("reserved bit 1", Raw::frame(0xc2, b"frame", true)),
        ("continuation without a start", Raw::frame(0x80, b"x", true)),
        ("fragmented ping", Raw::frame(0x09, b"x", true)),
    ];
    for (what, bytes) in &cases {
        let code = close_code_for(&relay, bytes).await;
        assert_eq!(code, Some(close::PROTOCOL_ERROR), "{what}");
    }
    assert_eq!(relay.rejections("protocol_error"), 6);

    let code = close_code_for(&relay, &Raw::frame(0x81, &[0xc3, 0x28], true)).await;
    assert_eq!(code, Some(close::INVALID_DATA), "invalid UTF-8 text");
    assert_eq!(relay.rejections("bad_utf8"), 1);
    // Well-formed text is still not the protocol.
    let code = close_code_for(&relay, &Raw::frame(0x81, b"hello", true)).await;
    assert_eq!(code, Some(close::BAD_FRAME), "text");
    relay.stop().await;
}

#[tokio::test]
async fn a_ping_flood_is_rate_limited() {
    let relay = start(&["--rate-per-sec", "50", "--rate-burst", "100"]).await;
    let mut raw = Raw::connect(&relay.addr).await;
    let ping = Raw::frame(0x89, b"p", true);
    let flood: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 1_000)
        .collect();
    raw.write(&flood).await;
    assert_eq!(raw.close_code().await, Some(close::RATE_LIMITED));
    assert_eq!(relay.rejections("rate_limited"), 1);
    relay.stop().await;
}

#[tokio::test]
async fn a_client_close_is_answered_and_the_connection_ends() {
    let relay = start(&[]).await;
    let mut raw = Raw::connect(&relay.addr).await;
    raw.write(&Raw::frame(0x88, &1000u16.to_be_bytes(), true))
        .await;
    assert_eq!(raw.close_code().await, Some(1000));
    relay.stop().await;
}

#[tokio::test]
async fn a_lingering_connection_is_visible_until_the_client_goes() {
    let relay = start(&[]).await;
    let mut raw = Raw::connect(&relay.addr).await;
    raw.write(&Raw::frame(0x81, b"text", true)).await;
    assert_eq!(raw.close_code().await, Some(close::BAD_FRAME));
    let metrics = relay.relay.metrics();
    for _ in 0..100 {
        if metrics.lingering.get() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.lingering.get(), 1, "still holding its socket");
    assert_eq!(metrics.connections.get(), 0, "no longer a connection");
    drop(raw);
    for _ in 0..100 {
        if metrics.lingering.get() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.lingering.get(), 0, "gone with the client");
    relay.stop().await;
}

#[tokio::test]
async fn a_member_sending_too_many_bytes_is_rate_limited() {
    let relay = start(&[
        "--rate-bytes-per-sec",
        "10000",
        "--rate-bytes-burst",
        "20000",
    ])
    .await;
    let mut member = common::Client::connect(&relay.ws(), common::key(1)).await;
    member.join_and_roster(common::ROOM).await;
    // Few messages, many bytes: 4 KiB frames, well within the message rate.
    for _ in 0..10 {
        member
            .send(
                shared::wire::FrameKind::Game,
                common::ROOM,
                None,
                &[7; 4096],
            )
            .await;
    }
    assert_eq!(member.close_code().await, Some(close::RATE_LIMITED));
    relay.stop().await;
}
