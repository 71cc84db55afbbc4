//! One relay peer for every client: the browser's wasm client, the load
//! generator and the relay's tests drive this same state machine over
//! their own sockets.
//!
//! ```text
//! connection_opened()                     a new relay connection (or none)
//! handle_frame(now, bytes)                from the relay
//! handle_channel_frame(now, table, from, bytes)  from peer `from`'s data channel at `table`
//! handle_timeout(now)
//! poll_transmit() -> Option<Transmit>     frame, table, where it goes
//! poll_event()    -> Option<PeerEvent>
//! poll_timeout()  -> Option<Millis>
//! ```
//!
//! It holds the key, the relay's challenge and epoch, and per table: the
//! last room sequence number seen, the join state, the roster, the game
//! session, and this peer's own frames until the relay has them
//! ([`outgoing`]). What it promises:
//!
//! - **Nothing sent is lost.** Frames made while disconnected or joining
//!   are kept in order and sent after the join's roster; frames the relay
//!   had not stamped when a connection dropped are sent again after the
//!   resume. The relay echoes each of this peer's room frames back stamped
//!   (`Join` flag), which is the acknowledgement; a duplicate is harmless
//!   (the session refuses a sender sequence number twice).
//! - **A relay restart is survivable.** The challenge carries the relay's
//!   epoch; a new one means every room and its numbering are gone: the
//!   peer re-joins from the start, the house announces its table again and
//!   every peer gives the room its newest frames again. A room the relay
//!   emptied and made anew (its roster names a new incarnation) is
//!   treated the same way, and the game is taken from a player.
//! - **No silent dead ends.** A table nobody announces within
//!   [`TABLE_WAIT_MS`] is reported ([`PeerEvent::NoTable`]); the house's
//!   absence once the relay's roster has lacked it for [`HOUSE_GRACE_MS`]
//!   (a page joining, a reconnect or a relay restart raises no alarm).
//!
//! The parts: `relay_link` (joins and every relay frame), `channels`
//! (data channel frames), `house_watch` (the house and presence),
//! `transfer` (asking for, giving and taking snapshots; their format is
//! [`sync`]), `outgoing` (this peer's frames until the relay has them),
//! `paths` (what each path delivered), `chat` and `listing` (presence
//! payloads), `handshake` (signed frames).
//!
//! It does no I/O and reads no clock, like [`crate::session::Session`].

mod channels;
pub mod chat;
pub mod event;
pub mod handshake;
mod house_watch;
pub mod listing;
pub mod outgoing;
pub mod paths;
mod relay_link;
pub mod sync;
mod transfer;

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

pub use event::{Destination, PeerEvent, SignalKind, Transmit};

use crate::codec::{control, EncodeError, FrameError, FrameRef};
use crate::message::SignedMessage;
use crate::session::{Event, GameConfig, LocalAction, Millis, Session, SessionError};
use crate::wire::{error, FrameKind, PeerId, Priority, RoomId, MAX_FRAME_LEN};
use crate::SigningKey;
use outgoing::Outgoing;
pub use paths::{Delivery, PathCounts, Paths};

/// Milliseconds between keep-alives (an empty Presence frame to every
/// joined table): the relay judges liveness on frames only, so a player
/// who only watches stays at the table.
pub const KEEPALIVE_MS: Millis = 15_000;

/// How long a joined table may stay unannounced before it is reported as
/// missing ([`PeerEvent::NoTable`]).
pub const TABLE_WAIT_MS: Millis = 4_000;

/// How long after a full room (or too many rooms) the join is tried again.
pub const JOIN_RETRY_MS: Millis = 10_000;

/// How long the house may be missing from the relay's roster before its
/// players are told it has gone ([`PeerEvent::HouseGone`]): a reconnect, a
/// reload or a relay restart brings it back well within this.
pub const HOUSE_GRACE_MS: Millis = 5_000;

/// How long a player asked for a snapshot may stay silent (before its
/// first chunk, or between two) before another player is asked.
pub const SYNC_TIMEOUT_MS: Millis = 5_000;

/// How many times every player is asked for a snapshot, none answering
/// in time, before a peer goes on with what the relay gave.
pub const SYNC_ROUNDS: u32 = 3;

/// The most relay frames held while a snapshot comes.
pub const MAX_HELD: usize = 8_192;

/// Snapshot bytes this peer uploads per second on average (half the
/// relay's default byte rate: its own game frames still fit beside).
pub const SNAPSHOT_BYTES_PER_SEC: u64 = 512 * 1024;

