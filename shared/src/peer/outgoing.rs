//! A peer's own frames for one room, until the relay has them: kept in
//! order while disconnected, re-sent after a resume, acknowledged by the
//! relay's echo (the frame coming back stamped), and the newest few kept
//! after that so that a room the relay lost (a restart) can be given them
//! again.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::codec::frame::SIGNATURE_LEN;

/// Acknowledged frames kept for a room the relay loses: the peers that
/// stayed may have missed the last few the relay stamped before it died.
pub const RETAINED: usize = 64;

/// Own frames for one room.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Made, not yet seen stamped (oldest first).
    unacked: VecDeque<Bytes>,
    /// Seen stamped, newest last (at most [`RETAINED`]).
    acked: VecDeque<Bytes>,
    /// The house's `Table` frame: first again in a room the relay lost.
    announce: Option<Bytes>,
}

/// A signed frame's identity: its signature (its last 64 bytes), which the
/// relay's stamp (sequence number, priority) leaves alone.
fn signature(frame: &[u8]) -> &[u8] {
    &frame[frame.len().saturating_sub(SIGNATURE_LEN)..]
}

impl Outgoing {
    /// Sets the house's table announcement (and queues it).
    pub fn announce(&mut self, frame: Bytes) {
        self.announce = Some(frame.clone());
        self.unacked.push_back(frame);
    }

    /// Queues a frame made now.
    pub fn push(&mut self, frame: Bytes) {
        self.unacked.push_back(frame);
    }

    /// Marks `stamped` (one of ours, back from the relay) as delivered.
    /// Returns whether it was waiting.
    pub fn ack(&mut self, stamped: &[u8]) -> bool {
        let sig = signature(stamped);
        let Some(at) = self.unacked.iter().position(|f| signature(f) == sig) else {
            return false;
        };
        if let Some(frame) = self.unacked.remove(at) {
            self.acked.push_back(frame);
            if self.acked.len() > RETAINED {
                self.acked.pop_front();
            }
        }
        true
    }

    /// The frames the relay does not have, in order (to send after a join).
    pub fn unacked(&self) -> impl Iterator<Item = &Bytes> {
        self.unacked.iter()
    }

    /// How many frames the relay does not have yet.
    pub fn waiting(&self) -> usize {
        self.unacked.len()
    }

    /// Another connection of this key took the room over: the frames the
    /// relay does not have must never go (the other tab signs its own
    /// under the same numbers). Returns how many there were.
    pub fn forsake(&mut self) -> usize {
        let unsent = self.unacked.len();
        self.unacked.clear();
        self.acked.clear();
        unsent
    }

    /// The relay lost the room (it restarted, or the room was emptied and
    /// made anew): the announcement, the retained frames and the unsent
    /// ones all go again, in that order.
    pub fn room_lost(&mut self) {
        let mut again: VecDeque<Bytes> = VecDeque::new();
        let push = |f: Bytes, again: &mut VecDeque<Bytes>| {
            if !again.iter().any(|g| signature(g) == signature(&f)) {
                again.push_back(f);
            }
        };
        if let Some(a) = self.announce.clone() {
            push(a, &mut again);
        }
        for f in self.acked.drain(..).chain(self.unacked.drain(..)) {
            push(f, &mut again);
        }
        self.unacked = again;
    }
}
