//! The session's input checks, one typed error at a time.

use shared::craps::{BetKind, TableError};
use shared::message::{Action, Message, MessageError, SignedMessage};
use shared::session::{
    Event, ForfeitReason, GameConfig, Session, SessionError, MAX_AHEAD, TICK_GRACE,
};
use shared::SigningKey;

const GAME: [u8; 16] = [5; 16];

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn config() -> GameConfig {
    GameConfig::new(GAME, key(1).verifying_key().to_bytes(), 1_000_000)
}

fn msg(k: &SigningKey, seq: u64, round: u64, action: Action) -> shared::message::SignedMessage {
    Message {
        game: GAME,
        round,
        seq,
        action,
    }
    .sign(k)
}

#[test]
fn messages_for_another_game_or_with_bad_signatures_are_refused() {
    let mut s = Session::observer(config());
    let mut other = msg(&key(2), 1, 1, Action::Sit { buy_in: 10 });
    other.message.game = [6; 16];
    assert_eq!(s.handle_relayed(0, other, 0), Err(SessionError::WrongGame));
    let mut forged = msg(&key(2), 1, 1, Action::Sit { buy_in: 10 });
    forged.message.action = Action::Sit { buy_in: 10_000 };
    assert_eq!(
        s.handle_relayed(0, forged, 0),
        Err(SessionError::Invalid(MessageError::BadSignature))
    );
    assert!(s.table().seats().is_empty());
}

#[test]
fn a_known_sender_still_gets_every_signature_checked() {
    // The second message from a sender verifies with its cached key: a
    // forgery under that key is refused all the same.
    let mut s = Session::observer(config());
    s.handle_relayed(0, msg(&key(2), 1, 1, Action::Sit { buy_in: 100 }), 0)
        .unwrap();
    let mut forged = msg(&key(2), 2, 1, Action::BuyIn { amount: 5 });
    forged.message.action = Action::BuyIn { amount: 5_000 };
    assert_eq!(
        s.handle_relayed(0, forged, 0),
        Err(SessionError::Invalid(MessageError::BadSignature))
    );
    // Signed by another key under the known sender's name: refused.
    let mut impostor = msg(&key(3), 2, 1, Action::BuyIn { amount: 5 });
    impostor.sender = key(2).verifying_key().to_bytes();
    assert_eq!(
        s.handle_relayed(0, impostor, 0),
        Err(SessionError::Invalid(MessageError::BadSignature))
    );
    s.handle_relayed(0, msg(&key(2), 2, 1, Action::BuyIn { amount: 5 }), 0)
        .unwrap();
    assert_eq!(s.table().seats().len(), 1);
}

#[test]
fn strangers_beyond_the_key_cache_are_still_verified() {
    let mut s = Session::observer(config());
    let strangers = shared::session::MAX_KEYS as u8 + 8;
    for n in 10..10 + strangers {
        s.handle_relayed(0, msg(&key(n), 1, 1, Action::Sit { buy_in: 10 }), 0)
            .unwrap();
        let mut forged = msg(&key(n), 2, 1, Action::Leave);
        forged.message.action = Action::BuyIn { amount: 1 };
        assert_eq!(
            s.handle_relayed(0, forged, 0),
            Err(SessionError::Invalid(MessageError::BadSignature))
        );
    }
    assert_eq!(s.table().seats().len(), strangers as usize);
}

#[test]
fn duplicates_and_far_future_messages_are_refused() {
    let mut s = Session::observer(config());
    let sit = msg(&key(2), 1, 1, Action::Sit { buy_in: 100 });
    s.handle_relayed(0, sit.clone(), 0).unwrap();
    assert_eq!(
        s.handle_relayed(0, sit, 0),
        Err(SessionError::Replayed {
            seq: 1,
            expected: 2
        })
    );
    let far = msg(&key(2), 2 + MAX_AHEAD, 1, Action::Leave);
    assert!(matches!(
        s.handle_relayed(0, far, 0),
        Err(SessionError::TooFarAhead { .. })
    ));
    // An early message waits for the gap to fill, then applies.
    let bet = |seq, stake| {
        msg(
            &key(2),
            seq,
            1,
            Action::Bet {
                kind: BetKind::Field,
                stake,
            },
        )
    };
    s.handle_relayed(0, bet(3, 7), 0).unwrap();
    assert!(s.table().bets().is_empty());
    assert_eq!(
        s.handle_relayed(0, bet(3, 7), 0),
        Err(SessionError::Replayed {
            seq: 3,
            expected: 2
        })
    );
    s.handle_relayed(0, bet(2, 5), 0).unwrap();
    let me = key(2).verifying_key().to_bytes();
    assert_eq!(s.table().bets().get(&(me, BetKind::Field)), Some(&12));
}

/// Plays the relay until all is quiet: every queued message goes to every
/// session, its sender too, stamped with relay time `now`.
fn pump(sessions: &mut [&mut Session], now: u64) {
    let clocks = vec![now; sessions.len()];
    pump_with_clocks(sessions, &clocks, now);
}

/// Like [`pump`], each session reading its own clock (`clocks[i]`) while
/// the relay stamps `at`.
fn pump_with_clocks(sessions: &mut [&mut Session], clocks: &[u64], at: u64) {
    loop {
        let mut moved = false;
        for i in 0..sessions.len() {
            while let Some(m) = sessions[i].poll_transmit() {
                moved = true;
                relay(sessions, clocks, &m, at);
            }
        }
        if !moved {
            return;
        }
    }
}

