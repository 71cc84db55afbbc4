//! Table actions (sit, buy in, bet, take down, leave) that a peer has
//! received in their sender's order but that no cut has included yet.
//!
//! They are what makes a bet that crosses the roll wait instead of calling
//! the round off: while betting is open each one also shows on the peer's
//! tentative table; the shooter's cut ([`crate::message::Cut`]) then says,
//! per sender, which of them the roll is on, and the rest stay here for the
//! next round. Per sender they are in sequence order; across senders they
//! are applied in key order, so the table a cut produces does not depend
//! on the order messages arrived in.

use std::collections::BTreeMap;

use crate::craps::PlayerId;
use crate::message::{Cut, SignedMessage};

/// The held actions, per sender in sequence order (no empty entries).
#[derive(Default, Clone)]
pub(crate) struct Held(BTreeMap<PlayerId, Vec<SignedMessage>>);

impl Held {
    /// Adds a sender's next action.
    pub(crate) fn push(&mut self, signed: SignedMessage) {
        self.0.entry(signed.sender).or_default().push(signed);
    }

    /// How many of `sender`'s actions are held.
    pub(crate) fn count(&self, sender: &PlayerId) -> usize {
        self.0.get(sender).map_or(0, Vec::len)
    }

    /// Every held action, senders in key order, each in sequence order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SignedMessage> {
        self.0.values().flatten()
    }

    /// The held actions `cut` includes, in the order they apply.
    pub(crate) fn included<'a>(&'a self, cut: &'a Cut) -> impl Iterator<Item = &'a SignedMessage> {
        cut.entries().iter().flat_map(move |(sender, last)| {
            self.0
                .get(sender)
                .into_iter()
                .flatten()
                .take_while(move |m| m.message.seq <= *last)
        })
    }

    /// Removes and returns what `cut` includes.
    pub(crate) fn take(&mut self, cut: &Cut) -> Vec<SignedMessage> {
        let mut taken = Vec::new();
        for (sender, last) in cut.entries() {
            if let Some(list) = self.0.get_mut(sender) {
                let n = list.partition_point(|m| m.message.seq <= *last);
                taken.extend(list.drain(..n));
                if list.is_empty() {
                    self.0.remove(sender);
                }
            }
        }
        taken
    }

    /// The cut the shooter names: every sender's held actions, seated
    /// players first (so at most [`crate::message::MAX_CUT`] senders, the
    /// rest by key order, wait for a later round).
    pub(crate) fn cut(&self, seated: impl Fn(&PlayerId) -> bool) -> Cut {
        let last = |(sender, list): (&PlayerId, &Vec<SignedMessage>)| {
            list.last().map(|m| (*sender, m.message.seq))
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
