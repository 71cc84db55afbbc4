//! Messages in: each one admitted (game, signature), taken in its
//! sender's turn (early ones wait in a bounded buffer), checked against
//! the stage and applied, and recorded in the transcript.

use super::*;

impl Session {
    /// Handles a message that came straight from its sender (a data
    /// channel): a seated player's table action shows on the tentative
    /// table at once, but counts only as the relay's copy comes (it takes
    /// no sequence number, so a sender cannot give peers different
    /// versions of one). Anything else is refused
    /// ([`SessionError::NotRelayed`]) until the relay's copy comes.
    pub fn handle_message(
        &mut self,
        _now: Millis,
        signed: SignedMessage,
    ) -> Result<(), SessionError> {
        self.admit(&signed)?;
        let sender = signed.sender;
        let (seq, expected) = (signed.message.seq, self.expected_seq(&sender));
        if !signed.message.action.is_table_action() || self.local_id() == Some(sender) {
            return Err(SessionError::NotRelayed);
        }
        if seq < expected {
            return Err(SessionError::Replayed { seq, expected });
        }
        if !self.table.is_seated(&sender) && !matches!(signed.message.action, Action::Sit { .. }) {
            return Err(SessionError::NotParticipant);
        }
        let mine = self
            .previews
            .range((sender, 0)..=(sender, u64::MAX))
            .count();
        if self.previews.get(&(sender, seq)) == Some(&signed) {
            // (The same copy again: nothing new to show.)
            return Ok(());
        }
        if mine >= MAX_PREVIEWS || seq - expected >= MAX_AHEAD {
            return Err(SessionError::TooFarAhead { seq, expected });
        }
        // The last of its sender's shown so far (none at or after its
        // number, which a second version would replace): shown on its own.
        let last = self
            .previews
            .range((sender, seq)..=(sender, u64::MAX))
            .next()
            .is_none();
        let action = signed.message.action.clone();
        self.previews.insert((sender, seq), signed);
        if self.stage == Stage::Betting {
            if last {
                self.show_one(&sender, &action, None);
            } else {
                self.show_held();
            }
        }
        Ok(())
    }

    /// Handles a message the relay stamped at relay time `at` (its
    /// frame's time). Early messages wait in a bounded buffer until their
    /// turn; an error refers to this message only.
    pub fn handle_relayed(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        at: Millis,
    ) -> Result<(), SessionError> {
        self.receive(now, signed, Some(at))
    }

    /// Replays one transcript entry of this game (another peer's, or a
    /// snapshot's): its message in its turn, as its peer processed it
    /// (relayed at its time, or straight, as that peer's own).
    pub fn replay(&mut self, now: Millis, entry: &TranscriptEntry) -> Result<(), SessionError> {
        self.receive(now, entry.message.clone(), entry.relayed_at)
    }