/// The relay carries `m`, stamped at relay time `at`, to every session.
fn relay(sessions: &mut [&mut Session], clocks: &[u64], m: &SignedMessage, at: u64) {
    for (s, now) in sessions.iter_mut().zip(clocks) {
        let _ = s.handle_relayed(*now, m.clone(), at);
    }
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// A banker and two seated players; returns (banker, shooter, other).
fn table_of_three() -> (Session, Session, Session) {
    let mut banker = Session::new(config(), key(1), [1; 32]);
    let mut alice = Session::new(config(), key(2), [2; 32]);
    let mut carol = Session::new(config(), key(3), [3; 32]);
    alice.sit(0, 100).unwrap();
    carol.sit(0, 100).unwrap();
    pump(&mut [&mut banker, &mut alice, &mut carol], 0);
    for s in [&mut banker, &mut alice, &mut carol] {
        events(s);
    }
    if alice.table().shooter() == alice.local_id() {
        (banker, alice, carol)
    } else {
        (banker, carol, alice)
    }
}

#[test]
fn held_actions_are_judged_when_a_cut_takes_them_with_typed_errors() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    let other_id = other.local_id().unwrap();
    let other_key = if other_id == key(2).verifying_key().to_bytes() {
        key(2)
    } else {
        key(3)
    };
    // A stranger's bet, and a bet bigger than the balance: neither is
    // refused on arrival (its verdict must not depend on when it came),
    // neither shows on the table, and the roll's cut judges both.
    let stranger = msg(
        &key(9),
        1,
        1,
        Action::Bet {
            kind: BetKind::Field,
            stake: 1,
        },
    );
    let too_big = msg(
        &other_key,
        2,
        1,
        Action::Bet {
            kind: BetKind::Field,
            stake: 101,
        },
    );
    for s in [&mut banker, &mut shooter, &mut other] {
        s.handle_relayed(0, stranger.clone(), 0).unwrap();
        s.handle_relayed(0, too_big.clone(), 0).unwrap();
        assert!(s.table().bets().is_empty());
    }
    // A commitment for a round that is over is refused at once.
    let stale = msg(
        &key(9),
        2,
        0,
        Action::Commit {
            commitment: [0; 32],
            table_hash: [0; 32],
            close: None,
        },
    );
    assert_eq!(
        banker.handle_message(0, stale.clone()),
        Err(SessionError::NotRelayed),
        "a commitment counts only as the relay stamped it"
    );
    assert_eq!(
        banker.handle_relayed(0, stale, 0),
        Err(SessionError::StaleRound {
            round: 0,
            current: 1
        })
    );
    shooter.roll(10).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 10);
    assert_eq!(banker.history().len(), 1);
    assert_eq!(banker.state_hash(), shooter.state_hash());
    assert_eq!(banker.state_hash(), other.state_hash());
    let seen = events(&mut banker);
    assert!(seen.contains(&Event::Rejected {
        sender: key(9).verifying_key().to_bytes(),
        error: SessionError::Table(TableError::NotSeated),
    }));
    assert!(seen.contains(&Event::Rejected {
        sender: other_id,
        error: SessionError::Table(TableError::InsufficientBalance {
            balance: 100,
            needed: 101
        }),
    }));
    assert!(!seen.iter().any(|e| matches!(e, Event::RoundAborted { .. })));
}

#[test]
fn a_house_gone_during_betting_closes_the_table_with_every_stake_returned_alike() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    // A first roll, with bets that stay up (place 6) on the table.
    for s in [&mut shooter, &mut other] {
        s.place_bet(1, BetKind::Place(6), 12).unwrap();
    }
    pump(&mut [&mut banker, &mut shooter, &mut other], 1);
    shooter.roll(2).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 2);
    assert_eq!(banker.history().len(), 1);
    let (mut shooter, mut other) = if shooter.table().shooter() == shooter.local_id() {
        (shooter, other)
    } else {
        (other, shooter) // a seven-out passed the dice
    };
    let standing = shooter.table().bets().values().sum::<u64>();
    let bought = shooter.table().bought_in();
    // The house is gone: the shooter asks, nobody closes betting.
    shooter.roll(10).unwrap();
    let ask = shooter.poll_transmit().unwrap();
    let timeout = config().commit_timeout;
    for s in [&mut shooter, &mut other] {
        s.handle_relayed(10, ask.clone(), 10).unwrap();
        assert_eq!(
            s.deadline(),
            Some(10 + timeout),
            "the house's deadline to close"
        );
    }
    // Each player's clock says the deadline passed: its tick, stamped
    // exactly at the deadline, changes nothing; 1 ms later it closes the
    // table on both.
    other.handle_timeout(10 + timeout + TICK_GRACE);
    let tick = other.poll_transmit().expect("a tick");
    relay(
        &mut [&mut shooter, &mut other],
        &[0; 2],
        &tick,
        10 + timeout,
    );
    assert!(!shooter.is_closed());
    shooter.handle_timeout(10 + timeout + TICK_GRACE);
    let tick = shooter.poll_transmit().expect("a tick");
    relay(
        &mut [&mut shooter, &mut other],
        &[0; 2],
        &tick,
        11 + timeout,
    );
    for s in [&mut shooter, &mut other] {
        assert!(s.is_closed());
        let closed = events(s).into_iter().find_map(|e| match e {
            Event::TableClosed { reason, paid } => Some((reason, paid)),
            _ => None,
        });
        let (reason, paid) = closed.expect("the table closed");
        assert_eq!(reason, shared::session::CloseReason::HouseGone);
        assert_eq!(
            paid.iter().map(|r| r.paid).sum::<u64>(),
            standing,
            "every stake back"
        );
        assert!(s.table().bets().is_empty());
        assert_eq!(s.table().total_chips(), bought, "chips conserved");
    }
    assert_eq!(shooter.state_hash(), other.state_hash());
}

#[test]
fn the_agreed_shooters_request_is_honoured_even_when_its_leave_already_shows() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    let first = shooter.roll(1);
    assert!(first.is_ok());
    pump(&mut [&mut banker, &mut shooter, &mut other], 1);
    let (mut shooter, _other) = if shooter.table().shooter() == shooter.local_id() {
        (shooter, other)
    } else {
        (other, shooter)
    };
    // The shooter asks, then leaves; its leave reaches the house over a
    // data channel before the relay's copy of the request.
    shooter.roll(5).unwrap();
    let ask = shooter.poll_transmit().unwrap();
    shooter.handle_relayed(5, ask.clone(), 5).unwrap();
    shooter.leave(6).unwrap();
    let leave = shooter.poll_transmit().unwrap();
    banker.handle_message(6, leave).unwrap();
    assert!(
        !banker.table().is_seated(&shooter.local_id().unwrap()),
        "the leave shows"
    );
    banker.handle_relayed(7, ask, 7).unwrap();
    let close = banker.poll_transmit().expect("the house closes betting");
    assert!(matches!(
        close.message.action,
        Action::Commit { close: Some(_), .. }
    ));
}

#[test]
fn a_data_channel_copy_only_shows_until_the_relays_copy_counts() {
    let (mut banker, _shooter, other) = table_of_three();
    let other_id = other.local_id().unwrap();
    let other_key = [key(2), key(3)]
        .into_iter()
        .find(|k| k.verifying_key().to_bytes() == other_id)
        .unwrap();
    let seq = banker.next_seq_from(&other_id);
    let bet = |stake| {
        msg(
            &other_key,
            seq,
            1,
            Action::Bet {
                kind: BetKind::Field,
                stake,
            },
        )
    };
    // Straight from the player: shown at once, but it takes no number.
    banker.handle_message(0, bet(7)).unwrap();
    assert_eq!(
        banker.table().bets().get(&(other_id, BetKind::Field)),
        Some(&7)
    );
    assert_eq!(banker.next_seq_from(&other_id), seq);
    let commit = msg(
        &other_key,
        seq,
        1,
        Action::Commit {
            commitment: [0; 32],
            table_hash: [0; 32],
            close: None,
        },
    );
    assert_eq!(
        banker.handle_message(0, commit),
        Err(SessionError::NotRelayed)
    );
    // The relay carries another version under that number: it is the one
    // that counts (every peer gets it), and the shown one is gone.
    banker.handle_relayed(1, bet(5), 1).unwrap();
    assert_eq!(
        banker.table().bets().get(&(other_id, BetKind::Field)),
        Some(&5)
    );
    assert_eq!(banker.next_seq_from(&other_id), seq + 1);
    assert!(matches!(
        banker.handle_message(2, bet(7)),
        Err(SessionError::Replayed { .. })
    ));
}

