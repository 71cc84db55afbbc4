//! A room's order on one relay: stamping frames, keeping them for
//! replay within the relay's bounds, and replaying them to a joiner.

use bytes::{Bytes, BytesMut};
use shared::codec::stamp;
use shared::wire::{error, PeerId, Priority, RoomId};

use super::{error_frame, Hub, Room};
use crate::outbox::Outbox;

impl Hub {
    /// Queues for a joining peer what it missed since `resume_from`: every
    /// kept frame after it, as many of the newest as its queue has room for
    /// (with `reserve` bytes left for the roster). If frames it needs are
    /// gone, or do not fit, an `Error` frame says which, so it can
    /// resynchronise instead of waiting for them.
    pub(crate) fn replay_to(
        &self,
        room: &Room,
        outbox: &Outbox,
        room_id: RoomId,
        resume_from: u64,
        reserve: usize,
    ) {
        // Room for the roster, and for this error frame itself.
        const SLACK_BYTES: usize = 512;
        let (free_frames, free_bytes) = outbox.space();
        let frames_left = free_frames.saturating_sub(2);
        let bytes_left = free_bytes.saturating_sub(reserve + SLACK_BYTES);
        // A resume point past the room's numbering comes from a room that
        // was emptied and made anew since: everything here is new to it.
        // (`u64::MAX` asks for nothing from the past.)
        let resume_from = if resume_from >= room.next_seq && resume_from != u64::MAX {
            0
        } else {
            resume_from
        };
        let wanted = room.replay.partition_point(|(seq, _)| *seq <= resume_from);
        let mut first = room.replay.len();
        let mut bytes = 0;
        while first > wanted && room.replay.len() - first < frames_left {
            let len = room.replay[first - 1].1.len();
            if bytes + len > bytes_left {
                break;
            }
            bytes += len;
            first -= 1;
        }
        let first_seq = room
            .replay
            .get(first)
            .map_or(room.next_seq, |(seq, _)| *seq);
        if resume_from < u64::MAX && resume_from + 1 < first_seq {
            self.metrics.resume_gaps.inc();
            outbox.push(
                Priority::Critical,
                error_frame(
                    room_id,
                    error::RESUME_GAP,
                    &format!(
                        "frames {}..{} are gone (replay keeps {}); resynchronise",
                        resume_from.saturating_add(1),
                        first_seq - 1,
                        self.limits.replay_frames
                    ),
                ),
            );
        }
        for (_, frame) in room.replay.range(first..) {
            self.metrics.replay_hits.inc();
            outbox.push(Priority::Critical, frame.clone());
        }
    }

    /// The relay time the room's next stamped frame gets: now, never
    /// before the room's last (whatever time a client wrote in its frame:
    /// the game's deadlines are judged on this clock alone).
    pub(super) fn next_time(room: &Room) -> u64 {
        unix_ms().max(room.last_time)
    }

    /// Stamps `frame` with the room's next sequence number and the relay
    /// time `time` (from [`Hub::next_time`]), keeps it for replay and
    /// queues it for every member but its `sender` (and for the sender too
    /// when it asked for its echo).
    pub(super) fn stamp_and_fan_out(
        &self,
        room: &mut Room,
        sender: &PeerId,
        priority: Priority,
        frame: Bytes,
        time: u64,
    ) {
        let seq = room.next_seq;
        let mut stamped = BytesMut::from(&frame[..]);
        let _ = stamp(&mut stamped, seq, time);
        self.keep_and_fan_out(room, sender, priority, stamped.freeze(), seq, time);
    }

    /// Takes a stamped frame (number `seq`, relay time `time`) into the
    /// room's order: keeps it for replay and queues it for every member
    /// but its `sender` (and for the sender too when it asked for its
    /// echo).
    pub(crate) fn keep_and_fan_out(
        &self,
        room: &mut Room,
        sender: &PeerId,
        priority: Priority,
        frame: Bytes,
        seq: u64,
        time: u64,
    ) {
        room.next_seq = seq + 1;
        room.last_time = time;
        room.replay_bytes += frame.len();
        room.replay.push_back((seq, frame.clone()));
        self.metrics.replay_bytes.add(frame.len() as i64);
        // Each room within its own window; and all rooms together within
        // the relay's budget, which a room that stamps a frame while over
        // it pays for from its own oldest frames (down to none: the frame
        // still goes to every member, and a newcomer is told of the gap),
        // so that rooms opened by the thousand cannot take the relay's
        // memory.
        let budget = self.limits.replay_total_bytes as i64;
        while room.replay.len() > self.limits.replay_frames
            || room.replay_bytes > self.limits.replay_bytes
            || self.metrics.replay_bytes.get() > budget
        {
            match room.replay.pop_front() {
                Some((_, old)) => {
                    room.replay_bytes -= old.len();
                    self.metrics.replay_bytes.sub(old.len() as i64);
                }
                None => break,
            }
        }
        let except = match room.members.get(sender) {
            Some(member) if member.echo => None,
            _ => Some(sender),
        };
        Self::fan_out(room, except, priority, &frame);
    }

    /// Empties a room's replay (a room that is gone, or made anew).
    pub(crate) fn forget_replay(&self, room: &mut Room) {
        self.metrics.replay_bytes.sub(room.replay_bytes as i64);
        room.replay.clear();
        room.replay_bytes = 0;
    }
}

/// Now, in milliseconds since the Unix epoch (the relay time's clock).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
