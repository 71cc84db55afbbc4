//! Deterministic simulations: several peers play thousands of rolls over
//! a shuffling in-memory network under simulated time, honestly and with
//! cheaters among them.

mod sim;

use shared::craps::BetKind;
use shared::message::{Action, Message};
use shared::session::{Event, ForfeitReason, SessionError};
use shared::verify::verify;
use sim::{key, Net, GAME};

/// All honest peers hold the same state, chips are conserved, and every
/// transcript re-verifies to that state.
fn assert_agreement(net: &Net, honest: &[usize]) {
    let first = &net.peers[honest[0]].session;
    for &i in honest {
        let s = &net.peers[i].session;
        assert_eq!(s.round(), first.round(), "peer {i} round");
        assert_eq!(s.state_hash(), first.state_hash(), "peer {i} state");
        assert_eq!(
            s.table().total_chips(),
            s.table().bought_in(),
            "peer {i} chips"
        );
        let verified = verify(net.config, s.transcript())
            .unwrap_or_else(|e| panic!("peer {i}'s transcript does not verify: {e:?}"));
        assert_eq!(verified.state_hash, s.state_hash(), "peer {i} replay");
        assert_eq!(verified.rolls, s.history(), "peer {i} rolls");
    }
}

/// No peer called a round off.
fn assert_nothing_called_off(net: &Net) {
    for (i, p) in net.peers.iter().enumerate() {
        assert!(
            !p.events
                .iter()
                .any(|e| matches!(e, Event::RoundAborted { .. })),
            "peer {i} called a round off"
        );
    }
}

#[test]
fn honest_peers_agree_over_a_thousand_rolls() {
    let mut net = Net::new(3, 1);
    let reached = net.run_until(10_000_000, |n| n.rolls(0) >= 1_000);
    assert!(reached, "only {} rolls", net.rolls(0));
    net.settle();
    assert_agreement(&net, &[0, 1, 2, 3]);
    let s = &net.peers[0].session;
    // Real play happened: bets were won and lost, points made, dice passed.
    let results: usize = s.history().iter().map(|r| r.settlement.results.len()).sum();
    assert!(results > 1_000, "{results} bet results");
    assert!(s.history().iter().any(|r| r.settlement.seven_out));
    for r in s.history() {
        assert!(r.verify(&GAME));
        assert_eq!(
            r.reveals.len(),
            r.commits.len(),
            "every participant revealed"
        );
    }
    for p in &net.peers {
        assert!(
            p.rejected.is_empty(),
            "honest peers refuse nothing: {:?}",
            p.rejected
        );
        assert!(!p
            .events
            .iter()
            .any(|e| matches!(e, Event::RoundAborted { .. })));
    }
}

#[test]
fn many_seeds_many_players_still_agree() {
    for seed in 2..6 {
        let mut net = Net::new(2 + (seed % 4) as u8, seed);
        net.max_delay = 20;
        assert!(net.run_until(10_000_000, |n| n.rolls(0) >= 250));
        net.settle();
        let all: Vec<usize> = (0..net.peers.len()).collect();
        assert_agreement(&net, &all);
    }
}

#[test]
fn a_wrong_reveal_forfeits_and_the_others_go_on() {
    let mut net = Net::new(3, 7);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 5));
    // Peer 3 starts revealing a different secret than it committed to.
    net.peers[3].tamper = Some(Box::new(|m, key| match m.message.action {
        Action::Reveal { .. } => vec![Message {
            action: Action::Reveal { secret: [0xEE; 32] },
            ..m.message
        }
        .sign(key)],
        _ => vec![m],
    }));
    let cheater = net.peers[3].id();
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 30));
    net.settle();
    // Peer 3 believes its own reveal, so only the others must agree.
    assert_agreement(&net, &[0, 1, 2]);
    let table = net.peers[0].session.table();
    assert!(!table.is_seated(&cheater));
    assert!(table.departed().contains_key(&cheater));
    let forfeits: Vec<_> = net.peers[0]
        .session
        .history()
        .iter()
        .flat_map(|r| r.forfeited.clone())
        .collect();
    assert_eq!(forfeits, vec![(cheater, ForfeitReason::WrongReveal)]);
}

