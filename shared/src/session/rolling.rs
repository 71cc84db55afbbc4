//! Commit-reveal and settlement: each participant's commitment and
//! reveal in its turn, the roll from the reveals, the table settled, the
//! next round opened, and each participant's state hash after the roll
//! compared with this peer's.

use super::*;

impl Session {
    /// Compares a participant's state hash after roll `round` with this
    /// peer's: a difference is reported with both hashes, and whether most
    /// of the roll's participants hold another hash than this peer.
    pub(super) fn compare_settled(&mut self, sender: PlayerId, round: u64, theirs: Digest32) {
        let at = self.history.partition_point(|r| r.round < round);
        let Some(record) = self.history.get(at).filter(|r| r.round == round) else {
            return; // a roll this peer does not hold (yet, or any more)
        };
        if !record.commits.iter().any(|(p, _)| *p == sender) {
            return; // only that roll's participants speak for it
        }
        let (ours, participants) = (record.state_hash, record.commits.len());
        let votes = self.settled.entry(round).or_default();
        votes.insert(sender, theirs);
        let mut counts: BTreeMap<Digest32, usize> = BTreeMap::new();
        for hash in votes.values() {
            *counts.entry(*hash).or_default() += 1;
        }
        let minority = counts
            .iter()
            .any(|(hash, n)| *hash != ours && 2 * n > participants);
        while self.settled.len() > SETTLED_ROUNDS {
            self.settled.pop_first();
        }
        if theirs != ours {
            self.events.push_back(Event::Diverged {
                round,
                player: sender,
                theirs,
                ours,
                minority,
            });
        }
    }

    /// Our commitment; the banker's closing one carries its cut and the
    /// table it makes.
    pub(super) fn local_commit(
        &self,
        close: Option<(Cut, &Table)>,
    ) -> Result<Action, SessionError> {
        let local = self.local.as_ref().ok_or(SessionError::ObserverOnly)?;
        let secret = commit_reveal::derive_secret(&local.entropy, &self.config.game, self.round);
        let (table_hash, close) = match close {
            Some((cut, table)) => (self.hash_table(b"bitcraps/table/v1", table), Some(cut)),
            None => (self.table_hash, None),
        };
        Ok(Action::Commit {
            commitment: commit_reveal::commitment(
                &self.config.game,
                self.round,
                &local.id,
                &secret,
            ),
            table_hash,
            close,
        })
    }

    /// One protocol step, if one is due. Returns whether it took one.
    pub(super) fn step(&mut self, now: Millis) -> bool {
        let local = self
            .local_id()
            .filter(|id| self.roll_participants.contains(id));
        match self.stage {
            Stage::Committing { .. } => {
                let sent = self.in_flight(|a| matches!(a, Action::Commit { .. }));
                if local.is_some_and(|id| !self.commits.contains_key(&id)) && !sent {
                    if let Ok(action) = self.local_commit(None) {
                        // Our commitment in the commit phase cannot be refused.
                        let _ = self.send_local(now, action);
                    }
                    return true;
                }
                if self.all_committed() {
                    self.finish_commits(now, self.last_commit_at);
                    return true;
                }
                false
            }
            Stage::Revealing { house_from, .. } => {
                let sent = self.in_flight(|a| matches!(a, Action::Reveal { .. }));
                // The house reveals only in its turn, after the players.
                let turn = house_from.is_some() || !self.is_banker();
                if local.is_some_and(|id| !self.reveals.contains_key(&id)) && !sent && turn {
                    if let Some(l) = self.local.as_ref() {
                        let secret =
                            commit_reveal::derive_secret(&l.entropy, &self.config.game, self.round);
                        let _ = self.send_local(now, Action::Reveal { secret });
                    }
                    return true;
                }
                if self.all_revealed() {
                    self.finish_roll(now);
                    return true;
                }
                false
            }
            Stage::Betting
                if self.is_banker()
                    && self.roll_asked()
                    && !self
                        .in_flight(|a| matches!(a, Action::Commit { .. } | Action::PassDice)) =>
            {
                self.roll_requests.clear();
                self.close_as_banker(now);
                true
            }
            Stage::Betting | Stage::Closed => false,
        }
    }

