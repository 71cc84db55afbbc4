//! The plain alternative to the manager's `DashMapStore`, for the
//! benchmarks (`benches/benches/manager.rs`): every session in one
//! `RwLock<HashMap>`. It lost, so it is not in the product.

use std::collections::HashMap;
use std::sync::RwLock;

use shared::commit_reveal::GameId;
use shared::manager::SessionStore;
use shared::session::Session;

/// Sessions in one `RwLock<HashMap>`: the plain alternative, kept for the
/// benchmarks.
#[derive(Default)]
pub struct RwLockStore(RwLock<HashMap<GameId, Session>>);

impl SessionStore for RwLockStore {
    fn insert_new(&self, game: GameId, session: Session) -> bool {
        let Ok(mut map) = self.0.write() else {
            return false;
        };
        if map.contains_key(&game) {
            return false;
        }
        map.insert(game, session);
        true
    }
    fn remove(&self, game: &GameId) -> Option<Session> {
        self.0.write().ok()?.remove(game)
    }
    fn len(&self) -> usize {
        self.0.read().map(|m| m.len()).unwrap_or(0)
    }
    fn read<R>(&self, game: &GameId, f: impl FnOnce(&Session) -> R) -> Option<R> {
        self.0.read().ok()?.get(game).map(f)
    }
    fn write<R>(&self, game: &GameId, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        self.0.write().ok()?.get_mut(game).map(f)
    }
    fn fold<A>(&self, init: A, mut f: impl FnMut(A, &GameId, &Session) -> A) -> A {
        match self.0.read() {
            Ok(map) => map.iter().fold(init, |acc, (k, v)| f(acc, k, v)),
            Err(_) => init,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::manager::ConsensusGameManager;
    use shared::session::GameConfig;

    #[test]
    fn it_keeps_sessions_as_the_product_store_does() {
        let manager: ConsensusGameManager<RwLockStore> = ConsensusGameManager::with_store();
        let banker = shared::SigningKey::from_bytes(&[1; 32])
            .verifying_key()
            .to_bytes();
        let config = GameConfig::new([7; 16], banker, 1_000_000);
        manager.observe(config).unwrap();
        assert!(manager.observe(config).is_err(), "one session per game");
        assert_eq!(manager.len(), 1);
        assert_eq!(manager.round(&config.game), Some(1));
        assert!(manager.remove(&config.game).is_some());
        assert!(manager.is_empty());
    }
}
