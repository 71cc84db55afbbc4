//! Betting and the cut: this peer's own actions (checked, signed, sent),
//! the tentative table with every held action on it, the table everyone
//! agrees on, and the banker closing betting with its cut.

use super::*;

impl Session {
    /// Whether one of this peer's own messages of this round, sent but not
    /// yet back from the relay, is such an action.
    pub(super) fn in_flight(&self, kind: impl Fn(&Action) -> bool) -> bool {
        self.local.as_ref().is_some_and(|l| {
            l.unconfirmed
                .iter()
                .any(|m| m.message.round == self.round && kind(&m.message.action))
        })
    }

    /// The table everyone has the same view of while betting is open: the
    /// round's start, or, while nobody sits there (the first round), the
    /// round's start with what the house's cut would take in now (every
    /// action the relay has carried, newcomers in the relay's order as far
    /// as seats are open, applied in key order as a cut applies them) and
    /// the dice passed since.
    pub(super) fn agreed_table(&self) -> std::borrow::Cow<'_, Table> {
        if !self.round_start.seats().is_empty() {
            return std::borrow::Cow::Borrowed(&self.round_start);
        }
        let mut table = self.round_start.clone();
        let banker = self.config.banker;
        let cut = self
            .held
            .cut(|p| *p == banker, self.round_start.open_seats());
        for m in self.held.included(&cut) {
            let _ = apply_to_table(&mut table, &m.sender, &m.message.action);
        }
        pass_on(&mut table, self.passes);
        std::borrow::Cow::Owned(table)
    }

    /// Who has the dice on the agreed table: the same on every peer at the
    /// same point of the relay's order.
    pub(super) fn agreed_shooter(&self) -> Option<PlayerId> {
        self.agreed_table().shooter()
    }

    /// The agreed shooter, whose dice the banker passes when it does not
    /// roll in time (to the next player, or back to itself when it sits
    /// alone: the house shows it is still there).
    pub(super) fn idle_shooter(&self) -> Option<PlayerId> {
        self.agreed_table().shooter()
    }

    /// Performs one of this peer's own actions. A table action taken
    /// while the dice are rolling waits for the next round.
    pub fn perform(&mut self, now: Millis, action: LocalAction) -> Result<(), SessionError> {
        match action {
            LocalAction::Sit { buy_in } => self.sit(now, buy_in),
            LocalAction::BuyIn { amount } => self.buy_in(now, amount),
            LocalAction::Bet { kind, stake } => self.place_bet(now, kind, stake),
            LocalAction::TakeDown { kind } => self.take_down(now, kind),
            LocalAction::Working { kind, working } => self.set_working(now, kind, working),
            LocalAction::Leave => self.leave(now),
            LocalAction::Roll => self.roll(now),
        }
    }

    /// Tells the table the name this player goes by (1-24 bytes of text):
    /// shown instead of its key, on every page.
    pub fn set_name(&mut self, now: Millis, name: &str) -> Result<(), SessionError> {
        if !crate::message::is_valid_name(name) {
            return Err(SessionError::Invalid(crate::message::MessageError::BadName));
        }
        self.act(
            now,
            Action::Name {
                name: name.to_owned(),
            },
        )
    }

    /// The names players go by, as the table learned them, in key order.
    pub fn names(&self) -> impl Iterator<Item = (&PlayerId, &str)> {
        self.names
            .iter()
            .filter_map(|(player, m)| match &m.message.action {
                Action::Name { name } => Some((player, name.as_str())),
                _ => None,
            })
    }

    /// The name `player` goes by, if it gave one.
    pub fn name_of(&self, player: &PlayerId) -> Option<&str> {
        match &self.names.get(player)?.message.action {
            Action::Name { name } => Some(name.as_str()),
            _ => None,
        }
    }

    /// Sits down with `buy_in` chips.
    pub fn sit(&mut self, now: Millis, buy_in: u64) -> Result<(), SessionError> {
        self.act(now, Action::Sit { buy_in })
    }

    /// Buys more chips.
    pub fn buy_in(&mut self, now: Millis, amount: u64) -> Result<(), SessionError> {
        self.act(now, Action::BuyIn { amount })
    }

    /// Places (or adds to) a bet.
    pub fn place_bet(
        &mut self,
        now: Millis,
        kind: BetKind,
        stake: u64,
    ) -> Result<(), SessionError> {
        self.act(now, Action::Bet { kind, stake })
    }

    /// Takes a bet down.
    pub fn take_down(&mut self, now: Millis, kind: BetKind) -> Result<(), SessionError> {
        self.act(now, Action::TakeDown { kind })
    }

    /// Calls a place or buy bet of this player's working on the come-out,
    /// or off again.
    pub fn set_working(
        &mut self,
        now: Millis,
        kind: BetKind,
        working: bool,
    ) -> Result<(), SessionError> {
        self.act(now, Action::Working { kind, working })
    }

    /// Leaves the table.
    pub fn leave(&mut self, now: Millis) -> Result<(), SessionError> {
        self.act(now, Action::Leave)
    }

    /// Starts the roll (shooter only): asks the banker to close betting.
    /// Asking again in the same round sends nothing.
    pub fn roll(&mut self, now: Millis) -> Result<(), SessionError> {
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        if local.asked_to_roll == self.round && self.stage == Stage::Betting {
            return Ok(());
        }
        if self.stage != Stage::Betting {
            return Err(SessionError::BettingClosed);
        }
        if self.table.shooter() != self.local_id() {
            return Err(SessionError::NotShooter);
        }
        let round = self.round;
        if let Some(local) = self.local.as_mut() {
            local.asked_to_roll = round;
        }
        self.act(now, Action::Roll)
    }

    /// (Banker) whether the shooter has asked to roll: the agreed one, or
    /// the one on this peer's table (a request may come before the action
    /// that made its sender the shooter).
    pub(super) fn roll_asked(&self) -> bool {
        self.roll_asked_at.is_some()
            || [self.table.shooter(), self.round_start.shooter()]
                .into_iter()
                .flatten()
                .any(|s| self.roll_requests.contains(&s))
    }

    /// Whether this peer is the banker.
    pub(super) fn is_banker(&self) -> bool {
        self.local_id() == Some(self.config.banker)
    }

    /// (Banker) closes betting: commits with the cut of everything held.
    pub(super) fn close_as_banker(&mut self, now: Millis) {
        let start = &self.round_start;
        let cut = self.held.cut(
            |p| start.is_seated(p) || *p == self.config.banker,
            start.open_seats(),
        );
        let closing = self.closing(&cut);
        if closing.table.seats().is_empty() {
            // Everyone who sat has left again: nothing to roll on. Passing
            // the dice ends the deadline a request opened (the house is
            // here), alike on every peer.
            if self.roll_asked_at.is_some() {
                let _ = self.send_local(now, Action::PassDice);
            }
            return;
        }
        if let Ok(action) = self.local_commit(Some((cut, &closing.table))) {
            let _ = self.send_local(now, action);
        }
    }

    /// Signs `action` as this peer's next message, applies it, queues it
    /// for sending, and lets the game move on. Nothing is sent if it is
    /// refused.
    pub(super) fn act(&mut self, now: Millis, action: Action) -> Result<(), SessionError> {
        let result = self.send_local(now, action);
        self.move_on(now);
        result
    }

    /// Checks, signs, applies and queues one local message; nothing more.
    /// A timed step (and anything after it) is applied when the relay's
    /// copy comes back.
    pub(super) fn send_local(&mut self, now: Millis, action: Action) -> Result<(), SessionError> {
        if self.stage == Stage::Closed {
            return Err(SessionError::Closed);
        }
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        let message = Message {
            game: self.config.game,
            round: self.round,
            seq: local.next_seq,
            action,
        };
        // Checked before signing, so a refused action consumes no sequence
        // number and nothing is sent; a table action is then taken as it
        // was judged, not judged again.
        let checked = self.precheck(local.id, &message)?;
        let signed = message.sign(&local.key);
        self.outbox.push_back(signed.clone());
        if let Some(local) = self.local.as_mut() {
            local.next_seq += 1;
            let action = &signed.message.action;
            let waits = action.is_timed() && !action.counts_at_once();
            if waits || !local.unconfirmed.is_empty() {
                local.unconfirmed.push_back(signed);
                return Ok(());
            }
        }
        self.process_checked(now, signed, None, checked)
    }

    /// Processes this peer's own messages that waited behind a timed step
    /// (up to the next timed one, which waits for the relay's copy).
    pub(super) fn release_own(&mut self, now: Millis) {
        let Some(me) = self.local_id() else {
            return;
        };
        let mut expected = self.expected_seq(&me);
        while let Some(m) = self.local.as_mut().and_then(|l| {
            let untimed = l
                .unconfirmed
                .front()
                .is_some_and(|m| !m.message.action.is_timed() && m.message.seq == expected);
            if untimed {
                l.unconfirmed.pop_front()
            } else {
                None
            }
        }) {
            let sender = m.sender;
            expected += 1;
            if let Err(error) = self.process(now, m, None) {
                self.events.push_back(Event::Rejected { sender, error });
            }
        }
    }

    /// Whether our own message would be accepted. A table action is
    /// judged against the table this peer shows while betting is open (and
    /// what was judged is returned, to take as it is); one taken during a
    /// roll is judged when its round's betting closes.
    pub(super) fn precheck(
        &self,
        me: PlayerId,
        message: &Message,
    ) -> Result<Option<Checked>, SessionError> {
        self.check_stage(&me, message)?;
        match &message.action {
            // (A closing commitment is checked by `roll`, on its cut's table.)
            action if action.is_table_action() => {
                if self.held.count(&me) >= MAX_HELD {
                    return Err(SessionError::TooManyWaiting);
                }
                if self.stage == Stage::Betting {
                    // Checked on the table shown, without a copy of it: only
                    // more on a bet, or a bet called working, can leave the
                    // banker short.
                    let table = &self.table;
                    let (checked, change) = check_on_table(table, &me, action)?;
                    if change.is_some_and(|(kind, c)| table.shortfall_with(&me, kind, c) > 0) {
                        return Err(SessionError::Table(TableError::BankerCannotCover {
                            available: table.spare(),
                        }));
                    }
                    return Ok(Some(checked));
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// The table `cut` makes: the round's start, then every held action the
    /// cut includes (senders in key order), then the banker's coverage. A
    /// contract bet (pass line, come) of this cut that the bankroll cannot
    /// pay is refused, the last first, rather than close the table; only
    /// the contract bets of earlier rounds can do that.
    pub(super) fn closing(&self, cut: &Cut) -> Closing {
        let included: Vec<&SignedMessage> = self.held.included(cut).collect();
        let contract = |m: &SignedMessage| matches!(m.message.action, Action::Bet { kind, .. } if !kind.is_removable());
        let mut refused: Vec<usize> = Vec::new();
        loop {
            let mut table = self.round_start.clone();
            let mut events = Vec::new();
            for (i, m) in included.iter().enumerate() {
                let result = if refused.contains(&i) {
                    Err(SessionError::Table(TableError::BankerCannotCover {
                        available: table.spare(),
                    }))
                } else if let Action::Sit { buy_in } = m.message.action {
                    // A seat is priced: its credit is spent as it is taken.
                    // (Only a cut the house did not make this way has more
                    // sit-downs than open seats: refused alike everywhere.)
                    table
                        .check_sit(&m.sender, buy_in)
                        .and_then(|()| table.take_seat())
                        .map_err(SessionError::from)
                        .and_then(|()| apply_to_table(&mut table, &m.sender, &m.message.action))
                } else {
                    apply_to_table(&mut table, &m.sender, &m.message.action)
                };
                events.push(result.unwrap_or_else(|error| Event::Rejected {
                    sender: m.sender,
                    error,
                }));
            }
            pass_on(&mut table, self.passes);
            match table.cover() {
                Ok(returned) => {
                    events.extend(returned.into_iter().map(|r| Event::BetReturned {
                        player: r.player,
                        kind: r.kind,
                        stake: r.stake,
                    }));
                    return Closing {
                        table,
                        events,
                        solvent: true,
                    };
                }
                Err(_) => {
                    let last = (0..included.len())
                        .rev()
                        .find(|i| !refused.contains(i) && contract(included[*i]));
                    match last {
                        Some(i) => refused.push(i),
                        None => {
                            return Closing {
                                table,
                                events,
                                solvent: false,
                            }
                        }
                    }
                }
            }
        }
    }

    /// The banker's closing commitment, stamped at relay time `opened`:
    /// adopt the table its cut makes, and open the commit phase on it.
    pub(super) fn close_betting(
        &mut self,
        now: Millis,
        opened: Millis,
        cut: &Cut,
    ) -> Result<(), SessionError> {
        let closing = self.closing(cut);
        if closing.table.seats().is_empty() {
            return Err(SessionError::NobodySeated);
        }
        self.in_roll = self.held.take(cut);
        self.table = closing.table;
        self.events.extend(closing.events);
        for (player, count) in self.held.counts() {
            self.events.push_back(Event::HeldOver { player, count });
        }
        if !closing.solvent {
            let paid = self.table.return_all_stakes();
            self.stage = Stage::Closed;
            self.events.push_back(Event::TableClosed {
                reason: CloseReason::BankrollExhausted,
                paid,
            });
            return Ok(());
        }
        self.table_hash = self.hash_table(b"bitcraps/table/v1", &self.table);
        self.roll_participants = self.table.participants().into_iter().collect();
        self.roll_asked_at = None;
        self.stage = Stage::Committing { opened };
        self.last_commit_at = opened;
        self.schedule_tick(now, self.config.commit_timeout);
        self.events.push_back(Event::BettingClosed {
            round: self.round,
            table_hash: self.table_hash,
        });
        Ok(())
    }

    /// The tentative table: the round's start with every held action,
    /// then every preview.
    pub(super) fn show_held(&mut self) {
        self.table = self.shown_afresh();
    }

    /// The tentative table from scratch: the round's start, every held
    /// action (senders in key order), every preview, the dice passed.
    fn shown_afresh(&self) -> Table {
        let mut table = self.round_start.clone();
        for m in self.held.iter().chain(self.previews.values()) {
            let _ = apply_to_table(&mut table, &m.sender, &m.message.action);
        }
        pass_on(&mut table, self.passes);
        table
    }

    /// Shows one more action, the last of its sender's shown so far, on
    /// the tentative table without going over everything held again (so
    /// an honest message costs the same however many strangers' actions
    /// wait): a bet, a buy-in, a take-down or a working call depends only
    /// on its own player's chips and bets and the phase, so applied last
    /// it lands where a fresh start would. A sit or a leave moves seats
    /// and with them who gets the dice: the table is shown afresh. Debug
    /// builds check every step against the fresh table.
    ///
    /// `checked`: the action as this peer judged it on this very table (its
    /// own, before signing it), taken without judging it again.
    pub(super) fn show_one(
        &mut self,
        sender: &PlayerId,
        action: &Action,
        checked: Option<Checked>,
    ) {
        if matches!(action, Action::Sit { .. } | Action::Leave) {
            self.show_held();
            return;
        }
        let _ = match checked {
            Some(checked) => take_on_table(&mut self.table, checked),
            None => apply_to_table(&mut self.table, sender, action),
        };
        debug_assert_eq!(
            self.table,
            self.shown_afresh(),
            "{action:?} shown on its own leaves another table than a fresh start"
        );
    }
}
