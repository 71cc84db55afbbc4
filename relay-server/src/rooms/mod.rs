//! Rooms: who is in each, the room's order (sequence numbers), its replay
//! buffer, and fan-out.
//!
//! Each room sits behind its own `std::sync::Mutex` inside a `DashMap`, so
//! rooms never contend with one another. A room lock is held only to
//! stamp a frame and push it into the members' outboxes, which never wait
//! (see [`crate::outbox`]); it is never held across an await.
//!
//! Lock order (never taken the other way round):
//!
//! 1. a shard of the `rooms` map, only long enough to clone a room's `Arc`
//!    or to insert or remove an entry, and never while a room lock is
//!    held: a room lock is never taken under a map guard either;
//! 2. one room's `Mutex`;
//! 3. an outbox's `Mutex` (taken under the room lock by fan-out; an outbox
//!    never takes a room lock).
//!
//! A room that its last member leaves is marked `closed` under its own lock
//! and then removed from the map with no room lock held; a join that finds
//! a closed room helps remove it and looks again, so no member is ever
//! added to a room that is gone from the map.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use shared::codec::{control, encode_unsigned, FrameHeader};
use shared::manager::ConsensusGameManager;
use shared::peer::listing::Listing;
use shared::wire::{error, FrameKind, PeerId, Priority, RoomId};

mod lobby;
mod replay;
mod validate;

pub(crate) use replay::unix_ms;

pub use lobby::ListedTable;

use crate::cluster::{Cluster, RoomLink};
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::transcripts::TranscriptLog;

/// One member of a room: the connection it came on and its outbox.
#[derive(Clone)]
pub(crate) struct Member {
    pub(crate) conn: u64,
    pub(crate) outbox: Arc<Outbox>,
    /// Its own room frames come back to it stamped (its acknowledgement).
    pub(crate) echo: bool,
    /// It has its replay and roster: it gets the room's traffic (in
    /// cluster mode a joiner waits for the room to load first).
    pub(crate) welcomed: bool,
}

#[derive(Default)]
pub(crate) struct Room {
    /// This relay's members (cluster mode: those connected here).
    pub(crate) members: HashMap<PeerId, Member>,
    /// The sequence number the next stamped frame gets.
    pub(crate) next_seq: u64,
    /// The relay time of the last stamped frame (ms since the Unix epoch;
    /// a room's times never go back, even if the system clock does).
    pub(crate) last_time: u64,
    /// The last stamped frames, oldest first.
    pub(crate) replay: VecDeque<(u64, Bytes)>,
    /// Bytes in `replay`.
    replay_bytes: usize,
    /// Emptied and being removed from the map: nobody may join it.
    closed: bool,
    /// Random per room made (in every roster): a client that sees a new
    /// one knows the room it knew is gone.
    pub(crate) incarnation: u64,
    /// The house's listing of its table in the lobby, while the house is
    /// in the room.
    listing: Option<Listing>,
    /// Cluster mode: the room as the cluster sees it (its order comes
    /// from the rooms' stream, members on other relays).
    pub(crate) cluster: Option<Box<RoomLink>>,
}

impl Room {
    /// Members here and, in cluster mode, on other relays.
    fn population(&self) -> usize {
        self.members.len() + self.cluster.as_ref().map_or(0, |c| c.remote.len())
    }

    /// The room's roster: everyone in it, here or on another relay, in
    /// order, with the room's last sequence number and incarnation.
    pub(crate) fn roster_frame(&self, room_id: RoomId) -> Bytes {
        let mut peers: Vec<PeerId> = self.members.keys().copied().collect();
        if let Some(link) = &self.cluster {
            peers.extend(link.remote.keys().copied());
        }
        peers.sort();
        peers.dedup();
        relay_frame(
            FrameKind::Roster,
            room_id,
            self.next_seq - 1,
            &control::encode_roster(&peers, self.incarnation),
        )
    }
}

/// Why the hub refused a request (sent back as an `Error` frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A code from `shared::wire::error`.
    pub code: u16,
    /// A short reason for people.
    pub reason: String,
    /// The metrics label.
    pub label: &'static str,
}

impl Refusal {
    /// The sender is not in that room (on this connection).
    pub fn not_in_room() -> Self {
        Self::new(error::NOT_IN_ROOM, "not_in_room", "join the room first")
    }

    /// A refusal with this code, metrics label and reason.
    pub fn new(code: u16, label: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            label,
        }
    }
}

