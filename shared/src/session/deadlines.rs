//! Deadlines, all judged on the relay's clock: when each phase ends, what
//! the clock says (read off the relay's stamps), the shooter's and the
//! house's waits, and what happens when a deadline passes (forfeits, a
//! round called off, a house gone). See the module header of `session`.

use super::*;

impl Session {
    /// When [`Session::handle_timeout`] should next be called (this peer's
    /// clock).
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.stage {
            Stage::Committing { .. } | Stage::Revealing { .. } => self.tick_at,
            Stage::Betting => [self.pass_dice_at(), self.tick_at]
                .into_iter()
                .flatten()
                .min(),
            Stage::Closed => None,
        }
    }

    /// The relay time at which the current phase ends, if one is under
    /// way (while betting: the banker's deadline to close, once the shooter
    /// asked).
    pub fn deadline(&self) -> Option<Millis> {
        let timeout = self.config.commit_timeout;
        match self.stage {
            Stage::Committing { opened } => Some(opened.saturating_add(timeout)),
            Stage::Revealing { opened, house_from } => Some(
                house_from
                    .unwrap_or(opened)
                    .saturating_add(self.config.reveal_timeout),
            ),
            Stage::Betting => [
                self.roll_asked_at.map(|at| at.saturating_add(timeout)),
                self.house_due(),
            ]
            .into_iter()
            .flatten()
            .min(),
            Stage::Closed => None,
        }
    }

    /// While betting with a shooter: the relay time by which the banker
    /// must have passed the idle shooter's dice (or the shooter asked).
    pub(super) fn house_due(&self) -> Option<Millis> {
        let wait = self.config.shooter_timeout;
        // (Once the shooter asked, the commit deadline is the house's.)
        let idle = wait > 0 && self.roll_asked_at.is_none();
        (idle && self.idle_shooter().is_some()).then(|| {
            self.idle_since
                .saturating_add(wait)
                .saturating_add(HOUSE_ANSWER_MS)
        })
    }

    /// A shooter's idle time counts from when it got the dice: called
    /// after every relayed message that may change the agreed shooter.
    pub(super) fn watch_shooter(&mut self, now: Millis) {
        if self.stage == Stage::Betting && self.idle_shooter() != self.watched {
            self.restart_idle(now);
        }
    }

    /// The agreed shooter's idle time starts again (a roll, a pass, a new
    /// shooter): the banker's pass counts from `now` on its own clock; the
    /// house's deadline from the relay's time, alike on every peer, and
    /// each peer asks for the relay's time once its own clock says that
    /// deadline has passed.
    pub(super) fn restart_idle(&mut self, now: Millis) {
        self.watched = self.idle_shooter();
        self.shooter_since = now;
        self.idle_since = self.clock;
        if self.stage == Stage::Betting && self.roll_asked_at.is_none() {
            self.tick_at = None;
            if self.watched.is_some() && self.config.shooter_timeout > 0 {
                let wait = self.config.shooter_timeout.saturating_add(HOUSE_ANSWER_MS);
                self.schedule_tick(now, wait);
            }
        }
    }

    /// The relay's time of the latest relayed message processed.
    pub fn relay_clock(&self) -> Millis {
        self.clock
    }

    /// The relay's time reached `at`, read at `now` on this peer's clock.
    pub(super) fn advance_clock(&mut self, now: Millis, at: Millis) {
        if at >= self.clock {
            self.clock = at;
            self.clock_seen_at = now;
        }
    }

    /// This peer's estimate of the relay's time at `now` (its clock): the
    /// last relay time seen, plus what this clock counted since. For
    /// display only (verdicts use only stamped times).
    pub fn relay_now(&self, now: Millis) -> Millis {
        self.clock
            .saturating_add(now.saturating_sub(self.clock_seen_at))
    }

    /// While betting, before the shooter asks: the relay time by which it
    /// should roll (its dice pass on after it, if the house is there).
    pub fn shooter_due(&self) -> Option<Millis> {
        let wait = self.config.shooter_timeout;
        let waiting = self.stage == Stage::Betting && self.roll_asked_at.is_none() && wait > 0;
        (waiting && self.idle_shooter().is_some()).then(|| self.idle_since.saturating_add(wait))
    }

    /// (Banker) when the dice pass on if the shooter has not asked to roll
    /// (back to the same player when it sits alone), with a shooter
    /// deadline set.
    pub(super) fn pass_dice_at(&self) -> Option<Millis> {
        let timeout = self.config.shooter_timeout;
        let closing = self.in_flight(|a| matches!(a, Action::Commit { close: Some(_), .. }));
        let waiting = self.is_banker() && !self.roll_asked() && !closing && timeout > 0;
        (waiting && self.idle_shooter().is_some())
            .then(|| self.shooter_since.saturating_add(timeout))
    }

    /// A phase of `timeout` opened (this peer learnt it at `now`): if it is
    /// still open a little after that on this peer's clock, ask for the
    /// relay's time.
    pub(super) fn schedule_tick(&mut self, now: Millis, timeout: Millis) {
        self.tick_at = self
            .local
            .is_some()
            .then(|| now.saturating_add(timeout).saturating_add(TICK_GRACE));
    }

    /// Ends every phase whose deadline the relay's clock has passed: who
    /// has not committed (or revealed) by then forfeits.
    pub(super) fn expire(&mut self, now: Millis) {
        loop {
            let Some(deadline) = self.deadline().filter(|d| self.clock > *d) else {
                return;
            };
            match self.stage {
                Stage::Committing { .. } if !self.agrees_with_banker() || self.banker_alone() => {
                    self.abort_round(now)
                }
                Stage::Committing { .. } => {
                    let missing = |s: &Self, p: &PlayerId| !s.commits.contains_key(p);
                    self.forfeit_missing(missing, ForfeitReason::NoCommit);
                    if self.stage != Stage::Closed {
                        self.finish_commits(now, deadline);
                    }
                }
                Stage::Revealing {
                    house_from: None, ..
                } => {
                    // The players' turn is over: who has not revealed is
                    // out, and the house's turn opens at the relay time
                    // that said so.
                    let banker = self.config.banker;
                    let missing =
                        |s: &Self, p: &PlayerId| *p != banker && !s.reveals.contains_key(p);
                    self.forfeit_missing(missing, ForfeitReason::NoReveal);
                    self.open_house_turn(now, self.clock);
                }
                Stage::Revealing { .. } => {
                    let missing = |s: &Self, p: &PlayerId| !s.reveals.contains_key(p);
                    self.forfeit_missing(missing, ForfeitReason::NoReveal);
                    if self.stage != Stage::Closed {
                        self.finish_roll(now);
                    }
                }
                Stage::Betting => {
                    self.house_gone();
                    return;
                }
                Stage::Closed => return,
            }
        }
    }

    /// The shooter asked and the banker did not close betting in time, or
    /// nobody asked and the banker did not pass an idle shooter's dice in
    /// time: no roll; the table closes with every stake on the agreed
    /// table returned (actions no cut took never staked anything).
    pub(super) fn house_gone(&mut self) {
        self.table = self.round_start.clone();
        let paid = self.table.return_all_stakes();
        self.stage = Stage::Closed;
        self.tick_at = None;
        self.events.push_back(Event::TableClosed {
            reason: CloseReason::HouseGone,
            paid,
        });
    }

    /// Every participant whose step is `missing` forfeits for `reason`.
    pub(super) fn forfeit_missing(
        &mut self,
        missing: impl Fn(&Self, &PlayerId) -> bool,
        reason: ForfeitReason,
    ) {
        let late: Vec<PlayerId> = self
            .roll_participants
            .iter()
            .filter(|p| missing(self, p))
            .copied()
            .collect();
        for player in late {
            self.forfeit(player, reason);
        }
    }

    pub(super) fn forfeit(&mut self, player: PlayerId, reason: ForfeitReason) {
        self.roll_participants.remove(&player);
        self.forfeited.push((player, reason));
        self.events.push_back(Event::Forfeited { player, reason });
        if player == self.config.banker {
            let paid = self.table.banker_default();
            self.stage = Stage::Closed;
            self.events.push_back(Event::TableClosed {
                reason: CloseReason::BankerDefaulted,
                paid,
            });
        } else {
            let _ = self.table.forfeit(&player);
        }
    }

    /// Acts on this peer's clock: the banker passes the dice of an idle
    /// shooter; a peer whose clock says a phase's deadline has passed asks
    /// for the relay's time (the verdict is the relay clock's, see the
    /// module's header).
    pub fn handle_timeout(&mut self, now: Millis) {
        self.scan = Scan::Full;
        if self.stage == Stage::Betting && self.pass_dice_at().is_some_and(|at| now >= at) {
            // Our own message: in everyone's order like any other.
            self.shooter_since = now;
            let _ = self.send_local(now, Action::PassDice);
            self.move_on(now);
        }
        match self.stage {
            Stage::Closed => {}
            _ if self.deadline().is_none() => {}
            _ => {
                if self.tick_at.is_some_and(|at| now >= at) {
                    // Again if the relay's time is not past the deadline
                    // yet (this clock runs fast); one at a time (none
                    // piles up while the relay is out of reach).
                    let timeout = self.config.commit_timeout.min(self.config.reveal_timeout);
                    self.tick_at = Some(now.saturating_add((timeout / 4).max(TICK_GRACE)));
                    if !self.in_flight(|a| *a == Action::Tick) {
                        let _ = self.send_local(now, Action::Tick);
                        self.move_on(now);
                    }
                }
            }
        }
    }
}
