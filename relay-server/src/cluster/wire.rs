//! What relays tell one another through core NATS (the rooms' frames
//! themselves go through the stream, see `room.rs`), and the subjects it
//! goes on:
//!
//! | subject | who reads it | message |
//! |---|---|---|
//! | `bc.relays` | every relay | `[kind][relay: u64]`: alive (every second), asking the others to answer at once, or leaving |
//! | `bc.hello.<room>` | every relay | `[relay: u64]`: "who of yours is in this room?" (answered with a `State` on `bc.p.<room>`) |
//! | `bc.p.<room>` | relays with members in the room | `[kind][relay: u64][body]`: a relay's members (`State`), one joined or left, a client's presence frame |
//! | `bc.r.<relay>` | that relay | `[from relay: u64][room: 16][target: 32][frame]`: a frame for one of its members (signaling) |
//! | `bc.lobby` | every relay | a relay's tables listed in the lobby (JSON, every 2 s) |
//! | `bc.rooms.<shard>.<room>` | the stream | the room's frames, stamped (see `room.rs`) |
//!
//! Numbers are big-endian; ids are the wire's (`PeerId`, `RoomId`).

use bytes::{BufMut, Bytes, BytesMut};
use shared::hex;
use shared::wire::{PeerId, RoomId};

/// A relay's id in the cluster: random per start.
pub type RelayId = u64;

/// The stream holding every room's frames.
pub const STREAM: &str = "BITCRAPS_ROOMS";
/// Relays' heartbeats.
pub const RELAYS: &str = "bc.relays";
/// Each relay's tables listed in the lobby (JSON, see `lobby.rs`).
pub const LOBBY: &str = "bc.lobby";
/// Every room's hellos (wildcard).
pub const HELLOS: &str = "bc.hello.*";
/// The header carrying a room's incarnation on each of its messages.
pub const INCARNATION: &str = "Bc-Incarnation";

/// The stream subject of a room's frames.
pub fn room_subject(shards: u16, room: &RoomId) -> String {
    format!("bc.rooms.{}.{}", shard(shards, room), hex(room))
}

/// The stream subjects of one shard.
pub fn shard_subjects(shard: u16) -> String {
    format!("bc.rooms.{shard}.*")
}

/// The shard a room's frames go to.
pub fn shard(shards: u16, room: &RoomId) -> u16 {
    (u16::from_be_bytes([room[0], room[1]])) % shards.max(1)
}

/// The subject of a room's presence between relays.
pub fn presence_subject(room: &RoomId) -> String {
    format!("bc.p.{}", hex(room))
}

/// The subject of a room's hellos.
pub fn hello_subject(room: &RoomId) -> String {
    format!("bc.hello.{}", hex(room))
}

/// The subject of frames for one relay's members.
pub fn relay_subject(relay: RelayId) -> String {
    format!("bc.r.{relay:016x}")
}

/// The room named by the last token of a subject.
pub fn room_of(subject: &str) -> Option<RoomId> {
    let token = subject.rsplit('.').next()?;
    let mut room = [0u8; 16];
    if token.len() != 32 {
        return None;
    }
    for (i, byte) in room.iter_mut().enumerate() {
        *byte = u8::from_str_radix(token.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(room)
}

/// A heartbeat on [`RELAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Still here.
    Alive(RelayId),
    /// Just started (or back): everyone, say you are here.
    Ask(RelayId),
    /// Leaving: its members are gone.
    Bye(RelayId),
}

impl Beat {
    /// The message.
    pub fn encode(self) -> Bytes {
        let (kind, relay) = match self {
            Beat::Alive(r) => (1u8, r),
            Beat::Ask(r) => (2, r),
            Beat::Bye(r) => (3, r),
        };
        let mut out = BytesMut::with_capacity(9);
        out.put_u8(kind);
        out.put_u64(relay);
        out.freeze()
    }

    /// Reads one (`None` if malformed).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let relay = u64::from_be_bytes(bytes.get(1..9)?.try_into().ok()?);
        match (bytes.len(), bytes.first()?) {
            (9, 1) => Some(Beat::Alive(relay)),
            (9, 2) => Some(Beat::Ask(relay)),
            (9, 3) => Some(Beat::Bye(relay)),
            _ => None,
        }
    }
}

