//! The link to the relay: the challenge and the joins, every frame the
//! relay sends and what it does (rosters, errors, the house's table, game
//! frames in the relay's order), resuming after a reconnect, and leaving.

use super::*;

impl Peer {
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

    pub(super) fn join(&mut self, room_id: RoomId) {
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

    pub(super) fn maybe_leave(&mut self, room_id: RoomId) {
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

    /// Handles one WebSocket message from the relay: one frame, or several
    /// packed back to back (a relay packs what it had queued for this
    /// client when it asked, `/ws?pack=1`). The game frames of a packed
    /// message have their signatures checked together first, a batch per
    /// table (ZIP 215: the same verdicts as one by one), then every frame
    /// is handled in order; the first error is returned once all the
    /// frames that could be read are handled.
    pub fn handle_message(&mut self, now: Millis, bytes: &[u8]) -> Result<(), PeerError> {
        // One frame (most messages): nothing to batch, nothing parsed twice.
        if let Ok((_, total)) = crate::codec::FrameHeader::peek(bytes) {
            if total == bytes.len() {
                return self.handle_frame(now, bytes);
            }
        }
        let mut games: Vec<(RoomId, SignedMessage)> = Vec::new();
        for frame in crate::codec::frames(bytes).flatten() {
            if let Ok(frame) = FrameRef::parse(frame, MAX_FRAME_LEN) {
                if frame.header.kind == FrameKind::Game {
                    if let Ok(signed) = SignedMessage::from_frame(&frame) {
                        games.push((frame.header.room, signed));
                    }
                }
            }
        }
        if games.len() >= 2 {
            let mut rooms: Vec<RoomId> = games.iter().map(|(r, _)| *r).collect();
            rooms.sort_unstable();
            rooms.dedup();
            for room_id in rooms {
                if let Some(session) = self
                    .rooms
                    .get_mut(&room_id)
                    .and_then(|room| room.session.as_mut())
                {
                    session.preverify(games.iter().filter(|(r, _)| *r == room_id).map(|(_, m)| m));
                }
            }
        }
        let mut result = Ok(());
        for frame in crate::codec::frames(bytes) {
            let handled = match frame {
                Ok(frame) => self.handle_frame(now, frame),
                Err(e) => Err(e.into()),
            };
            if let (Err(e), true) = (handled, result.is_ok()) {
                result = Err(e);
            }
        }
        result
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

    pub(super) fn on_challenge(
        &mut self,
        now: Millis,
        frame: &FrameRef<'_>,
    ) -> Result<(), PeerError> {
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

    pub(super) fn on_roster(
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

    pub(super) fn on_error(&mut self, now: Millis, room_id: RoomId, code: u16, reason: &str) {
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

    pub(super) fn on_table(
        &mut self,
        now: Millis,
        room_id: RoomId,
        frame: &FrameRef<'_>,
        bytes: &[u8],
    ) {
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

    pub(super) fn on_game(
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
    pub(super) fn drain(&mut self, now: Millis, room_id: RoomId) {
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
            // The player whose game this peer took last (it did not
            // hold) is asked after every other one this time.
            let mut syncing = Syncing::waiting();
            syncing.last = room.synced_from;
            room.syncing = Some(syncing);
            self.ask_next(now, room_id);
        }
    }
}
