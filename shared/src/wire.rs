//! The small shared vocabulary of the wire: frame kinds, priorities, error
//! codes and limits, used alike by the browser client, the relay and tests.

use crate::craps::PlayerId;

/// A room (one table) on the relay; a game frame's room is its game id.
pub type RoomId = [u8; 16];

/// A peer's identity: its ed25519 public key.
pub type PeerId = PlayerId;

/// Default cap on one frame, header and signature included.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// What a frame carries. Kinds below 0x40 come from clients and are
/// signed by their sender; kinds from 0x40 come from the relay, unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum FrameKind {
    /// Client: join a room, proving its key by signing the relay's nonce.
    Join = 0x01,
    /// Client: leave a room.
    Leave = 0x02,
    /// Client: an engine message (bet, commit, reveal, ...) for the room.
    Game = 0x10,
    /// Client: a table's configuration (`GameConfig`), announced by its
    /// banker so joiners (and a validating relay) know the rules.
    Table = 0x11,
    /// Client: WebRTC offer (SDP) to one peer.
    Offer = 0x20,
    /// Client: WebRTC answer (SDP) to one peer.
    Answer = 0x21,
    /// Client: WebRTC ICE candidate to one peer.
    Ice = 0x22,
    /// Client: an application message to one peer.
    Direct = 0x23,
    /// Client: presence or telemetry, dropped first under load.
    Presence = 0x30,
    /// Relay: the nonce a client signs to join.
    Challenge = 0x40,
    /// Relay: who is in the room (sent on join).
    Roster = 0x41,
    /// Relay: a peer joined the room.
    PeerJoined = 0x42,
    /// Relay: a peer left the room.
    PeerLeft = 0x43,
    /// Relay: something was refused (code and reason).
    Error = 0x44,
}

impl FrameKind {
    /// The kind for a byte, if any.
    pub fn from_u8(b: u8) -> Option<FrameKind> {
        use FrameKind::*;
        Some(match b {
            0x01 => Join,
            0x02 => Leave,
            0x10 => Game,
            0x11 => Table,
            0x20 => Offer,
            0x21 => Answer,
            0x22 => Ice,
            0x23 => Direct,
            0x30 => Presence,
            0x40 => Challenge,
            0x41 => Roster,
            0x42 => PeerJoined,
            0x43 => PeerLeft,
            0x44 => Error,
            _ => return None,
        })
    }

    /// Whether frames of this kind go to one target peer.
    pub fn needs_target(self) -> bool {
        matches!(
            self,
            FrameKind::Offer | FrameKind::Answer | FrameKind::Ice | FrameKind::Direct
        )
    }

    /// Whether frames of this kind come from a client and must be signed.
    pub fn from_client(self) -> bool {
        (self as u8) < 0x40
    }

    /// The priority a frame of this kind gets by default.
    pub fn default_priority(self) -> Priority {
        match self {
            FrameKind::Presence => Priority::Low,
            FrameKind::Game | FrameKind::Table | FrameKind::Join | FrameKind::Leave => {
                Priority::Critical
            }
            _ => Priority::Normal,
        }
    }
}

/// Delivery priority: under load, lower priorities are dropped first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Priority {
    /// Consensus traffic (commits, reveals, joins): never dropped for
    /// lower-priority traffic.
    Critical = 0,
    /// Ordinary game and signaling traffic.
    Normal = 1,
    /// Presence and telemetry.
    Low = 2,
}

impl Priority {
    /// All priorities, highest first.
    pub const ALL: [Priority; 3] = [Priority::Critical, Priority::Normal, Priority::Low];

    /// The priority for a byte, if any.
    pub fn from_u8(b: u8) -> Option<Priority> {
        match b {
            0 => Some(Priority::Critical),
            1 => Some(Priority::Normal),
            2 => Some(Priority::Low),
            _ => None,
        }
    }

    /// Index 0..3, highest priority first.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// WebSocket close codes the relay uses. 1000-1015 are the standard ones;
/// 4000-4999 are the relay's own.
pub mod close {
    /// The relay is shutting down (standard "going away").
    pub const GOING_AWAY: u16 = 1001;
    /// The client broke the WebSocket protocol: an unmasked frame, reserved
    /// bits or opcodes, a continuation without a start, a fragmented or
    /// oversized control frame (standard "protocol error").
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text message that is not UTF-8 (standard "invalid frame payload
    /// data").
    pub const INVALID_DATA: u16 = 1007;
    /// A frame or message larger than the frame limit, at any size
    /// (standard "message too big").
    pub const TOO_BIG: u16 = 1009;
    /// A frame that does not decode, text instead of binary, or a frame
    /// whose sender is not the connection's proven key.
    pub const BAD_FRAME: u16 = 4000;
    /// A join whose signature or nonce does not check out.
    pub const BAD_JOIN: u16 = 4001;
    /// More messages than the rate limit allows.
    pub const RATE_LIMITED: u16 = 4002;
    /// The connection did not read its frames and its queue stayed full
    /// past the grace period.
    pub const SLOW_CONSUMER: u16 = 4003;
    /// No frame within the idle timeout (pings and pongs do not count).
    pub const IDLE: u16 = 4004;
    /// No room joined within the join timeout of connecting (or of
    /// leaving the last room).
    pub const JOIN_TIMEOUT: u16 = 4005;
}

/// Codes in the relay's `Error` frames: the connection stays open.
pub mod error {
    /// The connection is in as many rooms as allowed.
    pub const TOO_MANY_ROOMS: u16 = 1;
    /// The room has as many peers as allowed.
    pub const ROOM_FULL: u16 = 2;
    /// A frame for a room the connection has not joined.
    pub const NOT_IN_ROOM: u16 = 3;
    /// A targeted frame for a peer that is not in the room.
    pub const UNKNOWN_TARGET: u16 = 4;
    /// A resume from a sequence number older than the replay window: the
    /// frames in between are gone and the client must resynchronise.
    pub const RESUME_GAP: u16 = 5;
    /// (Validation mode) a game frame the engine refuses.
    pub const INVALID_GAME_FRAME: u16 = 6;
    /// The same key joined the room from another connection.
    pub const REPLACED: u16 = 7;
    /// The member sent nothing to the room within the room idle timeout
    /// and was removed from it (join again to come back).
    pub const ROOM_IDLE: u16 = 8;
    /// A join for a room the connection is already in (nothing replayed).
    pub const ALREADY_JOINED: u16 = 9;
    /// A table listing that is malformed, or not the room's house's.
    pub const BAD_LISTING: u16 = 10;
    /// Cluster mode: the relay could not hand the frame to the cluster
    /// (NATS unreachable, or the room's queue full); send it again later.
    pub const CLUSTER_UNAVAILABLE: u16 = 11;
}