#[test]
fn a_session_rebuilt_without_its_own_last_messages_never_reuses_their_numbers() {
    let (mut banker, mut shooter, _other) = table_of_three();
    let me = shooter.local_id().unwrap();
    let next = shooter.next_seq_from(&me);
    // Sent before the rebuild, not yet back from the relay: two bets.
    shooter.own_sent_through(0, next + 1);
    shooter.place_bet(1, BetKind::Field, 5).unwrap();
    let bet = shooter.poll_transmit().unwrap();
    assert_eq!(bet.message.seq, next + 2);
    // The relay carries the one numbered next first: the new bet waits
    // for both, and nothing is refused for its number.
    let _ = banker.handle_relayed(1, bet, 1);
    assert_eq!(banker.pending(), 1, "waits for the two sent before");
}

#[test]
fn a_bet_that_crosses_the_roll_waits_for_the_next_round() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    let other_id = other.local_id().unwrap();
    // The other player bets while the shooter rolls: the bet shows at the
    // banker straight away (a data channel), but the relay carries it only
    // after the banker's closing commitment, so the banker's cut (what the
    // relay has carried) leaves it out; the shooter sees it only during
    // the roll.
    other.place_bet(100, BetKind::Field, 10).unwrap();
    let bet = other.poll_transmit().unwrap();
    shooter.roll(100).unwrap();
    let ask = shooter.poll_transmit().unwrap();
    banker.handle_message(101, bet.clone()).unwrap();
    banker.handle_relayed(101, ask.clone(), 101).unwrap();
    let close = banker.poll_transmit().expect("the banker closes betting");
    for (m, at) in [(close, 102), (bet, 103), (ask, 104)] {
        for s in [&mut banker, &mut shooter, &mut other] {
            let _ = s.handle_relayed(at, m.clone(), at);
        }
    }
    pump(&mut [&mut banker, &mut shooter, &mut other], 105);
    let mut seen = Vec::new();
    for s in [&mut banker, &mut shooter, &mut other] {
        assert_eq!(s.history().len(), 1, "the roll completed");
        seen.push(events(s));
    }
    for e in &seen {
        assert!(
            !e.iter().any(|e| matches!(e, Event::RoundAborted { .. })),
            "{e:?}"
        );
    }
    assert!(seen[2].contains(&Event::HeldOver {
        player: other_id,
        count: 1
    }));
    assert!(seen[0].contains(&Event::HeldOver {
        player: other_id,
        count: 1
    }));
    assert_eq!(banker.state_hash(), shooter.state_hash());
    assert_eq!(banker.state_hash(), other.state_hash());
    let first = &banker.history()[0];
    assert!(!first
        .settlement
        .results
        .iter()
        .any(|r| r.player == other_id));
    // Shown on every table now, and in the next roll.
    for s in [&banker, &shooter, &other] {
        assert_eq!(s.table().bets().get(&(other_id, BetKind::Field)), Some(&10));
    }
    if shooter.table().shooter() != shooter.local_id() {
        // A seven-out passed the dice.
        std::mem::swap(&mut shooter, &mut other);
    }
    shooter.roll(200).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 200);
    let second = &banker.history()[1];
    assert!(second
        .settlement
        .results
        .iter()
        .any(|r| r.player == other_id && r.kind == BetKind::Field && r.stake == 10));
    assert_eq!(banker.state_hash(), shooter.state_hash());
    assert_eq!(banker.state_hash(), other.state_hash());
    let table = banker.table();
    assert_eq!(table.total_chips(), table.bought_in());
}

#[test]
fn local_actions_that_are_refused_send_nothing() {
    let mut player = Session::new(config(), key(2), [3; 32]);
    assert_eq!(
        player.place_bet(0, BetKind::Field, 5),
        Err(SessionError::Table(TableError::NotSeated))
    );
    assert!(player.poll_transmit().is_none());
    player.sit(0, 50).unwrap();
    assert!(player.poll_transmit().is_some());
    assert_eq!(
        player.place_bet(0, BetKind::Place(6), 5),
        Err(SessionError::Table(TableError::NotMultiple { unit: 6 }))
    );
    assert!(player.poll_transmit().is_none());
    // The refused bet consumed no sequence number: the next one is seq 2.
    player.place_bet(0, BetKind::Field, 5).unwrap();
    assert_eq!(player.poll_transmit().unwrap().message.seq, 2);
    let mut banker = Session::new(config(), key(1), [4; 32]);
    assert_eq!(banker.roll(0), Err(SessionError::NotShooter));
    let mut observer = Session::observer(config());
    assert_eq!(observer.sit(0, 1), Err(SessionError::ObserverOnly));
}

