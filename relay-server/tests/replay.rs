//! A newcomer (or a resuming client) always gets what the room kept, and
//! then its roster: the replay window fits the queue that receives it,
//! and presence (joins, leaves, keep-alives) never evicts the game's
//! frames from it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{key, start, Client, Got, ROOM};
use relay::config::Limits;
use relay::metrics::Metrics;
use relay::outbox::Outbox;
use relay::rooms::Hub;
use shared::codec::{control, encode_signed, FrameHeader, FrameRef};
use shared::wire::{error, FrameKind, Priority, MAX_FRAME_LEN};

const UNLIMITED: [&str; 4] = ["--rate-per-sec", "1000000", "--rate-burst", "1000000"];

/// Reads every frame up to the roster.
async fn up_to_roster(client: &mut Client) -> (Vec<Got>, Vec<Got>) {
    let mut games = Vec::new();
    let mut others = Vec::new();
    loop {
        let got = client.recv().await.expect("connection open");
        match got.kind {
            FrameKind::Roster => {
                others.push(got);
                return (games, others);
            }
            FrameKind::Game => games.push(got),
            _ => others.push(got),
        }
    }
}

/// What a newcomer (key 2) gets on joining from the start: the sequence
/// numbers of the game frames replayed, and every other frame up to and
/// including its roster.
async fn newcomer_sequences(relay: &common::Running) -> (Vec<u64>, Vec<Got>) {
    let mut newcomer = Client::connect(&relay.ws(), key(2)).await;
    newcomer.join(ROOM, 0).await;
    let (games, others) = up_to_roster(&mut newcomer).await;
    (games.iter().map(|g| g.seq).collect(), others)
}

async fn send_games(sender: &mut Client, n: u32) {
    for i in 0..n {
        sender
            .send(FrameKind::Game, ROOM, None, &i.to_be_bytes())
            .await;
    }
}

