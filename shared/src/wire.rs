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
            FrameKind::Game | FrameKind::Join | FrameKind::Leave => Priority::Critical,
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
