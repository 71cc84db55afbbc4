//! State transfer between players: when to ask for a snapshot (see
//! [`super::sync`] for the format and its checks), whom to ask and for how
//! long, giving snapshots within the upload budget, and taking one in.

use super::*;

impl Peer {
    /// A game frame from the relay while this peer is behind: held (and a
    /// snapshot asked for) instead of handled. Returns whether it was.
    pub(super) fn hold_or_sync(
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
    /// other player at the table in turn (the one whose game did not hold
    /// last time after all of them).
    pub(super) fn ask_next(&mut self, now: Millis, room_id: RoomId) {
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
        let untried = |p: &PeerId| others.contains(p) && !syncing.tried.contains(p);
        let first = |p: &PeerId| untried(p) && Some(*p) != syncing.last;
        let next = banker
            .filter(first)
            .or_else(|| others.iter().copied().find(first))
            .or_else(|| syncing.last.filter(untried));
        let Some(next) = next else {
            return;
        };
        syncing.tried.push(next);
        syncing.asked = next;
        syncing.due = now + SYNC_TIMEOUT_MS;
        syncing.assembly = sync::Assembly::new(next);
        send_direct(
            &self.key,
            &mut self.transmits,
            room_id,
            next,
            &[sync::REQUEST],
        );
    }

    /// Gives up on a snapshot: the frames held meanwhile are handled.
    pub(super) fn stop_syncing(&mut self, now: Millis, room_id: RoomId) {
        let Some(syncing) = self.rooms.get_mut(&room_id).and_then(|r| r.syncing.take()) else {
            return;
        };
        self.replaying = true;
        for bytes in syncing.held {
            let _ = self.handle_frame(now, &bytes);
        }
        self.replaying = false;
    }

    pub(super) fn on_direct(&mut self, now: Millis, room_id: RoomId, from: PeerId, payload: &[u8]) {
        match payload.first() {
            Some(&sync::REQUEST) => self.give_snapshot(now, room_id, from),
            Some(&sync::CHUNK) => self.take_chunk(now, room_id, from, &payload[1..]),
            Some(&sync::NONE) => {
                let asked = self
                    .rooms
                    .get(&room_id)
                    .and_then(|r| r.syncing.as_ref())
                    .is_some_and(|s| s.asked == from);
                if asked {
                    self.ask_next(now, room_id);
                }
            }
            _ => {}
        }
    }

    /// A player asked for the game: queued, and served in turn. A player
    /// asking again while its snapshot streams gave up waiting on it (it
    /// starts afresh): the stream starts over.
    pub(super) fn give_snapshot(&mut self, now: Millis, room_id: RoomId, to: PeerId) {
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
    pub(super) fn serve(&mut self, now: Millis, room_id: RoomId) {
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
                    // No game here yet (nor coming: this peer is not
                    // catching up): each asker is told so and asks the
                    // next player instead of waiting on this one.
                    for to in std::mem::take(&mut room.asks) {
                        send_direct(&key, &mut self.transmits, room_id, to, &[sync::NONE]);
                    }
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
            send_direct(&key, &mut self.transmits, room_id, to, &part);
        }
    }

    pub(super) fn take_chunk(&mut self, now: Millis, room_id: RoomId, from: PeerId, chunk: &[u8]) {
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
                room.synced_from = Some(from);
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
}

/// Signs a `Direct` frame of `payload` for one player of the room and
/// queues it for the relay (snapshot requests, chunks and "no game").
fn send_direct(
    key: &SigningKey,
    transmits: &mut VecDeque<Transmit>,
    room_id: RoomId,
    to: PeerId,
    payload: &[u8],
) {
    if let Ok(frame) = handshake::signed_frame(key, FrameKind::Direct, room_id, Some(to), payload) {
        transmits.push_back(Transmit {
            room: room_id,
            to: Destination::Relay,
            frame,
        });
    }
}