/// All rooms of this relay.
pub struct Hub {
    rooms: DashMap<RoomId, Arc<Mutex<Room>>>,
    limits: Limits,
    metrics: Arc<Metrics>,
    validator: Option<ConsensusGameManager>,
    /// Validation mode's game files (`--transcripts`).
    transcripts: Option<TranscriptLog>,
    next_conn: AtomicU64,
    started: Instant,
    epoch: u64,
    /// Cluster mode: the link to the other relays through NATS.
    cluster: std::sync::OnceLock<Arc<Cluster>>,
}

/// Encodes an unsigned relay frame.
pub fn relay_frame(kind: FrameKind, room: RoomId, seq: u64, payload: &[u8]) -> Bytes {
    let header = FrameHeader {
        seq,
        ..FrameHeader::new(kind, room, [0; 32])
    };
    let mut out = BytesMut::with_capacity(header.len() + payload.len());
    // Relay kinds with a short payload always encode.
    let _ = encode_unsigned(&header, payload, &mut out);
    out.freeze()
}

/// A random number for an epoch, an incarnation or an id (the time if
/// the system has no randomness: each only has to differ from the last).
pub(crate) fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return now.as_nanos() as u64;
    }
    u64::from_be_bytes(bytes)
}

/// The `Error` frame a connection gets when its key joined the room from
/// another connection (on this relay or another of its cluster).
pub(crate) fn replaced_frame(room: RoomId) -> Bytes {
    error_frame(
        room,
        error::REPLACED,
        "joined this room from another connection",
    )
}

/// An `Error` frame.
pub fn error_frame(room: RoomId, code: u16, reason: &str) -> Bytes {
    let mut reason = reason.to_owned();
    reason.truncate(control::MAX_REASON);
    let payload = control::encode_error(code, &reason).unwrap_or_default();
    relay_frame(FrameKind::Error, room, 0, &payload)
}

impl Hub {
    /// A hub with these limits.
    pub fn new(limits: Limits, metrics: Arc<Metrics>) -> Self {
        Self {
            rooms: DashMap::new(),
            validator: limits.validate.then(ConsensusGameManager::new),
            transcripts: None,
            limits: limits.effective(),
            metrics,
            next_conn: AtomicU64::new(1),
            started: Instant::now(),
            epoch: random_u64(),
            cluster: std::sync::OnceLock::new(),
        }
    }