#[test]
fn a_withheld_reveal_forfeits_without_a_free_reroll() {
    let mut net = Net::new(3, 8);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 3));
    net.peers[2].tamper = Some(Box::new(|m, _| match m.message.action {
        Action::Reveal { .. } => vec![],
        _ => vec![m],
    }));
    let withholder = net.peers[2].id();
    let round = net.peers[0].session.round();
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 20));
    net.settle();
    assert_agreement(&net, &[0, 1, 3]);
    let s = &net.peers[0].session;
    // The withheld roll was not re-rolled: it happened in its own round,
    // decided by the other three reveals.
    let record = s
        .history()
        .iter()
        .find(|r| !r.forfeited.is_empty())
        .expect("a forfeit");
    assert!(record.round >= round);
    assert_eq!(
        record.forfeited,
        vec![(withholder, ForfeitReason::NoReveal)]
    );
    assert_eq!(record.reveals.len(), 3);
    assert!(record.reveals.iter().all(|(p, _)| *p != withholder));
    assert!(record.verify(&GAME));
    assert!(!s.table().bets().keys().any(|(p, _)| *p == withholder));
}

#[test]
fn a_withholding_banker_pays_every_bet_and_the_table_closes() {
    let mut net = Net::new(2, 9);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 3));
    net.peers[0].tamper = Some(Box::new(|m, _| match m.message.action {
        Action::Reveal { .. } => vec![],
        _ => vec![m],
    }));
    assert!(net.run_until(1_000_000, |n| n.peers[1].session.is_closed()));
    net.settle();
    assert_agreement(&net, &[1, 2]);
    let closed = net.peers[1].events.iter().find_map(|e| match e {
        Event::TableClosed { paid, .. } => Some(paid.clone()),
        _ => None,
    });
    let paid = closed.expect("table closed");
    assert!(
        paid.iter().all(|r| r.paid > r.stake),
        "every bet paid a win"
    );
    assert!(net.peers[1].session.table().bets().is_empty());
}

#[test]
fn forged_replayed_and_duplicated_messages_are_refused() {
    let mut net = Net::new(2, 10);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 3));
    // Peer 2's messages: every one delivered twice, plus one forged copy
    // claiming a bigger stake under the same signature.
    net.peers[2].tamper = Some(Box::new(|m, _| {
        let mut out = vec![m.clone(), m.clone()];
        if let Action::Bet { kind, stake } = m.message.action {
            let mut forged = m.clone();
            forged.message.action = Action::Bet {
                kind,
                stake: stake * 100,
            };
            out.push(forged);
        }
        out
    }));
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 25));
    net.settle();
    assert_agreement(&net, &[0, 1, 2]);
    // (Duplicates are refused as replays: with a data channel's copy and
    // the relay's, every message arrives twice anyway.)
    let rejected = &net.peers[0].rejected;
    assert!(rejected.iter().any(|e| matches!(
        e,
        SessionError::Invalid(shared::message::MessageError::BadSignature)
    )));
    // A replay of an old message, much later, changes nothing.
    let old = net.peers[0].session.transcript()[0].message.clone();
    let before = net.peers[1].session.state_hash();
    assert!(matches!(
        net.peers[1].session.handle_relayed(net.now, old, net.now),
        Err(SessionError::Replayed { .. })
    ));
    assert_eq!(net.peers[1].session.state_hash(), before);
}

