//! One room in cluster mode: its order from the rooms' stream, its
//! members on other relays, and the task that carries its traffic.
//!
//! A room opens here when its first member here joins: its task asks the
//! other relays who of theirs is in it (a hello), makes sure its shard is
//! read, loads its kept frames from the stream (a room never seen before
//! gets a marker first, carrying its incarnation; the first relay to
//! store one wins), waits up to [`super::HELLO_WAIT`] for the answers,
//! and only then gives its first joiners their replay and roster. Frames
//! the shard brings meanwhile are held and taken in order afterwards.
//!
//! A client's frame is stamped here with the room's next number and time
//! and published on condition that the room's last stored message is
//! still the one this relay knows; if another relay stored one first,
//! this one waits until it has read it and tries again. Nothing is fanned
//! out on publishing: every relay, this one included, delivers the frame
//! when it reads it from the stream, so every member everywhere gets the
//! same bytes in the same order. A frame read out of turn (a number
//! skipped) has the room reload from the stream where it was.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::consumer;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::HeaderMap;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use shared::codec::{stamp, FrameRef};
use shared::wire::{error, PeerId, Priority, MAX_FRAME_LEN};
use tokio::time::Instant;

use super::link::{incarnation, Cmd, Cursor, Opening, STALLED_AFTER};
use super::wire::{self, News, RelayId};
use crate::rooms::{error_frame, Room};

impl Opening {
    /// Starts the room's task, which ends when the room is gone.
    pub(crate) fn start(self, room: Weak<Mutex<Room>>) {
        tokio::spawn(self.run(room));
    }

    async fn run(mut self, weak: Weak<Mutex<Room>>) {
        let cluster = Arc::clone(&self.cluster);
        let Ok(mut presence) = cluster
            .client
            .subscribe(wire::presence_subject(&self.room))
            .await
        else {
            tracing::warn!("cluster: cannot subscribe to a room's presence");
            return;
        };
        cluster.hello(&self.room).await;
        let asked = cluster.live_relays();
        let hello_until = tokio::time::Instant::now() + super::HELLO_WAIT;
        let mut answered = Vec::new();
        // Its history, then the other relays' answers.
        let mut backoff = Duration::from_millis(50);
        loop {
            if weak.strong_count() == 0 {
                return;
            }
            match self.load(&weak, true).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: cannot load a room; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        while !asked.iter().all(|r| answered.contains(r)) {
            match tokio::time::timeout_at(hello_until, presence.next()).await {
                Ok(Some(message)) => {
                    if let Some(relay) = self.news(&weak, &message.payload) {
                        answered.push(relay);
                    }
                }
                _ => break,
            }
        }
        if !self.loaded(&weak) {
            self.reload(&weak).await;
        }
        let mut publisher = Cursor::default();
        let mut recheck: Option<Instant> = None;
        loop {
            let due = recheck.unwrap_or_else(Instant::now);
            tokio::select! {
                () = tokio::time::sleep_until(due), if recheck.is_some() => {
                    recheck = None;
                    self.welcome_due(&weak);
                }
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else { return };
                    match cmd {
                        Cmd::Publish(frame) => {
                            self.publish(&weak, &mut publisher, frame).await;
                            self.unpublished.fetch_sub(1, Ordering::Relaxed);
                        }
                        Cmd::Presence(frame) => self.tell(News::Frame(frame)).await,
                        Cmd::Joined(peer) => self.tell(News::Joined(peer)).await,
                        Cmd::Left(peer) => self.tell(News::Left(peer)).await,
                        Cmd::Direct(relay, target, frame) => {
                            cluster.metrics.cluster("direct_out");
                            tracing::debug!(relay = %format!("{relay:016x}"), target = %shared::hex(&target[..6]), "cluster: frame for a member there");
                            let body = wire::encode_direct(cluster.id, &self.room, &target, &frame);
                            let _ = cluster.client.publish(wire::relay_subject(relay), body).await;
                        }
                        Cmd::Reload => self.reload(&weak).await,
                        Cmd::Recheck(at) => {
                            recheck = Some(recheck.map_or(at, |r| r.min(at)));
                        }
                    }
                }
                message = presence.next() => {
                    let Some(message) = message else { return };
                    self.news(&weak, &message.payload);
                }
            }
        }
    }

    async fn tell(&self, news: News) {
        self.cluster.metrics.cluster("presence_out");
        let _ = self
            .cluster
            .client
            .publish(
                wire::presence_subject(&self.room),
                news.encode(self.cluster.id),
            )
            .await;
    }