async fn wait_for_frames_in(relay: &common::Running, n: u64) {
    for _ in 0..500 {
        if relay.relay.metrics().frames_in.get() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the relay did not receive {n} frames");
}

#[tokio::test]
async fn a_newcomer_to_a_room_with_more_than_a_thousand_kept_frames_gets_them_all_and_its_roster() {
    let mut flags = vec!["--replay-frames", "1500", "--queue-frames", "2000"];
    flags.extend(UNLIMITED);
    let relay = start(&flags).await;
    assert_eq!(relay.relay.hub().limits().replay_frames, 1500);
    let mut sender = Client::connect(&relay.ws(), key(1)).await;
    sender.join_and_roster(ROOM).await;
    send_games(&mut sender, 1_200).await;
    wait_for_frames_in(&relay, 1_201).await;

    let (seqs, others) = newcomer_sequences(&relay).await;
    assert_eq!(
        seqs,
        (1..=1_200).collect::<Vec<_>>(),
        "every frame, in order"
    );
    assert_eq!(others.len(), 1, "no gap error, no presence: {others:?}");
    let roster = control::decode_roster(&others[0].payload).unwrap();
    assert_eq!(roster.len(), 2);
    relay.stop().await;
}

#[tokio::test]
async fn with_default_queues_the_window_shrinks_to_fit_and_the_roster_still_arrives() {
    let relay = start(&UNLIMITED).await;
    let limits = *relay.relay.hub().limits();
    assert!(
        limits.replay_frames < limits.queue_frames,
        "the window fits the queue: {limits:?}"
    );
    let mut sender = Client::connect(&relay.ws(), key(1)).await;
    sender.join_and_roster(ROOM).await;
    send_games(&mut sender, 1_100).await;
    wait_for_frames_in(&relay, 1_101).await;

    let mut newcomer = Client::connect(&relay.ws(), key(2)).await;
    newcomer.join(ROOM, 0).await;
    let (games, others) = up_to_roster(&mut newcomer).await;
    assert_eq!(games.len(), limits.replay_frames);
    assert_eq!(games.last().unwrap().seq, 1_100);
    let gap = &others[0];
    assert_eq!(gap.kind, FrameKind::Error);
    assert_eq!(
        control::decode_error(&gap.payload).unwrap().0,
        error::RESUME_GAP,
        "it is told plainly what is gone"
    );
    assert_eq!(others.last().unwrap().kind, FrameKind::Roster);
    relay.stop().await;
}

#[tokio::test]
async fn join_leave_churn_and_keep_alives_do_not_evict_the_game() {
    let mut flags = vec!["--replay-frames", "64"];
    flags.extend(UNLIMITED);
    let relay = start(&flags).await;
    let mut sender = Client::connect(&relay.ws(), key(1)).await;
    sender.join_and_roster(ROOM).await;
    send_games(&mut sender, 50).await;
    // 100 visitors come and go (200 presence frames), and the sender
    // sends 100 keep-alives: three times the window.
    for n in 0..100u8 {
        let mut visitor = Client::connect(&relay.ws(), key(100 + n)).await;
        visitor.join_and_roster(ROOM).await;
        visitor.send(FrameKind::Leave, ROOM, None, &[]).await;
        sender.send(FrameKind::Presence, ROOM, None, &[]).await;
    }
    let (seqs, others) = newcomer_sequences(&relay).await;
    assert_eq!(
        seqs,
        (1..=50).collect::<Vec<_>>(),
        "the game's frames are all kept"
    );
    assert_eq!(others.len(), 1, "only the roster: {others:?}");
    relay.stop().await;
}

/// A signed game frame from key 1.
fn game(i: u8) -> Bytes {
    let sender = key(1);
    let header = FrameHeader::new(FrameKind::Game, ROOM, sender.verifying_key().to_bytes());
    let mut out = BytesMut::new();
    encode_signed(&header, &[i], &sender, &mut out).unwrap();
    out.freeze()
}

#[test]
fn a_joiner_whose_queue_is_partly_full_gets_the_newest_frames_that_fit_then_its_roster() {
    let metrics = Arc::new(Metrics::new());
    let limits = Limits {
        queue_frames: 60,
        replay_frames: 50,
        ..Limits::default()
    };
    let hub = Hub::new(limits, Arc::clone(&metrics));
    let outbox = |m: &Arc<Metrics>| {
        Arc::new(Outbox::new(
            60,
            1 << 20,
            shared::queue::DropStrategy::DropLowPriority,
            Duration::from_secs(2),
            Arc::clone(m),
        ))
    };
    let sender = key(1).verifying_key().to_bytes();
    let first = outbox(&metrics);
    let conn = hub.next_conn_id();
    hub.join(conn, sender, &first, ROOM, 0, false).unwrap();
    for i in 0..50u8 {
        hub.broadcast(conn, sender, ROOM, Priority::Critical, game(i))
            .unwrap();
    }
    // The joiner's queue already holds 40 frames of another room.
    let joiner = outbox(&metrics);
    for i in 0..40u8 {
        joiner.push(Priority::Critical, game(i));
    }
    let peer = key(2).verifying_key().to_bytes();
    hub.join(hub.next_conn_id(), peer, &joiner, ROOM, 0, false)
        .unwrap();
    let frames = joiner.pop_batch(1_000);
    let kinds: Vec<(FrameKind, u64)> = frames[40..]
        .iter()
        .map(|f| {
            let f = FrameRef::parse(f, MAX_FRAME_LEN).unwrap();
            (f.header.kind, f.header.seq)
        })
        .collect();
    assert_eq!(
        kinds.first().unwrap().0,
        FrameKind::Error,
        "the gap is told"
    );
    assert_eq!(
        kinds.last().unwrap().0,
        FrameKind::Roster,
        "the roster arrives"
    );
    let replayed: Vec<u64> = kinds[1..kinds.len() - 1].iter().map(|k| k.1).collect();
    assert!(!replayed.is_empty());
    assert_eq!(*replayed.last().unwrap(), 50, "the newest frames");
    assert!(
        replayed.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous: {replayed:?}"
    );
}

#[tokio::test]
async fn hostile_resume_points_and_repeated_joins_replay_nothing_and_break_nothing() {
    let relay = start(&UNLIMITED).await;
    let mut sender = Client::connect(&relay.ws(), key(1)).await;
    sender.join_and_roster(ROOM).await;
    send_games(&mut sender, 20).await;
    wait_for_frames_in(&relay, 21).await;
    // Resuming after u64::MAX: nothing is missing, nothing overflows.
    let mut odd = Client::connect(&relay.ws(), key(2)).await;
    odd.join(ROOM, u64::MAX).await;
    let (games, others) = up_to_roster(&mut odd).await;
    assert!(games.is_empty() && others.len() == 1, "{others:?}");
    // Joining again on the same connection replays nothing: it is refused.
    odd.join(ROOM, 0).await;
    let next = odd.recv().await.unwrap();
    assert_eq!(next.kind, FrameKind::Error);
    assert_eq!(
        control::decode_error(&next.payload).unwrap().0,
        error::ALREADY_JOINED
    );
    // The room still works for everyone.
    let mut newcomer = Client::connect(&relay.ws(), key(3)).await;
    newcomer.join(ROOM, 0).await;
    let (games, _) = up_to_roster(&mut newcomer).await;
    assert_eq!(games.len(), 20);
    sender.send(FrameKind::Game, ROOM, None, b"on").await;
    assert_eq!(odd.recv_kind(FrameKind::Game).await.payload, b"on");
    relay.stop().await;
}

#[test]
fn all_rooms_together_keep_no_more_than_the_relay_s_replay_budget() {
    let metrics = Arc::new(Metrics::new());
    let limits = Limits {
        replay_total_bytes: 64 * 1024,
        ..Limits::default()
    };
    let hub = Hub::new(limits, Arc::clone(&metrics));
    let sender = key(1).verifying_key().to_bytes();
    let out = Arc::new(Outbox::new(
        8,
        1 << 20,
        shared::queue::DropStrategy::DropLowPriority,
        Duration::from_secs(2),
        Arc::clone(&metrics),
    ));
    let frame_len = game(0).len() as i64;
    // 100 rooms of 100 frames each would keep about 10x the budget.
    for r in 0..100u8 {
        let mut room = ROOM;
        room[0] = r;
        let conn = hub.next_conn_id();
        hub.join(conn, sender, &out, room, 0, false).unwrap();
        for i in 0..100u8 {
            hub.broadcast(conn, sender, room, Priority::Critical, game(i))
                .unwrap();
            let kept = metrics.replay_bytes.get();
            assert!(kept <= 64 * 1024, "{kept} bytes kept");
        }
    }
    assert!(
        metrics.replay_bytes.get() > 64 * 1024 - 2 * frame_len,
        "the budget is used"
    );
    // A newcomer to the last room gets what it kept (or is told of the
    // gap), and its roster.
    let mut last = ROOM;
    last[0] = 99;
    let joiner = Arc::new(Outbox::new(
        1000,
        1 << 20,
        shared::queue::DropStrategy::DropLowPriority,
        Duration::from_secs(2),
        Arc::clone(&metrics),
    ));
    hub.join(
        hub.next_conn_id(),
        key(2).verifying_key().to_bytes(),
        &joiner,
        last,
        0,
        false,
    )
    .unwrap();
    let kinds: Vec<FrameKind> = joiner
        .pop_batch(1000)
        .iter()
        .map(|f| FrameRef::parse(f, MAX_FRAME_LEN).unwrap().header.kind)
        .collect();
    assert_eq!(
        kinds.first(),
        Some(&FrameKind::Error),
        "the gap is told: {kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&FrameKind::Roster));
}
