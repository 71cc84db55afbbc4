//! Table actions (sit, buy in, bet, take down, leave) that a peer has
//! received in their sender's order but that no cut has included yet.
//!
//! They are what makes a bet that crosses the roll wait instead of calling
//! the round off: while betting is open each one also shows on the peer's
//! tentative table; the shooter's cut ([`crate::message::Cut`]) then says,
//! per sender, which of them the roll is on, and the rest stay here for the
//! next round. Per sender they are in sequence order; across senders they
//! are applied in key order, so the table a cut produces does not depend
//! on the order messages arrived in. Every peer holds the relay's copies,
//! and its own actions as it made them; the banker's cut takes only what
//! the relay has carried (its own too), which is sure to reach every peer
//! before the cut does.

use std::collections::BTreeMap;

use crate::craps::PlayerId;
use crate::message::{Action, Cut, SignedMessage};

/// The held actions, per sender in sequence order (no empty entries),
/// each with whether the relay's copy has been seen.
#[derive(Default, Clone)]
pub(crate) struct Held {
    senders: BTreeMap<PlayerId, Sender>,
    /// How many actions of newcomers (senders with no seat at the round's
    /// start, not the banker) are held: at most
    /// [`crate::session::MAX_NEWCOMERS_HELD`].
    newcomers: usize,
    /// Senders the relay has brought so far, for their order of arrival.
    arrivals: u64,
}

/// One sender's held actions.
#[derive(Clone)]
struct Sender {
    /// Where in the relay's order its first held action came (lower:
    /// earlier; the same on every peer), once the relay's copy of one has
    /// come.
    arrival: Option<u64>,
    /// Whether it had no seat at the round's start.
    newcomer: bool,
    list: Vec<(SignedMessage, bool)>,
}

impl Held {
    /// Adds a sender's next action (`newcomer`: it has no seat at the
    /// round's start).
    pub(crate) fn push(&mut self, signed: SignedMessage, relayed: bool, newcomer: bool) {
        let sender = self.senders.entry(signed.sender).or_insert(Sender {
            arrival: None,
            newcomer,
            list: Vec::new(),
        });
        if relayed && sender.arrival.is_none() {
            self.arrivals += 1;
            sender.arrival = Some(self.arrivals);
        }
        self.newcomers += usize::from(sender.newcomer);
        sender.list.push((signed, relayed));
    }

    /// A new round started on another table: who is a newcomer again.
    pub(crate) fn reclassify(&mut self, newcomer: impl Fn(&PlayerId) -> bool) {
        self.newcomers = 0;
        for (player, sender) in self.senders.iter_mut() {
            sender.newcomer = newcomer(player);
            if sender.newcomer {
                self.newcomers += sender.list.len();
            }
        }
    }

    /// How many of newcomers' actions are held.
    pub(crate) fn newcomers(&self) -> usize {
        self.newcomers
    }

    /// The relay's copy of a held action (this peer's own, processed when
    /// it was made) has come.
    pub(crate) fn relayed(&mut self, signed: &SignedMessage) {
        if let Some(sender) = self.senders.get_mut(&signed.sender) {
            for (m, relayed) in sender.list.iter_mut() {
                if m == signed {
                    *relayed = true;
                    if sender.arrival.is_none() {
                        self.arrivals += 1;
                        sender.arrival = Some(self.arrivals);
                    }
                }
            }
        }
    }

    fn list(&self, sender: &PlayerId) -> &[(SignedMessage, bool)] {
        self.senders.get(sender).map_or(&[], |s| &s.list)
    }

    /// Whether this very message is held (and not yet marked relayed).
    pub(crate) fn is_held(&self, signed: &SignedMessage) -> bool {
        self.list(&signed.sender)
            .iter()
            .any(|(m, relayed)| !relayed && m == signed)
    }

    /// Whether one of `sender`'s held actions sits it down.
    pub(crate) fn sits(&self, sender: &PlayerId) -> bool {
        self.list(sender)
            .iter()
            .any(|(m, _)| matches!(m.message.action, Action::Sit { .. }))
    }