#[test]
fn bets_after_betting_closes_or_above_the_balance_are_refused() {
    let mut net = Net::new(2, 11);
    // Mallory is scripted by hand and sits with 100 chips. Pick a key that
    // does not sort first, so Mallory is not the shooter.
    let lowest = net.peers.iter().skip(1).map(|p| p.id()).min().unwrap();
    let mallory = (50..=255)
        .map(key)
        .find(|k| k.verifying_key().to_bytes() > lowest)
        .unwrap();
    let msg = |seq, round, action| {
        Message {
            game: GAME,
            round,
            seq,
            action,
        }
        .sign(&mallory)
    };
    net.inject(msg(1, 1, Action::Sit { buy_in: 100 }));
    net.run_until(5, |_| false);
    // A stake (so Mallory takes part in the dice), then one above its
    // balance.
    net.inject(msg(
        2,
        1,
        Action::Bet {
            kind: BetKind::Field,
            stake: 5,
        },
    ));
    net.run_until(5, |_| false);
    net.inject(msg(
        3,
        1,
        Action::Bet {
            kind: BetKind::Field,
            stake: 1_000,
        },
    ));
    // Wait until betting closed everywhere, then bet.
    assert!(net.run_until(1_000, |n| n.peers.iter().all(|p| !p.session.is_betting())));
    net.inject(msg(
        4,
        1,
        Action::Bet {
            kind: BetKind::Field,
            stake: 10,
        },
    ));
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 3));
    net.settle();
    assert_agreement(&net, &[0, 1, 2]);
    let m = mallory.verifying_key().to_bytes();
    for p in &net.peers {
        assert!(p.rejected.iter().any(|e| matches!(
            e,
            SessionError::Table(shared::craps::TableError::InsufficientBalance { .. })
        )));
        // The bet sent during the roll waited for the next round, where
        // Mallory (forfeited, unseated) could no longer bet.
        assert!(p
            .events
            .iter()
            .any(|e| matches!(e, Event::HeldOver { player, .. } if *player == m)));
        assert!(p
            .rejected
            .contains(&SessionError::Table(shared::craps::TableError::NotSeated)));
    }
    // Mallory never committed, so it forfeited its stake and left with
    // the rest of its chips.
    let s = &net.peers[0].session;
    assert_eq!(s.table().departed().get(&m), Some(&95));
    assert_eq!(s.history()[0].forfeited, vec![(m, ForfeitReason::NoCommit)]);
}

#[test]
fn a_participant_that_commits_to_another_table_sits_the_roll_out_and_calls_nothing_off() {
    // A faulty (or lying) player: every commitment it signs names a table
    // hash of its own. Before, each one called the round off for everyone.
    let mut net = Net::new(3, 16);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 3));
    net.peers[3].tamper = Some(Box::new(|m, key| match m.message.action {
        Action::Commit {
            commitment,
            close: None,
            ..
        } => vec![Message {
            action: Action::Commit {
                commitment,
                table_hash: [0xAB; 32],
                close: None,
            },
            ..m.message
        }
        .sign(key)],
        _ => vec![m],
    }));
    let faulty = net.peers[3].id();
    let before = net.rolls(0);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= before + 20));
    net.settle();
    assert_agreement(&net, &[0, 1, 2, 3]);
    assert_nothing_called_off(&net);
    for p in &net.peers {
        let sat_out = p
            .events
            .iter()
            .filter(|e| matches!(e, Event::SatOut { player, named, .. } if *player == faulty && *named == [0xAB; 32]))
            .count();
        assert!(sat_out >= 20, "it sat out every roll since: {sat_out}");
    }
    // The rolls went on without its reveals, its bets settling with them.
    let s = &net.peers[0].session;
    assert!(s.history()[before..]
        .iter()
        .all(|r| r.reveals.iter().all(|(p, _)| *p != faulty) && r.verify(&GAME)));
}

#[test]
fn a_house_that_crashes_while_betting_is_open_closes_the_table_with_every_stake_returned() {
    let mut net = Net::new(3, 15);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 6));
    // The house crashes as a round opens; the players bet, the shooter asks.
    assert!(net.run_until(1_000, |n| n.peers[0].session.is_betting()));
    net.peers[0].alive = false;
    assert!(net.run_until(100_000, |n| n.peers[1..]
        .iter()
        .all(|p| p.session.is_closed())));
    net.settle();
    assert_agreement(&net, &[1, 2, 3]);
    for p in &net.peers[1..] {
        assert!(p.events.iter().any(|e| matches!(
            e,
            Event::TableClosed {
                reason: shared::session::CloseReason::HouseGone,
                ..
            }
        )));
        assert!(p.session.table().bets().is_empty(), "every stake returned");
    }
}

#[test]
fn a_crashed_peer_forfeits_and_the_table_plays_on() {
    let mut net = Net::new(3, 12);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 4));
    // Crash peer 1 right after betting closes (mid-roll).
    assert!(net.run_until(1_000, |n| !n.peers[1].session.is_betting()));
    net.peers[1].alive = false;
    let crashed = net.peers[1].id();
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 20));
    net.settle();
    assert_agreement(&net, &[0, 2, 3]);
    assert!(!net.peers[0].session.table().is_seated(&crashed));
}

