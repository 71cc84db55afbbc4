//! A reader that stops reading: it is dropped after the grace period, the
//! relay's queued memory never exceeds the queue bounds, and the rest of
//! the room keeps receiving every frame.

mod common;

use std::time::Duration;

use common::{key, start, Client, ROOM};
use shared::wire::FrameKind;

const FRAMES: usize = 4_000;
const QUEUE_BYTES: i64 = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_dropped_and_the_room_keeps_its_pace() {
    let relay = start(&[
        "--queue-frames",
        "100",
        "--queue-bytes",
        "262144",
        "--slow-consumer-grace-ms",
        "200",
        "--rate-per-sec",
        "1000000",
        "--rate-burst",
        "1000000",
        "--rate-bytes-per-sec",
        "1000000000",
        "--rate-bytes-burst",
        "1000000000",
        "--replay-frames",
        "16",
    ])
    .await;
    let mut sender = Client::connect(&relay.ws(), key(1)).await;
    sender.join_and_roster(ROOM).await;
    let mut reader = Client::connect(&relay.ws(), key(2)).await;
    reader.join_and_roster(ROOM).await;
    let mut sleeper = Client::connect(&relay.ws(), key(3)).await;
    sleeper.join_and_roster(ROOM).await;
    // From here on the sleeper never reads.

    let reading = tokio::spawn(async move {
        let mut got = 0usize;
        let mut last_seq = 0;
        while got < FRAMES {
            let frame = reader.recv().await.expect("reader stays connected");
            if frame.kind == FrameKind::Game {
                assert!(frame.seq > last_seq);
                last_seq = frame.seq;
                got += 1;
            }
        }
        got
    });

    let metrics = std::sync::Arc::clone(relay.relay.metrics());
    let mut most_queued = 0i64;
    let payload = vec![0xAB; 4096];
    for i in 0..FRAMES {
        sender.send(FrameKind::Game, ROOM, None, &payload).await;
        most_queued = most_queued.max(metrics.queued_bytes.get());
        // A steady pace the reader can follow (about 10,000 frames/s); the
        // sleeper cannot follow any pace.
        if i % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // The sleeper is declared slow within a few grace periods.
    for _ in 0..200 {
        most_queued = most_queued.max(metrics.queued_bytes.get());
        if metrics.slow_consumer_disconnects.get() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(metrics.slow_consumer_disconnects.get(), 1);
    let received = tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("the reader gets every frame")
        .unwrap();
    assert_eq!(received, FRAMES);
    // Memory: never more queued than the three connections' byte budgets
    // (the sleeper's queue is the one that filled).
    assert!(most_queued <= 3 * QUEUE_BYTES, "queued {most_queued} bytes");
    let refused: u64 = ["critical", "normal", "low"]
        .iter()
        .map(|p| metrics.drops.with_label_values(&["refused", p]).get())
        .sum();
    assert!(refused > 0, "the sleeper's queue overflowed");
    drop(sleeper);
    relay.stop().await;
}
