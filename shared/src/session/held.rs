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
use crate::message::{Cut, SignedMessage};

/// The held actions, per sender in sequence order (no empty entries),
/// each with whether the relay's copy has been seen.
#[derive(Default, Clone)]
pub(crate) struct Held(BTreeMap<PlayerId, Vec<(SignedMessage, bool)>>);

impl Held {
    /// Adds a sender's next action.
    pub(crate) fn push(&mut self, signed: SignedMessage, relayed: bool) {
        self.0
            .entry(signed.sender)
            .or_default()
            .push((signed, relayed));
    }

    /// The relay's copy of a held action (this peer's own, processed when
    /// it was made) has come.
    pub(crate) fn relayed(&mut self, signed: &SignedMessage) {
        if let Some(list) = self.0.get_mut(&signed.sender) {
            for (m, relayed) in list.iter_mut() {
                if m == signed {
                    *relayed = true;
                }
            }
        }
    }

    /// Whether this very message is held (and not yet marked relayed).
    pub(crate) fn is_held(&self, signed: &SignedMessage) -> bool {
        self.0
            .get(&signed.sender)
            .is_some_and(|list| list.iter().any(|(m, relayed)| !relayed && m == signed))
    }

    /// Whether one of `sender`'s held actions sits it down.
    pub(crate) fn sits(&self, sender: &PlayerId) -> bool {
        self.0.get(sender).is_some_and(|list| {
            list.iter()
                .any(|(m, _)| matches!(m.message.action, crate::message::Action::Sit { .. }))
        })
    }

    /// How many of `sender`'s actions are held.
    pub(crate) fn count(&self, sender: &PlayerId) -> usize {
        self.0.get(sender).map_or(0, Vec::len)
    }

    /// How many actions are held in all.
    pub(crate) fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    /// Every held action with whether the relay's copy has been seen,
    /// senders in key order, each in sequence order.
    pub(crate) fn iter_flagged(&self) -> impl Iterator<Item = (&SignedMessage, bool)> {
        self.0.values().flatten().map(|(m, relayed)| (m, *relayed))
    }

    /// Every held action, senders in key order, each in sequence order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SignedMessage> {
        self.0.values().flatten().map(|(m, _)| m)
    }

    /// Every held action the relay has carried, senders in key order.
    pub(crate) fn iter_relayed(&self) -> impl Iterator<Item = &SignedMessage> {
        self.0
            .values()
            .flat_map(|list| list.iter().take_while(|(_, relayed)| *relayed))
            .map(|(m, _)| m)
    }

    /// The held actions `cut` includes, in the order they apply.
    pub(crate) fn included<'a>(&'a self, cut: &'a Cut) -> impl Iterator<Item = &'a SignedMessage> {
        cut.entries().iter().flat_map(move |(sender, last)| {
            self.0
                .get(sender)
                .into_iter()
                .flatten()
                .map(|(m, _)| m)
                .take_while(move |m| m.message.seq <= *last)
        })
    }

    /// Removes and returns what `cut` includes.
    pub(crate) fn take(&mut self, cut: &Cut) -> Vec<SignedMessage> {
        let mut taken = Vec::new();
        for (sender, last) in cut.entries() {
            if let Some(list) = self.0.get_mut(sender) {
                let n = list.partition_point(|(m, _)| m.message.seq <= *last);
                taken.extend(list.drain(..n).map(|(m, _)| m));
                if list.is_empty() {
                    self.0.remove(sender);
                }
            }
        }
        taken
    }

    /// The cut the banker names: every sender's held actions up to the
    /// first the relay has not carried yet, seated players first (so at
    /// most [`crate::message::MAX_CUT`] senders, the rest by key order,
    /// wait for a later round).
    pub(crate) fn cut(&self, seated: impl Fn(&PlayerId) -> bool) -> Cut {
        let last = |(sender, list): (&PlayerId, &Vec<(SignedMessage, bool)>)| {
            list.iter()
                .take_while(|(_, relayed)| *relayed)
                .last()
                .map(|(m, _)| (*sender, m.message.seq))
        };
        let entries = self
            .0
            .iter()
            .filter(|(s, _)| seated(s))
            .chain(self.0.iter().filter(|(s, _)| !seated(s)))
            .filter_map(last)
            .take(crate::message::MAX_CUT)
            .collect();
        // Distinct senders, at most MAX_CUT: always a valid cut.
        Cut::new(entries).unwrap_or_default()
    }

    /// `(sender, count)` of everything held.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (PlayerId, usize)> + '_ {
        self.0.iter().map(|(s, l)| (*s, l.len()))
    }
}