    /// Cluster mode: the cluster's epoch instead of this relay's own, so
    /// that a client moving between relays keeps its rooms.
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// Cluster mode: rooms from now on are shared through `cluster`.
    pub(crate) fn set_cluster(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The cluster link, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// A new room, in cluster mode followed through the cluster (a task
    /// of its own loads its history and carries its traffic).
    fn open_room(&self, room_id: RoomId) -> Arc<Mutex<Room>> {
        self.metrics.rooms.inc();
        let mut room = Room {
            next_seq: 1,
            incarnation: random_u64(),
            ..Room::default()
        };
        let opening = self.cluster.get().map(|cluster| {
            let (link, opening) = cluster.open(room_id);
            room.cluster = Some(Box::new(link));
            opening
        });
        let room = Arc::new(Mutex::new(room));
        if let Some(opening) = opening {
            opening.start(Arc::downgrade(&room));
        }
        room
    }

    /// This relay's epoch: random per start, sent in every challenge, so
    /// clients know when rooms and their numbering are new.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The limits in force (the replay window fitted to the queues, see
    /// [`Limits::effective`]).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Validation mode writes each validated game's transcript with `log`.
    pub fn set_transcripts(&mut self, log: TranscriptLog) {
        self.transcripts = Some(log);
    }

    /// Validation mode's game files, if written.
    pub fn transcripts(&self) -> Option<&TranscriptLog> {
        self.transcripts.as_ref()
    }

    /// The game validator, in validation mode.
    pub fn validator(&self) -> Option<&ConsensusGameManager> {
        self.validator.as_ref()
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Rooms with members.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Cluster mode: the rooms followed here.
    pub(crate) fn cluster_rooms(&self) -> Vec<RoomId> {
        self.rooms.iter().map(|r| *r.key()).collect()
    }

    /// The room's members connected here (none if it is not open here).
    pub(crate) fn local_members(&self, room_id: &RoomId) -> Vec<PeerId> {
        self.room(room_id)
            .and_then(|room| {
                let r = room.lock().ok()?;
                Some(r.members.keys().copied().collect())
            })
            .unwrap_or_default()
    }

    pub(crate) fn room(&self, id: &RoomId) -> Option<Arc<Mutex<Room>>> {
        self.rooms.get(id).map(|r| Arc::clone(&r))
    }

    /// Adds `peer` (on connection `conn`) to `room`, replays what it missed
    /// since `resume_from` (if anything), sends it the roster and tells the
    /// others. A peer already in the room from another connection is
    /// replaced there (that connection gets an `Error` frame).
    pub fn join(
        &self,
        conn: u64,
        peer: PeerId,
        outbox: &Arc<Outbox>,
        room_id: RoomId,
        resume_from: u64,
        echo: bool,
    ) -> Result<(), Refusal> {
        loop {
            // The map guard is dropped at the end of this statement, before
            // the room is locked (lock order, see the module header).
            let room = self
                .rooms
                .entry(room_id)
                .or_insert_with(|| self.open_room(room_id))
                .clone();
            let Ok(mut r) = room.lock() else {
                return Err(Refusal::new(
                    error::ROOM_FULL,
                    "room_full",
                    "room unavailable",
                ));
            };
            if r.closed {
                // Its last member left and it is on its way out of the map:
                // help remove it (no room lock held) and look again.
                drop(r);
                self.remove_closed(&room_id, &room);
                continue;
            }
            let replacing = r.members.get(&peer).filter(|m| m.conn != conn).cloned();
            if replacing.is_none()
                && !r.members.contains_key(&peer)
                && r.population() >= self.limits.max_peers_per_room
            {
                return Err(Refusal::new(
                    error::ROOM_FULL,
                    "room_full",
                    format!("room is full ({} peers)", self.limits.max_peers_per_room),
                ));
            }
            if let Some(old) = replacing {
                old.outbox.push(Priority::Critical, replaced_frame(room_id));
            }
            let mut rejoining = r.members.contains_key(&peer);
            r.members.insert(
                peer,
                Member {
                    conn,
                    outbox: Arc::clone(outbox),
                    echo,
                    welcomed: false,
                },
            );
            let mut loading = false;
            let taken = r.next_seq;
            if let Some(link) = r.cluster.as_mut() {
                // Here now, whichever relay it was on (that one lets it go).
                rejoining |= link.remote.remove(&peer).is_some();
                link.joined(peer);
                // Its replay and roster follow when the room is loaded and
                // has taken what the joiner saw on another relay (this
                // one may be a moment behind).
                let ahead = resume_from != u64::MAX && resume_from >= taken;
                if !link.loaded || ahead {
                    link.wait(peer, conn, resume_from);
                    loading = true;
                }
            }
            if !loading {
                self.welcome(&mut r, &peer, room_id, resume_from);
            }
            if !rejoining {
                let joined = relay_frame(FrameKind::PeerJoined, room_id, 0, &peer);
                Self::fan_out(&r, Some(&peer), Priority::Critical, &joined);
            }
            return Ok(());
        }
    }

    /// Sends a joiner what it missed since `resume_from`, then the
    /// roster; from then on it gets the room's traffic.
    pub(crate) fn welcome(&self, r: &mut Room, peer: &PeerId, room_id: RoomId, resume_from: u64) {
        let roster = r.roster_frame(room_id);
        let Some(member) = r.members.get_mut(peer) else {
            return;
        };
        member.welcomed = true;
        let outbox = Arc::clone(&member.outbox);
        self.replay_to(r, &outbox, room_id, resume_from, roster.len());
        outbox.push(Priority::Critical, roster);
    }

    /// Removes `peer` (if it is there on connection `conn`) and tells the
    /// others.
    pub fn leave(&self, conn: u64, peer: PeerId, room_id: RoomId) {
        let Some(room) = self.room(&room_id) else {
            return;
        };
        let Ok(mut r) = room.lock() else { return };
        if r.members.get(&peer).is_none_or(|m| m.conn != conn) {
            return;
        }
        r.members.remove(&peer);
        if let Some(link) = r.cluster.as_mut() {
            link.left(peer);
        }
        if r.listing.as_ref().is_some_and(|l| l.config.banker == peer) {
            r.listing = None;
        }
        let left = relay_frame(FrameKind::PeerLeft, room_id, 0, &peer);
        Self::fan_out(&r, None, Priority::Critical, &left);
        if self.close_if_empty(&mut r) {
            drop(r);
            self.remove_closed(&room_id, &room);
        }
    }

    /// Marks a room that has no member here closed (to be removed from
    /// the map with [`Hub::remove_closed`], its lock released).
    pub(crate) fn close_if_empty(&self, r: &mut Room) -> bool {
        if !r.members.is_empty() {
            return false;
        }
        r.closed = true;
        // Nobody will resume in a room that is gone.
        self.forget_replay(r);
        true
    }

    /// Removes `room` from the map if it is still the entry for `room_id`.
    /// Called with no room lock held; the room is already `closed`, so it
    /// cannot gain members meanwhile.
    pub(crate) fn remove_closed(&self, room_id: &RoomId, room: &Arc<Mutex<Room>>) {
        if self
            .rooms
            .remove_if(room_id, |_, cur| Arc::ptr_eq(cur, room))
            .is_some()
        {
            self.metrics.rooms.dec();
            // Validation mode follows the game no longer: a room that is
            // gone keeps no session (its own map, no room lock held).
            if let Some(validator) = &self.validator {
                let game = validator.remove(room_id);
                if let (Some(log), Some(game)) = (&self.transcripts, game) {
                    log.finish(room_id, &game);
                }
            }
        }
    }

    /// Queues `frame` for every member but `except`, unstamped and not
    /// kept for replay: presence (who joined, who left, who is still
    /// there), which the roster sums up for anyone who joins later.
    pub(crate) fn fan_out(room: &Room, except: Option<&PeerId>, priority: Priority, frame: &Bytes) {
        for (peer, member) in &room.members {
            if Some(peer) != except && member.welcomed {
                member.outbox.push(priority, frame.clone());
            }
        }
    }

    /// Runs `f` on the room, locked, if `peer` is in it on connection
    /// `conn` (a connection whose key has since joined from another
    /// connection speaks for nobody).
    fn as_member<R>(
        &self,
        conn: u64,
        peer: &PeerId,
        room_id: &RoomId,
        f: impl FnOnce(&mut Room) -> R,
    ) -> Result<R, Refusal> {
        let room = self.room(room_id).ok_or_else(Refusal::not_in_room)?;
        let Ok(mut r) = room.lock() else {
            return Err(Refusal::not_in_room());
        };
        if r.members.get(peer).is_none_or(|m| m.conn != conn) {
            return Err(Refusal::not_in_room());
        }
        Ok(f(&mut r))
    }

    /// A client's presence frame: queued at low priority for every other
    /// member, neither stamped nor kept for replay, so presence never
    /// evicts the game's history. An empty one is a keep-alive: it keeps
    /// the member's seat and goes to nobody.
    pub fn announce(
        &self,
        conn: u64,
        peer: PeerId,
        room_id: RoomId,
        frame: Bytes,
        keepalive: bool,
    ) -> Result<(), Refusal> {
        self.as_member(conn, &peer, &room_id, |r| {
            if !keepalive {
                Self::fan_out(r, Some(&peer), Priority::Low, &frame);
                if let Some(link) = &r.cluster {
                    link.presence(frame);
                }
            }
        })
    }

    /// A client frame for the whole room: stamped, kept for replay and
    /// queued for every other member.
    pub fn broadcast(
        &self,
        conn: u64,
        peer: PeerId,
        room_id: RoomId,
        priority: Priority,
        frame: Bytes,
    ) -> Result<(), Refusal> {
        self.broadcast_checked(conn, peer, room_id, priority, frame, |_| Ok(()))
    }

    /// Like [`Hub::broadcast`], if `check`, given the relay time the frame
    /// is about to get, lets it through (the validator judges a game frame
    /// on the very time its peers will).
    pub fn broadcast_checked(
        &self,
        conn: u64,
        peer: PeerId,
        room_id: RoomId,
        priority: Priority,
        frame: Bytes,
        check: impl FnOnce(u64) -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        self.as_member(conn, &peer, &room_id, |r| {
            if let Some(link) = &r.cluster {
                // Its number and time come from the cluster's order
                // (validation mode is not offered in cluster mode).
                return link.publish(frame);
            }
            let time = Self::next_time(r);
            check(time)?;
            self.stamp_and_fan_out(r, &peer, priority, frame, time);
            Ok(())
        })?
    }

    /// A client frame for one peer of the room (signaling, direct).
    pub fn send_to(
        &self,
        conn: u64,
        peer: PeerId,
        room_id: RoomId,
        target: PeerId,
        priority: Priority,
        frame: Bytes,
    ) -> Result<(), Refusal> {
        let target_outbox = self.as_member(conn, &peer, &room_id, |r| {
            if let Some(member) = r.members.get(&target) {
                return Some(Ok(Arc::clone(&member.outbox)));
            }
            // On another relay of the cluster: through that relay.
            let link = r.cluster.as_ref()?;
            let relay = *link.remote.get(&target)?;
            Some(Err(link.direct(relay, target, frame.clone())))
        })?;
        match target_outbox {
            Some(Ok(outbox)) => {
                outbox.push(priority, frame);
                Ok(())
            }
            Some(Err(sent)) => sent,
            None => Err(Refusal::new(
                error::UNKNOWN_TARGET,
                "unknown_target",
                "that peer is not in this room",
            )),
        }
    }
}
