//! Our frame codec vs postcard, bitcode and serde_json on the same data: a
//! typical bet frame and a typical WebRTC signaling frame, each encoded and
//! decoded per iteration; plus routing on the header alone.
//!
//! The serde structs mirror every field our frame carries (signature
//! included, as two 32-byte halves since serde arrays stop at 32), and
//! every format decodes into owned values except ours, whose decode
//! borrows the payload: that difference is the design being measured.

use std::hint::black_box;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use shared::codec::{control, encode_with_signature, FrameHeader, FrameRef};
use shared::craps::BetKind;
use shared::message::{Action, Message, SignedMessage};
use shared::wire::{FrameKind, Priority, MAX_FRAME_LEN};
use shared::SigningKey;

#[derive(Serialize, Deserialize, bitcode::Encode, bitcode::Decode, Clone, PartialEq, Debug)]
struct BetFrame {
    kind: u8,
    priority: u8,
    room: [u8; 16],
    sender: [u8; 32],
    seq: u64,
    round: u64,
    msg_seq: u64,
    bet: (u8, u8, u8),
    stake: u64,
    signature: ([u8; 32], [u8; 32]),
}

#[derive(Serialize, Deserialize, bitcode::Encode, bitcode::Decode, Clone, PartialEq, Debug)]
struct SignalFrame {
    kind: u8,
    priority: u8,
    room: [u8; 16],
    sender: [u8; 32],
    target: [u8; 32],
    seq: u64,
    sdp: String,
    signature: ([u8; 32], [u8; 32]),
}

fn halves(sig: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    a.copy_from_slice(&sig[..32]);
    b.copy_from_slice(&sig[32..]);
    (a, b)
}

fn sample_sdp() -> String {
    let mut sdp =
        String::from("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    sdp.push_str("a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
    sdp.push_str("c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n");
    sdp.push_str("a=fingerprint:sha-256 12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0\r\n");
    sdp.push_str("a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n");
    sdp
}

fn main() {
    let mut c = benches::criterion();
    let key = SigningKey::from_bytes(&[7; 32]);
    let me = key.verifying_key().to_bytes();
    let game = [3u8; 16];
    let bet = Message {
        game,
        round: 12,
        seq: 40,
        action: Action::Bet {
            kind: BetKind::Place(6),
            stake: 30,
        },
    }
    .sign(&key);
    let bet_serde = BetFrame {
        kind: FrameKind::Game as u8,
        priority: Priority::Normal as u8,
        room: game,
        sender: me,
        seq: 1234,
        round: 12,
        msg_seq: 40,
        bet: (9, 6, 0),
        stake: 30,
        signature: halves(&bet.signature),
    };
    let sdp = sample_sdp();
    let signal_header = FrameHeader::new(FrameKind::Offer, game, me).to([9; 32]);
    let signal_sig = [5u8; 64];
    let signal_serde = SignalFrame {
        kind: FrameKind::Offer as u8,
        priority: Priority::Normal as u8,
        room: game,
        sender: me,
        target: [9; 32],
        seq: 1234,
        sdp: sdp.clone(),
        signature: halves(&signal_sig),
    };

    let mut group = c.benchmark_group("codec_roundtrip/bet");
    let mut buf = BytesMut::with_capacity(256);
    group.bench_function("bitcraps", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&bet).encode_frame(&mut buf);
            let frame = FrameRef::parse(&buf, MAX_FRAME_LEN).unwrap();
            black_box(SignedMessage::from_frame(&frame).unwrap())
        })
    });
    group.bench_function("postcard", |b| {
        b.iter(|| {
            let bytes = postcard::to_allocvec(black_box(&bet_serde)).unwrap();
            black_box(postcard::from_bytes::<BetFrame>(&bytes).unwrap())
        })
    });
    let mut bitcode_buf = bitcode::Buffer::new();
    group.bench_function("bitcode", |b| {
        b.iter(|| {
            let bytes = bitcode_buf.encode(black_box(&bet_serde)).to_vec();
            black_box(bitcode_buf.decode::<BetFrame>(&bytes).unwrap())
        })
    });
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(black_box(&bet_serde)).unwrap();
            black_box(serde_json::from_slice::<BetFrame>(&bytes).unwrap())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("codec_roundtrip/signal");
    let mut buf = BytesMut::with_capacity(1024);
    group.bench_function("bitcraps", |b| {
        b.iter(|| {
            buf.clear();
            encode_with_signature(
                &signal_header,
                black_box(sdp.as_bytes()),
                &signal_sig,
                &mut buf,
            )
            .unwrap();
            let frame = FrameRef::parse(&buf, MAX_FRAME_LEN).unwrap();
            black_box(control::decode_text(frame.payload).unwrap().len())
        })
    });
    group.bench_function("postcard", |b| {
        b.iter(|| {
            let bytes = postcard::to_allocvec(black_box(&signal_serde)).unwrap();
            black_box(postcard::from_bytes::<SignalFrame>(&bytes).unwrap())
        })
    });
    group.bench_function("bitcode", |b| {
        b.iter(|| {
            let bytes = bitcode_buf.encode(black_box(&signal_serde)).to_vec();
            black_box(bitcode_buf.decode::<SignalFrame>(&bytes).unwrap())
        })
    });
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(black_box(&signal_serde)).unwrap();
            black_box(serde_json::from_slice::<SignalFrame>(&bytes).unwrap())
        })
    });
    group.finish();

    // Routing: what the relay needs per frame (kind, priority, room, target).
    let encoded = bet.to_frame();
    let postcard_bytes = postcard::to_allocvec(&bet_serde).unwrap();
    let mut group = c.benchmark_group("codec_route/bet");
    group.bench_function("bitcraps_header_only", |b| {
        b.iter(|| black_box(FrameHeader::peek(black_box(&encoded)).unwrap()))
    });
    group.bench_function("bitcraps_full_parse", |b| {
        b.iter(|| black_box(FrameRef::parse(black_box(&encoded), MAX_FRAME_LEN).unwrap()))
    });
    group.bench_function("postcard_full_decode", |b| {
        b.iter(|| black_box(postcard::from_bytes::<BetFrame>(black_box(&postcard_bytes)).unwrap()))
    });
    group.finish();

    // The relay's stamp on every room frame: the sequence number alone (as
    // in frame format 1) against format 2's sequence number and time (the
    // system clock read, never before the room's last, both written), on a
    // copy of the frame as the relay makes it.
    let mut group = c.benchmark_group("relay_stamp/bet");
    group.bench_function("sequence_only", |b| {
        b.iter(|| {
            let mut f = BytesMut::from(&encoded[..]);
            f[54..62].copy_from_slice(&black_box(7u64).to_be_bytes());
            f
        })
    });
    group.bench_function("sequence_and_relay_time", |b| {
        b.iter(|| {
            let time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
                .max(black_box(1_764_000_000_000));
            let mut f = BytesMut::from(&encoded[..]);
            shared::codec::stamp(&mut f, black_box(7), time);
            f
        })
    });
    group.finish();
    c.final_summary();
}
