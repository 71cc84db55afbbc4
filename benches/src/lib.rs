//! Benchmarks for BitCraps live in `benches/benches/` (criterion; run them
//! all with `cargo bench -p benches`). This library holds what
//! several of them share: deterministic inputs, the criterion settings,
//! and the pool benchmark body (run once per global allocator, since a
//! binary has exactly one).

pub mod load;
pub mod nats;
pub mod pool;
pub mod signaling;
pub mod stores;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pool::{buffer_pool, Pool};
use bytes::Bytes;
use criterion::Criterion;

/// A deterministic 32-byte seed for run `n` of a benchmark, so runs compare
/// the same inputs.
pub fn seed(n: u32) -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed
}

/// Criterion settings for this 2-core machine: short but repeatable runs.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

/// Runs `op` `iters` times on each of `threads` threads at once and returns
/// the wall time: criterion then reports the time per operation per thread,
/// so two threads that scale perfectly show the same time as one. Each
/// thread counts from its own offset, so threads touch different inputs.
pub fn on_threads(
    threads: usize,
    iters: u64,
    op: impl Fn(u64) + Send + Sync + 'static,
) -> Duration {
    let op = Arc::new(op);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let op = Arc::clone(&op);
            let offset = t as u64 * 0x1000_0000;
            std::thread::spawn(move || {
                for i in 0..iters {
                    op(offset + i);
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    start.elapsed()
}

/// A frame-sized write: what the relay and client do with each buffer.
fn fill(buf: &mut Vec<u8>, i: u64) {
    buf.extend_from_slice(&i.to_le_bytes());
    buf.resize(FRAME_LEN, 0xAB);
}

/// Bytes in a typical game frame (header, message, signature).
pub const FRAME_LEN: usize = 200;
/// Capacity the pool's buffers start with.
pub const BUFFER_CAPACITY: usize = 512;

/// The pool benchmarks, labelled with the allocator the binary runs on:
/// a frame buffer from the pool vs from the allocator, on one and two
/// threads; and a fan-out (one frame shared by eight receivers) with a
/// pooled buffer vs a plain one.
pub fn pool_benches(c: &mut Criterion, allocator: &str) {
    let mut group = c.benchmark_group(format!("frame_buffer/{allocator}"));
    for threads in [1usize, 2] {
        let pool: Pool<Vec<u8>> = buffer_pool(256, BUFFER_CAPACITY);
        pool.warm(64);
        group.bench_function(format!("pool/{threads}t"), |b| {
            b.iter_custom(|iters| {
                let pool = pool.clone();
                on_threads(threads, iters, move |i| {
                    let mut buf = pool.get();
                    fill(&mut buf, i);
                    black_box(&buf[..]);
                })
            })
        });
        group.bench_function(format!("plain/{threads}t"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, |i| {
                    let mut buf = Vec::with_capacity(BUFFER_CAPACITY);
                    fill(&mut buf, i);
                    black_box(&buf[..]);
                })
            })
        });
    }
    let pool: Pool<Vec<u8>> = buffer_pool(256, BUFFER_CAPACITY);
    pool.warm(64);
    group.bench_function("fanout8/pool", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let mut buf = pool.get();
            fill(&mut buf, i);
            let frame = buf.into_bytes();
            let copies: [Bytes; 8] = std::array::from_fn(|_| frame.clone());
            black_box(&copies);
        })
    });
    group.bench_function("fanout8/plain", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let mut buf = Vec::with_capacity(BUFFER_CAPACITY);
            fill(&mut buf, i);
            let frame = Bytes::from(buf);
            let copies: [Bytes; 8] = std::array::from_fn(|_| frame.clone());
            black_box(&copies);
        })
    });
    group.finish();
}
