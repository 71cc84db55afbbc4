//! A room's order in cluster mode: the messages read from the stream,
//! taken in turn (held while the room loads; a number skipped has it
//! reload), and the joiners welcomed once the room has what they saw.

use bytes::Bytes;
use shared::codec::FrameHeader;
use shared::wire::RoomId;
use tokio::time::Instant;

use super::link::{Cmd, Taken, Waiting, MAX_HELD};
use crate::rooms::{Hub, Room};

impl Hub {
    /// A message of `room_id` read from its shard.
    pub(crate) fn cluster_deliver(
        &self,
        room_id: &RoomId,
        stream_seq: u64,
        incarnation: u64,
        frame: Bytes,
    ) {
        let Some(room) = self.room(room_id) else {
            return;
        };
        let Ok(mut r) = room.lock() else { return };
        let Some(link) = r.cluster.as_mut() else {
            return;
        };
        if !link.loaded {
            if link.held.len() < MAX_HELD {
                link.held.push((stream_seq, incarnation, frame));
            }
            // (Past that the room reloads from the stream when loaded.)
            return;
        }
        if self.take(&mut r, stream_seq, incarnation, frame, false) == Taken::Gap {
            if let Some(link) = r.cluster.as_mut() {
                link.loaded = false;
                link.send(Cmd::Reload);
            }
        }
    }

    /// Takes one stored message into the room's order: a marker sets its
    /// numbering, a frame is kept for replay and fanned out. While
    /// `loading`, a number skipped (frames the stream no longer keeps) is
    /// passed over; live, it is a gap.
    pub(super) fn take(
        &self,
        r: &mut Room,
        stream_seq: u64,
        incarnation: u64,
        frame: Bytes,
        loading: bool,
    ) -> Taken {
        let Some(link) = r.cluster.as_mut() else {
            return Taken::Done;
        };
        if stream_seq <= link.last_stream_seq {
            return Taken::Done;
        }
        let header = if frame.is_empty() {
            None
        } else {
            match FrameHeader::peek(&frame) {
                Ok((header, _)) => Some(header),
                Err(_) => {
                    link.last_stream_seq = stream_seq;
                    return Taken::Done;
                }
            }
        };
        let seq = header.map_or(0, |h| h.seq);
        let based = link.based;
        if !based || incarnation != r.incarnation {
            // The room's numbering starts here: the first message this
            // relay reads of it, or the room was made anew.
            link.based = true;
            r.incarnation = incarnation;
            r.next_seq = seq.max(1);
            if based {
                self.forget_replay(r);
            }
        }
        let Some(header) = header else {
            if let Some(link) = r.cluster.as_mut() {
                link.last_stream_seq = stream_seq;
            }
            return Taken::Done;
        };
        if seq < r.next_seq {
            if let Some(link) = r.cluster.as_mut() {
                link.last_stream_seq = stream_seq;
            }
            return Taken::Done;
        }
        if seq > r.next_seq && !loading {
            tracing::debug!(
                seq,
                expected = r.next_seq,
                stream_seq,
                "cluster: a number skipped; reloading"
            );
            return Taken::Gap;
        }
        if let Some(link) = r.cluster.as_mut() {
            link.last_stream_seq = stream_seq;
            link.delivered.notify_waiters();
        }
        if !loading {
            let now = crate::rooms::unix_ms();
            self.metrics()
                .cluster_lag_ms
                .set(now.saturating_sub(header.time) as i64);
        }
        self.keep_and_fan_out(r, &header.sender, header.priority, frame, seq, header.time);
        if !loading && r.cluster.as_ref().is_some_and(|l| !l.waiting.is_empty()) {
            self.welcome_due(r, header.room);
        }
        Taken::Done
    }

    /// The room is loaded: takes what was held and welcomes the waiting
    /// joiners. False if something is missing (load again).
    pub(super) fn cluster_loaded(&self, r: &mut Room, room_id: RoomId) -> bool {
        let Some(link) = r.cluster.as_mut() else {
            return true;
        };
        let overflow = link.held.len() >= MAX_HELD;
        let held = std::mem::take(&mut link.held);
        for (seq, incarnation, frame) in held {
            if self.take(r, seq, incarnation, frame, false) == Taken::Gap {
                return false;
            }
        }
        if overflow {
            return false;
        }
        let Some(link) = r.cluster.as_mut() else {
            return true;
        };
        link.loaded = true;
        link.delivered.notify_waiters();
        self.welcome_due(r, room_id);
        true
    }

    /// Gives the waiting joiners whose time has come their replay and
    /// roster: the room is loaded and has taken what each saw, or its
    /// wait is over.
    pub(super) fn welcome_due(&self, r: &mut Room, room_id: RoomId) {
        let next = r.next_seq;
        let Some(link) = r.cluster.as_mut() else {
            return;
        };
        if !link.loaded {
            return;
        }
        let now = Instant::now();
        let (due, wait): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut link.waiting)
            .into_iter()
            .partition(|w| w.resume_from == u64::MAX || w.resume_from < next || now >= w.until);
        link.waiting = wait;
        for w in due {
            if r.members.get(&w.peer).is_some_and(|m| m.conn == w.conn) {
                self.welcome(r, &w.peer, room_id, w.resume_from);
            }
        }
    }
}
