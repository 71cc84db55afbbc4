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
//! It does no I/O and reads no clock, like [`crate::session::Session`].

pub mod chat;
pub mod event;
pub mod handshake;
pub mod listing;
pub mod outgoing;
pub mod paths;
pub mod sync;

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
        }
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    Frame(#[from] FrameError),
    /// A frame that cannot be made (a signaling text over the size limit).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A control payload that does not decode.
    #[error(transparent)]
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

    /// A new relay connection opened (or the old one closed): joins wait
    /// for its challenge; nothing is lost meanwhile.
    pub fn connection_opened(&mut self) {
        self.challenge = None;
        self.keepalive_at = None;
        self.transmits.retain(|t| t.to != Destination::Relay);
        for room in self.rooms.values_mut() {
            room.joined = Joined::Out;
            room.refused = false;
            room.retry_at = None;
        }
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

    fn join(&mut self, room_id: RoomId) {
        let Some(challenge) = self.challenge else {
            return;
        };
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if room.joined != Joined::Out || room.left || room.refused || room.elsewhere {
            return;
        }
        room.joined = Joined::Joining;
        // A peer with no game of its own yet (a newcomer, a reloaded page)
        // takes the game from a player, not from the relay's replay: the
        // replay may not reach back to the start, and after a relay
        // restart it holds what each peer gave again, not the game's
        // order. What the replay brings is held until then.
        if room.syncing.is_none()
            && room
                .session
                .as_ref()
                .is_none_or(|s| s.transcript().is_empty() && s.rolls() == 0)
        {
            room.syncing = Some(Syncing::waiting());
        }
        let frame = handshake::join_frame(&self.key, &challenge, room_id, room.last_seq, true);
        self.transmits.push_back(Transmit {
            room: room_id,
            to: Destination::Relay,
            frame,
        });
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

    fn maybe_leave(&mut self, room_id: RoomId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        // A join under way ends with a roster, which comes back here.
        if !room.leaving || room.joined == Joined::Joining || room.outgoing.waiting() > 0 {
            return;
        }
        let tell_relay = room.joined == Joined::In;
        room.leaving = false;
        room.left = true;
        room.joined = Joined::Out;
        room.table_due = None;
        if !tell_relay {
            return;
        }
        if let Ok(frame) = handshake::signed_frame(&self.key, FrameKind::Leave, room_id, None, &[])
        {
            self.transmits.push_back(Transmit {
                room: room_id,
                to: Destination::Relay,
                frame,
            });
        }
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

    /// Handles one frame from the relay or from a peer's data channel.
    pub fn handle_frame(&mut self, now: Millis, bytes: &[u8]) -> Result<(), PeerError> {
        let frame = FrameRef::parse(bytes, MAX_FRAME_LEN)?;
        let room_id = frame.header.room;
        let seq = frame.header.seq;
        if frame.header.kind == FrameKind::Challenge {
            return self.on_challenge(now, &frame);
        }
        if seq > 0 && frame.header.kind != FrameKind::Roster {
            if let Some(room) = self.rooms.get_mut(&room_id) {
                room.last_seq = room.last_seq.max(seq);
                if frame.header.sender == self.id && room.outgoing.ack(bytes) {
                    self.maybe_leave(room_id);
                }
            }
        }
        match frame.header.kind {
            FrameKind::Roster => self.on_roster(now, room_id, seq, frame.payload)?,
            FrameKind::PeerJoined | FrameKind::PeerLeft => {
                let peer = control::decode_id(frame.payload)?;
                self.on_presence(
                    now,
                    room_id,
                    peer,
                    frame.header.kind == FrameKind::PeerJoined,
                );
            }
            FrameKind::Error => {
                let (code, reason) = control::decode_error(frame.payload)?;
                self.on_error(now, room_id, code, reason);
            }
            FrameKind::Table => self.on_table(now, room_id, &frame, bytes),
            FrameKind::Game => {
                // Game frames travel at critical priority, so no outbox
                // reorders or drops one: one of another priority might
                // reach some peers and not others, or late; every peer
                // ignores it alike.
                if frame.header.priority != Priority::Critical {
                    return Err(PeerError::NotCritical);
                }
                let message = SignedMessage::from_frame(&frame)
                    .map_err(|_| PeerError::Frame(FrameError::BadSignature))?;
                if !self.hold_or_sync(now, room_id, seq, &message, bytes) {
                    let relayed_at = (seq > 0).then_some(frame.header.time);
                    self.on_game(now, room_id, message, relayed_at);
                }
            }
            FrameKind::Direct => {
                self.on_direct(now, room_id, frame.header.sender, frame.payload);
            }
            // A chat line, checked to be its sender's own words.
            FrameKind::Presence if !frame.payload.is_empty() => {
                if let Some(text) = chat::decode(frame.payload) {
                    if self.rooms.contains_key(&room_id) && frame.verify().is_ok() {
                        self.events.push_back(PeerEvent::Chat {
                            room: room_id,
                            from: frame.header.sender,
                            text: text.to_owned(),
                        });
                    }
                }
            }
            FrameKind::Offer | FrameKind::Answer | FrameKind::Ice => {
                let kind = match frame.header.kind {
                    FrameKind::Offer => SignalKind::Offer,
                    FrameKind::Answer => SignalKind::Answer,
                    _ => SignalKind::Ice,
                };
                if self.rooms.contains_key(&room_id) {
                    self.events.push_back(PeerEvent::Signal {
                        room: room_id,
                        kind,
                        from: frame.header.sender,
                        text: control::decode_text(frame.payload)?.to_owned(),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Handles one frame from peer `from`'s data channel: only game frames
    /// that `from` signed (anything else is refused: relay frames cannot
    /// be injected, nor a third player's frames relayed), taken as
    /// unstamped (a channel's frames say nothing about what the relay has:
    /// no acknowledgement, no sequence bookkeeping). Only table actions:
    /// they show at once and count as the relay's copy comes; anything
    /// else counts only as the relay carried it, and a channel's copy is
    /// refused.
    pub fn handle_channel_frame(
        &mut self,
        now: Millis,
        room_id: RoomId,
        from: &PeerId,
        bytes: &[u8],
    ) -> Result<(), PeerError> {
        let result = match FrameRef::parse(bytes, MAX_FRAME_LEN) {
            // A channel belongs to one table: another table's frame over
            // it is refused (and counted against this channel).
            Ok(frame) if frame.header.room != room_id => Err(PeerError::ChannelOfAnotherTable),
            Ok(frame) => self.take_channel_frame(now, from, &frame),
            Err(e) => Err(e.into()),
        };
        if let Some(room) = self.rooms.get_mut(&room_id) {
            let delivery = match &result {
                Ok(delivery) => *delivery,
                Err(_) => Delivery::Refused,
            };
            room.paths.from_channel(now, *from, delivery);
        }
        result.map(|_| ())
    }

    fn take_channel_frame(
        &mut self,
        now: Millis,
        from: &PeerId,
        frame: &FrameRef<'_>,
    ) -> Result<Delivery, PeerError> {
        if frame.header.kind != FrameKind::Game || frame.header.sender != *from {
            return Err(PeerError::ForeignChannelFrame);
        }
        let room_id = frame.header.room;
        // While catching up, the relay's copy comes after the snapshot.
        if self.rooms.get(&room_id).is_none_or(|r| r.syncing.is_some()) {
            return Ok(Delivery::Ignored);
        }
        let message = SignedMessage::from_frame(frame)
            .map_err(|_| PeerError::Frame(FrameError::BadSignature))?;
        if !message.message.action.is_table_action() {
            return Err(PeerError::ForeignChannelFrame);
        }
        // Shown at once; it counts as the relay's copy comes. A refusal
        // here (a stranger's, too far ahead) is the relay copy's to report.
        let Some(session) = self
            .rooms
            .get_mut(&room_id)
            .and_then(|r| r.session.as_mut())
        else {
            return Ok(Delivery::Ignored);
        };
        let delivery = Delivery::of(&session.handle_message(now, message));
        if delivery == Delivery::Taken {
            self.drain(now, room_id);
        }
        Ok(delivery)
    }

    fn on_challenge(&mut self, now: Millis, frame: &FrameRef<'_>) -> Result<(), PeerError> {
        let challenge = handshake::read_challenge(frame).map_err(|e| match e {
            handshake::HandshakeError::Malformed(c) => PeerError::Control(c),
            handshake::HandshakeError::NotAChallenge(_) => {
                PeerError::Frame(FrameError::UnknownKind(frame.header.kind as u8))
            }
        })?;
        if self.epoch.is_some_and(|e| e != challenge.epoch) {
            for room in self.rooms.values_mut() {
                room.last_seq = 0;
                room.incarnation = None;
                room.outgoing.room_lost();
            }
            self.events.push_back(PeerEvent::RelayRestarted);
        }
        self.epoch = Some(challenge.epoch);
        self.challenge = Some(challenge);
        self.keepalive_at = Some(now + KEEPALIVE_MS);
        for room in self.rooms.values_mut() {
            room.joined = Joined::Out;
        }
        let rooms: Vec<RoomId> = self.rooms.keys().copied().collect();
        for room in rooms {
            self.join(room);
        }
        Ok(())
    }

    fn on_roster(
        &mut self,
        now: Millis,
        room_id: RoomId,
        seq: u64,
        payload: &[u8],
    ) -> Result<(), PeerError> {
        let (peers, incarnation) = control::decode_roster_with_incarnation(payload)?;
        let me = self.id;
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return Ok(());
        };
        if room.left {
            return Ok(());
        }
        // The room was emptied and made anew since this peer last saw it
        // (a new incarnation; its numbering restarted, so what the relay
        // replayed may be only part of it): give it our frames again, and
        // take the game from a player.
        let remade = room.incarnation.is_some_and(|i| i != incarnation);
        room.incarnation = Some(incarnation);
        if remade {
            room.outgoing.room_lost();
            if room.syncing.is_none() {
                room.syncing = Some(Syncing::waiting());
            }
        }
        room.last_seq = seq;
        room.joined = Joined::In;
        room.roster = peers.clone();
        for frame in room.outgoing.unacked().chain(room.listing.as_ref()) {
            self.transmits.push_back(Transmit {
                room: room_id,
                to: Destination::Relay,
                frame: frame.clone(),
            });
        }
        if room.session.is_none() && room.table_due.is_none() {
            room.table_due = Some(now + TABLE_WAIT_MS);
        }
        self.events.push_back(PeerEvent::Roster {
            room: room_id,
            peers,
        });
        self.check_house(now, room_id, me);
        self.maybe_leave(room_id);
        if self.rooms[&room_id]
            .syncing
            .as_ref()
            .is_some_and(|s| s.asked == [0; 32])
        {
            self.ask_next(now, room_id);
        }
        Ok(())
    }

    /// Notes whether the house is in the relay's roster. Its absence is
    /// only news after [`HOUSE_GRACE_MS`] (see [`Self::report_house`]);
    /// nothing is judged before this connection's roster has come (a page
    /// that is joining, or a relay that restarted, has not heard yet).
    fn check_house(&mut self, now: Millis, room_id: RoomId, me: PeerId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(banker) = room.banker() else { return };
        if banker == me || room.joined != Joined::In {
            return;
        }
        if room.roster.contains(&banker) {
            room.house_missing_since = None;
            if room.house_gone {
                room.house_gone = false;
                self.events
                    .push_back(PeerEvent::HouseBack { room: room_id });
            }
        } else if room.house_missing_since.is_none() {
            room.house_missing_since = Some(now);
        }
        self.report_house(now, room_id);
    }

    /// Tells of a house missing for [`HOUSE_GRACE_MS`].
    fn report_house(&mut self, now: Millis, room_id: RoomId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let due = room
            .house_missing_since
            .is_some_and(|since| now >= since.saturating_add(HOUSE_GRACE_MS));
        if due && !room.house_gone && !room.left {
            room.house_gone = true;
            self.events
                .push_back(PeerEvent::HouseGone { room: room_id });
        }
    }

    fn on_presence(&mut self, now: Millis, room_id: RoomId, peer: PeerId, joined: bool) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.roster.retain(|p| *p != peer);
        if joined {
            room.roster.push(peer);
            room.roster.sort();
        }
        self.events.push_back(if joined {
            PeerEvent::PeerJoined {
                room: room_id,
                peer,
            }
        } else {
            PeerEvent::PeerLeft {
                room: room_id,
                peer,
            }
        });
        self.check_house(now, room_id, self.id);
    }

    fn on_error(&mut self, now: Millis, room_id: RoomId, code: u16, reason: &str) {
        if let Some(room) = self.rooms.get_mut(&room_id) {
            match code {
                // Removed from the room (idle) or not in it any more: join
                // again, resuming.
                error::ROOM_IDLE | error::NOT_IN_ROOM if !room.left => {
                    room.joined = Joined::Out;
                }
                // Another tab of this key took the table: this one stops
                // for good (two tabs must not fight, nor sign under the
                // same numbers); its unsent moves are dropped.
                error::REPLACED => {
                    room.joined = Joined::Out;
                    room.elsewhere = true;
                    let unsent = room.outgoing.forsake();
                    self.transmits.retain(|t| t.room != room_id);
                    self.events.push_back(PeerEvent::OpenElsewhere {
                        room: room_id,
                        unsent,
                    });
                }
                // A full room, or too many rooms: try again in a while.
                error::ROOM_FULL | error::TOO_MANY_ROOMS => {
                    room.joined = Joined::Out;
                    room.refused = true;
                    room.retry_at = Some(now + JOIN_RETRY_MS);
                }
                // The relay no longer has what this peer missed: a
                // snapshot from a player will (asked once the roster says
                // who is there).
                error::RESUME_GAP if room.syncing.is_none() => {
                    room.syncing = Some(Syncing::waiting());
                }
                _ => {}
            }
        }
        self.events.push_back(PeerEvent::RelayError {
            room: room_id,
            code,
            reason: reason.to_owned(),
        });
        self.join(room_id);
    }

    fn on_table(&mut self, now: Millis, room_id: RoomId, frame: &FrameRef<'_>, bytes: &[u8]) {
        let Ok(config) = GameConfig::decode(frame.payload) else {
            return;
        };
        let key = self.key.clone();
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if room.session.is_some()
            || config.game != room_id
            || config.banker != frame.header.sender
            || frame.verify().is_err()
        {
            return;
        }
        room.session = Some(Session::new(config, key, room.entropy));
        room.table_frame = Some(Bytes::copy_from_slice(bytes));
        room.table_due = None;
        self.events.push_back(PeerEvent::TableOpened {
            room: room_id,
            banker: config.banker,
            bankroll: config.bankroll,
        });
        self.check_house(now, room_id, self.id);
    }

    fn on_game(
        &mut self,
        now: Millis,
        room_id: RoomId,
        message: SignedMessage,
        relayed_at: Option<Millis>,
    ) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(session) = room.session.as_mut() else {
            return;
        };
        let sender = message.sender;
        let result = match relayed_at {
            Some(at) => session.handle_relayed(now, message, at),
            None => session.handle_message(now, message),
        };
        if relayed_at.is_some() && !self.replaying {
            room.paths.from_relay(now, Delivery::of(&result));
        }
        match result {
            // The same frame by the relay and a data channel, or our own
            // frame's echo; or a frame for a table that has closed (the
            // closing was the news).
            Ok(()) | Err(SessionError::Replayed { .. } | SessionError::Closed) => {}
            Err(error) => self.events.push_back(PeerEvent::Game {
                room: room_id,
                event: Event::Rejected { sender, error },
            }),
        }
        self.drain(now, room_id);
    }

    /// Moves a session's messages and events out: own frames are kept
    /// until the relay has them.
    fn drain(&mut self, now: Millis, room_id: RoomId) {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let Some(session) = room.session.as_mut() else {
            return;
        };
        let to = if room.joined == Joined::In {
            Destination::Everyone
        } else {
            Destination::Peers
        };
        while let Some(message) = session.poll_transmit() {
            if room.elsewhere {
                // (Its own deadlines' ticks: another tab plays here now.)
                continue;
            }
            let frame: Bytes = message.to_frame();
            room.outgoing.push(frame.clone());
            // Data channels carry table actions only, which show sooner
            // there; everything counts as the relay carries it (commitments
            // and reveals are judged on its order and clock).
            let to = match message.message.action.is_table_action() {
                false if to == Destination::Peers => continue,
                false => Destination::Relay,
                true => to,
            };
            self.transmits.push_back(Transmit {
                room: room_id,
                to,
                frame,
            });
        }
        let mut alone = false;
        while let Some(event) = session.poll_event() {
            alone |= matches!(event, Event::RoundAborted { alone: true, .. })
                || matches!(event, Event::Diverged { minority: true, .. });
            self.events.push_back(PeerEvent::Game {
                room: room_id,
                event,
            });
        }
        // Every player signed a table this peer does not hold, or most of
        // a roll's participants hold another state after it: it missed
        // something; take the game from a player.
        if alone && room.syncing.is_none() && room.joined == Joined::In {
            room.syncing = Some(Syncing::waiting());
            self.ask_next(now, room_id);
        }
    }

    /// A game frame from the relay while this peer is behind: held (and a
    /// snapshot asked for) instead of handled. Returns whether it was.
    fn hold_or_sync(
        &mut self,
        now: Millis,
        room_id: RoomId,
        seq: u64,
        message: &SignedMessage,
        bytes: &[u8],
    ) -> bool {
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return false;
        };
        if let Some(syncing) = room.syncing.as_mut() {
            if seq > 0 && syncing.held.len() < MAX_HELD {
                syncing.held.push(Bytes::copy_from_slice(bytes));
            }
            return true;
        }
        if seq == 0 || message.sender == self.id {
            return false;
        }
        // Stamped frames come in the room's order, each sender's in its
        // own: one further along a sender's numbering than the next this
        // peer knows of (from the relay, or processed from a data channel;
        // any, before the table opened) means the relay no longer has what
        // came first.
        let relayed = room.relayed.entry(message.sender).or_insert(0);
        let known = (*relayed).max(
            room.session
                .as_ref()
                .map_or(0, |s| s.next_seq_from(&message.sender).saturating_sub(1)),
        );
        let behind = room.session.is_none() || message.message.seq > known.saturating_add(1);
        // A frame whose signature is not its sender's says nothing (the
        // session refuses it); frames handled again after a snapshot was
        // given up start no new one.
        if behind && message.verify().is_err() {
            return false;
        }
        *relayed = (*relayed).max(message.message.seq);
        if !behind || self.replaying {
            return false;
        }
        let mut syncing = Syncing::waiting();
        syncing.held.push(Bytes::copy_from_slice(bytes));
        room.syncing = Some(syncing);
        self.ask_next(now, room_id);
        true
    }

    /// Asks the next player for a snapshot: the house first, then each
    /// other player at the table in turn.
    fn ask_next(&mut self, now: Millis, room_id: RoomId) {
        let me = self.id;
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let banker = room.banker();
        let Some(syncing) = room.syncing.as_mut() else {
            return;
        };
        let others: Vec<PeerId> = room.roster.iter().copied().filter(|p| *p != me).collect();
        if others.is_empty() {
            // Nobody else at the table: go on with what the relay gave.
            self.stop_syncing(now, room_id);
            return;
        }
        if others.iter().all(|p| syncing.tried.contains(p)) {
            // Everyone was asked and nobody answered in time (busy, or
            // re-joining a restarted relay): all of them again, a few
            // times, before going on with what the relay gave (they may
            // all be catching up themselves).
            syncing.rounds += 1;
            if syncing.rounds >= SYNC_ROUNDS {
                self.stop_syncing(now, room_id);
                return;
            }
            syncing.tried.clear();
        }
        let next = banker
            .filter(|b| others.contains(b) && !syncing.tried.contains(b))
            .or_else(|| others.iter().copied().find(|p| !syncing.tried.contains(p)));
        let Some(next) = next else {
            return;
        };
        syncing.tried.push(next);
        syncing.asked = next;
        syncing.due = now + SYNC_TIMEOUT_MS;
        syncing.assembly = sync::Assembly::new(next);
        if let Ok(frame) = handshake::signed_frame(
            &self.key,
            FrameKind::Direct,
            room_id,
            Some(next),
            &[sync::REQUEST],
        ) {
            self.transmits.push_back(Transmit {
                room: room_id,
                to: Destination::Relay,
                frame,
            });
        }
    }

    /// Gives up on a snapshot: the frames held meanwhile are handled.
    fn stop_syncing(&mut self, now: Millis, room_id: RoomId) {
        let Some(syncing) = self.rooms.get_mut(&room_id).and_then(|r| r.syncing.take()) else {
            return;
        };
        self.replaying = true;
        for bytes in syncing.held {
            let _ = self.handle_frame(now, &bytes);
        }
        self.replaying = false;
    }

    fn on_direct(&mut self, now: Millis, room_id: RoomId, from: PeerId, payload: &[u8]) {
        match payload.first() {
            Some(&sync::REQUEST) => self.give_snapshot(now, room_id, from),
            Some(&sync::CHUNK) => self.take_chunk(now, room_id, from, &payload[1..]),
            _ => {}
        }
    }

    /// A player asked for the game: queued, and served in turn. A player
    /// asking again while its snapshot streams gave up waiting on it (it
    /// starts afresh): the stream starts over.
    fn give_snapshot(&mut self, now: Millis, room_id: RoomId, to: PeerId) {
        if let Some(room) = self.rooms.get_mut(&room_id) {
            if room.serving.as_ref().is_some_and(|s| s.to == to) {
                room.serving = None;
            }
            if room.asks.len() < MAX_ASKS {
                room.asks.insert(to);
            }
        }
        self.serve(now, room_id);
    }

    /// Sends snapshot chunks while the upload budget allows: on average
    /// [`SNAPSHOT_BYTES_PER_SEC`], at most [`SNAPSHOT_BURST_BYTES`] at
    /// once, so that players asking (or a player asking again and again)
    /// cannot have the relay's byte limit close this peer's connection. A
    /// snapshot of any length (up to [`sync::MAX_CHUNKS`]) streams out a
    /// chunk at a time; the players asking are served in turn.
    fn serve(&mut self, now: Millis, room_id: RoomId) {
        let key = self.key.clone();
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if room.syncing.is_some() || room.elsewhere {
            return;
        }
        let burst_ms = SNAPSHOT_BURST_BYTES * 1_000 / SNAPSHOT_BYTES_PER_SEC;
        while room.serve_at <= now {
            if room.serving.is_none() {
                let (Some(session), Some(table)) =
                    (room.session.as_ref(), room.table_frame.as_ref())
                else {
                    room.asks.clear();
                    return;
                };
                let Some(to) = room.asks.pop_first() else {
                    return;
                };
                let parts = sync::chunks(&sync::encode(table, session));
                if parts.len() > sync::MAX_CHUNKS {
                    // No player would take it: it asks another in time.
                    continue;
                }
                room.serving = Some(Serving {
                    to,
                    parts: parts.into(),
                });
            }
            let Some(serving) = room.serving.as_mut() else {
                return;
            };
            let Some(part) = serving.parts.pop_front() else {
                room.serving = None;
                continue;
            };
            let to = serving.to;
            if serving.parts.is_empty() {
                room.serving = None;
            }
            let cost = part.len() as u64 * 1_000 / SNAPSHOT_BYTES_PER_SEC;
            room.serve_at = room.serve_at.max(now.saturating_sub(burst_ms)) + cost.max(1);
            if let Ok(frame) =
                handshake::signed_frame(&key, FrameKind::Direct, room_id, Some(to), &part)
            {
                self.transmits.push_back(Transmit {
                    room: room_id,
                    to: Destination::Relay,
                    frame,
                });
            }
        }
    }

    fn take_chunk(&mut self, now: Millis, room_id: RoomId, from: PeerId, chunk: &[u8]) {
        let key = self.key.clone();
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let entropy = room.entropy;
        let Some(syncing) = room.syncing.as_mut().filter(|s| s.asked == from) else {
            return;
        };
        // A long snapshot streams in: the giver has the time it needs as
        // long as chunks keep coming.
        syncing.due = now + SYNC_TIMEOUT_MS;
        let restored = match syncing.assembly.add(chunk) {
            Ok(None) => return,
            Ok(Some(snapshot)) => sync::restore(&snapshot, room_id, from, &key, entropy, now),
            Err(e) => Err(e),
        };
        match restored {
            Ok(restored) => {
                let Some(syncing) = room.syncing.take() else {
                    return;
                };
                let opened = room.session.is_none();
                let config = *restored.session.config();
                let rolls = restored.session.rolls() as usize;
                let mut session = restored.session;
                // Our own frames the relay may not have carried yet (the
                // snapshot cannot hold them): the replay must not sign
                // other messages under their numbers.
                let me = self.id;
                let sent = room
                    .outgoing
                    .unacked()
                    .filter_map(|f| SignedMessage::from_frame_bytes(f).ok())
                    .filter(|m| m.sender == me)
                    .map(|m| m.message.seq)
                    .max();
                if let Some(seq) = sent {
                    session.own_sent_through(now, seq);
                }
                room.session = Some(session);
                room.table_frame = Some(restored.table);
                room.table_due = None;
                if opened {
                    self.events.push_back(PeerEvent::TableOpened {
                        room: room_id,
                        banker: config.banker,
                        bankroll: config.bankroll,
                    });
                }
                self.events.push_back(PeerEvent::Synced {
                    room: room_id,
                    from,
                    rolls,
                });
                self.drain(now, room_id);
                for bytes in syncing.held {
                    let _ = self.handle_frame(now, &bytes);
                }
                self.check_house(now, room_id, self.id);
            }
            Err(error) => {
                self.events.push_back(PeerEvent::SyncRefused {
                    room: room_id,
                    from,
                    reason: error.to_string(),
                });
                self.ask_next(now, room_id);
            }
        }
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