    pub(super) fn all_committed(&self) -> bool {
        self.roll_participants
            .iter()
            .all(|p| self.commits.contains_key(p))
    }

    pub(super) fn all_revealed(&self) -> bool {
        self.roll_participants
            .iter()
            .all(|p| self.reveals.contains_key(p))
    }

    /// Whether the banker's closing commitment names this peer's table
    /// hash (the table its cut makes here).
    pub(super) fn agrees_with_banker(&self) -> bool {
        self.banker_hash() == Some(self.table_hash)
    }

    pub(super) fn banker_hash(&self) -> Option<Digest32> {
        self.commits.get(&self.config.banker).map(|(_, hash)| *hash)
    }

    /// Whether players committed and none named the banker's table: the
    /// banker's is the odd one, and the round is called off on every peer
    /// (decided by the commitments alone, so alike everywhere).
    pub(super) fn banker_alone(&self) -> bool {
        // (Also with one player only: a roll whose only entropy were the
        // house's must never settle a player's bets. A shooter that keeps
        // naming a table of its own loses the dice: see `abort_round`.)
        let banker = self.config.banker;
        let mut players = self.commits.iter().filter(|(p, _)| **p != banker);
        let first = players.next();
        first.is_some()
            && first
                .into_iter()
                .chain(players)
                .all(|(_, (_, hash))| Some(*hash) != self.banker_hash())
    }

    /// The peers hold different tables: call the round off and undo its
    /// actions (putting them back would only make the same tables again).
    pub(super) fn abort_round(&mut self, now: Millis) {
        let round = self.round;
        let named: Vec<(PlayerId, Digest32)> = self
            .commits
            .iter()
            .map(|(p, (_, hash))| (*p, *hash))
            .collect();
        let me = self.local.as_ref().map(|l| l.id);
        // Alone: every other participant named one table and not this
        // peer's, or this peer's differs from the banker's and another
        // player named the banker's (a third, garbage, hash cannot keep an
        // honest peer that missed something from catching up).
        let banker = self.config.banker;
        let backed = named
            .iter()
            .any(|(p, hash)| *p != banker && Some(*p) != me && Some(*hash) == self.banker_hash());
        let alone = named_against(&named, &self.table_hash, me.as_slice())
            || (backed && !self.agrees_with_banker());
        let table_hash = self.table_hash;
        // The shooter named another table than the house's: the dice
        // pass on (decided by the commitments, alike on every peer that
        // holds the house's table), so a shooter whose commitments all
        // name a table of its own cannot hold the game still.
        let banker_hash = self.banker_hash();
        let shooter_dissents = self.table.shooter().is_some_and(|s| {
            banker_hash.is_some()
                && self
                    .commits
                    .get(&s)
                    .is_some_and(|(_, hash)| Some(*hash) != banker_hash)
        });
        self.in_roll.clear();
        self.table = self.round_start.clone();
        if shooter_dissents {
            self.table.pass_dice();
        }
        self.next_round();
        self.restart_idle(now);
        self.events.push_back(Event::RoundAborted {
            round,
            alone,
            table_hash,
            named,
        });
    }

