//! Validation mode: the relay checks game frames with the engine and drops
//! the ones the engine refuses, before fan-out.

mod common;

use common::{key, start, Client};
use shared::codec::control;
use shared::craps::BetKind;
use shared::message::{Action, Message};
use shared::session::{GameConfig, Session};
use shared::wire::{error, FrameKind};

#[tokio::test]
async fn invalid_game_frames_are_dropped_before_fan_out() {
    let relay = start(&["--validate"]).await;
    let game = [0x42; 16];
    let banker_key = key(1);
    let config = GameConfig::new(game, banker_key.verifying_key().to_bytes(), 10_000);
    let mut banker = Client::connect(&relay.ws(), banker_key).await;
    banker.join_and_roster(game).await;
    let mut player = Client::connect(&relay.ws(), key(2)).await;
    player.join_and_roster(game).await;

    // Before the table is announced, game frames cannot be checked: refused.
    let mut session = Session::new(config, key(2), [9; 32]);
    session.sit(0, 100).unwrap();
    let sit = session.poll_transmit().unwrap();
    player.send_raw(sit.to_frame()).await;
    let err = player.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&err.payload).unwrap().0,
        error::INVALID_GAME_FRAME
    );

    // Only the banker may announce the table.
    player
        .send(FrameKind::Table, game, None, &config.encode())
        .await;
    let err = player.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&err.payload).unwrap().0,
        error::INVALID_GAME_FRAME
    );
    banker
        .send(FrameKind::Table, game, None, &config.encode())
        .await;
    let table = player.recv_kind(FrameKind::Table).await;
    assert_eq!(GameConfig::decode(&table.payload), Ok(config));

    // A valid frame passes (the relay's copy of the game follows it).
    player.send_raw(sit.to_frame()).await;
    let got = banker.recv_kind(FrameKind::Game).await;
    assert_eq!(got.sender, player.id());

    // A forged bet (stake changed after signing) is refused and not relayed.
    session.place_bet(0, BetKind::Field, 10).unwrap();
    let bet = session.poll_transmit().unwrap();
    assert_eq!(bet.message.seq, 2);
    let mut forged = bet.clone();
    forged.message.action = Action::Bet {
        kind: BetKind::Field,
        stake: 1_000,
    };
    player.send_raw(forged.to_frame()).await;
    let err = player.recv_kind(FrameKind::Error).await;
    let (code, reason) = control::decode_error(&err.payload).unwrap();
    assert_eq!(code, error::INVALID_GAME_FRAME);
    assert!(reason.contains("signature"), "{reason}");
    // The genuine bet is relayed: the forgery used up nothing.
    player.send_raw(bet.to_frame()).await;
    let got = banker.recv_kind(FrameKind::Game).await;
    let (message, _) = Message::decode(&got.payload).unwrap();
    assert_eq!(message.seq, 2);
    // A bet above the balance, signed correctly, is relayed too: whether a
    // table action stands is judged when the roll's cut takes it in, the
    // same on every peer, never by when it reached the relay.
    let too_big = Message {
        game,
        round: 1,
        seq: 3,
        action: Action::Bet {
            kind: BetKind::Field,
            stake: 1_000,
        },
    }
    .sign(&key(2));
    player.send_raw(too_big.to_frame()).await;
    let got = banker.recv_kind(FrameKind::Game).await;
    let (message, _) = Message::decode(&got.payload).unwrap();
    assert_eq!(message.seq, 3);
    // A frame the game refuses in its turn (a player passing the dice) uses
    // up its number: it is relayed all the same, and so is the next one,
    // or every peer would wait for that number forever.
    let pass = Message {
        game,
        round: 1,
        seq: 4,
        action: Action::PassDice,
    }
    .sign(&key(2));
    player.send_raw(pass.to_frame()).await;
    let got = banker.recv_kind(FrameKind::Game).await;
    assert_eq!(Message::decode(&got.payload).unwrap().0.seq, 4);
    let after = Message {
        game,
        round: 1,
        seq: 5,
        action: Action::BuyIn { amount: 1 },
    }
    .sign(&key(2));
    player.send_raw(after.to_frame()).await;
    let got = banker.recv_kind(FrameKind::Game).await;
    assert_eq!(Message::decode(&got.payload).unwrap().0.seq, 5);
    let stats = relay.relay.hub().validator().unwrap().publish_stats();
    assert_eq!(stats.games, 1);
    assert!(
        stats.messages_rejected >= 2,
        "the forgery and the refused pass"
    );
    // When the room empties, the relay follows its game no longer (tables
    // opened and abandoned must not pile up in memory).
    banker.send(FrameKind::Leave, game, None, &[]).await;
    player.send(FrameKind::Leave, game, None, &[]).await;
    for _ in 0..200 {
        if relay.relay.hub().room_count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(relay.relay.hub().room_count(), 0);
    let stats = relay.relay.hub().validator().unwrap().publish_stats();
    assert_eq!(stats.games, 0, "the game left with its room");
    relay.stop().await;
}
