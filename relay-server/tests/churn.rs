//! Join/leave/reconnect churn on one room from many threads at once must
//! always finish: no lock is taken while another is held in the opposite
//! order (the room's lock and the rooms map), and the room's bookkeeping
//! ends consistent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use relay::config::Limits;
use relay::metrics::Metrics;
use relay::outbox::Outbox;
use relay::rooms::Hub;
use shared::wire::RoomId;

const ROOM: RoomId = [0x21; 16];
const THREADS: usize = 8;
const CYCLES: usize = 2_500;

fn outbox(metrics: &Arc<Metrics>) -> Arc<Outbox> {
    Arc::new(Outbox::new(
        64,
        64 * 1024,
        shared::queue::DropStrategy::DropLowPriority,
        Duration::from_secs(2),
        Arc::clone(metrics),
    ))
}

#[test]
fn thousands_of_concurrent_joins_and_leaves_on_one_room_finish() {
    let metrics = Arc::new(Metrics::new());
    let limits = Limits {
        max_peers_per_room: 4,
        ..Limits::default()
    };
    let hub = Arc::new(Hub::new(limits, Arc::clone(&metrics)));
    let refused = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = mpsc::channel();
    for t in 0..THREADS {
        let hub = Arc::clone(&hub);
        let metrics = Arc::clone(&metrics);
        let refused = Arc::clone(&refused);
        let done = done_tx.clone();
        thread::spawn(move || {
            // Two keys per thread: a join, a reconnect of the same key on a
            // new connection (which replaces the old one), and leaves that
            // often empty the room while other threads join it.
            let keys = [[t as u8; 32], [t as u8 + 100; 32]];
            for cycle in 0..CYCLES {
                let peer = keys[cycle % 2];
                let first = hub.next_conn_id();
                let out = outbox(&metrics);
                if hub.join(first, peer, &out, ROOM, 0, false).is_err() {
                    refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if cycle % 3 == 0 {
                    let second = hub.next_conn_id();
                    let again = outbox(&metrics);
                    if hub.join(second, peer, &again, ROOM, 0, false).is_ok() {
                        hub.leave(first, peer, ROOM); // no longer its connection: no-op
                        hub.leave(second, peer, ROOM);
                        continue;
                    }
                }
                hub.leave(first, peer, ROOM);
            }
            let _ = done.send(());
        });
    }
    drop(done_tx);
    for _ in 0..THREADS {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("every thread finishes its cycles (a lock-order deadlock never does)");
    }
    assert_eq!(hub.room_count(), 0, "every member left, so no room is left");
    assert_eq!(metrics.rooms.get(), 0, "the rooms gauge agrees");
    assert!(
        refused.load(Ordering::Relaxed) < THREADS * CYCLES,
        "most joins got in"
    );
}