    /// All commitments are in (or the deadline passed). This peer holds
    /// the banker's table: whoever committed to another sits the roll
    /// out, and the others reveal at relay time `opened`. It does not (it
    /// missed something, or the banker is faulty): the round is called off
    /// here, and if every other participant named one table, this peer
    /// was alone and takes the game from a player.
    pub(super) fn finish_commits(&mut self, now: Millis, opened: Millis) {
        if !self.agrees_with_banker() || self.banker_alone() {
            self.abort_round(now);
            return;
        }
        let table_hash = self.table_hash;
        let dissent: Vec<(PlayerId, Digest32)> = self
            .commits
            .iter()
            .filter(|(_, (_, hash))| *hash != table_hash)
            .map(|(p, (_, hash))| (*p, *hash))
            .collect();
        for (player, named) in dissent {
            self.commits.remove(&player);
            self.roll_participants.remove(&player);
            self.events.push_back(Event::SatOut {
                player,
                named,
                table_hash,
            });
        }
        self.stage = Stage::Revealing {
            opened,
            house_from: None,
        };
        self.schedule_tick(now, self.config.reveal_timeout);
        self.open_house_turn(now, opened);
    }

    /// Whether every participant but the house has revealed (or is out).
    pub(super) fn players_revealed(&self) -> bool {
        let banker = self.config.banker;
        self.roll_participants
            .iter()
            .all(|p| *p == banker || self.reveals.contains_key(p))
    }

    /// Opens the house's turn to reveal at relay time `at`, once every
    /// player has revealed or is out (see [`Stage::Revealing`]).
    pub(super) fn open_house_turn(&mut self, now: Millis, at: Millis) {
        if let Stage::Revealing {
            opened,
            house_from: None,
        } = self.stage
        {
            if self.players_revealed() {
                self.stage = Stage::Revealing {
                    opened,
                    house_from: Some(at),
                };
                self.schedule_tick(now, self.config.reveal_timeout);
            }
        }
    }

    pub(super) fn finish_roll(&mut self, now: Millis) {
        let game = self.config.game;
        let roll = commit_reveal::roll_from_reveals(&game, self.round, self.reveals.iter());
        let settlement = match self.table.settle(roll) {
            Ok(s) => s,
            Err(_) => {
                // Coverage was checked before the roll, so only a chip
                // overflow can fail here; settlement changed nothing, and no
                // peer can continue such a table: it closes, every bet paid.
                let paid = self.table.banker_default();
                self.stage = Stage::Closed;
                self.events.push_back(Event::TableClosed {
                    reason: CloseReason::BankerDefaulted,
                    paid,
                });
                return;
            }
        };
        let record = RollRecord {
            round: self.round,
            commits: self.commits.iter().map(|(p, (c, _))| (*p, *c)).collect(),
            reveals: self.reveals.iter().map(|(p, s)| (*p, *s)).collect(),
            forfeited: std::mem::take(&mut self.forfeited),
            table_hash: self.table_hash,
            roll,
            settlement,
            state_hash: [0; 32],
        };
        self.in_roll.clear();
        self.next_round();
        self.restart_idle(now);
        let mut record = record;
        record.state_hash = self.state_hash();
        self.history.push(record.clone());
        self.take_checkpoint(record.round, record.state_hash);
        // Each participant says what it holds after the roll: a peer that
        // diverged is found now, not at the next round's commitments.
        let me = self.local_id();
        if me.is_some_and(|id| record.commits.iter().any(|(p, _)| *p == id)) {
            let _ = self.send_local(
                now,
                Action::Settled {
                    round: record.round,
                    state_hash: record.state_hash,
                },
            );
        }
        self.events.push_back(Event::Rolled(Box::new(record)));
    }

    /// Opens the next round on the table as it stands, and shows every
    /// held action on it.
    pub(super) fn next_round(&mut self) {
        self.round += 1;
        self.stage = Stage::Betting;
        self.passes = 0;
        self.tick_at = None;
        self.roll_asked_at = None;
        self.roll_requests.clear();
        self.round_start = self.table.clone();
        let start = &self.round_start;
        let banker = self.config.banker;
        self.held
            .reclassify(|p| *p != banker && !start.is_seated(p));
        self.show_held();
        self.commits.clear();
        self.reveals.clear();
        self.roll_participants.clear();
        self.forfeited.clear();
    }
}
