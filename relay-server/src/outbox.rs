//! One connection's outgoing side: a bounded priority queue (from
//! `shared`) that the room fan-out fills without ever waiting, and the
//! signals its writer task and reader loop watch.
//!
//! - `wake`: a frame was queued, or the connection is closing (the writer
//!   drains the queue to the socket).
//! - `closing`: the close code and reason, set once; the reader loop sees
//!   it through `closed()` and ends the connection.
//! - Slow consumers: when a frame is refused because the queue is full
//!   (nothing lower-priority left to drop), the time is noted; if the queue
//!   is still full past the grace period, the connection is closed with
//!   `close::SLOW_CONSUMER`. A refused *critical* frame closes it at once:
//!   the client would otherwise read on with a hole in the room's order;
//!   closed, it reconnects and resumes from the replay. Memory per connection is thus bounded by the
//!   queue's frame count and byte budget.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use shared::queue::{DropReason, DropStrategy, PriorityQueue, QueueConfig, QueueStats};
use shared::wire::{close, Priority};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::{Metrics, DROP_REASONS, PRIORITIES};

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued (possibly after dropping lower-priority frames).
    Queued,
    /// Refused: the queue is full; the consumer is within its grace period.
    Refused,
    /// Refused, and the consumer has now been declared slow and is closing.
    SlowConsumer,
    /// The connection is closing; the frame was discarded.
    Closing,
}

struct State {
    queue: PriorityQueue<Bytes>,
    full_since: Option<Instant>,
    closing: Option<(u16, String)>,
}

