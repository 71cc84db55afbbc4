//! Many concurrent games: the `ConsensusGameManager`.
//!
//! Sessions live in a `DashMap<GameId, Session>` (sharded locks, so games
//! on different shards never contend); counters are atomics; a statistics
//! snapshot is published through `ArcSwap`, so readers (a `/metrics`
//! scrape, a status line) never take a lock at all. The map is behind the
//! [`SessionStore`] trait so the same manager can run over a plain
//! `RwLock<HashMap>` (`benches::stores::RwLockStore`) and be benchmarked
//! against it.
//!
//! Concurrency rules: a map guard is held only while one session processes
//! one input, which is pure computation; outputs are collected into owned
//! values and the guard dropped before they are returned, so no guard is
//! ever held across a call out, an await, or another map access.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use dashmap::DashMap;

use crate::commit_reveal::GameId;
use crate::message::SignedMessage;
use crate::session::{
    Event, GameConfig, LocalAction, Millis, Session, SessionError, TranscriptEntry,
};

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

/// Where the manager keeps its sessions. Implementations hold a lock only
/// for the duration of the closure they are given, and the manager only
/// passes closures that compute (no I/O, no waiting, no re-entry).
pub trait SessionStore: Default + Send + Sync {
    /// Inserts `session` unless the id is taken; returns whether it did.
    fn insert_new(&self, game: GameId, session: Session) -> bool;
    /// Removes a session.
    fn remove(&self, game: &GameId) -> Option<Session>;
    /// Number of sessions.
    fn len(&self) -> usize;
    /// Whether there is no session.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads one session.
    fn read<R>(&self, game: &GameId, f: impl FnOnce(&Session) -> R) -> Option<R>;
    /// Changes one session.
    fn write<R>(&self, game: &GameId, f: impl FnOnce(&mut Session) -> R) -> Option<R>;
    /// Folds over every session.
    fn fold<A>(&self, init: A, f: impl FnMut(A, &GameId, &Session) -> A) -> A;
}

/// Sessions in a sharded `DashMap` (the default). Each call holds one
/// shard guard for the length of its closure, and no closure touches the
/// map again, so guards are never nested.
#[derive(Default)]
pub struct DashMapStore(DashMap<GameId, Session>);

impl SessionStore for DashMapStore {
    fn insert_new(&self, game: GameId, session: Session) -> bool {
        match self.0.entry(game) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(slot) => {
                slot.insert(session);
                true
            }
        }
    }
    fn remove(&self, game: &GameId) -> Option<Session> {
        self.0.remove(game).map(|(_, s)| s)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn read<R>(&self, game: &GameId, f: impl FnOnce(&Session) -> R) -> Option<R> {
        self.0.get(game).map(|s| f(&s))
    }
    fn write<R>(&self, game: &GameId, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        self.0.get_mut(game).map(|mut s| f(&mut s))
    }
    fn fold<A>(&self, init: A, mut f: impl FnMut(A, &GameId, &Session) -> A) -> A {
        self.0
            .iter()
            .fold(init, |acc, entry| f(acc, entry.key(), entry.value()))
    }
}

/// Holds many concurrent games; safe to share between threads.
pub struct ConsensusGameManager<S: SessionStore = DashMapStore> {
    sessions: S,
    counters: Counters,
    stats: ArcSwap<ManagerStats>,
}

impl<S: SessionStore> Default for ConsensusGameManager<S> {
    fn default() -> Self {
        Self::with_store()
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

impl ConsensusGameManager<DashMapStore> {
    /// An empty manager over a `DashMap`.
    pub fn new() -> Self {
        Self::with_store()
    }
}

impl<S: SessionStore> ConsensusGameManager<S> {
    /// An empty manager over store `S`.
    pub fn with_store() -> Self {
        Self {
            sessions: S::default(),
            counters: Counters::default(),
            stats: ArcSwap::from_pointee(ManagerStats::default()),
        }
    }

    /// Adds a game this peer plays in (or observes, with
    /// [`Session::observer`]).
    pub fn insert(&self, session: Session) -> Result<(), ManagerError> {
        let game = session.config().game;
        if self.sessions.insert_new(game, session) {
            Ok(())
        } else {
            Err(ManagerError::GameExists)
        }
    }

    /// Adds an observed game for `config`.
    pub fn observe(&self, config: GameConfig) -> Result<(), ManagerError> {
        self.insert(Session::observer(config))
    }

    /// Removes a game, returning it.
    pub fn remove(&self, game: &GameId) -> Option<Session> {
        self.sessions.remove(game)
    }

    /// Number of games held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no game is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The current round of a game (a cheap read).
    pub fn round(&self, game: &GameId) -> Option<u64> {
        self.sessions.read(game, Session::round)
    }

    /// The current state hash of a game.
    pub fn state_hash(&self, game: &GameId) -> Option<[u8; 32]> {
        self.sessions.read(game, Session::state_hash)
    }

    /// A game's transcript entries from the `from`th on (a copy: no guard
    /// outlives the call).
    pub fn transcript_from(&self, game: &GameId, from: usize) -> Vec<TranscriptEntry> {
        self.sessions
            .read(game, |s| {
                s.transcript().get(from..).unwrap_or_default().to_vec()
            })
            .unwrap_or_default()
    }

    /// Routes a message to its game: `relayed_at` is the relay time
    /// stamped on it (`None`: straight from its sender).
    pub fn handle_message(
        &self,
        now: Millis,
        message: SignedMessage,
        relayed_at: Option<Millis>,
    ) -> Result<Output, ManagerError> {
        let game = message.message.game;
        let result = self.sessions.write(&game, |session| {
            let result = match relayed_at {
                Some(at) => session.handle_relayed(now, message, at),
                None => session.handle_message(now, message),
            };
            (result, drain(session))
        });
        let Some((result, out)) = result else {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(ManagerError::UnknownGame);
        };
        self.count(&out);
        match result {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(out)
            }
            Err(error) => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
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
        let (result, out) = self
            .sessions
            .write(game, |session| {
                let result = session.perform(now, action);
                (result, drain(session))
            })
            .ok_or(ManagerError::UnknownGame)?;
        self.count(&out);
        result?;
        Ok(out)
    }

    /// Applies passed deadlines in every game; returns the outputs of the
    /// games that changed.
    pub fn handle_timeouts(&self, now: Millis) -> Vec<(GameId, Output)> {
        let due = self.sessions.fold(Vec::new(), |mut due, game, session| {
            if session.poll_timeout().is_some_and(|t| t <= now) {
                due.push(*game);
            }
            due
        });
        let mut outputs = Vec::new();
        for game in due {
            let Some(out) = self.sessions.write(&game, |session| {
                session.handle_timeout(now);
                drain(session)
            }) else {
                continue;
            };
            self.count(&out);
            outputs.push((game, out));
        }
        outputs
    }

    /// The earliest deadline of any game.
    pub fn next_timeout(&self) -> Option<Millis> {
        self.sessions.fold(None, |min: Option<Millis>, _, s| {
            match (min, s.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        })
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
