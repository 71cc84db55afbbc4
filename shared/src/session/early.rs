//! Messages that arrived before their turn: a later sequence number than
//! the next expected from their sender, or a step of a phase this peer has
//! not reached yet. Bounded per sender and in total; the earliest-arrived
//! message whose turn has come is taken first.
//!
//! Senders with no seat in the agreed table (strangers, throwaway keys,
//! players whose seat no roll has taken in yet) share a small part of the
//! buffer, a few messages each, so a flood of them can never fill the room
//! the table's own players need: a player's early message is refused only
//! for its own distance ahead, never because of someone else's. A sender's
//! next message in sequence is never refused.

use std::collections::BTreeMap;

use crate::craps::PlayerId;
use crate::message::SignedMessage;

/// The most messages one sender may be ahead of the next expected one.
pub const MAX_AHEAD: u64 = 64;
/// The most early messages a session buffers in total.
pub const MAX_PENDING: usize = 1024;
/// The most early messages of one sender with no seat.
pub const MAX_STRANGER_AHEAD: usize = 4;
/// The most early messages of all senders with no seat together.
pub const MAX_STRANGERS_PENDING: usize = 128;

/// The buffer of early messages, keyed by (sender, seq).
#[derive(Default)]
pub(crate) struct Early {
    waiting: BTreeMap<(PlayerId, u64), (u64, bool, SignedMessage)>,
    arrivals: u64,
    /// How many of `waiting` are strangers' (the `bool` of each entry).
    strangers: usize,
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
    /// until its turn; `stranger`: its sender has no seat.
    pub(crate) fn hold(
        &mut self,
        signed: SignedMessage,
        expected: u64,
        stranger: bool,
    ) -> Result<(), Full> {
        let seq = signed.message.seq;
        let key = (signed.sender, seq);
        if self.waiting.contains_key(&key) {
            return Err(Full::Duplicate);
        }
        let players = self.waiting.len() - self.strangers;
        // A sender's next message (in sequence, waiting only for a phase
        // this peer has not reached) always waits: refusing it would lose
        // it, and there is at most one per sender.
        let room = if seq == expected {
            true
        } else if stranger {
            let mine = self
                .waiting
                .range((signed.sender, 0)..=(signed.sender, u64::MAX))
                .count();
            mine < MAX_STRANGER_AHEAD && self.strangers < MAX_STRANGERS_PENDING
        } else {
            // Players' early messages are bounded per sender (MAX_AHEAD);
            // the total only guards memory against a table of thousands.
            players < MAX_PENDING
        };
        if seq - expected >= MAX_AHEAD || !room {
            return Err(Full::TooFar);
        }
        self.arrivals += 1;
        self.strangers += usize::from(stranger);
        self.waiting.insert(key, (self.arrivals, stranger, signed));
        Ok(())
    }

    /// Every waiting message with its arrival number (lower: earlier).
    pub(crate) fn by_arrival(&self) -> impl Iterator<Item = (u64, &SignedMessage)> {
        self.waiting.values().map(|(arrival, _, m)| (*arrival, m))
    }

    /// Takes the waiting message of `key` (sender, seq).
    pub(crate) fn remove(&mut self, key: &(PlayerId, u64)) -> Option<SignedMessage> {
        let (_, stranger, m) = self.waiting.remove(key)?;
        self.strangers -= usize::from(stranger);
        Some(m)
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Drops everything (the table closed).
    pub(crate) fn clear(&mut self) {
        self.waiting.clear();
        self.strangers = 0;
    }
}