#[test]
fn deadlines_are_judged_on_the_relays_clock_alike_whatever_the_peers_clocks_say() {
    // The banker's clock is the relay's; Alice's is 1,000,000 ms ahead;
    // Bob is scripted by hand. Nothing but the relay's stamps decides.
    let mut banker = Session::new(config(), key(1), [1; 32]);
    let mut alice = Session::new(config(), key(2), [2; 32]);
    let bob = key(3);
    let bob_id = bob.verifying_key().to_bytes();
    let ahead = 1_000_000;
    let clocks = |relay: u64| [relay, relay + ahead];
    let timeout = config().commit_timeout;
    let bob_says = |seq, round, action| msg(&bob, seq, round, action);
    alice.sit(ahead, 100).unwrap();
    for m in [
        bob_says(1, 1, Action::Sit { buy_in: 100 }),
        bob_says(
            2,
            1,
            Action::Bet {
                kind: BetKind::Field,
                stake: 10,
            },
        ),
    ] {
        relay(&mut [&mut banker, &mut alice], &clocks(0), &m, 0);
    }
    pump_with_clocks(&mut [&mut banker, &mut alice], &clocks(0), 0);
    // Seats sort by key, and Alice's key sorts before Bob's: she shoots.
    assert_eq!(banker.table().shooter(), alice.local_id());
    alice.roll(10 + ahead).unwrap();
    // The banker closes betting at relay time 10; both commit.
    pump_with_clocks(&mut [&mut banker, &mut alice], &clocks(10), 10);
    for s in [&banker, &alice] {
        assert_eq!(
            s.deadline(),
            Some(10 + timeout),
            "one deadline, in relay time"
        );
    }
    // Each peer asks for the relay's time a little after the deadline on
    // its own clock.
    assert_eq!(banker.poll_timeout(), Some(10 + timeout + TICK_GRACE));
    assert_eq!(
        alice.poll_timeout(),
        Some(10 + ahead + timeout + TICK_GRACE)
    );
    // Bob commits exactly at the deadline: in time, on both.
    let commitment = shared::commit_reveal::commitment(&GAME, 1, &bob_id, &[7; 32]);
    let table_hash =
        match banker
            .transcript()
            .iter()
            .rev()
            .find_map(|e| match e.message.message.action {
                Action::Commit { table_hash, .. } => Some(table_hash),
                _ => None,
            }) {
            Some(hash) => hash,
            None => panic!("the banker committed"),
        };
    let bob_commit = bob_says(
        3,
        1,
        Action::Commit {
            commitment,
            table_hash,
            close: None,
        },
    );
    assert_eq!(
        banker.handle_message(10 + timeout, bob_commit.clone()),
        Err(SessionError::NotRelayed)
    );
    relay(
        &mut [&mut banker, &mut alice],
        &clocks(10 + timeout),
        &bob_commit,
        10 + timeout,
    );
    // The reveals open at the last commitment's relay time; Alice and the
    // banker reveal; Bob does not.
    pump_with_clocks(
        &mut [&mut banker, &mut alice],
        &clocks(10 + timeout),
        10 + timeout,
    );
    let reveal_deadline = 10 + timeout + config().reveal_timeout;
    for s in [&banker, &alice] {
        assert_eq!(s.deadline(), Some(reveal_deadline));
    }
    // Alice's clock runs far ahead: her tick goes at once, but the relay
    // stamps it at the deadline itself, which is still in time: nothing
    // changes, and she asks again later.
    let her_clock = 20 + timeout + ahead;
    alice.handle_timeout(her_clock + config().reveal_timeout + TICK_GRACE);
    let tick = alice.poll_transmit().expect("a tick");
    assert_eq!(tick.message.action, Action::Tick);
    relay(
        &mut [&mut banker, &mut alice],
        &clocks(reveal_deadline),
        &tick,
        reveal_deadline,
    );
    for s in [&banker, &alice] {
        assert!(s.history().is_empty(), "not past the deadline yet");
    }
    assert!(alice
        .poll_timeout()
        .is_some_and(|t| t > her_clock + config().reveal_timeout));
    // The banker's tick, stamped 1 ms later, ends the phase on both.
    banker.handle_timeout(reveal_deadline + TICK_GRACE);
    let tick = banker.poll_transmit().expect("a tick");
    relay(
        &mut [&mut banker, &mut alice],
        &clocks(reveal_deadline + 1),
        &tick,
        reveal_deadline + 1,
    );
    pump_with_clocks(
        &mut [&mut banker, &mut alice],
        &clocks(reveal_deadline + 1),
        reveal_deadline + 1,
    );
    for s in [&banker, &alice] {
        assert_eq!(s.history().len(), 1, "the roll completed without Bob");
        assert_eq!(
            s.history()[0].forfeited,
            vec![(bob_id, ForfeitReason::NoReveal)]
        );
        assert_eq!(s.table().departed().get(&bob_id), Some(&90));
    }
    assert_eq!(alice.state_hash(), banker.state_hash());
    // Bob's reveal, one step too late, is refused alike.
    let late = bob_says(4, 1, Action::Reveal { secret: [7; 32] });
    for s in [&mut banker, &mut alice] {
        assert!(s
            .handle_relayed(0, late.clone(), reveal_deadline + 2)
            .is_err());
    }
    assert_eq!(alice.state_hash(), banker.state_hash());
    // Both transcripts replay to the same verdicts.
    for s in [&banker, &alice] {
        let verified = shared::verify::verify(config(), s.transcript()).unwrap();
        assert_eq!(verified.state_hash, s.state_hash());
    }
}

#[test]
fn a_commitment_past_the_deadline_forfeits_on_every_peer_alike() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    let other_id = other.local_id().unwrap();
    // A stake: the other player takes part in the dice.
    other.place_bet(5, BetKind::Field, 5).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 5);
    shooter.roll(10).unwrap();
    // The relay stamps the request and the banker's close at 10.
    pump(&mut [&mut banker, &mut shooter], 10);
    // The other player's peer gets it all late, and commits: the relay
    // stamps its commitment after the deadline (its link was slow).
    let timeout = config().commit_timeout;
    for e in banker.transcript().to_vec() {
        let _ = other.handle_relayed(10 + timeout, e.message, e.relayed_at.unwrap_or(0));
    }
    let late = std::iter::from_fn(|| other.poll_transmit())
        .find(|m| matches!(m.message.action, Action::Commit { .. }))
        .expect("a commitment");
    // Meanwhile the banker's tick, stamped 1 ms past the deadline, came first.
    banker.handle_timeout(10 + timeout + TICK_GRACE);
    let tick = banker.poll_transmit().expect("a tick");
    let clocks = [10 + timeout + TICK_GRACE; 3];
    relay(
        &mut [&mut banker, &mut shooter, &mut other],
        &clocks,
        &tick,
        11 + timeout,
    );
    relay(
        &mut [&mut banker, &mut shooter, &mut other],
        &clocks,
        &late,
        12 + timeout,
    );
    pump_with_clocks(
        &mut [&mut banker, &mut shooter, &mut other],
        &clocks,
        13 + timeout,
    );
    for s in [&banker, &shooter, &other] {
        assert_eq!(s.history().len(), 1);
        assert_eq!(
            s.history()[0].forfeited,
            vec![(other_id, ForfeitReason::NoCommit)]
        );
    }
    assert_eq!(banker.state_hash(), shooter.state_hash());
    assert_eq!(
        banker.state_hash(),
        other.state_hash(),
        "the late peer agrees it was late"
    );
}

#[test]
fn a_table_configuration_round_trips_and_rejects_junk() {
    let mut config = config();
    config.commit_timeout = 1234;
    let bytes = config.encode();
    assert_eq!(bytes.len(), shared::session::CONFIG_LEN);
    assert_eq!(GameConfig::decode(&bytes), Ok(config));
    assert!(GameConfig::decode(&bytes[1..]).is_err());
    let mut bad_field = bytes.clone();
    bad_field[16 + 16 + 4] = 7; // field pays 7:1 on 12
    assert!(GameConfig::decode(&bad_field).is_err());
}

#[test]
fn a_shooter_who_does_not_roll_in_time_loses_the_dice_on_every_peer() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    shooter.roll(0).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 0);
    assert_eq!(banker.history().len(), 1);
    let (was, next) = (shooter.local_id().unwrap(), other.local_id().unwrap());
    if banker.table().shooter() != Some(was) {
        return; // a seven-out passed the dice already (not with these keys)
    }
    // The banker passes the dice; everyone else only watches the house's
    // deadline, a minute after the shooter's.
    let house_due = config().shooter_timeout + shared::session::HOUSE_ANSWER_MS;
    assert_eq!(shooter.poll_timeout(), Some(house_due + TICK_GRACE));
    assert_eq!(shooter.deadline(), Some(house_due));
    let at = banker
        .poll_timeout()
        .expect("the banker's shooter deadline");
    assert_eq!(at, config().shooter_timeout);
    banker.handle_timeout(at - 1);
    assert!(banker.poll_transmit().is_none(), "not before the deadline");
    banker.handle_timeout(at);
    let pass = banker.poll_transmit().expect("the dice pass");
    assert_eq!(pass.message.action, Action::PassDice);
    // The old shooter asks to roll at the same moment: the requests cross.
    shooter.roll(at).unwrap();
    let late = shooter.poll_transmit().unwrap();
    for s in [&mut banker, &mut shooter, &mut other] {
        s.handle_relayed(at, pass.clone(), at).unwrap();
    }
    for s in [&mut banker, &mut shooter, &mut other] {
        s.handle_relayed(at, late.clone(), at).unwrap();
    }
    pump(&mut [&mut banker, &mut shooter, &mut other], at);
    for s in [&mut banker, &mut shooter, &mut other] {
        assert_eq!(s.table().shooter(), Some(next));
        assert!(s.is_betting(), "the late request rolled nothing");
        assert!(events(s).contains(&Event::DicePassed {
            from: was,
            to: next
        }));
    }
    assert_eq!(banker.state_hash(), other.state_hash());
    // Only the banker passes the dice; a player's PassDice is refused.
    let forged = msg(&key(9), 1, 2, Action::PassDice);
    assert_eq!(
        banker.handle_relayed(at, forged, at),
        Err(SessionError::NotBanker)
    );
    // The new shooter rolls.
    other.roll(at + 1).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], at + 1);
    assert_eq!(banker.history().len(), 2);
    assert_eq!(banker.state_hash(), shooter.state_hash());
}

