//! A room's link to the cluster, kept in the room under its lock: what
//! the room's task is asked to do, the joiners waiting for the room to
//! load, and the room's members on other relays.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use shared::wire::{error, PeerId, RoomId};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::wire::{self, RelayId};
use super::Cluster;
use crate::rooms::Refusal;

/// Frames a room may have waiting to be published here; more are refused
/// (`CLUSTER_UNAVAILABLE`), so that a stalled NATS cannot take memory.
pub(super) const MAX_UNPUBLISHED: usize = 1024;
/// Frames held while a room loads; past this it reloads from the stream.
pub(super) const MAX_HELD: usize = 4096;
/// Failed attempts to store a frame after which its sender is told the
/// room is stalled (the frame still waits, in order, for NATS).
pub(super) const STALLED_AFTER: u32 = 1;
/// How long a joiner that saw more of the room on another relay waits for
/// this relay to take it, before the room counts as made anew.
pub(super) const RESUME_WAIT: Duration = Duration::from_secs(1);

/// What the room's task is asked to do.
pub(super) enum Cmd {
    Publish(Bytes),
    Presence(Bytes),
    Direct(RelayId, PeerId, Bytes),
    Joined(PeerId),
    Left(PeerId),
    Reload,
    /// A joiner waits until then at most.
    Recheck(Instant),
}

/// A joiner waiting for the room to load.
pub(super) struct Waiting {
    pub(super) peer: PeerId,
    pub(super) conn: u64,
    pub(super) resume_from: u64,
    pub(super) until: Instant,
}

/// A room's cluster side, kept in the room (under its lock).
pub(crate) struct RoomLink {
    /// Its frames read up to now; members get replay and rosters.
    pub(crate) loaded: bool,
    /// Its numbering is known (a first message was read).
    pub(super) based: bool,
    /// The stream sequence of the last of its messages taken.
    pub(super) last_stream_seq: u64,
    /// Members on other relays, and which.
    pub(crate) remote: HashMap<PeerId, RelayId>,
    pub(super) waiting: Vec<Waiting>,
    /// Frames read from the shard while loading: (stream sequence,
    /// incarnation, frame).
    pub(super) held: Vec<(u64, u64, Bytes)>,
    pub(super) tx: mpsc::UnboundedSender<Cmd>,
    pub(super) unpublished: Arc<AtomicUsize>,
    /// Woken whenever the room takes a message from the stream.
    pub(super) delivered: Arc<Notify>,
}

/// A room about to be followed: its task starts once the room exists.
pub(crate) struct Opening {
    pub(super) cluster: Arc<Cluster>,
    pub(super) room: RoomId,
    pub(super) rx: mpsc::UnboundedReceiver<Cmd>,
    pub(super) unpublished: Arc<AtomicUsize>,
    pub(super) delivered: Arc<Notify>,
}

impl Cluster {
    /// A new room's link, and its task (to start with the room).
    pub(crate) fn open(self: &Arc<Self>, room: RoomId) -> (RoomLink, Opening) {
        let (tx, rx) = mpsc::unbounded_channel();
        let unpublished = Arc::new(AtomicUsize::new(0));
        let delivered = Arc::new(Notify::new());
        let link = RoomLink {
            loaded: false,
            based: false,
            last_stream_seq: 0,
            remote: HashMap::new(),
            waiting: Vec::new(),
            held: Vec::new(),
            tx,
            unpublished: Arc::clone(&unpublished),
            delivered: Arc::clone(&delivered),
        };
        let opening = Opening {
            cluster: Arc::clone(self),
            room,
            rx,
            unpublished,
            delivered,
        };
        (link, opening)
    }
}

impl RoomLink {
    pub(super) fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd);
    }

    /// A member joined here.
    pub(crate) fn joined(&self, peer: PeerId) {
        self.send(Cmd::Joined(peer));
    }

    /// A member left here.
    pub(crate) fn left(&self, peer: PeerId) {
        self.send(Cmd::Left(peer));
    }

    /// A joiner gets its replay and roster once the room is loaded.
    pub(crate) fn wait(&mut self, peer: PeerId, conn: u64, resume_from: u64) {
        let until = Instant::now() + RESUME_WAIT;
        self.waiting.push(Waiting {
            peer,
            conn,
            resume_from,
            until,
        });
        self.send(Cmd::Recheck(until));
    }

    /// A member's frame for the room's order.
    pub(crate) fn publish(&self, frame: Bytes) -> Result<(), Refusal> {
        if self.unpublished.fetch_add(1, Ordering::Relaxed) >= MAX_UNPUBLISHED {
            self.unpublished.fetch_sub(1, Ordering::Relaxed);
            return Err(unavailable(
                "the cluster is not taking frames now; send it again",
            ));
        }
        self.send(Cmd::Publish(frame));
        Ok(())
    }

    /// A member's presence frame, for the room's members elsewhere.
    pub(crate) fn presence(&self, frame: Bytes) {
        self.send(Cmd::Presence(frame));
    }

    /// A frame for `target`, a member on `relay`.
    pub(crate) fn direct(
        &self,
        relay: RelayId,
        target: PeerId,
        frame: Bytes,
    ) -> Result<(), Refusal> {
        self.send(Cmd::Direct(relay, target, frame));
        Ok(())
    }
}

fn unavailable(reason: &str) -> Refusal {
    Refusal::new(error::CLUSTER_UNAVAILABLE, "cluster_unavailable", reason)
}

/// The incarnation a stored message carries.
pub(super) fn incarnation(headers: &Option<HeaderMap>) -> u64 {
    headers
        .as_ref()
        .and_then(|h| h.get(wire::INCARNATION))
        .and_then(|v| v.as_str().parse().ok())
        .unwrap_or(0)
}

/// Where this relay's publishing stands: the room's last stored message
/// as it knows it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cursor {
    pub(super) stream_seq: u64,
    pub(super) next_seq: u64,
    pub(super) time: u64,
    pub(super) incarnation: u64,
}

/// What taking one message from the stream did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Taken {
    /// Taken (or a duplicate, skipped).
    Done,
    /// A number was skipped: reload from the stream.
    Gap,
}
