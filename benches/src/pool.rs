//! Object pools: reuse hot objects (frame buffers above all) instead of
//! asking the allocator every time.
//!
//! A [`Pool`] hands out [`Pooled`] guards; dropping a guard resets the
//! object and puts it back, unless the pool is full (the cap) or the reset
//! declines it (e.g. a buffer that grew too large). Hits, misses, returns,
//! discards, the current size and the high-water mark are counted with
//! atomics. The free list is a `Mutex<Vec<T>>`: uncontended on wasm (one
//! thread) and short-held natively, so the pool works in both.
//!
//! A pooled `Vec<u8>` can become a refcounted `Bytes` with
//! [`Pooled::into_bytes`]: the buffer returns to the pool when the last
//! receiver of a fan-out drops its copy.
//!
//! Whether pooling beats the allocator is measured, not assumed: see
//! `BENCHMARKS.md`. It lost (2.4-16x slower than the allocator), so no
//! product code uses it: it lives here, beside the benchmark that judged
//! it.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Counters of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// `get` served from the pool.
    pub hits: u64,
    /// `get` that had to make a new object.
    pub misses: u64,
    /// Objects put back.
    pub returned: u64,
    /// Objects dropped instead of put back (pool full, or reset declined).
    pub discarded: u64,
    /// Objects waiting in the pool now.
    pub size: u64,
    /// The most objects ever waiting at once.
    pub high_water: u64,
}

struct Inner<T> {
    free: Mutex<Vec<T>>,
    cap: usize,
    make: Box<dyn Fn() -> T + Send + Sync>,
    reset: fn(&mut T) -> bool,
    hits: AtomicU64,
    misses: AtomicU64,
    returned: AtomicU64,
    discarded: AtomicU64,
    high_water: AtomicU64,
}

/// A pool of reusable `T`. Cloning shares the pool.
pub struct Pool<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Send + 'static> Pool<T> {
    /// A pool keeping at most `cap` idle objects, making new ones with
    /// `make`, and resetting returned ones with `reset` (which returns
    /// false to discard an object instead).
    pub fn new(
        cap: usize,
        make: impl Fn() -> T + Send + Sync + 'static,
        reset: fn(&mut T) -> bool,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                free: Mutex::new(Vec::with_capacity(cap)),
                cap,
                make: Box::new(make),
                reset,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                returned: AtomicU64::new(0),
                discarded: AtomicU64::new(0),
                high_water: AtomicU64::new(0),
            }),
        }
    }

    /// An object from the pool, or a new one.
    pub fn get(&self) -> Pooled<T> {
        let reused = self.inner.free.lock().ok().and_then(|mut free| free.pop());
        let item = match reused {
            Some(item) => {
                self.inner.hits.fetch_add(1, Ordering::Relaxed);
                item
            }
            None => {
                self.inner.misses.fetch_add(1, Ordering::Relaxed);
                (self.inner.make)()
            }
        };
        Pooled {
            item: Some(item),
            pool: Arc::clone(&self.inner),
        }
    }

    /// Fills the pool with up to `n` new objects (never past the cap), so
    /// the first requests under load are hits.
    pub fn warm(&self, n: usize) {
        let Ok(mut free) = self.inner.free.lock() else {
            return;
        };
        while free.len() < n.min(self.inner.cap) {
            free.push((self.inner.make)());
        }
        self.inner
            .high_water
            .fetch_max(free.len() as u64, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn stats(&self) -> PoolStats {
        let size = self.inner.free.lock().map(|f| f.len() as u64).unwrap_or(0);
        PoolStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            returned: self.inner.returned.load(Ordering::Relaxed),
            discarded: self.inner.discarded.load(Ordering::Relaxed),
            size,
            high_water: self.inner.high_water.load(Ordering::Relaxed),
        }
    }
}

