//! A bounded priority queue for outgoing frames.
//!
//! One per connection in the relay (and in the client): three lanes,
//! critical > normal > low, FIFO within a lane; bounded by a count
//! (default 1000) and a byte budget. When a frame does not fit, the
//! [`DropStrategy`] decides:
//!
//! - `DropOldest`: evict the oldest queued frames, whatever their priority,
//!   until it fits (freshness first).
//! - `DropLowPriority`: evict the oldest frames of strictly lower priority,
//!   lowest lane first; if that is not enough, refuse the new frame
//!   (critical traffic is never displaced by anything less).
//! - `Backpressure`: evict nothing; the producer gets its frame back as
//!   [`Full`] and decides (the relay closes a consumer that stays full).
//!
//! Every drop is counted by reason and priority. The queue is plain data:
//! the relay puts it behind its own lock and wake-up; nothing here blocks.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::wire::Priority;

/// Anything queued knows its size in bytes (for the byte budget).
pub trait ByteLen {
    /// Bytes this item costs.
    fn byte_len(&self) -> usize;
}

impl ByteLen for Bytes {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

impl ByteLen for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// What to do when a frame does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropStrategy {
    /// Evict the oldest frames of any priority.
    DropOldest,
    /// Evict lower-priority frames; else refuse the new one.
    DropLowPriority,
    /// Evict nothing; hand the frame back.
    Backpressure,
}

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Evicted as the oldest (`DropOldest`).
    Evicted = 0,
    /// Displaced by a higher-priority frame (`DropLowPriority`).
    Displaced = 1,
    /// Refused on arrival (no room, nothing lower to displace, or
    /// `Backpressure`).
    Refused = 2,
}

/// Limits and strategy of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Most frames queued at once.
    pub capacity: usize,
    /// Most bytes queued at once.
    pub byte_budget: usize,
    /// What to do when full.
    pub strategy: DropStrategy,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            capacity: 1000,
            byte_budget: 4 * 1024 * 1024,
            strategy: DropStrategy::DropLowPriority,
        }
    }
}

/// The frame that did not fit, handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// Counters of a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Frames accepted.
    pub pushed: u64,
    /// Frames taken out.
    pub popped: u64,
    /// Most frames queued at once.
    pub high_water: usize,
    /// Drops: `[reason][priority]` (see [`DropReason`], [`Priority::index`]).
    pub drops: [[u64; 3]; 3],
}

impl QueueStats {
    /// Drops for one reason and priority.
    pub fn dropped(&self, reason: DropReason, priority: Priority) -> u64 {
        self.drops[reason as usize][priority.index()]
    }

    /// All drops.
    pub fn total_dropped(&self) -> u64 {
        self.drops.iter().flatten().sum()
    }
}

/// The bounded priority queue.
#[derive(Debug)]
pub struct PriorityQueue<T> {
    lanes: [VecDeque<(u64, T)>; 3],
    next_id: u64,
    len: usize,
    bytes: usize,
    config: QueueConfig,
    stats: QueueStats,
}

impl<T: ByteLen> PriorityQueue<T> {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        Self {
            lanes: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
            next_id: 0,
            len: 0,
            bytes: 0,
            config,
            stats: QueueStats::default(),
        }
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The counters.
    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// The configuration.
    pub fn config(&self) -> QueueConfig {
        self.config
    }

    /// Whether a frame of `size` bytes fits without dropping anything.
    pub fn fits(&self, size: usize) -> bool {
        self.len < self.config.capacity && self.bytes + size <= self.config.byte_budget
    }

    fn count(&mut self, reason: DropReason, priority: Priority) {
        self.stats.drops[reason as usize][priority.index()] += 1;
    }

    fn evict_from(&mut self, lane: usize) -> bool {
        let Some((_, item)) = self.lanes[lane].pop_front() else {
            return false;
        };
        self.len -= 1;
        self.bytes -= item.byte_len();
        true
    }

    /// Queues `item`; on `Err` it was not queued and is handed back.
    pub fn push(&mut self, priority: Priority, item: T) -> Result<(), Full<T>> {
        let size = item.byte_len();
        if size > self.config.byte_budget || self.config.capacity == 0 {
            self.count(DropReason::Refused, priority);
            return Err(Full(item));
        }
        while !self.fits(size) {
            match self.config.strategy {
                DropStrategy::Backpressure => {
                    self.count(DropReason::Refused, priority);
                    return Err(Full(item));
                }
                DropStrategy::DropOldest => {
                    let oldest = (0..3)
                        .filter_map(|lane| self.lanes[lane].front().map(|(id, _)| (*id, lane)))
                        .min();
                    let Some((_, lane)) = oldest else {
                        self.count(DropReason::Refused, priority);
                        return Err(Full(item));
                    };
                    self.evict_from(lane);
                    self.count(DropReason::Evicted, Priority::ALL[lane]);
                }
                DropStrategy::DropLowPriority => {
                    let victim = (priority.index() + 1..3)
                        .rev()
                        .find(|&lane| !self.lanes[lane].is_empty());
                    let Some(lane) = victim else {
                        self.count(DropReason::Refused, priority);
                        return Err(Full(item));
                    };
                    self.evict_from(lane);
                    self.count(DropReason::Displaced, Priority::ALL[lane]);
                }
            }
        }
        self.lanes[priority.index()].push_back((self.next_id, item));
        self.next_id += 1;
        self.len += 1;
        self.bytes += size;
        self.stats.pushed += 1;
        self.stats.high_water = self.stats.high_water.max(self.len);
        Ok(())
    }