/// Snapshot bytes this peer may upload at once above that average (a
/// quarter of the relay's default burst): a snapshot this size goes out
/// at once.
pub const SNAPSHOT_BURST_BYTES: u64 = 1024 * 1024;

/// Players whose snapshot requests wait at most.
pub const MAX_ASKS: usize = 64;

/// A snapshot on its way out, a chunk at a time.
struct Serving {
    to: PeerId,
    parts: VecDeque<Vec<u8>>,
}

/// A snapshot on its way to this peer.
struct Syncing {
    asked: PeerId,
    due: Millis,
    assembly: sync::Assembly,
    /// Relay frames that came meanwhile, handled after it.
    held: Vec<Bytes>,
    /// Players asked already (each once, then all again).
    tried: Vec<PeerId>,
    /// How many times every player was asked without an answer.
    rounds: u32,
    /// A player to ask only after every other one (the one whose game
    /// this peer took last, which did not hold).
    last: Option<PeerId>,
}

impl Syncing {
    /// Not asked yet: waiting for the roster to say who is there.
    fn waiting() -> Self {
        Syncing {
            asked: [0; 32],
            due: 0,
            assembly: sync::Assembly::new([0; 32]),
            held: Vec::new(),
            tried: Vec::new(),
            rounds: 0,
            last: None,
        }
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum PeerError {
    /// This peer has not joined that table.
    #[error("not at this table")]
    NotAtTable,
    /// The table's house has not announced it yet.
    #[error("this table has not opened yet")]
    NotOpen,
    /// The game refused the action.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Bytes that are not a frame.
    #[error(transparent)]
    #[strum(serialize = "bad-frame")]
    Frame(#[from] FrameError),
    /// A frame that cannot be made (a signaling text over the size limit).
    #[error(transparent)]
    #[strum(serialize = "too-large")]
    Encode(#[from] EncodeError),
    /// A control payload that does not decode.
    #[error(transparent)]
    #[strum(serialize = "bad-control")]
    Control(#[from] control::ControlError),
    /// A data channel carried something other than a game frame signed by
    /// the channel's own peer (relay frames, another sender's frames), or
    /// a timed step (which counts only as the relay stamped it).
    #[error("a data channel carries only its own peer's table actions and requests")]
    ForeignChannelFrame,
    /// A frame for another table than the data channel's.
    #[error("a data channel carries only its own table's frames")]
    ChannelOfAnotherTable,
    /// Not connected to the table's relay right now (chat is not kept for
    /// later).
    #[error("not connected to the table right now")]
    NotConnected,
    /// A chat line that is empty, too long or has control characters.
    #[error("a chat line is 1-280 bytes of text")]
    BadChat,
    /// A table name that is empty, too long or has control characters.
    #[error("a table's name is 1-40 bytes of text")]
    BadTableName,
    /// Only the house lists its table.
    #[error("only the house lists its table")]
    NotHouse,
    /// A seated player cannot leave while the dice are rolling.
    #[error("the dice are rolling: leave once they have landed")]
    MidRoll,
    /// Another tab with this key has the table now: this one acts no more.
    #[error("this table is open in another tab")]
    OpenElsewhere,
    /// A relayed game frame at a priority other than critical.
    #[error("game frames travel at critical priority")]
    NotCritical,
}

impl PeerError {
    /// A stable code for programs (kebab-case: `not-open`, or the game's
    /// own, such as `betting-closed` or `insufficient-balance`); the
    /// message is for people.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Session(e) => e.code(),
            _ => self.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joined {
    /// Not in the room on this connection.
    Out,
    /// Join sent, roster not yet here.
    Joining,
    /// In: the roster came.
    In,
}

struct Room {
    entropy: [u8; 32],
    session: Option<Session>,
    roster: Vec<PeerId>,
    last_seq: u64,
    joined: Joined,
    /// Asked to leave: the Leave goes once the relay has every frame.
    leaving: bool,
    /// Left for good (its state stays readable).
    left: bool,
    /// The relay refused the join (full room, too many rooms, replaced by
    /// another tab): not joined again until the next connection.
    refused: bool,
    /// When a refused join is tried again.
    retry_at: Option<Millis>,
    /// Another connection with this key took the table over: nothing is
    /// joined, acted or sent here any more.
    elsewhere: bool,
    /// The relay's room, as its roster named it.
    incarnation: Option<u64>,
    outgoing: Outgoing,
    /// When an unannounced table is reported missing.
    table_due: Option<Millis>,
    /// Since when the relay's roster (on this connection) has not had the
    /// house; reported once [`HOUSE_GRACE_MS`] have passed.
    house_missing_since: Option<Millis>,
    /// The house's absence was reported (and its return will be).
    house_gone: bool,
    /// The house's signed `Table` frame (what a snapshot starts with).
    table_frame: Option<Bytes>,
    /// (The house) its table's listing in the relay's lobby, sent at every
    /// join.
    listing: Option<Bytes>,
    /// Catching up from another player.
    syncing: Option<Syncing>,
    /// Players waiting for a snapshot from this peer.
    asks: std::collections::BTreeSet<PeerId>,
    /// When the next snapshot chunk may go (the upload budget: may lag
    /// `now` by at most the burst).
    serve_at: Millis,
    /// The snapshot being sent.
    serving: Option<Serving>,
    /// Per sender, the highest message number the relay delivered here.
    relayed: BTreeMap<PeerId, u64>,
    /// What the relay and each data channel delivered.
    paths: Paths,
    /// The player this peer last took the game from.
    synced_from: Option<PeerId>,
}

impl Room {
    fn banker(&self) -> Option<PeerId> {
        self.session.as_ref().map(|s| s.config().banker)
    }
}

/// A peer of the relay: one key, any number of tables.
pub struct Peer {
    key: SigningKey,
    id: PeerId,
    challenge: Option<control::Challenge>,
    epoch: Option<u64>,
    rooms: BTreeMap<RoomId, Room>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<PeerEvent>,
    keepalive_at: Option<Millis>,
    /// Handling held frames again (they start no new snapshot).
    replaying: bool,
}

impl Peer {
    /// A peer holding `key`.
    pub fn new(key: SigningKey) -> Self {
        Peer {
            id: key.verifying_key().to_bytes(),
            key,
            challenge: None,
            epoch: None,
            rooms: BTreeMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            keepalive_at: None,
            replaying: false,
        }
    }

    /// This peer's id (its public key).
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// Joins a table, or opens it as its house when `house` is given (its
    /// `banker` must be this peer). The 32 bytes of `entropy` seed this
    /// peer's secrets at the table: keep them with the key so a reloaded
    /// page carries on. Joining a table twice changes nothing.
    pub fn join_table(&mut self, room_id: RoomId, entropy: [u8; 32], house: Option<GameConfig>) {
        if self.rooms.get(&room_id).is_some_and(|r| !r.left) {
            return;
        }
        let mut room = Room {
            entropy,
            session: None,
            roster: Vec::new(),
            last_seq: 0,
            joined: Joined::Out,
            leaving: false,
            left: false,
            refused: false,
            retry_at: None,
            elsewhere: false,
            incarnation: None,
            outgoing: Outgoing::default(),
            table_due: None,
            house_missing_since: None,
            house_gone: false,
            table_frame: None,
            listing: None,
            syncing: None,
            asks: Default::default(),
            serve_at: 0,
            serving: None,
            relayed: BTreeMap::new(),
            paths: Paths::default(),
            synced_from: None,
        };
        if let Some(config) = house {
            if let Ok(frame) = handshake::signed_frame(
                &self.key,
                FrameKind::Table,
                room_id,
                None,
                &config.encode(),
            ) {
                room.table_frame = Some(frame.clone());
                room.outgoing.announce(frame);
            }
            room.session = Some(Session::new(config, self.key.clone(), entropy));
        }
        self.rooms.insert(room_id, room);
        self.join(room_id);
    }

    /// Performs one of this peer's actions at a table.
    pub fn act(
        &mut self,
        now: Millis,
        room_id: RoomId,
        action: LocalAction,
    ) -> Result<(), PeerError> {
        self.in_session(now, room_id, |s| s.perform(now, action))
    }

    /// A table this peer plays at here (not taken over by another tab).
    fn playing(&self, room_id: &RoomId) -> Result<&Room, PeerError> {
        let room = self.rooms.get(room_id).ok_or(PeerError::NotAtTable)?;
        if room.elsewhere {
            return Err(PeerError::OpenElsewhere);
        }
        Ok(room)
    }

    /// One of this peer's own steps in a table's game, and what it sends.
    fn in_session(
        &mut self,
        now: Millis,
        room_id: RoomId,
        step: impl FnOnce(&mut Session) -> Result<(), SessionError>,
    ) -> Result<(), PeerError> {
        self.playing(&room_id)?;
        let session = self
            .rooms
            .get_mut(&room_id)
            .and_then(|r| r.session.as_mut())
            .ok_or(PeerError::NotOpen)?;
        step(session)?;
        self.drain(now, room_id);
        Ok(())
    }

    /// Says `text` to everyone at a table (see [`chat`]); this peer's own
    /// line comes back at once as a [`PeerEvent::Chat`].
    pub fn chat(&mut self, room_id: RoomId, text: &str) -> Result<(), PeerError> {
        if self.playing(&room_id)?.joined != Joined::In {
            return Err(PeerError::NotConnected);
        }
        let payload = chat::encode(text).ok_or(PeerError::BadChat)?;
        let frame =
            handshake::signed_frame(&self.key, FrameKind::Presence, room_id, None, &payload)?;
        self.transmits.push_back(Transmit {
            room: room_id,
            to: Destination::Relay,
            frame,
        });
        self.events.push_back(PeerEvent::Chat {
            room: room_id,
            from: self.id,
            text: text.to_owned(),
        });
        Ok(())
    }

    /// (The house) Lists its table in the relay's lobby as `name` (see
    /// [`listing`]): now, if in the room, and at every join after.
    pub fn list_table(&mut self, room_id: RoomId, name: &str) -> Result<(), PeerError> {
        let room = self.playing(&room_id)?;
        let config = room.session.as_ref().map(|s| *s.config());
        let config = config
            .filter(|c| c.banker == self.id)
            .ok_or(PeerError::NotHouse)?;
        let payload = listing::encode(&config, name).ok_or(PeerError::BadTableName)?;
        let frame =
            handshake::signed_frame(&self.key, FrameKind::Presence, room_id, None, &payload)?;
        let joined = room.joined == Joined::In;
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.listing = Some(frame.clone());
        }
        if joined {
            self.transmits.push_back(Transmit {
                room: room_id,
                to: Destination::Relay,
                frame,
            });
        }
        Ok(())
    }

    /// Tells a table the name this player goes by (see
    /// [`Session::set_name`]).
    pub fn set_name(&mut self, now: Millis, room_id: RoomId, name: &str) -> Result<(), PeerError> {
        self.in_session(now, room_id, |s| s.set_name(now, name))
    }

    /// Leaves a table for good (a seated player's bets that may come down
    /// come down with it; a pass or come bet keeps it seated until the
    /// dice decide it; a watcher, the house or a table that never opened
    /// can always leave): the relay is told once it has every
    /// frame of this peer's, and the table is not joined again.
    pub fn leave_table(&mut self, now: Millis, room_id: RoomId) -> Result<(), PeerError> {
        let room = self.rooms.get(&room_id).ok_or(PeerError::NotAtTable)?;
        // A seat is given up in the game first (refused while bets are
        // on); a watcher, the house or a closed table just goes.
        let seated = room
            .session
            .as_ref()
            .is_some_and(|s| !s.is_closed() && s.table().balance(&self.id).is_some());
        // A seat in a roll under way must play its part (or forfeit every
        // bet in it): it is given up between rolls.
        if seated && room.session.as_ref().is_some_and(|s| !s.is_betting()) {
            return Err(PeerError::MidRoll);
        }
        if seated {
            self.act(now, room_id, LocalAction::Leave)?;
        }
        if let Some(room) = self.rooms.get_mut(&room_id) {
            room.leaving = true;
        }
        self.maybe_leave(room_id);
        Ok(())
    }

    /// Sends a WebRTC signaling message to one peer of a table, through
    /// the relay.
    pub fn signal(
        &mut self,
        room_id: RoomId,
        kind: SignalKind,
        to: PeerId,
        text: &str,
    ) -> Result<(), PeerError> {
        let kind = match kind {
            SignalKind::Offer => FrameKind::Offer,
            SignalKind::Answer => FrameKind::Answer,
            SignalKind::Ice => FrameKind::Ice,
        };
        let frame = handshake::signed_frame(&self.key, kind, room_id, Some(to), text.as_bytes())?;
        self.transmits.push_back(Transmit {
            room: room_id,
            to: Destination::Relay,
            frame,
        });
        Ok(())
    }

    /// Applies deadlines and sends keep-alives when due.
    pub fn handle_timeout(&mut self, now: Millis) {
        let rooms: Vec<RoomId> = self.rooms.keys().copied().collect();
        if self.keepalive_at.is_some_and(|at| at <= now) {
            self.keepalive_at = Some(now + KEEPALIVE_MS);
            for &room_id in &rooms {
                if self.rooms[&room_id].joined != Joined::In {
                    continue;
                }
                if let Ok(frame) =
                    handshake::signed_frame(&self.key, FrameKind::Presence, room_id, None, &[])
                {
                    self.transmits.push_back(Transmit {
                        room: room_id,
                        to: Destination::Relay,
                        frame,
                    });
                }
            }
        }
        for room_id in rooms {
            let Some(room) = self.rooms.get_mut(&room_id) else {
                continue;
            };
            if room.retry_at.is_some_and(|at| at <= now) {
                room.retry_at = None;
                room.refused = false;
                self.join(room_id);
            }
            let Some(room) = self.rooms.get_mut(&room_id) else {
                continue;
            };
            if room
                .syncing
                .as_ref()
                .is_some_and(|s| s.due > 0 && s.due <= now)
            {
                self.ask_next(now, room_id);
            }
            let Some(room) = self.rooms.get_mut(&room_id) else {
                continue;
            };
            if room.table_due.is_some_and(|at| at <= now) {
                room.table_due = None;
                self.events.push_back(PeerEvent::NoTable { room: room_id });
            }
            // A session that is catching up judges no deadline: it is
            // behind the relay's order (its frames are held), so any
            // verdict of its own would be on a stale game.
            if let Some(session) = room.session.as_mut().filter(|_| room.syncing.is_none()) {
                session.handle_timeout(now);
            }
            self.report_house(now, room_id);
            self.drain(now, room_id);
            self.serve(now, room_id);
        }
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// When [`Peer::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let keepalive = self
            .keepalive_at
            .filter(|_| self.rooms.values().any(|r| r.joined == Joined::In));
        self.rooms
            .values()
            .flat_map(|r| {
                [
                    r.session
                        .as_ref()
                        .filter(|_| r.syncing.is_none())
                        .and_then(Session::poll_timeout),
                    r.table_due,
                    r.retry_at,
                    r.syncing.as_ref().map(|s| s.due).filter(|d| *d > 0),
                    ((!r.asks.is_empty() || r.serving.is_some()) && r.syncing.is_none())
                        .then_some(r.serve_at),
                    r.house_missing_since
                        .filter(|_| !r.house_gone && !r.left)
                        .map(|since| since.saturating_add(HOUSE_GRACE_MS)),
                ]
            })
            .flatten()
            .chain(keepalive)
            .min()
    }

    /// A table's game, once its house announced it.
    pub fn session(&self, room: &RoomId) -> Option<&Session> {
        self.rooms.get(room).and_then(|r| r.session.as_ref())
    }

    /// (Tests only) A table's game, to inject a fault into.
    #[cfg(feature = "test-faults")]
    #[doc(hidden)]
    pub fn session_mut(&mut self, room: &RoomId) -> Option<&mut Session> {
        self.rooms.get_mut(room).and_then(|r| r.session.as_mut())
    }

    /// Whether this peer is at (or leaving) a table.
    pub fn is_at(&self, room: &RoomId) -> bool {
        self.rooms.get(room).is_some_and(|r| !r.left)
    }

    /// Who is at a table, as the relay last said.
    pub fn roster(&self, room: &RoomId) -> &[PeerId] {
        self.rooms.get(room).map_or(&[], |r| &r.roster)
    }

    /// Whether another connection with this key (another tab) took the
    /// table over (see [`PeerEvent::OpenElsewhere`]).
    pub fn is_elsewhere(&self, room: &RoomId) -> bool {
        self.rooms.get(room).is_some_and(|r| r.elsewhere)
    }

    /// Whether the relay has this peer in a table now (its roster came on
    /// this connection).
    pub fn is_joined(&self, room: &RoomId) -> bool {
        self.rooms.get(room).is_some_and(|r| r.joined == Joined::In)
    }

    /// How many of this peer's frames for a table the relay does not have
    /// yet (kept, and sent after the next join).
    pub fn waiting(&self, room: &RoomId) -> usize {
        self.rooms.get(room).map_or(0, |r| r.outgoing.waiting())
    }

    /// A snapshot of a table's game as this peer would give it (see
    /// [`sync`]), once the table has opened.
    pub fn snapshot(&self, room: &RoomId) -> Option<Vec<u8>> {
        let r = self.rooms.get(room)?;
        Some(sync::encode(r.table_frame.as_ref()?, r.session.as_ref()?))
    }

    /// What the relay and each peer's data channel delivered at a table.
    pub fn paths(&self, room: &RoomId) -> Option<&Paths> {
        self.rooms.get(room).map(|r| &r.paths)
    }

    /// The tables this peer is at.
    pub fn tables(&self) -> impl Iterator<Item = &RoomId> {
        self.rooms.iter().filter(|(_, r)| !r.left).map(|(id, _)| id)
    }
}
