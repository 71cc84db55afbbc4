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

/// Sends every message `session` has to send, over `client`.
async fn flush(session: &mut Session, client: &mut Client) {
    while let Some(m) = session.poll_transmit() {
        client.send_raw(m.to_frame()).await;
    }
}

/// Hands every game frame waiting on `client` to `session` (as stamped by
/// the relay), until none comes for a moment.
async fn pump(session: &mut Session, client: &mut Client, now: u64) {
    while let Ok(Some(got)) =
        tokio::time::timeout(std::time::Duration::from_millis(30), client.recv()).await
    {
        if got.kind == FrameKind::Game {
            let m = shared::message::SignedMessage::from_frame_bytes(&got.raw).unwrap();
            let _ = session.handle_relayed(now, m, got.time);
        }
    }
}

#[tokio::test]
async fn validation_mode_writes_every_game_as_a_transcript_anyone_can_check() {
    use shared::transcript::GameTranscript;

    let dir = std::env::temp_dir().join(format!("bitcraps-transcripts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let relay = start(&["--validate", "--transcripts", dir.to_str().unwrap()]).await;
    let game = [0x43; 16];
    let config = GameConfig {
        commit_timeout: 10_000,
        reveal_timeout: 10_000,
        ..GameConfig::new(game, key(1).verifying_key().to_bytes(), 100_000)
    };
    let mut clients = [
        Client::connect(&relay.ws(), key(1)).await,
        Client::connect(&relay.ws(), key(2)).await,
    ];
    for c in clients.iter_mut() {
        // With its own frames echoed, stamped (a session takes its own
        // messages in the relay's order too).
        let join = shared::peer::handshake::join_frame(&c.key, &c.challenge, game, 0, true);
        c.send_raw(join).await;
        c.recv_kind(FrameKind::Roster).await;
    }
    clients[0]
        .send(FrameKind::Table, game, None, &config.encode())
        .await;
    clients[1].recv_kind(FrameKind::Table).await;
    let mut sessions = [
        Session::new(config, key(1), [1; 32]),
        Session::new(config, key(2), [2; 32]),
    ];
    sessions[1].sit(0, 1_000).unwrap();
    sessions[1].place_bet(0, BetKind::Field, 10).unwrap();
    let mut now = 0;
    while sessions[1].history().len() < 3 {
        now += 50;
        assert!(
            now < 20_000,
            "the game stalled: rounds {} {}, betting {} {}, rolls {}, seated {}, waiting {} {}, events {:?}",
            sessions[0].round(),
            sessions[1].round(),
            sessions[0].is_betting(),
            sessions[1].is_betting(),
            sessions[1].history().len(),
            sessions[0].table().seats().len(),
            sessions[0].pending(),
            sessions[1].pending(),
            std::iter::from_fn(|| sessions[1].poll_event()).collect::<Vec<_>>()
        );
        if sessions[1].is_betting() && sessions[1].table().is_seated(&clients[1].id()) {
            let _ = sessions[1].roll(now);
            let _ = sessions[1].place_bet(now, BetKind::Field, 10);
        }
        for i in 0..2 {
            flush(&mut sessions[i], &mut clients[i]).await;
        }
        for i in 0..2 {
            pump(&mut sessions[i], &mut clients[i], now).await;
        }
    }
    for _ in 0..5 {
        for i in 0..2 {
            flush(&mut sessions[i], &mut clients[i]).await;
            pump(&mut sessions[i], &mut clients[i], now).await;
        }
    }

    // While the room is open, the file holds every frame so far: checked
    // as unfinished, it has the players' rolls.
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("43434343") && name.ends_with(".bctx"),
        "{name}"
    );
    let bytes = std::fs::read(&files[0]).unwrap();
    assert_eq!(
        GameTranscript::decode(&bytes).unwrap_err().kind(),
        "unfinished"
    );
    let open = GameTranscript::decode_unfinished(&bytes).unwrap();
    let checked = open.check().expect("what it holds checks out");
    assert!(!checked.finished);
    let dice = |s: &Session| -> Vec<u8> { s.history().iter().map(|r| r.roll.total()).collect() };
    let so_far: Vec<u8> = checked.rolls.iter().map(|r| r.roll.total()).collect();
    assert_eq!(so_far, dice(&sessions[1]));

    // When the room closes, the relay's claims end the file: a finished
    // game, the players' very rolls and state.
    for c in clients.iter_mut() {
        c.send(FrameKind::Leave, game, None, &[]).await;
    }
    for _ in 0..200 {
        if relay.relay.hub().room_count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(relay.relay.hub().transcripts().unwrap().open_files(), 0);
    let finished = GameTranscript::decode(&std::fs::read(&files[0]).unwrap()).unwrap();
    let checked = finished.check().expect("the finished game checks out");
    assert!(checked.finished);
    let all: Vec<u8> = checked.rolls.iter().map(|r| r.roll.total()).collect();
    assert_eq!(all, dice(&sessions[1]));
    assert_eq!(checked.state_hash, sessions[1].state_hash());
    assert_eq!(checked.state_hash, sessions[0].state_hash());
    relay.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