    /// Takes the next frame: highest priority first, oldest first.
    pub fn pop(&mut self) -> Option<(Priority, T)> {
        let lane = (0..3).find(|&l| !self.lanes[l].is_empty())?;
        let (_, item) = self.lanes[lane].pop_front()?;
        self.len -= 1;
        self.bytes -= item.byte_len();
        self.stats.popped += 1;
        Some((Priority::ALL[lane], item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(capacity: usize, strategy: DropStrategy) -> PriorityQueue<Vec<u8>> {
        PriorityQueue::new(QueueConfig {
            capacity,
            byte_budget: 1_000,
            strategy,
        })
    }

    fn frame(tag: u8) -> Vec<u8> {
        vec![tag; 10]
    }

    fn drain(q: &mut PriorityQueue<Vec<u8>>) -> Vec<(Priority, u8)> {
        std::iter::from_fn(|| q.pop().map(|(p, f)| (p, f[0]))).collect()
    }

    #[test]
    fn higher_priorities_come_out_first_and_each_lane_in_order() {
        let mut q = queue(10, DropStrategy::Backpressure);
        q.push(Priority::Low, frame(1)).unwrap();
        q.push(Priority::Normal, frame(2)).unwrap();
        q.push(Priority::Critical, frame(3)).unwrap();
        q.push(Priority::Normal, frame(4)).unwrap();
        assert_eq!(q.len(), 4);
        assert_eq!(q.bytes(), 40);
        assert_eq!(
            drain(&mut q),
            vec![
                (Priority::Critical, 3),
                (Priority::Normal, 2),
                (Priority::Normal, 4),
                (Priority::Low, 1)
            ]
        );
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
        assert_eq!(q.stats().popped, 4);
    }

    #[test]
    fn backpressure_hands_the_frame_back_and_counts_it() {
        let mut q = queue(2, DropStrategy::Backpressure);
        q.push(Priority::Low, frame(1)).unwrap();
        q.push(Priority::Low, frame(2)).unwrap();
        assert_eq!(q.push(Priority::Critical, frame(3)), Err(Full(frame(3))));
        assert_eq!(
            q.stats().dropped(DropReason::Refused, Priority::Critical),
            1
        );
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn drop_oldest_evicts_whatever_is_oldest() {
        let mut q = queue(2, DropStrategy::DropOldest);
        q.push(Priority::Critical, frame(1)).unwrap();
        q.push(Priority::Low, frame(2)).unwrap();
        q.push(Priority::Low, frame(3)).unwrap();
        assert_eq!(
            q.stats().dropped(DropReason::Evicted, Priority::Critical),
            1
        );
        assert_eq!(drain(&mut q), vec![(Priority::Low, 2), (Priority::Low, 3)]);
    }

    #[test]
    fn drop_low_priority_displaces_lower_lanes_and_never_critical() {
        let mut q = queue(3, DropStrategy::DropLowPriority);
        q.push(Priority::Low, frame(1)).unwrap();
        q.push(Priority::Normal, frame(2)).unwrap();
        q.push(Priority::Critical, frame(3)).unwrap();
        // A critical frame displaces the low one first, then the normal one.
        q.push(Priority::Critical, frame(4)).unwrap();
        q.push(Priority::Critical, frame(5)).unwrap();
        let s = q.stats();
        assert_eq!(s.dropped(DropReason::Displaced, Priority::Low), 1);
        assert_eq!(s.dropped(DropReason::Displaced, Priority::Normal), 1);
        // Full of critical frames: a low frame is refused, and so is a
        // critical one (nothing lower to displace).
        assert_eq!(q.push(Priority::Low, frame(6)), Err(Full(frame(6))));
        assert_eq!(q.push(Priority::Critical, frame(7)), Err(Full(frame(7))));
        let s = q.stats();
        assert_eq!(s.dropped(DropReason::Refused, Priority::Low), 1);
        assert_eq!(s.dropped(DropReason::Refused, Priority::Critical), 1);
        assert_eq!(s.total_dropped(), 4);
        assert_eq!(
            drain(&mut q),
            vec![
                (Priority::Critical, 3),
                (Priority::Critical, 4),
                (Priority::Critical, 5)
            ]
        );
    }

    #[test]
    fn the_byte_budget_bounds_memory_too() {
        let mut q: PriorityQueue<Vec<u8>> = PriorityQueue::new(QueueConfig {
            capacity: 1_000,
            byte_budget: 100,
            strategy: DropStrategy::DropOldest,
        });
        for i in 0..50 {
            q.push(Priority::Normal, vec![i; 30]).unwrap();
            assert!(q.bytes() <= 100);
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.stats().dropped(DropReason::Evicted, Priority::Normal), 47);
        // A frame over the whole budget is refused outright.
        assert!(q.push(Priority::Critical, vec![0; 101]).is_err());
        assert_eq!(q.stats().high_water, 3);
    }

    #[test]
    fn the_default_is_a_thousand_frames() {
        let mut q: PriorityQueue<Bytes> = PriorityQueue::new(QueueConfig::default());
        for _ in 0..1_500 {
            let _ = q.push(Priority::Normal, Bytes::from_static(b"frame"));
        }
        assert_eq!(q.len(), 1_000);
        assert_eq!(
            q.stats().dropped(DropReason::Refused, Priority::Normal),
            500
        );
    }
}
