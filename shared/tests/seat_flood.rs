//! A flood of throwaway keys that sit down, stake a chip and never
//! commit, against a table of honest players: each such seat costs every
//! honest player one
//! commit timeout, so the table prices seats (see
//! [`shared::craps::SEAT_EVERY`]). Twenty throwaway keys always wait for a
//! seat (each one that forfeits is replaced by a fresh one at once); the
//! test counts the rolls that had to wait out a commit timeout for one of
//! them and holds that count to the bound: the first burst of
//! [`shared::craps::SEAT_BURST`] seats costs one roll's timeout (they all
//! miss the same commitment), after that at most one roll in
//! [`shared::craps::SEAT_EVERY`]. It also checks the flood really used
//! every seat it could (the count is not met by a flood that did nothing),
//! that an honest newcomer who comes during the flood waits only behind
//! those who came before it, and that the honest players agree on every
//! roll with their chips conserved.

mod sim;

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use shared::craps::{PlayerId, SEAT_BURST, SEAT_EVERY};
use shared::message::{Action, Message};
use shared::session::{Event, ForfeitReason, TICK_GRACE};
use sim::{Net, GAME};

/// The `n`th throwaway key.
fn throwaway(n: u32) -> SigningKey {
    let mut bytes = [0xC3u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    SigningKey::from_bytes(&bytes)
}

/// What one game showed.
struct Run {
    /// Simulated time for its rolls.
    elapsed: u64,
    /// Rolls in which a throwaway key missed its commitment.
    waited: BTreeSet<u64>,
    /// Throwaway keys the table took in (and that forfeited).
    forfeited: usize,
    /// The roll in which the honest newcomer got its seat, if it came.
    newcomer_seated: Option<u64>,
}

/// Rolls the table plays before the flood starts (its players seated).
const WARM_UP: usize = 8;

/// Plays `rolls` rolls of a banker and four players, after [`WARM_UP`],
/// with `flood` throwaway keys always waiting for a seat; an honest
/// newcomer asks for a seat when `newcomer_at` of them have been played.
fn play(seed: u64, rolls: usize, flood: usize, newcomer_at: Option<usize>) -> Run {
    let mut net = Net::new(4, seed);
    net.run_until(1_000_000, |n| n.rolls(0) >= WARM_UP);
    assert_eq!(net.rolls(0), WARM_UP, "{seed}: the warm-up");
    for p in &net.peers[1..] {
        assert!(net.peers[0].session.table().is_seated(&p.id()), "{seed}");
    }
    let rolls = WARM_UP + rolls;
    let honest: Vec<usize> = (0..net.peers.len()).collect();
    let honest_ids: BTreeSet<PlayerId> = net.peers.iter().map(|p| p.id()).collect();
    let newcomer = throwaway(u32::MAX);
    let newcomer_id = newcomer.verifying_key().to_bytes();
    let mut waiting: BTreeSet<PlayerId> = BTreeSet::new();
    let mut next = 0u32;
    let mut seen = 0usize;
    let mut round = 1u64;
    let mut run = Run {
        elapsed: 0,
        waited: BTreeSet::new(),
        forfeited: 0,
        newcomer_seated: None,
    };
    let start = net.now;
    let mut asked = false;
    while net.rolls(0) < rolls {
        let current = net.peers[0].session.round();
        while waiting.len() < flood {
            let key = throwaway(next);
            next += 1;
            // It sits and stakes a chip (a seat with nothing at stake
            // takes no part in the dice, so costs nobody a timeout).
            for m in sim::sit_and_stake(&key, current, 50, 1) {
                net.inject(m);
            }
            waiting.insert(key.verifying_key().to_bytes());
        }
        if newcomer_at.is_some_and(|at| net.rolls(0) >= WARM_UP + at) && !asked {
            asked = true;
            net.inject(
                Message {
                    game: GAME,
                    round: current,
                    seq: 1,
                    action: Action::Sit { buy_in: 50 },
                }
                .sign(&newcomer),
            );
        }
        assert!(net.step(), "{seed}: the game stopped");
        if net.now - start >= 10_000_000 {
            for p in &net.peers {
                let names: Vec<String> = p
                    .events
                    .iter()
                    .take(60)
                    .map(|e| format!("{e:?}").chars().take(40).collect())
                    .collect();
                eprintln!("{names:?}");
                eprintln!(
                    "rejected {:?}",
                    &p.rejected[p.rejected.len().saturating_sub(4)..]
                );
            }
        }
        assert!(
            net.now - start < 10_000_000,
            "{seed}: the game stalled after {} rolls, round {}",
            net.rolls(0),
            net.peers[0].session.round()
        );
        for event in &net.peers[0].events[seen..] {
            match event {
                Event::BettingClosed { round: r, .. } => round = *r,
                Event::Sat { player, .. } if *player == newcomer_id => {
                    run.newcomer_seated = Some(round - WARM_UP as u64);
                }
                Event::Forfeited { player, reason } if !honest_ids.contains(player) => {
                    assert_eq!(*reason, ForfeitReason::NoCommit, "{seed}");
                    if waiting.remove(player) {
                        run.forfeited += 1;
                        run.waited.insert(round);
                    }
                }
                Event::Forfeited { player, .. } => {
                    panic!("{seed}: honest {:?} forfeited", &player[..4])
                }
                _ => {}
            }
        }
        seen = net.peers[0].events.len();
    }
    run.elapsed = net.now - start;
    net.settle();
    // Every honest peer holds the same state, every roll the same, and
    // the chips are all there.
    let hash = net.peers[0].session.state_hash();
    for &i in &honest {
        let s = &net.peers[i].session;
        assert_eq!(s.state_hash(), hash, "{seed}: peer {i} differs");
        assert_eq!(
            s.history(),
            net.peers[0].session.history(),
            "{seed}: peer {i}"
        );
        assert_eq!(
            s.table().total_chips(),
            s.table().bought_in(),
            "{seed}: chips"
        );
        assert!(!s.is_closed(), "{seed}: the table closed");
    }
    run
}

#[test]
fn twenty_throwaway_keys_cost_at_most_one_commit_timeout_per_priced_seat() {
    const ROLLS: usize = 120;
    const FLOOD: usize = 20;
    let commit_timeout = Net::new(1, 0).config.commit_timeout;
    for seed in [3, 17] {
        let quiet = play(seed, ROLLS, 0, None);
        assert!(quiet.waited.is_empty(), "{seed}: a quiet table waited");
        let flooded = play(seed, ROLLS, FLOOD, None);
        let waited = flooded.waited.len() as u64;
        let bound = 1 + ROLLS as u64 / u64::from(SEAT_EVERY);
        // The bound holds, and is met: the flood took every seat it could
        // (one burst, then one seat per SEAT_EVERY rolls).
        assert!(
            waited <= bound,
            "{seed}: {waited} rolls waited, bound {bound}"
        );
        assert!(
            waited + 2 >= bound,
            "{seed}: only {waited} rolls waited: the flood did not take its seats: {:?}",
            flooded.waited
        );
        let seats = u64::from(SEAT_BURST) + (ROLLS as u64 - 1) / u64::from(SEAT_EVERY);
        assert!(
            flooded.forfeited as u64 <= seats,
            "{seed}: {} seats",
            flooded.forfeited
        );
        let extra = flooded.elapsed.saturating_sub(quiet.elapsed);
        println!(
            "seed {seed}: {ROLLS} rolls with {FLOOD} throwaway keys waiting: {waited} rolls \
             waited a commit timeout ({} keys seated and forfeited; bound {bound}); \
             {} ms of simulated time against {} ms without them (+{extra} ms, \
             commit timeout {commit_timeout} ms)",
            flooded.forfeited, flooded.elapsed, quiet.elapsed
        );
        // What the flood cost is its timeouts (each the commit timeout and
        // the grace before a peer asks the relay's time), give or take the
        // random pace of the rest of the game.
        assert!(
            extra <= waited * (commit_timeout + TICK_GRACE) + quiet.elapsed / 5,
            "{seed}: the flood cost {extra} ms for {waited} timeouts"
        );
    }
}

#[test]
fn an_honest_newcomer_waits_only_behind_those_who_came_before_it() {
    const FLOOD: usize = 20;
    let at = 40;
    let run = play(5, 160, FLOOD, Some(at));
    let seated = run.newcomer_seated.expect("the newcomer never got a seat");
    // Seats open at one per SEAT_EVERY rolls once the burst is spent; at
    // most FLOOD keys came before the newcomer.
    let latest = at as u64 + u64::from(SEAT_EVERY) * (FLOOD as u64 + 2);
    assert!(
        seated <= latest,
        "the newcomer asked at roll {at} and sat at {seated} (latest {latest})"
    );
    println!(
        "an honest newcomer asking at roll {at} behind {FLOOD} throwaway keys sat in roll {seated}"
    );
}
