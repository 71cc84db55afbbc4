//! The fan-out step: one frame to N receivers, measured until every
//! (reading) receiver has it. Sequential: the sender awaits each
//! receiver's socket write in turn (what a loop of `send().await` does).
//! Enqueue: the sender pushes the same refcounted frame into each
//! receiver's outbox (the relay's `Outbox`) and their writer tasks write
//! in parallel. Receivers are in-memory duplex pipes (64 KiB); in the
//! "one slow" variant, one receiver reads only a little, every 2 ms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use relay::metrics::Metrics;
use relay::outbox::Outbox;
use shared::wire::Priority;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, WriteHalf};
use tokio::sync::{Mutex, Notify};

const FRAME: usize = 200;

struct Receivers {
    writers: Vec<Arc<Mutex<WriteHalf<DuplexStream>>>>,
    outboxes: Vec<Arc<Outbox>>,
    got: Arc<AtomicUsize>,
    all: Arc<Notify>,
    fast: usize,
}

fn receivers(rt: &tokio::runtime::Runtime, n: usize, one_slow: bool) -> Receivers {
    rt.block_on(async {
        let got = Arc::new(AtomicUsize::new(0));
        let all = Arc::new(Notify::new());
        let metrics = Arc::new(Metrics::new());
        let mut writers = Vec::new();
        let mut outboxes = Vec::new();
        for i in 0..n {
            let slow = one_slow && i == 0;
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            let (mut read, _keep) = tokio::io::split(theirs);
            let (_unused, write) = tokio::io::split(ours);
            let got = Arc::clone(&got);
            let all = Arc::clone(&all);
            tokio::spawn(async move {
                let _keep = _keep;
                let mut buf = vec![0u8; FRAME];
                loop {
                    if slow {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    if read.read_exact(&mut buf).await.is_err() {
                        return;
                    }
                    if !slow {
                        got.fetch_add(1, Ordering::SeqCst);
                        all.notify_one();
                    }
                }
            });
            let writer = Arc::new(Mutex::new(write));
            let outbox = Arc::new(Outbox::new(
                1000,
                4 << 20,
                shared::queue::DropStrategy::DropLowPriority,
                Duration::from_secs(3600),
                Arc::clone(&metrics),
            ));
            {
                let (outbox, writer) = (Arc::clone(&outbox), Arc::clone(&writer));
                tokio::spawn(async move {
                    loop {
                        outbox.woken().await;
                        for frame in outbox.pop_batch(64) {
                            if writer.lock().await.write_all(&frame).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
            writers.push(writer);
            outboxes.push(outbox);
        }
        Receivers {
            writers,
            outboxes,
            got,
            all,
            fast: if one_slow { n - 1 } else { n },
        }
    })
}

async fn wait_all(r: &Receivers, target: usize) {
    while r.got.load(Ordering::SeqCst) < target {
        r.all.notified().await;
    }
}

fn main() {
    let mut c = benches::criterion();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let frame = Bytes::from(vec![0xAB; FRAME]);
    for one_slow in [false, true] {
        let label = if one_slow { "one_slow" } else { "all_reading" };
        let mut group = c.benchmark_group(format!("fanout/{label}"));
        for n in [10usize, 50, 200] {
            let seq = receivers(&rt, n, one_slow);
            let mut sent = 0usize;
            group.bench_function(format!("sequential_await/{n}"), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        for w in &seq.writers {
                            let _ = w.lock().await.write_all(&frame).await;
                        }
                        sent += 1;
                        wait_all(&seq, sent * seq.fast).await;
                    })
                })
            });
            let enq = receivers(&rt, n, one_slow);
            let mut sent = 0usize;
            group.bench_function(format!("enqueue_to_writers/{n}"), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        for o in &enq.outboxes {
                            o.push(Priority::Normal, frame.clone());
                        }
                        sent += 1;
                        wait_all(&enq, sent * enq.fast).await;
                    })
                })
            });
        }
        group.finish();
    }
    c.final_summary();
}
