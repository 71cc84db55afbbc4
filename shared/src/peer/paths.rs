//! What each path delivered of a table's game: the relay, and each peer's
//! data channel, counted apart so a player (and a test) can see which
//! path carried the game and whether a path only carries refusals.
//!
//! A game frame reaches a peer twice when a data channel is open: over
//! the channel (usually sooner) and from the relay (in the room's order).
//! The relay's copy is always *taken* in its turn (its order and clock are
//! what the game judges on); a channel's copy is *taken* when it came
//! first (the action shows at once, and counts when the relay's copy
//! comes), *ignored* when the relay's came first, as is a frame for a
//! table that has closed. A *refused* frame is one the game
//! or the channel rule would not take: a forged or foreign frame, an
//! action the game refuses. It does not count what it cannot attribute (a
//! frame for a table this peer is not at).

use std::collections::BTreeMap;

use crate::session::{Millis, SessionError};
use crate::wire::PeerId;

/// How long after its last delivered game frame a data channel still
/// counts as carrying the game ([`Paths::direct_peers`]).
pub const DIRECT_RECENT_MS: Millis = 60_000;

/// What one path delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathCounts {
    /// Game frames the game took from this path (from a channel: before
    /// the relay's copy came).
    pub taken: u64,
    /// Game frames it already had (from a channel: the relay's copy came
    /// first), or for a table that has closed.
    pub ignored: u64,
    /// Frames refused: forged, foreign to the path, or refused by the game.
    pub refused: u64,
    /// When this path last delivered a game frame the game took or
    /// already had.
    pub last_at: Option<Millis>,
}

/// How a frame from a path ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The game took it.
    Taken,
    /// The game had it already, or the table has closed.
    Ignored,
    /// Refused.
    Refused,
}

impl Delivery {
    /// How the game's answer to a frame counts.
    pub fn of(result: &Result<(), SessionError>) -> Self {
        match result {
            Ok(()) => Delivery::Taken,
            Err(SessionError::Replayed { .. } | SessionError::Closed) => Delivery::Ignored,
            Err(_) => Delivery::Refused,
        }
    }
}

impl PathCounts {
    fn count(&mut self, now: Millis, delivery: Delivery) {
        match delivery {
            Delivery::Taken => self.taken += 1,
            Delivery::Ignored => self.ignored += 1,
            Delivery::Refused => self.refused += 1,
        }
        if delivery != Delivery::Refused {
            self.last_at = Some(now);
        }
    }
}

/// A table's paths: the relay and every peer's channel.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// Game frames from the relay.
    pub relay: PathCounts,
    /// Frames from each peer's data channel.
    pub channels: BTreeMap<PeerId, PathCounts>,
}

impl Paths {
    /// Counts a game frame from the relay.
    pub fn from_relay(&mut self, now: Millis, delivery: Delivery) {
        self.relay.count(now, delivery);
    }

    /// Counts a frame from `peer`'s data channel.
    pub fn from_channel(&mut self, now: Millis, peer: PeerId, delivery: Delivery) {
        self.channels.entry(peer).or_default().count(now, delivery);
    }

    /// The peers whose data channel delivered a game frame within
    /// [`DIRECT_RECENT_MS`] of `now`.
    pub fn direct_peers(&self, now: Millis) -> impl Iterator<Item = &PeerId> {
        self.channels
            .iter()
            .filter(move |(_, c)| {
                c.last_at
                    .is_some_and(|at| now.saturating_sub(at) < DIRECT_RECENT_MS)
            })
            .map(|(p, _)| p)
    }
}