#[test]
fn a_flood_of_strangers_cannot_crowd_out_a_players_early_messages() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    shooter.roll(0).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 0);
    // 40 throwaway keys, each sending 63 messages "ahead" of a gap.
    let mut refused = 0;
    for n in 0..40u8 {
        for seq in 2..65 {
            let junk = msg(&key(100 + n), seq, 2, Action::BuyIn { amount: 1 });
            refused += usize::from(banker.handle_relayed(0, junk, 0).is_err());
        }
    }
    assert!(banker.pending() <= shared::session::MAX_STRANGERS_PENDING);
    assert!(refused >= 40 * 63 - shared::session::MAX_STRANGERS_PENDING);
    // A seated player's messages, the second before the first, still wait
    // for their turn and apply.
    other.buy_in(1, 5).unwrap();
    other.buy_in(1, 7).unwrap();
    let first = other.poll_transmit().unwrap();
    let second = other.poll_transmit().unwrap();
    banker.handle_relayed(1, second, 1).unwrap();
    banker.handle_relayed(1, first, 1).unwrap();
    assert_eq!(banker.held_count(&other.local_id().unwrap()), 2);
    assert_eq!(
        banker.table().balance(&other.local_id().unwrap()),
        other.table().balance(&other.local_id().unwrap())
    );
}

#[test]
fn a_line_bet_the_bank_cannot_pay_is_refused_and_the_table_plays_on() {
    let small = GameConfig::new(GAME, key(1).verifying_key().to_bytes(), 50);
    let mut banker = Session::new(small, key(1), [1; 32]);
    let mut alice = Session::new(small, key(2), [2; 32]);
    let mut carol = Session::new(small, key(3), [3; 32]);
    for s in [&mut alice, &mut carol] {
        s.sit(0, 1_000).unwrap();
    }
    pump(&mut [&mut banker, &mut alice, &mut carol], 0);
    // Each player's page sees only its own bet against the bankroll: both
    // 30-chip pass line bets pass their own check, together they are more
    // than the bank can pay on a 7.
    alice.place_bet(1, BetKind::PassLine, 30).unwrap();
    carol.place_bet(1, BetKind::PassLine, 30).unwrap();
    let (a, c) = (
        alice.poll_transmit().unwrap(),
        carol.poll_transmit().unwrap(),
    );
    banker.handle_message(1, a.clone()).unwrap();
    banker.handle_message(1, c.clone()).unwrap();
    alice.handle_message(1, c.clone()).unwrap();
    carol.handle_message(1, a.clone()).unwrap();
    // (The relay's copies follow the data channels'.)
    for m in [a, c] {
        relay(&mut [&mut banker, &mut alice, &mut carol], &[1; 3], &m, 1);
    }
    let shooter = if alice.table().shooter() == alice.local_id() {
        &mut alice
    } else {
        &mut carol
    };
    shooter.roll(2).unwrap();
    pump(&mut [&mut banker, &mut alice, &mut carol], 2);
    assert!(!banker.is_closed(), "the table plays on");
    assert_eq!(banker.history().len(), 1);
    let refused = events(&mut banker)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::Rejected {
                    error: SessionError::Table(TableError::BankerCannotCover { .. }),
                    ..
                }
            )
        })
        .count();
    assert_eq!(refused, 1, "the later of the two (in key order) is refused");
    assert_eq!(banker.state_hash(), alice.state_hash());
    assert_eq!(banker.state_hash(), carol.state_hash());
    let t = banker.table();
    assert_eq!(t.total_chips(), t.bought_in());
}

#[test]
fn a_roll_asked_for_before_the_banker_knows_its_sender_shoots_is_granted() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    // The shooter leaves; the next player sees it first and asks to roll;
    // the banker gets the request before the leave.
    shooter.leave(0).unwrap();
    let leave = shooter.poll_transmit().unwrap();
    other.handle_message(1, leave.clone()).unwrap();
    assert_eq!(other.table().shooter(), other.local_id());
    other.roll(2).unwrap();
    let ask = other.poll_transmit().unwrap();
    banker.handle_relayed(3, ask.clone(), 3).unwrap();
    assert!(banker.poll_transmit().is_none(), "not the shooter yet");
    banker.handle_relayed(4, leave.clone(), 4).unwrap();
    // The banker closes betting as soon as the leave makes the asker the
    // shooter (its closing commitment counts as the relay stamps it).
    let close = banker.poll_transmit().expect("the banker closes betting");
    assert!(matches!(
        close.message.action,
        Action::Commit { close: Some(_), .. }
    ));
    for m in [leave, ask, close] {
        relay(&mut [&mut banker, &mut shooter, &mut other], &[5; 3], &m, 5);
    }
    assert!(!banker.is_betting());
    pump(&mut [&mut banker, &mut shooter, &mut other], 5);
    assert_eq!(banker.history().len(), 1);
    assert_eq!(banker.state_hash(), other.state_hash());
}

/// Both players' tables closed because the house was gone, alike, with
/// every stake back and every chip accounted for.
fn assert_closed_as_house_gone(a: &mut Session, b: &mut Session) {
    for s in [&mut *a, &mut *b] {
        assert!(s.is_closed());
        assert!(events(s).iter().any(|e| matches!(
            e,
            Event::TableClosed {
                reason: shared::session::CloseReason::HouseGone,
                ..
            }
        )));
        assert_eq!(s.table().total_chips(), s.table().bought_in());
        assert!(s.table().bets().is_empty(), "every stake back");
    }
    assert_eq!(a.state_hash(), b.state_hash());
}