    /// How many of `sender`'s actions are held.
    pub(crate) fn count(&self, sender: &PlayerId) -> usize {
        self.list(sender).len()
    }

    /// How many actions are held in all.
    pub(crate) fn len(&self) -> usize {
        self.senders.values().map(|s| s.list.len()).sum()
    }

    /// Every held action with whether the relay's copy has been seen,
    /// senders in their order of arrival (those the relay has brought
    /// nothing of yet last), each in sequence order: pushed back in this
    /// order, they arrive in the same order again.
    pub(crate) fn iter_flagged(&self) -> impl Iterator<Item = (&SignedMessage, bool)> {
        self.by_arrival(|_| true)
            .into_iter()
            .flat_map(|(_, s)| &s.list)
            .map(|(m, relayed)| (m, *relayed))
    }

    /// The senders `keep` keeps, in their order of arrival (those the
    /// relay has brought nothing of yet last, in key order).
    fn by_arrival(&self, keep: impl Fn(&PlayerId) -> bool) -> Vec<(&PlayerId, &Sender)> {
        let mut senders: Vec<(&PlayerId, &Sender)> =
            self.senders.iter().filter(|(p, _)| keep(p)).collect();
        senders.sort_by_key(|(_, s)| (s.arrival.is_none(), s.arrival));
        senders
    }

    /// Every held action, senders in key order, each in sequence order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SignedMessage> {
        self.senders.values().flat_map(|s| &s.list).map(|(m, _)| m)
    }

    /// The held actions `cut` includes, in the order they apply.
    pub(crate) fn included<'a>(&'a self, cut: &'a Cut) -> impl Iterator<Item = &'a SignedMessage> {
        cut.entries().iter().flat_map(move |(sender, last)| {
            self.list(sender)
                .iter()
                .map(|(m, _)| m)
                .take_while(move |m| m.message.seq <= *last)
        })
    }

    /// Removes and returns what `cut` includes.
    pub(crate) fn take(&mut self, cut: &Cut) -> Vec<SignedMessage> {
        let mut taken = Vec::new();
        for (player, last) in cut.entries() {
            if let Some(sender) = self.senders.get_mut(player) {
                let n = sender.list.partition_point(|(m, _)| m.message.seq <= *last);
                if sender.newcomer {
                    self.newcomers -= n;
                }
                taken.extend(sender.list.drain(..n).map(|(m, _)| m));
                if sender.list.is_empty() {
                    self.senders.remove(player);
                }
            }
        }
        taken
    }

    /// The cut the banker names: every sender's held actions up to the
    /// first the relay has not carried yet, seated players first, then
    /// newcomers in the order the relay brought them (the same on every
    /// peer: first come, first seated; so at most
    /// [`crate::message::MAX_CUT`] senders, and `open_seats` sit-downs:
    /// the rest wait for a later round, each sender's actions from its
    /// first sit-down past the open seats).
    pub(crate) fn cut(&self, seated: impl Fn(&PlayerId) -> bool, open_seats: u32) -> Cut {
        let mut open = open_seats;
        let mut last = |(player, sender): (&PlayerId, &Sender)| {
            let mut last = None;
            for (m, relayed) in &sender.list {
                if !relayed {
                    break;
                }
                if matches!(m.message.action, Action::Sit { .. }) {
                    if open == 0 {
                        break;
                    }
                    open -= 1;
                }
                last = Some((*player, m.message.seq));
            }
            last
        };
        let newcomers = self.by_arrival(|p| !seated(p));
        let entries = self
            .senders
            .iter()
            .filter(|(p, _)| seated(p))
            .chain(newcomers)
            .filter_map(&mut last)
            .take(crate::message::MAX_CUT)
            .collect();
        // Distinct senders, at most MAX_CUT: always a valid cut.
        Cut::new(entries).unwrap_or_default()
    }

    /// `(sender, count)` of everything held.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (PlayerId, usize)> + '_ {
        self.senders.iter().map(|(p, s)| (*p, s.list.len()))
    }
}