    pub(super) fn receive(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
    ) -> Result<(), SessionError> {
        self.admit(&signed)?;
        // Our own message back from the relay: its turn, if it was the
        // first we had not processed (else it waits for its turn like any
        // early message).
        if let Some(local) = self.local.as_mut().filter(|l| l.id == signed.sender) {
            if local.unconfirmed.front() == Some(&signed) {
                let result = self.process(now, signed, relayed_at);
                self.release_own(now);
                self.move_on(now);
                return result;
            }
        }
        let expected = self.expected_seq(&signed.sender);
        let seq = signed.message.seq;
        if seq < expected {
            // (Our own table action, back from the relay: at this point of
            // the relay's order, as every other peer processes it.)
            // (Or a message of ours that counted at once, a name or a
            // state hash: every other peer reads the relay's time on it
            // here, and so must we, or a deadline it passes would be
            // seen at another message here than there.)
            let at_once = self
                .unrelayed
                .iter()
                .position(|k| *k == (signed.sender, seq));
            let held = self.held.is_held(&signed);
            if let Some(at) = relayed_at.filter(|_| held || at_once.is_some()) {
                if let Some(i) = at_once {
                    self.unrelayed.remove(i);
                }
                // Recorded: the relay's time it brings is part of the game
                // (a deadline may pass on it), so a replay of this
                // transcript must read it at the same point. (It replays
                // to this same branch: refused as a replay, clock read.)
                self.transcript.push(TranscriptEntry {
                    relayed_at: Some(at),
                    message: signed.clone(),
                    accepted: false,
                });
                self.advance_clock(now, at);
                self.expire(now);
                if held {
                    self.held.relayed(&signed);
                }
                self.watch_shooter(now);
                // (The clock may have ended a phase: take our next step.)
                self.move_on(now);
            }
            return Err(SessionError::Replayed { seq, expected });
        }
        if seq > expected || !self.is_due(&signed) {
            // A seat no roll has taken in yet costs nothing to take: it
            // gets a share of its own.
            let sender = &signed.sender;
            let standing = if *sender == self.config.banker || self.round_start.is_seated(sender) {
                Standing::Player
            } else if self.held.sits(sender) {
                Standing::Seating
            } else {
                Standing::Stranger
            };
            return match self.early.hold(signed, relayed_at, expected, standing) {
                Ok(()) => Ok(()),
                Err(Full::TooFar) => Err(SessionError::TooFarAhead { seq, expected }),
                Err(Full::Duplicate) => Err(SessionError::Replayed { seq, expected }),
            };
        }
        // Our own earlier messages coming back (a reload rebuilding its
        // state from the relay's replay): never reuse their numbers; and
        // what the relay carried under a number is what counts under it,
        // whatever this session signed (a tampered copy, say).
        let own = self.local.as_mut().filter(|l| l.id == signed.sender);
        if let Some(local) = own {
            local.next_seq = local.next_seq.max(seq + 1);
        }
        let result = self.process(now, signed, relayed_at);
        self.release_own(now);
        self.move_on(now);
        result
    }

    /// Whether an in-sequence message can be processed now, or must wait:
    /// for a later round, for a phase this peer has not reached yet
    /// (another peer may have seen every commitment and revealed before
    /// the last commitment reached us), for the actions a cut names, or for
    /// room among the held actions.
    pub(super) fn is_due(&self, signed: &SignedMessage) -> bool {
        let message = &signed.message;
        if message.round > self.round {
            return false;
        }
        if message.action.is_table_action() {
            // Only this sender's own count, and for a newcomer all
            // newcomers' together: whether a message is due never depends
            // on what waits in the buffer, so a replay of the transcript
            // decides exactly as the game did.
            let sender = &signed.sender;
            return self.held.count(sender) < MAX_HELD
                && (!self.is_newcomer(sender) || self.held.newcomers() < MAX_NEWCOMERS_HELD);
        }
        if message.round < self.round {
            return true; // processed now, and refused as stale
        }
        match (&message.action, self.stage) {
            (
                Action::Commit {
                    close: Some(cut), ..
                },
                Stage::Betting,
            ) => cut
                .entries()
                .iter()
                .all(|(sender, last)| self.expected_seq(sender) > *last),
            (Action::Commit { close: None, .. }, Stage::Betting) => false,
            (Action::Reveal { .. }, Stage::Betting | Stage::Committing { .. }) => false,
            _ => true,
        }
    }

