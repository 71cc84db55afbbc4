//! Rooms: who is in each, the room's order (sequence numbers), its replay
//! buffer, and fan-out.
//!
//! Each room sits behind its own `std::sync::Mutex` inside a `DashMap`, so
//! rooms never contend with one another. A room lock is held only to
//! stamp a frame and push it into the members' outboxes, which never wait
//! (see [`crate::outbox`]); it is never held across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use shared::codec::{control, encode_unsigned, stamp_seq, FrameHeader};
use shared::manager::ConsensusGameManager;
use shared::message::SignedMessage;
use shared::session::GameConfig;
use shared::wire::{error, FrameKind, PeerId, Priority, RoomId};

use crate::config::Limits;
use crate::metrics::Metrics;
use crate::outbox::Outbox;

/// One member of a room: the connection it came on and its outbox.
#[derive(Clone)]
struct Member {
    conn: u64,
    outbox: Arc<Outbox>,
}

#[derive(Default)]
struct Room {
    members: HashMap<PeerId, Member>,
    /// The sequence number the next stamped frame gets.
    next_seq: u64,
    /// The last stamped frames, oldest first.
    replay: VecDeque<(u64, Bytes)>,
    /// Bytes in `replay`.
    replay_bytes: usize,
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
    fn new(code: u16, label: &'static str, reason: impl Into<String>) -> Self {
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
    next_conn: AtomicU64,
    started: Instant,
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
            limits,
            metrics,
            next_conn: AtomicU64::new(1),
            started: Instant::now(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
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

    fn room(&self, id: &RoomId) -> Option<Arc<Mutex<Room>>> {
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
    ) -> Result<(), Refusal> {
        loop {
            let room = self
                .rooms
                .entry(room_id)
                .or_insert_with(|| {
                    self.metrics.rooms.inc();
                    Arc::new(Mutex::new(Room {
                        next_seq: 1,
                        ..Room::default()
                    }))
                })
                .clone();
            let Ok(mut r) = room.lock() else {
                return Err(Refusal::new(
                    error::ROOM_FULL,
                    "room_full",
                    "room unavailable",
                ));
            };
            // The room may have been emptied and removed since we looked it up.
            if !self
                .rooms
                .get(&room_id)
                .is_some_and(|cur| Arc::ptr_eq(&cur, &room))
            {
                continue;
            }
            let replacing = r.members.get(&peer).filter(|m| m.conn != conn).cloned();
            if replacing.is_none()
                && !r.members.contains_key(&peer)
                && r.members.len() >= self.limits.max_peers_per_room
            {
                return Err(Refusal::new(
                    error::ROOM_FULL,
                    "room_full",
                    format!("room is full ({} peers)", self.limits.max_peers_per_room),
                ));
            }
            if let Some(old) = replacing {
                old.outbox.push(
                    Priority::Critical,
                    error_frame(
                        room_id,
                        error::REPLACED,
                        "joined this room from another connection",
                    ),
                );
            }
            let rejoining = r.members.contains_key(&peer);
            r.members.insert(
                peer,
                Member {
                    conn,
                    outbox: Arc::clone(outbox),
                },
            );
            // Replay what the peer missed (everything still kept when it
            // resumes from 0), or say plainly which frames are gone.
            let oldest = r.replay.front().map_or(r.next_seq, |(seq, _)| *seq);
            if resume_from + 1 < oldest {
                self.metrics.resume_gaps.inc();
                outbox.push(
                    Priority::Critical,
                    error_frame(
                        room_id,
                        error::RESUME_GAP,
                        &format!(
                            "frames {}..{} are gone (replay keeps {}); resynchronise",
                            resume_from + 1,
                            oldest - 1,
                            self.limits.replay_frames
                        ),
                    ),
                );
            }
            for (seq, frame) in &r.replay {
                if *seq > resume_from {
                    self.metrics.replay_hits.inc();
                    outbox.push(Priority::Critical, frame.clone());
                }
            }
            let mut peers: Vec<PeerId> = r.members.keys().copied().collect();
            peers.sort();
            let current = r.next_seq - 1;
            outbox.push(
                Priority::Critical,
                relay_frame(
                    FrameKind::Roster,
                    room_id,
                    current,
                    &control::encode_roster(&peers),
                ),
            );
            if !rejoining {
                let joined = relay_frame(FrameKind::PeerJoined, room_id, 0, &peer);
                self.stamp_and_fan_out(&mut r, Some(&peer), Priority::Critical, joined);
            }
            return Ok(());
        }
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
        let left = relay_frame(FrameKind::PeerLeft, room_id, 0, &peer);
        self.stamp_and_fan_out(&mut r, None, Priority::Critical, left);
        if r.members.is_empty() {
            drop(r);
            let removed = self
                .rooms
                .remove_if(&room_id, |_, cur| {
                    Arc::ptr_eq(cur, &room) && cur.lock().is_ok_and(|r| r.members.is_empty())
                })
                .is_some();
            if removed {
                self.metrics.rooms.dec();
            }
        }
    }

    /// Stamps `frame` with the room's next sequence number, keeps it for
    /// replay and queues it for every member but `except`.
    fn stamp_and_fan_out(
        &self,
        room: &mut Room,
        except: Option<&PeerId>,
        priority: Priority,
        frame: Bytes,
    ) {
        let seq = room.next_seq;
        room.next_seq += 1;
        let mut stamped = BytesMut::from(&frame[..]);
        let _ = stamp_seq(&mut stamped, seq);
        let frame = stamped.freeze();
        room.replay_bytes += frame.len();
        room.replay.push_back((seq, frame.clone()));
        while room.replay.len() > self.limits.replay_frames
            || room.replay_bytes > self.limits.replay_bytes
        {
            match room.replay.pop_front() {
                Some((_, old)) => room.replay_bytes -= old.len(),
                None => break,
            }
        }
        for (peer, member) in &room.members {
            if Some(peer) != except {
                member.outbox.push(priority, frame.clone());
            }
        }
    }

    /// A client frame for the whole room: stamped, kept for replay and
    /// queued for every other member.
    pub fn broadcast(
        &self,
        peer: PeerId,
        room_id: RoomId,
        priority: Priority,
        frame: Bytes,
    ) -> Result<(), Refusal> {
        let not_in = || Refusal::new(error::NOT_IN_ROOM, "not_in_room", "join the room first");
        let room = self.room(&room_id).ok_or_else(not_in)?;
        let Ok(mut r) = room.lock() else {
            return Err(not_in());
        };
        if !r.members.contains_key(&peer) {
            return Err(not_in());
        }
        self.stamp_and_fan_out(&mut r, Some(&peer), priority, frame);
        Ok(())
    }

    /// A client frame for one peer of the room (signaling, direct).
    pub fn send_to(
        &self,
        peer: PeerId,
        room_id: RoomId,
        target: PeerId,
        priority: Priority,
        frame: Bytes,
    ) -> Result<(), Refusal> {
        let not_in = || Refusal::new(error::NOT_IN_ROOM, "not_in_room", "join the room first");
        let room = self.room(&room_id).ok_or_else(not_in)?;
        let target_outbox = {
            let Ok(r) = room.lock() else {
                return Err(not_in());
            };
            if !r.members.contains_key(&peer) {
                return Err(not_in());
            }
            r.members.get(&target).map(|m| Arc::clone(&m.outbox))
        };
        let outbox = target_outbox.ok_or_else(|| {
            Refusal::new(
                error::UNKNOWN_TARGET,
                "unknown_target",
                "that peer is not in this room",
            )
        })?;
        outbox.push(priority, frame);
        Ok(())
    }

    /// Validation mode: registers a room's table from its banker's `Table`
    /// frame, so the room's game frames can be checked.
    pub fn announce_table(
        &self,
        sender: PeerId,
        room_id: RoomId,
        payload: &[u8],
    ) -> Result<(), Refusal> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let invalid =
            |why: &str| Refusal::new(error::INVALID_GAME_FRAME, "invalid_game_frame", why);
        let config =
            GameConfig::decode(payload).map_err(|_| invalid("malformed table configuration"))?;
        if config.game != room_id || config.banker != sender {
            return Err(invalid(
                "only the banker announces a table, in its own room",
            ));
        }
        // A table announced twice keeps its first configuration.
        let _ = validator.observe(config);
        Ok(())
    }

    /// Validation mode: checks a game frame with the engine.
    pub fn validate_game(&self, frame: &shared::codec::FrameRef<'_>) -> Result<(), Refusal> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let invalid =
            |why: String| Refusal::new(error::INVALID_GAME_FRAME, "invalid_game_frame", why);
        let message = SignedMessage::from_frame(frame).map_err(|e| invalid(e.to_string()))?;
        let now = self.started.elapsed().as_millis() as u64;
        validator
            .handle_message(now, message)
            .map(|_| ())
            .map_err(|e| invalid(e.to_string()))
    }

    /// Validation mode: applies passed game deadlines.
    pub fn tick_validator(&self) {
        if let Some(validator) = &self.validator {
            validator.handle_timeouts(self.started.elapsed().as_millis() as u64);
        }
    }
}
