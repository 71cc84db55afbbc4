//! Messages that arrived before their turn: a later sequence number than
//! the next expected from their sender, or a step of a phase this peer has
//! not reached yet. Bounded per sender and in total; the earliest-arrived
//! message whose turn has come is taken first.

use std::collections::BTreeMap;

use crate::craps::PlayerId;
use crate::message::SignedMessage;

/// The most messages one sender may be ahead of the next expected one.
pub const MAX_AHEAD: u64 = 64;
/// The most early messages a session buffers in total.
pub const MAX_PENDING: usize = 1024;

/// The buffer of early messages, keyed by (sender, seq).
#[derive(Default)]
pub(crate) struct Early {
    waiting: BTreeMap<(PlayerId, u64), (u64, SignedMessage)>,
    arrivals: u64,
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
    /// until its turn.
    pub(crate) fn hold(&mut self, signed: SignedMessage, expected: u64) -> Result<(), Full> {
        let seq = signed.message.seq;
        if seq - expected >= MAX_AHEAD || self.waiting.len() >= MAX_PENDING {
            return Err(Full::TooFar);
        }
        let key = (signed.sender, seq);
        if self.waiting.contains_key(&key) {
            return Err(Full::Duplicate);
        }
        self.arrivals += 1;
        self.waiting.insert(key, (self.arrivals, signed));
        Ok(())
    }

    /// Every waiting message with its arrival number (lower: earlier).
    pub(crate) fn by_arrival(&self) -> impl Iterator<Item = (u64, &SignedMessage)> {
        self.waiting.values().map(|(arrival, m)| (*arrival, m))
    }

    /// Takes the waiting message of `key` (sender, seq).
    pub(crate) fn remove(&mut self, key: &(PlayerId, u64)) -> Option<SignedMessage> {
        self.waiting.remove(key).map(|(_, m)| m)
    }

    /// The waiting messages, in (sender, seq) order.
    pub(crate) fn messages(&self) -> impl Iterator<Item = &SignedMessage> {
        self.waiting.values().map(|(_, m)| m)
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Drops everything (the table closed).
    pub(crate) fn clear(&mut self) {
        self.waiting.clear();
    }
}
