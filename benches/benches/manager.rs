//! `ConsensusGameManager` over a `DashMap` vs the same manager over one
//! `RwLock<HashMap>`, at 1 and 2 threads: read-only, read-heavy (95%
//! reads) and mixed (50% reads). A read looks up a game's round; a write
//! places or takes down a bet in a game (a full session step: the local
//! message is signed with ed25519, which dominates its cost).

use std::hint::black_box;
use std::sync::Arc;

use benches::stores::RwLockStore;
use shared::craps::BetKind;
use shared::manager::{ConsensusGameManager, DashMapStore, SessionStore};
use shared::session::{GameConfig, LocalAction, Session};
use shared::SigningKey;

const GAMES: u64 = 64;

fn manager<S: SessionStore>() -> ConsensusGameManager<S> {
    let manager = ConsensusGameManager::<S>::with_store();
    let banker = SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes();
    for g in 0..GAMES {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&g.to_le_bytes());
        let config = GameConfig::new(id, banker, u64::MAX / 4);
        let mut session = Session::new(config, SigningKey::from_bytes(&[2; 32]), [3; 32]);
        let _ = session.sit(0, u64::MAX / 4);
        let _ = manager.insert(session);
    }
    manager
}

fn op<S: SessionStore>(m: &ConsensusGameManager<S>, i: u64, writes_per_20: u64) {
    let g = i.wrapping_mul(0x9E37_79B9) % GAMES;
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&g.to_le_bytes());
    if i % 20 < writes_per_20 {
        let action = if (i / 20) % 2 == 0 {
            LocalAction::Bet {
                kind: BetKind::Field,
                stake: 1,
            }
        } else {
            LocalAction::TakeDown {
                kind: BetKind::Field,
            }
        };
        let _ = black_box(m.act(&id, 0, action));
    } else {
        black_box(m.round(&id));
    }
}

fn bench<S: SessionStore + 'static>(c: &mut criterion::Criterion, store: &str) {
    for (mix, writes) in [("read_only", 0u64), ("read_heavy", 1), ("mixed", 10)] {
        let mut group = c.benchmark_group(format!("manager/{mix}"));
        for threads in [1usize, 2] {
            let m = Arc::new(manager::<S>());
            group.bench_function(format!("{store}/{threads}t"), |b| {
                b.iter_custom(|iters| {
                    let m = Arc::clone(&m);
                    benches::on_threads(threads, iters, move |i| op(&m, i, writes))
                })
            });
        }
        group.finish();
    }
}

fn main() {
    let mut c = benches::criterion();
    bench::<DashMapStore>(&mut c, "dashmap");
    bench::<RwLockStore>(&mut c, "rwlock_hashmap");
    c.final_summary();
}