/// A relay's news about a room, on its presence subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// All of its members in the room (answering a hello).
    State(Vec<PeerId>),
    /// One of its members joined.
    Joined(PeerId),
    /// One of its members left.
    Left(PeerId),
    /// A client's presence frame, for the room's other members.
    Frame(Bytes),
}

impl News {
    /// The message, from `relay`.
    pub fn encode(&self, relay: RelayId) -> Bytes {
        let mut out = BytesMut::with_capacity(64);
        let (kind, body): (u8, &[u8]) = match self {
            News::State(peers) => {
                out.put_u8(1);
                out.put_u64(relay);
                for peer in peers {
                    out.put_slice(peer);
                }
                return out.freeze();
            }
            News::Joined(peer) => (2, peer),
            News::Left(peer) => (3, peer),
            News::Frame(frame) => (4, frame),
        };
        out.put_u8(kind);
        out.put_u64(relay);
        out.put_slice(body);
        out.freeze()
    }

    /// Reads one and who sent it (`None` if malformed).
    pub fn decode(bytes: &Bytes) -> Option<(RelayId, Self)> {
        let relay = u64::from_be_bytes(bytes.get(1..9)?.try_into().ok()?);
        let body = bytes.slice(9..);
        let id = |b: &[u8]| -> Option<PeerId> { b.try_into().ok() };
        let news = match bytes.first()? {
            1 if body.len() % 32 == 0 => News::State(body.chunks(32).filter_map(id).collect()),
            2 => News::Joined(id(&body)?),
            3 => News::Left(id(&body)?),
            4 if !body.is_empty() => News::Frame(body),
            _ => return None,
        };
        Some((relay, news))
    }
}

/// A frame for a member of another relay, from one of `relay`'s.
pub fn encode_direct(relay: RelayId, room: &RoomId, target: &PeerId, frame: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(56 + frame.len());
    out.put_u64(relay);
    out.put_slice(room);
    out.put_slice(target);
    out.put_slice(frame);
    out.freeze()
}

/// Reads a frame for one of this relay's members: the relay it came
/// from, the room, the target and the frame.
pub fn decode_direct(bytes: &Bytes) -> Option<(RelayId, RoomId, PeerId, Bytes)> {
    let relay = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let room = bytes.get(8..24)?.try_into().ok()?;
    let target = bytes.get(24..56)?.try_into().ok()?;
    let frame = bytes.get(56..).map(|_| bytes.slice(56..))?;
    (!frame.is_empty()).then_some((relay, room, target, frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_and_short_ones_are_refused() {
        for beat in [Beat::Alive(7), Beat::Ask(u64::MAX), Beat::Bye(0)] {
            assert_eq!(Beat::decode(&beat.encode()), Some(beat));
        }
        assert_eq!(Beat::decode(&[1, 0, 0]), None);
        assert_eq!(Beat::decode(&[9; 9]), None);
        let news = [
            News::State(vec![[1; 32], [2; 32]]),
            News::State(vec![]),
            News::Joined([3; 32]),
            News::Left([4; 32]),
            News::Frame(Bytes::from_static(b"frame")),
        ];
        for n in news {
            assert_eq!(News::decode(&n.encode(42)), Some((42, n)));
        }
        assert_eq!(News::decode(&Bytes::from_static(&[2, 0, 0])), None);
        assert_eq!(News::decode(&Bytes::from(vec![1; 9 + 31])), None);
        let direct = encode_direct(9, &[5; 16], &[6; 32], b"x");
        assert_eq!(
            decode_direct(&direct),
            Some((9, [5; 16], [6; 32], Bytes::from_static(b"x")))
        );
        assert_eq!(decode_direct(&Bytes::from(vec![0; 56])), None);
        assert_eq!(decode_direct(&Bytes::from(vec![0; 20])), None);
    }

    #[test]
    fn subjects_name_their_room_and_shard() {
        let room = [0xab; 16];
        assert_eq!(room_of(&room_subject(16, &room)), Some(room));
        assert_eq!(room_of(&presence_subject(&room)), Some(room));
        assert_eq!(room_of("bc.p.zz"), None);
        assert!(room_subject(16, &room).starts_with(&format!("bc.rooms.{}.", 0xabab % 16)));
    }
}