#[test]
fn bets_held_back_past_the_shooters_cut_wait_for_the_next_round() {
    let mut net = Net::new(2, 13);
    net.max_delay = 1;
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 2));
    let shooter = net.peers[0].session.table().shooter().unwrap();
    let shooter_index = net.peers.iter().position(|p| p.id() == shooter).unwrap();
    let other = if shooter_index == 1 { 2 } else { 1 };
    // The other player's bets are held back until the shooter has closed
    // betting without them, while its own view has them: they cross the
    // roll. (Its commitment, behind them in its sequence, waits for them.)
    let held = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = held.clone();
    net.peers[other].tamper = Some(Box::new(move |m, _| {
        if matches!(m.message.action, Action::Bet { .. }) {
            sink.borrow_mut().push(m);
            vec![]
        } else {
            vec![m]
        }
    }));
    let round = net.peers[0].session.round();
    assert!(net.run_until(1_000, |_| !held.borrow().is_empty()));
    assert!(net.run_until(1_000, |n| !n.peers[shooter_index].session.is_betting()));
    net.peers[other].tamper = None;
    let late: Vec<_> = held.borrow_mut().drain(..).collect();
    assert!(!late.is_empty());
    for m in late {
        net.broadcast(other, m);
    }
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 10));
    net.settle();
    assert_nothing_called_off(&net);
    let id = net.peers[other].id();
    for p in &net.peers {
        assert!(
            p.events
                .iter()
                .any(|e| matches!(e, Event::HeldOver { player, .. } if *player == id)),
            "the late bets waited for round {}",
            round + 1
        );
    }
    assert_agreement(&net, &[0, 1, 2]);
}

#[test]
fn a_sender_that_signs_two_versions_of_one_message_cannot_split_the_table() {
    // Equivocation: one sequence number, one bet through the relay and to
    // one peer straight, another bet straight to the other peer. A data
    // channel's copy only shows until the relay's comes, and the relay's
    // version is the one every peer counts: nobody's table differs, and no
    // round is called off.
    let mut net = Net::new(2, 14);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 2));
    let shooter = net.peers[0].session.table().shooter().unwrap();
    let liar = if net.peers[1].id() == shooter { 2 } else { 1 };
    // The liar's own session stays quiet while it lies (it would number a
    // bet of its own the same), and takes its first version itself.
    net.peers[liar].bets = false;
    // (Quiet means none of its own messages in flight either: after each
    // roll it says what state it holds, under a number of its own.)
    let liar_id = net.peers[liar].id();
    assert!(
        net.run_until(1_000_000, |n| n.peers[liar].session.is_betting()
            && n.peers[0].session.is_betting()
            && n.peers[0].session.round() == n.peers[liar].session.round()
            && n.peers[liar].session.unconfirmed() == 0
            && n.peers.iter().all(|p| p.session.next_seq_from(&liar_id)
                == n.peers[liar].session.next_seq_from(&liar_id)))
    );
    let liar_key = net.peers[liar].key.clone();
    let round = net.peers[liar].session.round();
    let seq = net.peers[liar].session.next_seq_from(&net.peers[liar].id());
    let version = |stake| {
        Message {
            game: GAME,
            round,
            seq,
            action: Action::Bet {
                kind: BetKind::Field,
                stake,
            },
        }
        .sign(&liar_key)
    };
    let (a, b) = (version(5), version(7));
    let now = net.now;
    net.peers[liar]
        .session
        .handle_relayed(now, a.clone(), now)
        .unwrap();
    net.send(3 - liar, b);
    net.send(0, a.clone());
    net.through_relay(liar, a);
    assert!(net.run_until(1_000_000, |n| n.rolls(0) >= 10));
    net.settle();
    assert_nothing_called_off(&net);
    for p in &net.peers {
        let staked = p.events.iter().any(|e| {
            matches!(e, Event::BetPlaced { player, kind: BetKind::Field, stake: 5 }
                if *player == net.peers[liar].id())
        });
        assert!(staked, "the relay's version (5 on the field) counted");
    }
    assert_agreement(&net, &[0, 1, 2]);
}