/// The outgoing side of one connection.
pub struct Outbox {
    /// A leaf lock: taken under a room's lock by fan-out, and nothing is
    /// ever locked while it is held (metrics are atomics).
    state: Mutex<State>,
    wake: Notify,
    closed: Notify,
    full: Notify,
    grace: Duration,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// An empty outbox holding at most `frames` frames and `bytes` bytes,
    /// dropping by `strategy` when full.
    pub fn new(
        frames: usize,
        bytes: usize,
        strategy: DropStrategy,
        grace: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                queue: PriorityQueue::new(QueueConfig {
                    capacity: frames,
                    byte_budget: bytes,
                    strategy,
                }),
                full_since: None,
                closing: None,
            }),
            wake: Notify::new(),
            closed: Notify::new(),
            full: Notify::new(),
            grace,
            metrics,
        }
    }

    fn count_drops(&self, before: &QueueStats, after: &QueueStats) {
        for (r, reason) in DROP_REASONS.iter().enumerate() {
            for (p, priority) in PRIORITIES.iter().enumerate() {
                let n = after.drops[r][p] - before.drops[r][p];
                if n > 0 {
                    self.metrics
                        .drops
                        .with_label_values(&[reason, priority])
                        .inc_by(n);
                }
            }
        }
    }

    /// Queues a frame without waiting.
    pub fn push(&self, priority: Priority, frame: Bytes) -> Pushed {
        let Ok(mut state) = self.state.lock() else {
            return Pushed::Closing;
        };
        if state.closing.is_some() {
            return Pushed::Closing;
        }
        // Drops can only happen when the frame does not fit: only then is
        // it worth comparing the drop counters (the common case skips it).
        let before = (!state.queue.fits(frame.len())).then(|| state.queue.stats());
        let (len_before, bytes_before) = (state.queue.len(), state.queue.bytes());
        let result = state.queue.push(priority, frame);
        let mut lost_critical = false;
        if let Some(before) = before {
            let after = state.queue.stats();
            self.count_drops(&before, &after);
            // (`DropOldest` may evict game frames already queued.)
            let critical = Priority::Critical.index();
            lost_critical = after.drops[DropReason::Evicted as usize][critical]
                > before.drops[DropReason::Evicted as usize][critical];
        }
        self.metrics
            .queued_frames
            .add(state.queue.len() as i64 - len_before as i64);
        self.metrics
            .queued_bytes
            .add(state.queue.bytes() as i64 - bytes_before as i64);
        match result {
            // A game frame evicted would leave the same hole as one
            // refused (below): close now, the client resumes.
            Ok(()) if lost_critical => {
                self.close_slow(state);
                Pushed::SlowConsumer
            }
            Ok(()) => {
                drop(state);
                self.metrics.frames_out.inc();
                self.wake.notify_one();
                Pushed::Queued
            }
            // A critical frame that does not fit (the queue holds nothing
            // less important to drop) would leave a hole in the room's
            // order for this client: close it now as a slow consumer, so
            // it reconnects and resumes from the replay, instead of
            // reading on with a gap.
            Err(_) if priority == Priority::Critical => {
                self.close_slow(state);
                Pushed::SlowConsumer
            }
            Err(_) => {
                let now = Instant::now();
                let since = match state.full_since {
                    Some(since) => since,
                    None => {
                        // Tell the connection to check back after the grace.
                        state.full_since = Some(now);
                        self.full.notify_one();
                        now
                    }
                };
                if now.duration_since(since) < self.grace {
                    return Pushed::Refused;
                }
                self.close_slow(state);
                Pushed::SlowConsumer
            }
        }
    }

    /// When the queue's grace runs out if it stays full (`None` while it
    /// is not full or the connection is closing).
    pub fn slow_deadline(&self) -> Option<Instant> {
        let state = self.state.lock().ok()?;
        if state.closing.is_some() {
            return None;
        }
        state.full_since.map(|since| since + self.grace)
    }

    /// Resolves when the queue has just become full: the connection then
    /// checks back at [`slow_deadline`](Self::slow_deadline), so a consumer
    /// is caught even when no new frame arrives, and an idle connection
    /// keeps no timer for it.
    pub async fn became_full(&self) {
        self.full.notified().await;
    }

    /// Closes the connection as a slow consumer if its queue has been full
    /// for longer than the grace period. Returns whether it did.
    pub fn check_slow(&self) -> bool {
        let Ok(state) = self.state.lock() else {
            return false;
        };
        let overdue = state.closing.is_none()
            && state
                .full_since
                .is_some_and(|since| since.elapsed() >= self.grace);
        if overdue {
            self.close_slow(state);
        }
        overdue
    }

    /// Closes the connection as a slow consumer (with its state locked).
    fn close_slow(&self, mut state: std::sync::MutexGuard<'_, State>) {
        state.closing = Some((close::SLOW_CONSUMER, "slow consumer: queue full".into()));
        drop(state);
        self.metrics.slow_consumer_disconnects.inc();
        self.wake.notify_one();
        self.closed.notify_one();
    }

    /// Takes up to `max` frames for the writer.
    pub fn pop_batch(&self, max: usize) -> Vec<Bytes> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let (len_before, bytes_before) = (state.queue.len(), state.queue.bytes());
        while out.len() < max {
            match state.queue.pop() {
                Some((_, frame)) => out.push(frame),
                None => break,
            }
        }
        if !out.is_empty() {
            state.full_since = None;
        }
        self.metrics
            .queued_frames
            .sub(len_before as i64 - state.queue.len() as i64);
        self.metrics
            .queued_bytes
            .sub(bytes_before as i64 - state.queue.bytes() as i64);
        out
    }

    /// Frames and bytes queued now.
    pub fn depth(&self) -> (usize, usize) {
        self.state
            .lock()
            .map(|s| (s.queue.len(), s.queue.bytes()))
            .unwrap_or((0, 0))
    }

    /// Room left in the queue now: frames and bytes.
    pub fn space(&self) -> (usize, usize) {
        self.state
            .lock()
            .map(|s| {
                let config = s.queue.config();
                (
                    config.capacity.saturating_sub(s.queue.len()),
                    config.byte_budget.saturating_sub(s.queue.bytes()),
                )
            })
            .unwrap_or((0, 0))
    }

    /// The queue's counters.
    pub fn stats(&self) -> QueueStats {
        self.state
            .lock()
            .map(|s| s.queue.stats())
            .unwrap_or_default()
    }

    /// Starts closing with `code` (the first reason given wins).
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        if let Ok(mut state) = self.state.lock() {
            state.closing.get_or_insert((code, reason.into()));
        }
        self.wake.notify_one();
        self.closed.notify_one();
    }

    /// The close code and reason, once closing.
    pub fn closing(&self) -> Option<(u16, String)> {
        self.state.lock().ok().and_then(|s| s.closing.clone())
    }

    /// Resolves when there may be frames to write (or a close to send).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Resolves when the connection has started closing.
    pub async fn closed(&self) {
        loop {
            if self.closing().is_some() {
                return;
            }
            self.closed.notified().await;
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if let Ok(state) = self.state.lock() {
            self.metrics.queued_frames.sub(state.queue.len() as i64);
            self.metrics.queued_bytes.sub(state.queue.bytes() as i64);
        }
    }
}
