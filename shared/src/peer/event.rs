//! What a [`super::Peer`] tells its shell: events to show, and frames to
//! move with where they go.

use bytes::Bytes;

use crate::session::Event;
use crate::wire::{PeerId, RoomId};

/// Where a frame goes. The shell only moves bytes: the relay is its one
/// WebSocket, a table's peers are the data channels it opened for that
/// table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The relay (if the connection is open; the peer keeps what matters
    /// and sends it again after the next join).
    Relay,
    /// The table's open data channels only (the relay gets its copy after
    /// the join that is under way).
    Peers,
    /// The relay and the table's open data channels.
    Everyone,
}

/// A frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The table it is for.
    pub room: RoomId,
    /// Where it goes.
    pub to: Destination,
    /// The frame's bytes.
    pub frame: Bytes,
}

/// A WebRTC signaling message's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
    /// An ICE candidate.
    Ice,
}

/// Something the page may show or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// Who is at the table (after every join, a resume included).
    Roster {
        /// The table.
        room: RoomId,
        /// Everyone there, this peer included, sorted.
        peers: Vec<PeerId>,
    },
    /// Someone came to the table.
    PeerJoined {
        /// The table.
        room: RoomId,
        /// Who.
        peer: PeerId,
    },
    /// Someone left the table (or its connection did).
    PeerLeft {
        /// The table.
        room: RoomId,
        /// Who.
        peer: PeerId,
    },
    /// The house announced the table: it can be played.
    TableOpened {
        /// The table.
        room: RoomId,
        /// The house's key.
        banker: PeerId,
        /// Its bankroll.
        bankroll: u64,
    },
    /// Nobody announced the table within [`super::TABLE_WAIT_MS`] of
    /// joining it: no such table, or it has closed.
    NoTable {
        /// The table.
        room: RoomId,
    },
    /// The house is not at the table (it left, or its connection did):
    /// nothing can be settled until it is back.
    HouseGone {
        /// The table.
        room: RoomId,
    },
    /// The house is back at the table.
    HouseBack {
        /// The table.
        room: RoomId,
    },
    /// The relay restarted: its rooms and their history are gone. The
    /// peer joined again, the house announces its table again, and every
    /// peer gives the room its latest frames again.
    RelayRestarted,
    /// The game's history came from another player (a snapshot, checked
    /// against what the players signed): this peer is up to date.
    Synced {
        /// The table.
        room: RoomId,
        /// Who gave it.
        from: PeerId,
        /// Rolls in it.
        rolls: usize,
    },
    /// A snapshot was refused; another player is asked.
    SyncRefused {
        /// The table.
        room: RoomId,
        /// Who gave it.
        from: PeerId,
        /// Why, in words.
        reason: String,
    },
    /// Another connection with this key (another tab) joined the table
    /// and took it over: this peer takes no more actions there (they are
    /// refused with [`super::PeerError::OpenElsewhere`]) and sends nothing
    /// more; `unsent` of its own moves had not reached the relay and never
    /// will. A page takes the table back by starting afresh (a reload).
    OpenElsewhere {
        /// The table.
        room: RoomId,
        /// Own moves dropped unsent.
        unsent: usize,
    },
    /// The relay refused something for this table.
    RelayError {
        /// The table.
        room: RoomId,
        /// The code (`wire::error`).
        code: u16,
        /// In words.
        reason: String,
    },
    /// A chat line (this peer's own too), signed by its sender.
    Chat {
        /// The table.
        room: RoomId,
        /// Who said it.
        from: PeerId,
        /// What.
        text: String,
    },
    /// A WebRTC signaling message from another peer.
    Signal {
        /// The table.
        room: RoomId,
        /// Offer, answer or ICE candidate.
        kind: SignalKind,
        /// From whom.
        from: PeerId,
        /// The SDP or candidate text.
        text: String,
    },
    /// Something happened in the game.
    Game {
        /// The table.
        room: RoomId,
        /// What.
        event: Event,
    },
}
