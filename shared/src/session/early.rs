//! Messages that arrived before their turn: a later sequence number than
//! the next expected from their sender, or a step of a phase this peer has
//! not reached yet. Bounded per sender and in total; the earliest-arrived
//! message whose turn has come is taken first.
//!
//! Senders with no seat (strangers, throwaway keys) share a small part of
//! the buffer, a few messages each; players who sat down this round (no
//! roll has taken their seat in yet) share a larger part; so a flood of
//! either can never take the room the table's own players need: a
//! player's early message is refused only for its own distance ahead,
//! never because of someone else's. A seated (or seating) sender's next
//! message in sequence is never refused; a stranger's may be, so what
//! strangers can make a peer keep is bounded whatever their number.

use std::collections::BTreeMap;

use crate::craps::PlayerId;
use crate::message::SignedMessage;
use crate::session::Millis;

/// The most messages one sender may be ahead of the next expected one.
pub const MAX_AHEAD: u64 = 64;
/// The most early messages of one sender with no seat.
pub const MAX_STRANGER_AHEAD: usize = 4;
/// The most early messages of all senders with no seat together.
pub const MAX_STRANGERS_PENDING: usize = 128;
/// The most early messages of all senders whose seat no roll has taken in
/// yet (they sat down this round) together.
pub const MAX_SEATING_PENDING: usize = 512;

/// Who an early message's sender is, for its share of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The banker or a player seated in the agreed table.
    Player,
    /// Seated on this peer's table, but by an action no roll took in yet.
    Seating,
    /// No seat at all.
    Stranger,
}

/// The buffer of early messages, keyed by (sender, seq).
#[derive(Default)]
pub(crate) struct Early {
    waiting: BTreeMap<(PlayerId, u64), Waiting>,
    arrivals: u64,
    /// How many of `waiting` are strangers' and seating players'.
    strangers: usize,
    seating: usize,
}

/// One early message: when it arrived (its number), its sender's share,
/// the message and the relay time stamped on it (if it came that way).
struct Waiting {
    arrival: u64,
    standing: Standing,
    signed: SignedMessage,
    relayed_at: Option<Millis>,
}

/// Why an early message cannot wait.
pub(crate) enum Full {
    /// Its sequence number is too far ahead, or the buffer is full.
    TooFar,
    /// The same (sender, seq) already waits.
    Duplicate,
}

impl Early {
    /// Keeps `signed` (whose next expected sequence number is `expected`)
    /// until its turn, with the relay time stamped on it.
    pub(crate) fn hold(
        &mut self,
        signed: SignedMessage,
        relayed_at: Option<Millis>,
        expected: u64,
        standing: Standing,
    ) -> Result<(), Full> {
        let seq = signed.message.seq;
        let key = (signed.sender, seq);
        if self.waiting.contains_key(&key) {
            return Err(Full::Duplicate);
        }
        // A seated sender's next message (in sequence, waiting only for a
        // phase this peer has not reached) always waits: refusing it would
        // lose it, and there is at most one per sender; so too for a
        // sender sitting down this round (at most one per held sit-down,
        // which `MAX_NEWCOMERS_HELD` bounds). Players' early messages are
        // bounded per sender only (MAX_AHEAD): nobody else's can crowd them
        // out. Senders with no seat at all, however many, share
        // MAX_STRANGERS_PENDING, their next messages too.
        let room = match standing {
            Standing::Player => true,
            Standing::Seating => seq == expected || self.seating < MAX_SEATING_PENDING,
            Standing::Stranger => {
                let mine = self
                    .waiting
                    .range((signed.sender, 0)..=(signed.sender, u64::MAX))
                    .count();
                mine < MAX_STRANGER_AHEAD && self.strangers < MAX_STRANGERS_PENDING
            }
        };
        if seq - expected >= MAX_AHEAD || !room {
            return Err(Full::TooFar);
        }
        self.arrivals += 1;
        self.count(standing, true);
        self.waiting.insert(
            key,
            Waiting {
                arrival: self.arrivals,
                standing,
                signed,
                relayed_at,
            },
        );
        Ok(())
    }

    /// Every waiting message with its arrival number (lower: earlier) and
    /// relay time.
    pub(crate) fn by_arrival(&self) -> impl Iterator<Item = (u64, &SignedMessage, Option<Millis>)> {
        self.waiting
            .values()
            .map(|w| (w.arrival, &w.signed, w.relayed_at))
    }

    /// `sender`'s waiting messages, like [`Early::by_arrival`].
    pub(crate) fn of(
        &self,
        sender: PlayerId,
    ) -> impl Iterator<Item = (u64, &SignedMessage, Option<Millis>)> {
        self.waiting
            .range((sender, 0)..=(sender, u64::MAX))
            .map(|(_, w)| (w.arrival, &w.signed, w.relayed_at))
    }

    /// Takes the waiting message of `key` (sender, seq), with its relay
    /// time.
    pub(crate) fn remove(
        &mut self,
        key: &(PlayerId, u64),
    ) -> Option<(SignedMessage, Option<Millis>)> {
        let w = self.waiting.remove(key)?;
        self.count(w.standing, false);
        Some((w.signed, w.relayed_at))
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Drops everything (the table closed).
    pub(crate) fn clear(&mut self) {
        self.waiting.clear();
        self.strangers = 0;
        self.seating = 0;
    }

    fn count(&mut self, standing: Standing, added: bool) {
        let counter = match standing {
            Standing::Player => return,
            Standing::Seating => &mut self.seating,
            Standing::Stranger => &mut self.strangers,
        };
        if added {
            *counter += 1;
        } else {
            *counter -= 1;
        }
    }
}