    /// What every message must pass, whichever way it came: an open
    /// table, this game, its sender's signature.
    pub(super) fn admit(&mut self, signed: &SignedMessage) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        if signed.message.game != self.config.game {
            return Err(SessionError::WrongGame);
        }
        Ok(self.check_signature(signed)?)
    }

    /// Checks the signatures of `messages` that are about to be replayed
    /// (a transcript, a snapshot's messages) in batches of 64 (ZIP 215,
    /// [`crate::sig`]: the same verdict as one by one, at about half the
    /// cost); each message of a batch that passes is then taken without a
    /// second check. A batch that fails marks nothing: its messages are
    /// checked one by one as they come, and the bad one refused there.
    pub fn preverify<'a>(&mut self, messages: impl IntoIterator<Item = &'a SignedMessage>) {
        let all: Vec<(&SignedMessage, Vec<u8>)> = messages
            .into_iter()
            .filter(|m| m.message.game == self.config.game)
            .map(|m| (m, m.message.signing_bytes()))
            .collect();
        // (Entries whose message never came are forgotten past a bound.)
        if self.preverified.len() + all.len() > MAX_PREVERIFIED {
            self.preverified.clear();
        }
        for chunk in all.chunks(64) {
            let batch: Vec<crate::sig::Signed<'_>> = chunk
                .iter()
                .map(|(m, bytes)| crate::sig::Signed {
                    key: &m.sender,
                    message: bytes,
                    signature: &m.signature,
                })
                .collect();
            if crate::sig::verify_batch(&batch).is_ok() {
                for (m, bytes) in chunk {
                    self.preverified.insert(preverified_digest(m, bytes));
                }
            }
        }
    }

    /// Verifies a message's signature with the sender's cached key (or
    /// finds it checked in a batch). Only keys that signed a valid
    /// message are kept.
    pub(super) fn check_signature(&mut self, signed: &SignedMessage) -> Result<(), MessageError> {
        if !self.preverified.is_empty()
            && self
                .preverified
                .remove(&preverified_digest(signed, &signed.message.signing_bytes()))
        {
            return Ok(());
        }
        if let Some(key) = self.keys.get(&signed.sender) {
            return signed.verify_with(key);
        }
        let key = VerifyingKey::from_bytes(&signed.sender).map_err(|_| MessageError::BadKey)?;
        signed.verify_with(&key)?;
        if self.keys.len() < MAX_KEYS {
            self.keys.insert(signed.sender, key);
        }
        Ok(())
    }

    /// Whether `sender` has no seat at the round's start (and is not the
    /// banker): its held actions count against [`MAX_NEWCOMERS_HELD`].
    pub(super) fn is_newcomer(&self, sender: &PlayerId) -> bool {
        *sender != self.config.banker && !self.round_start.is_seated(sender)
    }

    pub(super) fn expected_seq(&self, sender: &PlayerId) -> u64 {
        self.expected.get(sender).copied().unwrap_or(1)
    }

    /// The sequence number the next message from `sender` must have.
    pub fn next_seq_from(&self, sender: &PlayerId) -> u64 {
        self.expected_seq(sender)
    }

    /// This peer's own messages up to number `seq` are out already (sent
    /// before this session was rebuilt from a snapshot, which could not
    /// hold them): drops whatever the rebuild signed under those numbers
    /// and never signs another; the relay's copies of the sent ones count
    /// as they come.
    pub fn own_sent_through(&mut self, now: Millis, seq: u64) {
        let Some(local) = self.local.as_mut() else {
            return;
        };
        let me = local.id;
        local.next_seq = local.next_seq.max(seq + 1);
        local.unconfirmed.retain(|m| m.message.seq > seq);
        self.outbox
            .retain(|m| m.sender != me || m.message.seq > seq);
        self.move_on(now);
    }

    /// How many of this peer's own messages wait for the relay's copy
    /// before they count (a timed step, and what it sent after it).
    pub fn unconfirmed(&self) -> usize {
        self.local.as_ref().map_or(0, |l| l.unconfirmed.len())
    }

    /// How many early messages wait for their turn.
    pub fn pending(&self) -> usize {
        self.early.len()
    }

    /// Takes every step the game allows now: our own commitment or reveal
    /// when due, finishing the commit or reveal phase when complete, and
    /// buffered messages whose turn has come. Called after every input, so
    /// no step ever runs inside another.
    pub(super) fn move_on(&mut self, now: Millis) {
        loop {
            if self.step(now) {
                continue;
            }
            let scan = std::mem::replace(&mut self.scan, Scan::Full);
            if !self.process_buffered(now, scan) {
                break;
            }
        }
        self.scan = Scan::Unset;
    }

    /// Notes that `sender`'s message (a table action or not) was processed
    /// (`before`: the round and stage before it), for which early messages
    /// it can have made due.
    fn note_processed(&mut self, sender: PlayerId, table_action: bool, before: (u64, Stage)) {
        let narrow = table_action
            && before == (self.round, Stage::Betting)
            && self.stage == Stage::Betting
            && (sender == self.config.banker || self.round_start.is_seated(&sender));
        self.scan = match (self.scan, narrow) {
            (Scan::Unset, true) => Scan::Only(sender),
            (Scan::Only(s), true) if s == sender => Scan::Only(s),
            _ => Scan::Full,
        };
    }

    /// Processes the earliest-arrived buffered message whose turn has come
    /// (among those `scan` says can have become due).
    pub(super) fn process_buffered(&mut self, now: Millis, scan: Scan) -> bool {
        let due = |(_, m, _): &(u64, &SignedMessage, Option<Millis>)| {
            m.message.seq == self.expected_seq(&m.sender) && self.is_due(m)
        };
        let key = |(_, m, _): (u64, &SignedMessage, Option<Millis>)| (m.sender, m.message.seq);
        let everyone = || {
            self.early
                .by_arrival()
                .filter(due)
                .min_by_key(|(arrival, _, _)| *arrival)
                .map(key)
        };
        let ready = match scan {
            Scan::Only(sender) => {
                let ready = self
                    .early
                    .of(sender)
                    .chain(self.early.of(self.config.banker))
                    .filter(due)
                    .min_by_key(|(arrival, _, _)| *arrival)
                    .map(key);
                debug_assert_eq!(ready, everyone(), "a look at {scan:?} misses a due message");
                ready
            }
            Scan::Unset | Scan::Full => everyone(),
        };
        let Some((signed, relayed_at)) = ready.and_then(|key| self.early.remove(&key)) else {
            return false;
        };
        let sender = signed.sender;
        if let Err(error) = self.process(now, signed, relayed_at) {
            self.events.push_back(Event::Rejected { sender, error });
        }
        if self.local_id() == Some(sender) {
            self.release_own(now);
        }
        if self.stage == Stage::Closed {
            self.early.clear();
        }
        true
    }

    /// A message in its turn: consume its sequence number, read the
    /// relay's time off it (ending a phase whose deadline it is past),
    /// check and apply.
    pub(super) fn process(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
    ) -> Result<(), SessionError> {
        self.process_checked(now, signed, relayed_at, None)
    }

    /// [`Session::process`] of this peer's own table action as it judged
    /// it on the table shown (`checked`), to take as it is.
    pub(super) fn process_checked(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
        checked: Option<Checked>,
    ) -> Result<(), SessionError> {
        let before = (self.round, self.stage);
        self.expected.insert(signed.sender, signed.message.seq + 1);
        let sender = signed.sender;
        if relayed_at.is_none() && signed.message.action.counts_at_once() {
            if self.unrelayed.len() >= MAX_UNRELAYED {
                self.unrelayed.pop_front();
            }
            self.unrelayed.push_back((sender, signed.message.seq));
        }
        // Ours: what the relay carried under this number is what counts.
        if let Some(local) = self.local.as_mut().filter(|l| l.id == sender) {
            local
                .unconfirmed
                .retain(|m| m.message.seq > signed.message.seq);
        }
        // Its preview (and any stale one before it) is done: found once,
        // removed by key, never a walk over everyone's previews.
        let shown: Vec<(PlayerId, u64)> = self
            .previews
            .range((sender, 0)..=(sender, signed.message.seq))
            .map(|(key, _)| *key)
            .collect();
        let mut same = false;
        for key in &shown {
            let preview = self.previews.remove(key);
            same |= *key == (sender, signed.message.seq) && preview.as_ref() == Some(&signed);
        }
        let previewed = !shown.is_empty();
        // Shown already, as its only preview: the tentative table has it
        // (a sit or a leave moves seats: shown afresh).
        let seats = matches!(signed.message.action, Action::Sit { .. } | Action::Leave);
        let mut already_shown = same && shown.len() == 1 && !seats;
        // Recorded before its relay time is read and before it is applied:
        // a deadline its time passes (a roll finished, this peer's own
        // `Settled` sent) and applying it may produce further messages,
        // which must follow it in the transcript, as a replay makes them.
        let entry = self.transcript.len();
        self.transcript.push(TranscriptEntry {
            relayed_at,
            message: signed.clone(),
            accepted: false,
        });
        if let Some(at) = relayed_at {
            self.advance_clock(now, at);
            self.expire(now);
        }
        already_shown &= self.stage == Stage::Betting;
        // (Previewed: the table is shown below, once it is applied.)
        let table_action = signed.message.action.is_table_action();
        let result = self.apply(now, signed, relayed_at, previewed, checked);
        if let Some(e) = self.transcript.get_mut(entry) {
            e.accepted = result.is_ok();
        }
        self.watch_shooter(now);
        self.note_processed(sender, table_action, before);
        if previewed && self.stage == Stage::Betting && !(already_shown && result.is_ok()) {
            // Its preview (or stale ones) showed something else: show the
            // table afresh.
            self.show_held();
        }
        result
    }

    pub(super) fn check_stage(
        &self,
        sender: &PlayerId,
        message: &Message,
    ) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        if message.action.is_table_action() {
            // Judged when a cut takes it in; never refused for its timing.
            return Ok(());
        }
        let round = message.round;
        if matches!(
            message.action,
            Action::Roll | Action::Tick | Action::Settled { .. } | Action::Name { .. }
        ) {
            // A request only the banker acts on, if it is current; the
            // relay's time, which anyone may ask for; a state hash,
            // compared with the roll it names whenever it comes.
            return Ok(());
        }
        if round < self.round {
            return Err(SessionError::StaleRound {
                round,
                current: self.round,
            });
        }
        let seated = self.table.is_seated(sender) || *sender == self.config.banker;
        let banker = *sender == self.config.banker;
        match (&message.action, self.stage) {
            // A request only the banker acts on.
            (Action::Roll, _) => {}
            (Action::Commit { close: Some(_), .. } | Action::PassDice, _) if !banker => {
                return Err(SessionError::NotBanker)
            }
            (Action::Commit { close: Some(_), .. } | Action::PassDice, Stage::Betting) => {}
            (Action::PassDice, _) => return Err(SessionError::BettingClosed),
            (_, _) if !seated => return Err(SessionError::NotParticipant),
            (Action::Commit { close: None, .. }, Stage::Committing { .. }) => {
                if !self.roll_participants.contains(sender) {
                    return Err(SessionError::NotParticipant);
                }
                if self.commits.contains_key(sender) {
                    return Err(SessionError::AlreadyCommitted);
                }
            }
            (Action::Commit { close: Some(_), .. }, _) => return Err(SessionError::BettingClosed),
            (Action::Commit { .. }, _) => return Err(SessionError::NotCommitting),
            // (A house reveal before the players' turn ended is taken:
            // the honest page never sends one, but after a relay restart
            // a peer can get the house's reveal, resent, before a
            // player's that the house had already processed; refusing it
            // there would split the table.)
            (Action::Reveal { .. }, Stage::Revealing { .. }) => {
                if !self.commits.contains_key(sender) || !self.roll_participants.contains(sender) {
                    return Err(SessionError::NotRevealing);
                }
                if self.reveals.contains_key(sender) {
                    return Err(SessionError::AlreadyRevealed);
                }
            }
            (Action::Reveal { .. }, _) => return Err(SessionError::NotRevealing),
            _ => {}
        }
        Ok(())
    }

    /// Applies a message in its turn (`shown`: a table action whose
    /// preview the tentative table shows, which the caller settles;
    /// `checked`: this peer's own table action as it judged it).
    pub(super) fn apply(
        &mut self,
        now: Millis,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
        shown: bool,
        checked: Option<Checked>,
    ) -> Result<(), SessionError> {
        self.check_stage(&signed.sender, &signed.message)?;
        let sender = signed.sender;
        match &signed.message.action {
            Action::Tick => {}
            Action::Settled { round, state_hash } => {
                self.compare_settled(sender, *round, *state_hash);
            }
            Action::Name { name } => {
                if self.names.len() < MAX_NAMES || self.names.contains_key(&sender) {
                    self.names.insert(sender, signed.clone());
                    self.events.push_back(Event::Named {
                        player: sender,
                        name: name.clone(),
                    });
                }
            }
            Action::Commit {
                commitment,
                table_hash,
                close,
            } => {
                // (Timed: only relayed ones get here.)
                let at = relayed_at.unwrap_or(self.clock);
                if let Some(cut) = close {
                    self.close_betting(now, at, cut)?;
                }
                self.last_commit_at = self.last_commit_at.max(at);
                self.commits.insert(sender, (*commitment, *table_hash));
                self.events.push_back(Event::Committed { player: sender });
            }
            Action::Roll => {
                let current = signed.message.round == self.round && self.stage == Stage::Betting;
                // The agreed shooter asked: the banker must close betting
                // within the commit deadline, or the house is gone. It
                // counts from when this round's order reached it (a
                // request signed early waits for its round).
                let agreed = self.agreed_shooter() == Some(sender);
                let seated = self.table.is_seated(&sender);
                if current && self.is_banker() && (seated || agreed) {
                    self.roll_requests.insert(sender);
                }
                if current && agreed && self.roll_asked_at.is_none() {
                    self.roll_asked_at = Some(self.clock);
                    self.schedule_tick(now, self.config.commit_timeout);
                }
            }
            Action::PassDice => {
                let from = self.agreed_shooter();
                if self.round_start.seats().is_empty() {
                    self.passes = self.passes.wrapping_add(1);
                } else {
                    self.round_start.pass_dice();
                }
                self.show_held();
                self.roll_requests.clear();
                self.roll_asked_at = None;
                self.restart_idle(now);
                let to = self.agreed_shooter();
                if let (Some(from), Some(to)) = (from, to) {
                    if from != to {
                        self.events.push_back(Event::DicePassed { from, to });
                    }
                }
            }
            Action::Reveal { secret } => {
                let committed = self.commits.get(&sender).map(|c| c.0);
                let round = self.round;
                if committed
                    != Some(commit_reveal::commitment(
                        &self.config.game,
                        round,
                        &sender,
                        secret,
                    ))
                {
                    self.forfeit(sender, ForfeitReason::WrongReveal);
                } else {
                    self.reveals.insert(sender, *secret);
                    self.events.push_back(Event::Revealed { player: sender });
                }
                // (Timed: only relayed ones get here.)
                self.open_house_turn(now, relayed_at.unwrap_or(self.clock));
            }
            _ => {
                let betting = self.stage == Stage::Betting;
                if !betting {
                    self.events.push_back(Event::HeldOver {
                        player: sender,
                        count: self.held.count(&sender) + 1,
                    });
                }
                let action = signed.message.action.clone();
                let newcomer = self.is_newcomer(&sender);
                self.held.push(signed, relayed_at.is_some(), newcomer);
                if betting && !shown {
                    // Shown at once; judged for good when a cut takes it.
                    // (After its sender's later ones, shown as previews
                    // already, it would land out of turn: shown afresh.)
                    let later = self
                        .previews
                        .range((sender, 0)..=(sender, u64::MAX))
                        .next()
                        .is_some();
                    if later {
                        self.show_held();
                    } else {
                        self.show_one(&sender, &action, checked);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Signatures a session keeps as checked in a batch, at most.
const MAX_PREVERIFIED: usize = 4096;

/// What a batch check vouches for: this sender's signature on these bytes.
fn preverified_digest(signed: &SignedMessage, bytes: &[u8]) -> Digest32 {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(signed.sender);
    h.update(signed.signature);
    h.update(bytes);
    h.finalize().into()
}