/// A banker and two players who sat at relay time `at`, before any roll
/// (nobody sits at the agreed table yet); returns (banker, shooter, other).
fn first_round_of_three(at: u64) -> (Session, Session, Session) {
    let mut banker = Session::new(config(), key(1), [1; 32]);
    let mut alice = Session::new(config(), key(2), [2; 32]);
    let mut carol = Session::new(config(), key(3), [3; 32]);
    alice.sit(at, 100).unwrap();
    carol.sit(at, 100).unwrap();
    pump(&mut [&mut banker, &mut alice, &mut carol], at);
    for s in [&mut banker, &mut alice, &mut carol] {
        events(s);
    }
    assert_eq!(alice.table().shooter(), carol.table().shooter());
    // Every peer, the ones whose own seats came back from the relay too,
    // counts the house's deadline from the same relay time.
    let due = at + config().shooter_timeout + shared::session::HOUSE_ANSWER_MS;
    for s in [&banker, &alice, &carol] {
        assert_eq!(s.deadline(), Some(due));
    }
    if alice.table().shooter() == alice.local_id() {
        (banker, alice, carol)
    } else {
        (banker, carol, alice)
    }
}

#[test]
fn a_first_shooter_who_does_not_roll_in_time_loses_the_dice_before_any_roll() {
    let (mut banker, mut shooter, mut other) = first_round_of_three(1_000_000);
    let (was, next) = (shooter.local_id().unwrap(), other.local_id().unwrap());
    // The deadline counts from when the players sat (the banker's clock,
    // and the relay's, read 1,000,000 then: a clock far from zero, as the
    // relay's always is).
    let at = banker
        .poll_timeout()
        .expect("the banker's shooter deadline");
    assert_eq!(at, 1_000_000 + config().shooter_timeout);
    banker.handle_timeout(at - 1);
    assert!(banker.poll_transmit().is_none(), "not before the deadline");
    banker.handle_timeout(at);
    let pass = banker.poll_transmit().expect("the dice pass");
    assert_eq!(pass.message.action, Action::PassDice);
    relay(
        &mut [&mut banker, &mut shooter, &mut other],
        &[at; 3],
        &pass,
        at,
    );
    for s in [&mut banker, &mut shooter, &mut other] {
        assert_eq!(s.table().shooter(), Some(next), "the dice passed alike");
        assert!(events(s).contains(&Event::DicePassed {
            from: was,
            to: next
        }));
    }
    assert_eq!(shooter.roll(at + 1), Err(SessionError::NotShooter));
    // The new shooter rolls the first roll, and keeps the dice for the
    // next (a come-out roll never sevens out).
    other.roll(at + 1).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], at + 1);
    assert_eq!(banker.history().len(), 1);
    for s in [&banker, &shooter, &other] {
        assert_eq!(s.table().shooter(), Some(next));
        assert_eq!(s.state_hash(), banker.state_hash());
    }
    // The next deadline counts from that roll.
    assert_eq!(
        banker.poll_timeout(),
        Some(at + 1 + config().shooter_timeout)
    );
}

#[test]
fn a_house_gone_before_the_first_roll_closes_the_table_alike() {
    let (_banker, mut shooter, mut other) = first_round_of_three(0);
    // The house is gone: the first shooter asks, nobody closes betting.
    shooter.roll(10).unwrap();
    let ask = shooter.poll_transmit().unwrap();
    let timeout = config().commit_timeout;
    for s in [&mut shooter, &mut other] {
        s.handle_relayed(10, ask.clone(), 10).unwrap();
        assert_eq!(s.deadline(), Some(10 + timeout), "the house's deadline");
    }
    other.handle_timeout(10 + timeout + TICK_GRACE);
    let tick = other.poll_transmit().expect("a tick");
    relay(
        &mut [&mut shooter, &mut other],
        &[0; 2],
        &tick,
        11 + timeout,
    );
    assert_closed_as_house_gone(&mut shooter, &mut other);
    // A request from someone who is not the first shooter opens no
    // deadline (only the house's own, for passing idle dice).
    let (_banker, _shooter, mut other) = first_round_of_three(0);
    let forged = msg(&key(9), 1, 1, Action::Roll);
    other.handle_relayed(10, forged, 10).unwrap();
    let house_due = config().shooter_timeout + shared::session::HOUSE_ANSWER_MS;
    assert_eq!(other.deadline(), Some(house_due));
}

#[test]
fn a_house_gone_while_nobody_rolls_closes_the_table_alike_and_a_present_one_keeps_it_open() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    shooter.roll(0).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 0);
    assert_eq!(banker.history().len(), 1);
    for s in [&mut banker, &mut shooter, &mut other] {
        events(s);
    }
    let due = config().shooter_timeout + shared::session::HOUSE_ANSWER_MS;
    // A present house passes an idle shooter's dice in time, round after
    // round: the table stays open however long nobody rolls.
    let mut now = 0;
    for _ in 0..3 {
        let pass = banker.poll_timeout().unwrap();
        assert_eq!(pass, now + config().shooter_timeout, "the banker's pass");
        now = pass;
        for s in [&mut banker, &mut shooter, &mut other] {
            s.handle_timeout(now);
        }
        pump(&mut [&mut banker, &mut shooter, &mut other], now);
        for s in [&banker, &shooter, &other] {
            assert!(!s.is_closed(), "a present house keeps the table");
        }
    }
    // The house goes (its tab closed): nobody presses Roll. At the house's
    // deadline, on their own clocks, the players ask for the relay's time,
    // and the table closes on both alike with every stake returned.
    let at = shooter.poll_timeout().unwrap();
    assert_eq!(
        at,
        now + due + TICK_GRACE,
        "the bound: shooter's wait + a minute"
    );
    other.handle_timeout(at - TICK_GRACE - 1);
    assert!(
        other.poll_transmit().is_none(),
        "nothing before the deadline"
    );
    shooter.handle_timeout(at);
    let tick = shooter.poll_transmit().expect("a tick");
    assert_eq!(tick.message.action, Action::Tick);
    relay(&mut [&mut shooter, &mut other], &[at; 2], &tick, at);
    assert_closed_as_house_gone(&mut shooter, &mut other);
}

#[test]
fn a_lone_player_keeps_a_present_house_but_not_a_gone_one() {
    let mut banker = Session::new(config(), key(1), [1; 32]);
    let mut alice = Session::new(config(), key(2), [2; 32]);
    alice.sit(0, 100).unwrap();
    pump(&mut [&mut banker, &mut alice], 0);
    // The banker passes the dice back to the only player (no news for
    // her) to show it is there.
    let at = banker.poll_timeout().expect("the banker's pass");
    assert_eq!(at, config().shooter_timeout);
    banker.handle_timeout(at);
    pump(&mut [&mut banker, &mut alice], at);
    assert!(!events(&mut alice)
        .iter()
        .any(|e| matches!(e, Event::DicePassed { .. })));
    assert_eq!(alice.table().shooter(), alice.local_id());
    let due = at + config().shooter_timeout + shared::session::HOUSE_ANSWER_MS;
    assert_eq!(alice.deadline(), Some(due), "counted again from the pass");
    // Then the house is gone.
    alice.handle_timeout(due + TICK_GRACE);
    let tick = alice.poll_transmit().expect("a tick");
    // (The tick itself comes to a closed table.)
    let _ = alice.handle_relayed(due + TICK_GRACE, tick, due + 1);
    assert!(alice.is_closed());
}