impl<T> Inner<T> {
    fn put_back(&self, mut item: T) {
        if !(self.reset)(&mut item) {
            self.discarded.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Ok(mut free) = self.free.lock() else {
            return;
        };
        if free.len() >= self.cap {
            self.discarded.fetch_add(1, Ordering::Relaxed);
            return;
        }
        free.push(item);
        self.returned.fetch_add(1, Ordering::Relaxed);
        self.high_water
            .fetch_max(free.len() as u64, Ordering::Relaxed);
    }
}

/// An object on loan from a [`Pool`]; goes back when dropped.
pub struct Pooled<T> {
    item: Option<T>,
    pool: Arc<Inner<T>>,
}

impl<T> Pooled<T> {
    /// Keeps the object for good; it will not return to the pool.
    pub fn detach(mut self) -> T {
        self.item.take().unwrap_or_else(|| (self.pool.make)())
    }
}

impl<T> Deref for Pooled<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Always Some until drop or detach, which consume the guard.
        self.item
            .as_ref()
            .unwrap_or_else(|| unreachable!("pooled item taken"))
    }
}

impl<T> DerefMut for Pooled<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item
            .as_mut()
            .unwrap_or_else(|| unreachable!("pooled item taken"))
    }
}

impl<T> Drop for Pooled<T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.put_back(item);
        }
    }
}

impl AsRef<[u8]> for Pooled<Vec<u8>> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Pooled<Vec<u8>> {
    /// Freezes the buffer into a refcounted `Bytes` without copying; the
    /// buffer returns to the pool when the last clone is dropped.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

/// Buffers that grew past this are dropped instead of pooled, so one huge
/// frame does not pin its memory in the pool for good.
pub const MAX_POOLED_BUFFER: usize = 64 * 1024;

/// A pool of at most `cap` byte buffers made with `capacity` bytes.
pub fn buffer_pool(cap: usize, capacity: usize) -> Pool<Vec<u8>> {
    fn reset(buf: &mut Vec<u8>) -> bool {
        buf.clear();
        buf.capacity() <= MAX_POOLED_BUFFER
    }
    Pool::new(cap, move || Vec::with_capacity(capacity), reset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_reused_and_reset() {
        let pool = buffer_pool(4, 64);
        {
            let mut a = pool.get();
            a.extend_from_slice(b"dirty");
        }
        let b = pool.get();
        assert!(b.is_empty(), "reset before reuse");
        assert!(b.capacity() >= 64);
        let s = pool.stats();
        assert_eq!((s.hits, s.misses, s.returned), (1, 1, 1));
    }

    #[test]
    fn the_cap_bounds_idle_objects() {
        let pool = buffer_pool(2, 16);
        let held: Vec<_> = (0..5).map(|_| pool.get()).collect();
        drop(held);
        let s = pool.stats();
        assert_eq!(s.size, 2);
        assert_eq!(s.returned, 2);
        assert_eq!(s.discarded, 3);
        assert_eq!(s.high_water, 2);
    }

    #[test]
    fn warm_up_turns_first_requests_into_hits() {
        let pool = buffer_pool(8, 16);
        pool.warm(100);
        assert_eq!(pool.stats().size, 8);
        let _a = pool.get();
        assert_eq!(pool.stats().hits, 1);
        assert_eq!(pool.stats().misses, 0);
    }

    #[test]
    fn a_declining_reset_discards() {
        let pool: Pool<Vec<u8>> = Pool::new(4, Vec::new, |v| v.capacity() < 100);
        {
            let mut big = pool.get();
            big.reserve(1000);
        }
        assert_eq!(pool.stats().discarded, 1);
        assert_eq!(pool.stats().size, 0);
    }

    #[test]
    fn shared_bytes_return_the_buffer_when_the_last_copy_drops() {
        let pool = buffer_pool(4, 32);
        let mut buf = pool.get();
        buf.extend_from_slice(b"frame");
        let bytes = buf.into_bytes();
        let copies: Vec<Bytes> = (0..3).map(|_| bytes.clone()).collect();
        assert_eq!(&copies[2][..], b"frame");
        drop(bytes);
        assert_eq!(pool.stats().returned, 0);
        drop(copies);
        assert_eq!(pool.stats().returned, 1);
        assert!(pool.get().is_empty());
    }

    #[test]
    fn detached_objects_never_come_back() {
        let pool = buffer_pool(4, 8);
        let v = pool.get().detach();
        drop(v);
        assert_eq!(pool.stats().returned, 0);
    }

    #[test]
    fn two_threads_share_one_pool() {
        let pool = buffer_pool(16, 64);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u32 {
                        let mut b = pool.get();
                        assert!(b.is_empty());
                        b.extend_from_slice(&i.to_le_bytes());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = pool.stats();
        assert_eq!(s.hits + s.misses, 20_000);
        assert!(s.hits > 19_000, "{s:?}");
    }
}
