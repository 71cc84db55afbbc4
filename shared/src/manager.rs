//! Many concurrent games: the `ConsensusGameManager`.
//!
//! Sessions live in a `DashMap<GameId, Session>` (sharded locks, so games
//! on different shards never contend); counters are atomics; a statistics
//! snapshot is published through `ArcSwap`, so readers (a `/metrics`
//! scrape, a status line) never take a lock at all.
//!
//! Concurrency rules: a map guard is held only while one session processes
//! one input, which is pure computation; outputs are collected into owned
//! values and the guard dropped before they are returned, so no guard is
//! ever held across a call out, an await, or another map access.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use dashmap::DashMap;

use crate::fair::GameId;
use crate::message::SignedMessage;
use crate::session::{Event, GameConfig, LocalAction, Millis, Session, SessionError};

/// Why the manager refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagerError {
    /// There is no such game.
    #[error("no such game")]
    UnknownGame,
    /// A game with this id exists already.
    #[error("a game with this id exists already")]
    GameExists,
    /// The game refused the message.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// What one input produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Messages to send to the game's other peers.
    pub transmit: Vec<SignedMessage>,
    /// Events to show.
    pub events: Vec<Event>,
}

/// A consistent snapshot of the manager's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagerStats {
    /// Games currently held.
    pub games: u64,
    /// Messages accepted (or buffered until their turn).
    pub messages_accepted: u64,
    /// Messages refused.
    pub messages_rejected: u64,
    /// Rolls completed.
    pub rolls: u64,
    /// Rounds called off because peers disagreed on the table.
    pub rounds_aborted: u64,
    /// Participants that forfeited.
    pub forfeits: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    rolls: AtomicU64,
    aborted: AtomicU64,
    forfeits: AtomicU64,
}

/// Holds many concurrent games; safe to share between threads.
pub struct ConsensusGameManager {
    sessions: DashMap<GameId, Session>,
    counters: Counters,
    stats: ArcSwap<ManagerStats>,
}

impl Default for ConsensusGameManager {
    fn default() -> Self {
        Self::new()
    }
}

fn drain(session: &mut Session) -> Output {
    let mut out = Output::default();
    while let Some(m) = session.poll_transmit() {
        out.transmit.push(m);
    }
    while let Some(e) = session.poll_event() {
        out.events.push(e);
    }
    out
}

impl ConsensusGameManager {
    /// An empty manager.
    pub fn new() -> Self {
        Self {
            sessions: DashMap::new(),
            counters: Counters::default(),
            stats: ArcSwap::from_pointee(ManagerStats::default()),
        }
    }

    /// Adds a game this peer plays in (or observes, with
    /// [`Session::observer`]).
    pub fn insert(&self, session: Session) -> Result<(), ManagerError> {
        match self.sessions.entry(session.config().game) {
            dashmap::Entry::Occupied(_) => Err(ManagerError::GameExists),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(session);
                Ok(())
            }
        }
    }

    /// Adds an observed game for `config`.
    pub fn observe(&self, config: GameConfig) -> Result<(), ManagerError> {
        self.insert(Session::observer(config))
    }

    /// Removes a game, returning it.
    pub fn remove(&self, game: &GameId) -> Option<Session> {
        self.sessions.remove(game).map(|(_, s)| s)
    }

    /// Number of games held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no game is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The current state hash of a game.
    pub fn state_hash(&self, game: &GameId) -> Option<[u8; 32]> {
        self.sessions.get(game).map(|s| s.state_hash())
    }

    /// Routes a message to its game.
    pub fn handle_message(
        &self,
        now: Millis,
        message: SignedMessage,
    ) -> Result<Output, ManagerError> {
        let result = {
            let Some(mut session) = self.sessions.get_mut(&message.message.game) else {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(ManagerError::UnknownGame);
            };
            session
                .handle_message(now, message)
                .map(|()| drain(&mut session))
                .map_err(|e| (e, drain(&mut session)))
        };
        match result {
            Ok(out) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                self.count(&out);
                Ok(out)
            }
            Err((error, out)) => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                self.count(&out);
                Err(error.into())
            }
        }
    }

    /// Performs this peer's own action in a game.
    pub fn act(
        &self,
        game: &GameId,
        now: Millis,
        action: LocalAction,
    ) -> Result<Output, ManagerError> {
        let out = {
            let mut session = self
                .sessions
                .get_mut(game)
                .ok_or(ManagerError::UnknownGame)?;
            session.perform(now, action)?;
            drain(&mut session)
        };
        self.count(&out);
        Ok(out)
    }

    /// Applies passed deadlines in every game; returns the outputs of the
    /// games that changed.
    pub fn handle_timeouts(&self, now: Millis) -> Vec<(GameId, Output)> {
        let due: Vec<GameId> = self
            .sessions
            .iter()
            .filter(|s| s.poll_timeout().is_some_and(|t| t <= now))
            .map(|s| *s.key())
            .collect();
        let mut outputs = Vec::new();
        for game in due {
            let out = {
                let Some(mut session) = self.sessions.get_mut(&game) else {
                    continue;
                };
                session.handle_timeout(now);
                drain(&mut session)
            };
            self.count(&out);
            outputs.push((game, out));
        }
        outputs
    }

    /// The earliest deadline of any game.
    pub fn next_timeout(&self) -> Option<Millis> {
        self.sessions.iter().filter_map(|s| s.poll_timeout()).min()
    }

    fn count(&self, out: &Output) {
        for event in &out.events {
            let counter = match event {
                Event::Rolled(_) => &self.counters.rolls,
                Event::RoundAborted { .. } => &self.counters.aborted,
                Event::Forfeited { .. } => &self.counters.forfeits,
                _ => continue,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Builds a fresh snapshot of the counters and publishes it.
    pub fn publish_stats(&self) -> Arc<ManagerStats> {
        let c = &self.counters;
        let snapshot = Arc::new(ManagerStats {
            games: self.sessions.len() as u64,
            messages_accepted: c.accepted.load(Ordering::Relaxed),
            messages_rejected: c.rejected.load(Ordering::Relaxed),
            rolls: c.rolls.load(Ordering::Relaxed),
            rounds_aborted: c.aborted.load(Ordering::Relaxed),
            forfeits: c.forfeits.load(Ordering::Relaxed),
        });
        self.stats.store(Arc::clone(&snapshot));
        snapshot
    }

    /// The last published snapshot (lock-free).
    pub fn stats(&self) -> Arc<ManagerStats> {
        self.stats.load_full()
    }
}