#[test]
fn a_name_reaches_every_peer_in_the_relays_order_and_a_bad_one_is_refused() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    let id = shooter.local_id().unwrap();
    assert_eq!(
        shooter.set_name(1, "x".repeat(25).as_str()),
        Err(SessionError::Invalid(MessageError::BadName))
    );
    assert!(shooter.poll_transmit().is_none(), "nothing sent");
    shooter.set_name(1, "Zoë").unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 1);
    for s in [&mut banker, &mut shooter, &mut other] {
        assert_eq!(s.name_of(&id), Some("Zoë"));
        assert!(events(s).contains(&Event::Named {
            player: id,
            name: "Zoë".into()
        }));
    }
    // A new name replaces the old; the table and its hash do not change.
    let hash = banker.state_hash();
    shooter.set_name(2, "Zoë B").unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 2);
    assert_eq!(banker.name_of(&id), Some("Zoë B"));
    assert_eq!(banker.state_hash(), hash);
    // Whoever replays the transcript learns the names too.
    let mut replayed = Session::observer(config());
    for entry in banker.transcript() {
        let _ = replayed.replay(3, entry);
    }
    assert!(replayed.names().eq(banker.names()));
}

#[test]
fn once_the_shooter_asks_the_house_has_the_commit_deadline_whatever_the_idle_one() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    let idle_due = config().shooter_timeout + shared::session::HOUSE_ANSWER_MS;
    assert_eq!(other.deadline(), Some(idle_due));
    // The shooter asks just before the idle deadline: the house now has
    // the whole commit deadline from the request.
    let asked = idle_due - 100;
    shooter.roll(asked).unwrap();
    let ask = shooter.poll_transmit().unwrap();
    for s in [&mut shooter, &mut other] {
        s.handle_relayed(asked, ask.clone(), asked).unwrap();
        assert_eq!(s.deadline(), Some(asked + config().commit_timeout));
    }
    // A banker that closes 200 ms later (past the idle deadline) rolls.
    banker.handle_relayed(asked + 200, ask, asked).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], asked + 200);
    for s in [&banker, &shooter, &other] {
        assert!(!s.is_closed());
        assert_eq!(s.history().len(), 1);
    }
}

#[test]
fn every_peer_knows_when_the_shooter_should_roll() {
    let (mut banker, mut shooter, mut other) = table_of_three();
    shooter.roll(5_000).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 5_000);
    assert_eq!(banker.history().len(), 1);
    let due = 5_000 + config().shooter_timeout;
    for s in [&banker, &shooter, &other] {
        assert_eq!(s.shooter_due(), Some(due), "the same on every peer");
    }
    // Read on this peer's own clock: the last relay time seen plus what
    // its clock counted since.
    assert_eq!(other.relay_now(5_000 + 1_234), 6_234);
    // Once the shooter asks, no countdown.
    let who = if banker.table().shooter() == shooter.local_id() {
        &mut shooter
    } else {
        &mut other
    };
    who.roll(6_000).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 6_000);
    assert!(shooter.shooter_due() != Some(due));
}

#[test]
fn previews_out_of_turn_and_a_flood_of_strangers_show_the_table_the_relays_order_makes() {
    let (mut banker, _shooter, mut other) = table_of_three();
    let other_id = other.local_id().unwrap();
    // Twenty throwaway keys, ten actions each, wait among the held ones
    // (none of them seated: they change nothing shown).
    for n in 0..20u8 {
        for seq in 1..=10 {
            let junk = msg(&key(150 + n), seq, 1, Action::BuyIn { amount: 1 });
            let _ = banker.handle_relayed(0, junk, 0);
        }
    }
    // The player buys in, then bets more than it had before the buy-in.
    other.buy_in(0, 50).unwrap();
    other
        .place_bet(0, BetKind::Place(6), 120)
        .expect("the bet fits after the buy-in");
    let buy = other.poll_transmit().unwrap();
    let bet = other.poll_transmit().unwrap();
    // The bet comes straight first: alone it does not fit, so it shows
    // nothing yet.
    banker.handle_message(0, bet.clone()).unwrap();
    assert_eq!(
        banker.table().bets().get(&(other_id, BetKind::Place(6))),
        None
    );
    // The relay's buy-in: the bet shown after it now fits.
    banker.handle_relayed(1, buy, 1).unwrap();
    assert_eq!(
        banker.table().bets().get(&(other_id, BetKind::Place(6))),
        Some(&120)
    );
    assert_eq!(banker.table().balance(&other_id), Some(30));
    // The relay's copy of the bet: shown once, not twice.
    banker.handle_relayed(2, bet, 2).unwrap();
    assert_eq!(
        banker.table().bets().get(&(other_id, BetKind::Place(6))),
        Some(&120)
    );
    assert_eq!(banker.table(), other.table());
}

#[test]
fn sit_downs_past_the_open_seats_wait_and_a_cut_with_more_is_refused_alike() {
    use shared::craps::{SEAT_CREDIT_MAX, SEAT_EVERY};
    use shared::message::Cut;
    let (mut banker, mut shooter, mut other) = table_of_three();
    // Two seats taken: the table has room for this many more now.
    let open = ((SEAT_CREDIT_MAX - 2 * SEAT_EVERY) / SEAT_EVERY) as usize;
    assert_eq!(
        banker.table().open_seats() as usize,
        open + 2,
        "(tentative)"
    );
    let strangers: Vec<SigningKey> = (0..open as u8 + 4).map(|n| key(100 + n)).collect();
    for k in &strangers {
        let sit = msg(k, 1, 1, Action::Sit { buy_in: 10 });
        for s in [&mut banker, &mut shooter, &mut other] {
            s.handle_relayed(0, sit.clone(), 0).unwrap();
        }
    }
    // A cut that takes every one of them in, signed by the house but not
    // made as the house makes it: the ones past the open seats are
    // refused, alike on every peer, with a typed error.
    let players = [shooter.local_id().unwrap(), other.local_id().unwrap()];
    let mut peers = [shooter, other];
    let cut = Cut::new(
        strangers
            .iter()
            .map(|k| (k.verifying_key().to_bytes(), 1))
            .chain(players.iter().map(|p| (*p, 1)))
            .collect(),
    )
    .unwrap();
    let greedy = msg(
        &key(1),
        peers[0].next_seq_from(&key(1).verifying_key().to_bytes()),
        1,
        Action::Commit {
            commitment: [7; 32],
            table_hash: [7; 32],
            close: Some(cut),
        },
    );
    let mut tables = Vec::new();
    for s in &mut peers {
        events(s);
        s.handle_relayed(5, greedy.clone(), 5).unwrap();
        let seen = events(s);
        let refused = seen
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Rejected {
                        error: SessionError::Table(TableError::NoSeatOpen),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(refused, 4, "{seen:?}");
        assert_eq!(s.table().seats().len(), 2 + open);
        assert_eq!(s.table().open_seats(), 0);
        tables.push(s.table().clone());
    }
    assert_eq!(tables[0], tables[1]);
    // The house's own cut takes in as many as there are open seats, the
    // first to come first; the rest wait for later rolls, one per
    // SEAT_EVERY rolls.
    let (mut banker, mut shooter, mut other) = table_of_three();
    shooter.roll(0).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 0);
    let open = banker.table().open_seats() as usize;
    assert!(open < strangers.len());
    for k in &strangers {
        let sit = msg(k, 1, 2, Action::Sit { buy_in: 10 });
        for s in [&mut banker, &mut shooter, &mut other] {
            s.handle_relayed(0, sit.clone(), 0).unwrap();
        }
    }
    events(&mut banker);
    if shooter.table().shooter() == shooter.local_id() {
        shooter.roll(10).unwrap();
    } else {
        other.roll(10).unwrap();
    }
    pump(&mut [&mut banker, &mut shooter, &mut other], 10);
    let seen = events(&mut banker);
    let sat: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Sat { player, .. } => Some(*player),
            _ => None,
        })
        .collect();
    let first: Vec<_> = strangers[..open]
        .iter()
        .map(|k| k.verifying_key().to_bytes())
        .collect();
    assert_eq!(sat.len(), open, "{seen:?}");
    assert!(
        first.iter().all(|p| sat.contains(p)),
        "first come, first seated"
    );
    for k in &strangers[open..] {
        assert_eq!(banker.held_count(&k.verifying_key().to_bytes()), 1, "waits");
    }
}

