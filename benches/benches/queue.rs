//! The bounded priority queue vs `tokio::sync::mpsc` (bounded, 1000) for
//! push/pop throughput: batches of 1000 frames pushed then popped. The
//! relay holds its queue behind a `std::sync::Mutex`, so that variant is
//! measured too.

use std::hint::black_box;
use std::sync::Mutex;

use bytes::Bytes;
use shared::queue::{PriorityQueue, QueueConfig};
use shared::wire::Priority;

const BATCH: usize = 1000;

fn main() {
    let mut c = benches::criterion();
    let frame = Bytes::from(vec![0u8; benches::FRAME_LEN]);
    let priorities = [Priority::Critical, Priority::Normal, Priority::Low];
    let mut group = c.benchmark_group("queue_push_pop_1000");
    group.throughput(criterion::Throughput::Elements(BATCH as u64));

    let mut queue = PriorityQueue::new(QueueConfig::default());
    group.bench_function("priority_queue", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                let _ = queue.push(priorities[i % 3], frame.clone());
            }
            while let Some(item) = queue.pop() {
                black_box(item);
            }
        })
    });
    let locked = Mutex::new(PriorityQueue::new(QueueConfig::default()));
    group.bench_function("priority_queue_in_mutex", |b| {
        b.iter(|| {
            for i in 0..BATCH {
                if let Ok(mut q) = locked.lock() {
                    let _ = q.push(priorities[i % 3], frame.clone());
                }
            }
            loop {
                let item = locked.lock().ok().and_then(|mut q| q.pop());
                match item {
                    Some(item) => {
                        black_box(item);
                    }
                    None => break,
                }
            }
        })
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(BATCH);
    group.bench_function("tokio_mpsc_bounded", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let _ = tx.try_send(frame.clone());
            }
            while let Ok(item) = rx.try_recv() {
                black_box(item);
            }
        })
    });
    group.finish();
    c.final_summary();
}
