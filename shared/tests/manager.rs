//! The `ConsensusGameManager` driven from several threads: three peers (a
//! banker and two players), each with its own manager holding the same
//! many games, messages carried between them synchronously.

use std::sync::Arc;
use std::thread;

use shared::craps::BetKind;
use shared::manager::{ConsensusGameManager, DashMapStore, ManagerError, Output, SessionStore};
use shared::session::{GameConfig, LocalAction, Session, SessionError};
use shared::SigningKey;

const GAMES: u8 = 16;
const ROLLS: usize = 12;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn config(game: u8) -> GameConfig {
    GameConfig::new([game; 16], key(1).verifying_key().to_bytes(), 1_000_000)
}

/// Plays the relay: delivers `out` from peer `from` to every peer, and
/// what that produces, until nothing is left. The sender gets its timed
/// steps back (they count as the relay stamps them); its other messages
/// it processed when it made them.
fn deliver<S: SessionStore>(peers: &[Arc<ConsensusGameManager<S>>], from: usize, out: Output) {
    let mut queue = vec![(from, out)];
    while let Some((sender, out)) = queue.pop() {
        for message in out.transmit {
            for (to, peer) in peers.iter().enumerate() {
                let action = &message.message.action;
                let counted = !action.is_timed() || action.counts_at_once();
                if to == sender && counted {
                    continue;
                }
                let reply = peer
                    .handle_message(0, message.clone(), Some(0))
                    .expect("honest message");
                queue.push((to, reply));
            }
        }
    }
}

#[test]
fn many_games_on_two_threads_stay_in_agreement_over_dashmap() {
    many_games_on_two_threads::<DashMapStore>();
}

fn many_games_on_two_threads<S: SessionStore + 'static>() {
    let peers: Vec<Arc<ConsensusGameManager<S>>> = (0..3)
        .map(|_| Arc::new(ConsensusGameManager::with_store()))
        .collect();
    for game in 0..GAMES {
        for (i, peer) in peers.iter().enumerate() {
            let n = i as u8 + 1;
            peer.insert(Session::new(config(game), key(n), [n * 16 + game; 32]))
                .unwrap();
        }
        for i in 1..3 {
            let out = peers[i]
                .act(&[game; 16], 0, LocalAction::Sit { buy_in: 10_000 })
                .unwrap();
            deliver(&peers, i, out);
        }
    }
    assert_eq!(
        peers[0].insert(Session::observer(config(0))),
        Err(ManagerError::GameExists)
    );

    let workers: Vec<_> = (0..2u8)
        .map(|t| {
            let peers = peers.clone();
            thread::spawn(move || {
                for game in (0..GAMES).filter(|g| g % 2 == t) {
                    let id = [game; 16];
                    for _ in 0..ROLLS {
                        for i in 1..3 {
                            let bet = LocalAction::Bet {
                                kind: BetKind::Field,
                                stake: 5,
                            };
                            let out = peers[i].act(&id, 0, bet).unwrap();
                            deliver(&peers, i, out);
                        }
                        // Whoever is the shooter rolls; the other is refused.
                        let mut rolled = false;
                        for i in 1..3 {
                            match peers[i].act(&id, 0, LocalAction::Roll) {
                                Ok(out) => {
                                    deliver(&peers, i, out);
                                    rolled = true;
                                    break;
                                }
                                Err(ManagerError::Session(SessionError::NotShooter)) => {}
                                Err(e) => panic!("roll refused: {e}"),
                            }
                        }
                        assert!(rolled, "nobody could roll");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    for game in 0..GAMES {
        let hashes: Vec<_> = peers.iter().map(|p| p.state_hash(&[game; 16])).collect();
        assert!(hashes[0].is_some());
        assert!(hashes.iter().all(|h| *h == hashes[0]), "game {game}");
    }
    for peer in &peers {
        let stats = peer.publish_stats();
        assert_eq!(stats.games, u64::from(GAMES));
        assert_eq!(stats.rolls, u64::from(GAMES) * ROLLS as u64);
        assert_eq!(stats.messages_rejected, 0);
        assert_eq!(*peer.stats(), *stats);
    }
    let unknown = shared::message::Message {
        game: [200; 16],
        round: 1,
        seq: 1,
        action: shared::message::Action::Leave,
    }
    .sign(&key(2));
    assert_eq!(
        peers[0].handle_message(0, unknown, Some(0)),
        Err(ManagerError::UnknownGame)
    );
}