#[test]
fn a_flood_of_newcomers_is_bounded_in_total_and_a_players_bet_still_shows_at_once() {
    use shared::session::{MAX_NEWCOMERS_HELD, MAX_STRANGERS_PENDING};
    let (mut banker, mut shooter, mut other) = table_of_three();
    shooter.roll(0).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 0);
    let flood = MAX_NEWCOMERS_HELD + MAX_STRANGERS_PENDING + 60;
    let mut refused = 0;
    let mut held = 0;
    for n in 0..flood as u32 {
        let mut bytes = [0x5A; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        let k = SigningKey::from_bytes(&bytes);
        let sit = msg(&k, 1, 2, Action::Sit { buy_in: 10 });
        match banker.handle_relayed(0, sit, 0) {
            Ok(()) => {}
            Err(SessionError::TooFarAhead { .. }) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
        held += banker.held_count(&k.verifying_key().to_bytes());
    }
    // All the flood can make a peer keep: the newcomers' share of the held
    // actions and the strangers' share of the early buffer; the rest is
    // refused.
    assert_eq!(held, MAX_NEWCOMERS_HELD);
    assert_eq!(banker.pending(), MAX_STRANGERS_PENDING);
    assert_eq!(refused, 60);
    // A seated player is not a newcomer: its bet is taken and shows.
    let id = other.local_id().unwrap();
    other.place_bet(1, BetKind::Field, 5).unwrap();
    let bet = other.poll_transmit().unwrap();
    banker.handle_relayed(1, bet, 1).unwrap();
    assert_eq!(banker.held_count(&id), 1);
    assert_eq!(banker.table().bets().get(&(id, BetKind::Field)), Some(&5));
}

#[test]
fn every_refusal_has_a_stable_code_for_programs() {
    use shared::peer::PeerError;
    assert_eq!(
        TableError::InsufficientBalance {
            balance: 1,
            needed: 2
        }
        .code(),
        "insufficient-balance"
    );
    assert_eq!(SessionError::BettingClosed.code(), "betting-closed");
    assert_eq!(
        SessionError::Table(TableError::NoSeatOpen).code(),
        "no-seat-open",
        "a table refusal keeps the table's code"
    );
    assert_eq!(PeerError::NotOpen.code(), "not-open");
    assert_eq!(
        PeerError::Session(SessionError::Table(TableError::NotSeated)).code(),
        "not-seated"
    );
    assert_eq!(PeerError::OpenElsewhere.code(), "open-elsewhere");
}

#[test]
fn a_deadline_passed_on_the_relays_copy_of_a_players_own_name_is_seen_there_by_every_peer() {
    // The players' reveal deadline passes on the relay's copy of a name the
    // shooter set (a message its own peer counted at once): every peer,
    // the shooter's too, opens the house's turn at that copy's relay time,
    // so they agree on whether the house's reveal, later, was in time.
    let (mut banker, mut shooter, mut other) = table_of_three();
    shooter.place_bet(1, BetKind::Field, 5).unwrap();
    other.place_bet(1, BetKind::Field, 5).unwrap();
    pump(&mut [&mut banker, &mut shooter, &mut other], 1);
    shooter.roll(10).unwrap();
    // Everything relayed at 10, but the other player's reveal: withheld.
    loop {
        let mut moved = false;
        for i in 0..3 {
            let out: Vec<SignedMessage> = {
                let s = [&mut banker, &mut shooter, &mut other];
                std::iter::from_fn(|| s[i].poll_transmit()).collect()
            };
            for m in out {
                moved = true;
                if i == 2 && matches!(m.message.action, Action::Reveal { .. }) {
                    continue;
                }
                relay(
                    &mut [&mut banker, &mut shooter, &mut other],
                    &[10; 3],
                    &m,
                    10,
                );
            }
        }
        if !moved {
            break;
        }
    }
    assert!(
        shooter.history().is_empty(),
        "the players' turn is still on"
    );
    let timeout = config().reveal_timeout;
    // The shooter names itself; the relay's copy is stamped past the
    // players' deadline.
    shooter.set_name(20, "Zoë").unwrap();
    let name = shooter.poll_transmit().expect("the name");
    let t1 = 11 + timeout;
    relay(
        &mut [&mut banker, &mut shooter, &mut other],
        &[t1; 3],
        &name,
        t1,
    );
    // The house reveals at once, but its reveal is stamped after its own
    // deadline counted from that copy: late, on every peer alike.
    let reveal = std::iter::from_fn(|| banker.poll_transmit())
        .find(|m| matches!(m.message.action, Action::Reveal { .. }))
        .expect("the house's reveal, its turn open");
    let late = t1 + timeout + 5;
    relay(
        &mut [&mut banker, &mut shooter, &mut other],
        &[late; 3],
        &reveal,
        late,
    );
    pump(&mut [&mut banker, &mut shooter, &mut other], late + 1);
    let other_id = other.local_id().unwrap();
    for s in [&banker, &shooter, &other] {
        assert!(s.is_closed(), "the house defaulted on every peer");
        assert!(s.history().is_empty());
    }
    for s in [&mut banker, &mut shooter, &mut other] {
        let forfeits: Vec<_> = events(s)
            .into_iter()
            .filter_map(|e| match e {
                Event::Forfeited { player, reason } => Some((player, reason)),
                _ => None,
            })
            .collect();
        assert_eq!(forfeits[0], (other_id, ForfeitReason::NoReveal));
        assert_eq!(forfeits[1], (config().banker, ForfeitReason::NoReveal));
    }
    assert_eq!(banker.state_hash(), shooter.state_hash());
    assert_eq!(banker.state_hash(), other.state_hash());
}