    /// Takes another relay's news about the room; returns the relay if it
    /// was a `State` (an answer to a hello).
    fn news(&self, weak: &Weak<Mutex<Room>>, payload: &Bytes) -> Option<RelayId> {
        let (relay, news) = News::decode(payload)?;
        if relay == self.cluster.id {
            return None;
        }
        self.cluster.metrics.cluster("presence_in");
        tracing::debug!(relay = %format!("{relay:016x}"), ?news, "cluster: news");
        let hub = self.cluster.hub.upgrade()?;
        let room = weak.upgrade()?;
        let mut r = room.lock().ok()?;
        let state = matches!(news, News::State(_));
        hub.cluster_news(&mut r, self.room, relay, news);
        // Its last member here moved to another relay.
        if hub.close_if_empty(&mut r) {
            drop(r);
            hub.remove_closed(&self.room, &room);
        }
        state.then_some(relay)
    }

    /// Loads the room's kept frames from the stream (all of them the first
    /// time, else those after the last taken).
    async fn load(&self, weak: &Weak<Mutex<Room>>, first: bool) -> anyhow::Result<()> {
        let cluster = &self.cluster;
        cluster
            .read_shard(wire::shard(cluster.shards, &self.room))
            .await?;
        let subject = wire::room_subject(cluster.shards, &self.room);
        let last = loop {
            match cluster
                .stream
                .get_last_raw_message_by_subject(&subject)
                .await
            {
                Ok(m) => break m.sequence,
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {}
                Err(e) => anyhow::bail!("reading the room's last frame: {e}"),
            }
            // Never seen: mark it, with its incarnation (the first relay's
            // marker wins; the others read it on the next turn).
            let mut headers = HeaderMap::new();
            headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
            headers.insert(
                wire::INCARNATION,
                crate::rooms::random_u64().to_string().as_str(),
            );
            let ack = cluster
                .js
                .publish_with_headers(subject.clone(), headers, Bytes::new())
                .await;
            match ack {
                Ok(ack) => match ack.await {
                    Ok(_) => {}
                    Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {}
                    Err(e) => anyhow::bail!("marking a new room: {e}"),
                },
                Err(e) => anyhow::bail!("marking a new room: {e}"),
            }
        };
        let from = if first { 0 } else { self.taken(weak) };
        if last > from {
            let policy = if from == 0 {
                consumer::DeliverPolicy::All
            } else {
                consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from + 1,
                }
            };
            let consumer = cluster
                .stream
                .create_consumer(consumer::push::OrderedConfig {
                    deliver_subject: cluster.client.new_inbox(),
                    filter_subject: subject,
                    deliver_policy: policy,
                    ..Default::default()
                })
                .await
                .map_err(|e| anyhow::anyhow!("reading the room's frames: {e}"))?;
            let mut messages = consumer
                .messages()
                .await
                .map_err(|e| anyhow::anyhow!("reading the room's frames: {e}"))?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let message = tokio::time::timeout_at(deadline, messages.next())
                    .await
                    .map_err(|_| anyhow::anyhow!("the room's frames did not come in 10 s"))?
                    .ok_or_else(|| anyhow::anyhow!("the room's frames ended early"))?
                    .map_err(|e| anyhow::anyhow!("reading the room's frames: {e}"))?;
                let seq = message
                    .info()
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .stream_sequence;
                let (Some(hub), Some(room)) = (cluster.hub.upgrade(), weak.upgrade()) else {
                    return Ok(());
                };
                if let Ok(mut r) = room.lock() {
                    hub.take(
                        &mut r,
                        seq,
                        incarnation(&message.headers),
                        message.payload.clone(),
                        true,
                    );
                }
                if seq >= last {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The stream sequence of the room's last message taken here.
    fn taken(&self, weak: &Weak<Mutex<Room>>) -> u64 {
        weak.upgrade()
            .and_then(|room| {
                let r = room.lock().ok()?;
                Some(r.cluster.as_ref()?.last_stream_seq)
            })
            .unwrap_or(0)
    }

    /// Loaded: takes what was held meanwhile and welcomes the waiting
    /// joiners. False if a number was skipped (load again).
    fn loaded(&self, weak: &Weak<Mutex<Room>>) -> bool {
        let (Some(hub), Some(room)) = (self.cluster.hub.upgrade(), weak.upgrade()) else {
            return true;
        };
        let Ok(mut r) = room.lock() else { return true };
        hub.cluster_loaded(&mut r, self.room)
    }

    /// Welcomes the joiners whose wait is over.
    fn welcome_due(&self, weak: &Weak<Mutex<Room>>) {
        let (Some(hub), Some(room)) = (self.cluster.hub.upgrade(), weak.upgrade()) else {
            return;
        };
        if let Ok(mut r) = room.lock() {
            hub.welcome_due(&mut r, self.room);
        };
    }

    /// Loads what was missed, until nothing is.
    async fn reload(&self, weak: &Weak<Mutex<Room>>) {
        let mut backoff = Duration::from_millis(20);
        loop {
            if weak.strong_count() == 0 {
                return;
            }
            match self.load(weak, false).await {
                Ok(()) if self.loaded(weak) => return,
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: cannot reload a room; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// The room's last stored message as this relay knows it: what it
    /// took from the stream, or what it stored itself since, whichever is
    /// later. `None` while the room is loading.
    fn cursor(&self, weak: &Weak<Mutex<Room>>, publisher: &Cursor) -> Option<Cursor> {
        let room = weak.upgrade()?;
        let r = room.lock().ok()?;
        let link = r.cluster.as_ref()?;
        if !link.loaded {
            return None;
        }
        let taken = Cursor {
            stream_seq: link.last_stream_seq,
            next_seq: r.next_seq,
            time: r.last_time,
            incarnation: r.incarnation,
        };
        Some(if publisher.stream_seq > taken.stream_seq {
            *publisher
        } else {
            taken
        })
    }

    /// Stamps `frame` with the room's next number and time and stores it
    /// in the stream, on condition that nothing was stored since the
    /// last message this relay knows (else, once it has read what was,
    /// again).
    async fn publish(&self, weak: &Weak<Mutex<Room>>, publisher: &mut Cursor, frame: Bytes) {
        let cluster = &self.cluster;
        let Ok(parsed) = FrameRef::parse(&frame, MAX_FRAME_LEN) else {
            return;
        };
        let sender = parsed.header.sender;
        let id = frame_id(&frame);
        let subject = wire::room_subject(cluster.shards, &self.room);
        let mut failures = 0;
        loop {
            let delivered = self.delivered.notified();
            tokio::pin!(delivered);
            delivered.as_mut().enable();
            let Some(cursor) = self.cursor(weak, publisher) else {
                if weak.strong_count() == 0 {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), delivered).await;
                continue;
            };
            if !cluster.connected() {
                // No NATS: the frame waits, in order, for it to come back.
                failures += 1;
                if failures == STALLED_AFTER {
                    tracing::warn!("cluster: NATS unreachable; frames wait");
                    self.stalled(weak, &sender);
                }
                tokio::time::sleep(Duration::from_millis(50 << failures.min(5))).await;
                continue;
            }
            let now = crate::rooms::unix_ms();
            let time = now.max(cursor.time);
            let mut stamped = BytesMut::from(&frame[..]);
            let _ = stamp(&mut stamped, cursor.next_seq, time);
            let mut headers = HeaderMap::new();
            headers.insert(
                NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                cursor.stream_seq.to_string().as_str(),
            );
            headers.insert(wire::INCARNATION, cursor.incarnation.to_string().as_str());
            // A frame given again (a client resending after its relay
            // died) is stored once.
            headers.insert(NATS_MESSAGE_ID, id.as_str());
            let result = match cluster
                .js
                .publish_with_headers(subject.clone(), headers, stamped.freeze())
                .await
            {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            match result {
                Ok(ack) => {
                    if !ack.duplicate {
                        cluster.metrics.cluster("published");
                        tracing::debug!(
                            seq = cursor.next_seq,
                            stream_seq = ack.sequence,
                            "cluster: stored"
                        );
                        *publisher = Cursor {
                            stream_seq: ack.sequence,
                            next_seq: cursor.next_seq + 1,
                            time,
                            incarnation: cursor.incarnation,
                        };
                    }
                    return;
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    // Another relay stored one first: read it, then again.
                    cluster.metrics.cluster("conflicts");
                    tracing::debug!(
                        expected = cursor.stream_seq,
                        "cluster: another relay stored first"
                    );
                    *publisher = Cursor::default();
                    let _ = tokio::time::timeout(Duration::from_secs(1), delivered).await;
                }
                Err(e) => {
                    // NATS lost on the way (or the stream unwell): the
                    // frame waits, in order, and goes when it comes back
                    // (stored already, it is known by its id). Its sender
                    // is told once that the room is stalled.
                    failures += 1;
                    cluster.metrics.cluster("publish_failed");
                    if failures == STALLED_AFTER {
                        tracing::warn!(error = %e, "cluster: cannot store frames; waiting for NATS");
                        self.stalled(weak, &sender);
                    }
                    tokio::time::sleep(Duration::from_millis(50 << failures.min(5))).await;
                }
            }
        }
    }

    /// Tells the sender its frame cannot be stored for now (it waits; the
    /// sender's page says the table is stalled).
    fn stalled(&self, weak: &Weak<Mutex<Room>>, sender: &PeerId) {
        let Some(room) = weak.upgrade() else { return };
        let Ok(r) = room.lock() else { return };
        if let Some(member) = r.members.get(sender) {
            member.outbox.push(
                Priority::Critical,
                error_frame(
                    self.room,
                    error::CLUSTER_UNAVAILABLE,
                    "the relays' cluster is unreachable; moves wait until it is back",
                ),
            );
        }
    }
}

/// A frame's id for JetStream's duplicate check: the hash of the frame as
/// its sender made it (number and time left out), so the same frame given
/// twice is one, and two frames that differ anywhere are two (whatever
/// their signatures say: the relay does not check them).
fn frame_id(frame: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut unstamped = frame.to_vec();
    let _ = stamp(&mut unstamped, 0, 0);
    shared::hex(&Sha256::digest(&unstamped))
}
