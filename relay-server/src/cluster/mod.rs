//! Cluster mode: several relays share rooms through NATS (`--nats`).
//!
//! - **One order per room**: a room's frames are stamped by the relay
//!   that received them and stored in one JetStream stream (subjects
//!   `bc.rooms.<shard>.<room>`), each publish conditional on the room's
//!   last stored message (`Nats-Expected-Last-Subject-Sequence`): two
//!   relays can never give two frames the same number, and the frame in
//!   the stream is byte for byte what every client receives. Every relay
//!   with members in a room reads its frames in the stream's order (one
//!   ordered consumer per shard) and fans them out (`room.rs`).
//! - **Presence** (members, joins and leaves, clients' presence frames)
//!   goes between relays on core NATS subjects (`wire.rs`); targeted
//!   frames (signaling) go to the target's relay.
//! - **Relays watch one another**: a heartbeat a second; a relay silent
//!   for [`GONE_AFTER`] (or saying goodbye) has its members leave every
//!   room.
//! - **Lobby**: each relay shares the tables listed on it (`lobby.rs`).
//! - **Epoch**: the stream's creation time, the same on every relay, so a
//!   client moving to another relay keeps its rooms and numbering.

mod link;
mod lobby;
mod order;
mod presence;
mod room;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use shared::wire::RoomId;

use crate::config::ClusterConfig;
use crate::metrics::Metrics;
use crate::rooms::Hub;
use crate::shutdown::Shutdown;
pub(crate) use link::RoomLink;
use wire::{Beat, RelayId};

/// How often a relay says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a relay may stay silent before its members are gone.
pub const GONE_AFTER: Duration = Duration::from_secs(3);
/// How long a relay listens for the others when it starts, before it takes
/// players.
pub const STARTUP_LISTEN: Duration = Duration::from_millis(500);
/// How long a room that starts here waits for the other relays to say
/// who of theirs is in it, before its first joiners get their roster.
pub const HELLO_WAIT: Duration = Duration::from_millis(250);

/// NATS reached and the rooms' stream in place; not yet serving.
pub struct Connected {
    client: async_nats::Client,
    stream: stream::Stream,
    epoch: u64,
    shards: u16,
}

impl Connected {
    /// The cluster's epoch (the stream's creation time, in ns).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// Connects to NATS and finds (or creates) the rooms' stream, keeping at
/// most `replay_frames` frames per room.
pub async fn connect(
    config: &ClusterConfig,
    replay_frames: usize,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Connected> {
    let urls = config.nats.join(",");
    let events = Arc::clone(metrics);
    let options = async_nats::ConnectOptions::new()
        .name("bitcraps-relay")
        .retry_on_initial_connect()
        .event_callback(move |event| {
            let metrics = Arc::clone(&events);
            async move {
                match event {
                    async_nats::Event::Disconnected => {
                        metrics.cluster("disconnects");
                        tracing::warn!("cluster: NATS connection lost; reconnecting");
                    }
                    async_nats::Event::Connected => {
                        metrics.cluster("reconnects");
                        tracing::info!("cluster: NATS connected");
                    }
                    other => tracing::info!(event = %other, "cluster: NATS"),
                }
            }
        });
    let wait = Duration::from_secs(config.nats_connect_timeout_secs.max(1));
    let client = tokio::time::timeout(
        wait,
        async_nats::connect_with_options(config.nats.clone(), options),
    )
    .await
    .map_err(|_| anyhow!("no NATS server answered at {urls} within {wait:?}"))?
    .with_context(|| format!("cannot connect to NATS at {urls}"))?;
    // The connection may still be pending; wait for it like for the rest.
    let js = jetstream::new(client.clone());
    let wanted = stream::Config {
        name: wire::STREAM.into(),
        subjects: vec!["bc.rooms.>".into()],
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(config.nats_max_age_secs.max(1)),
        max_bytes: config.nats_max_bytes,
        // The room's marker plus its replay window.
        max_messages_per_subject: replay_frames as i64 + 1,
        duplicate_window: Duration::from_secs(120),
        discard: stream::DiscardPolicy::Old,
        ..Default::default()
    };
    let mut stream = tokio::time::timeout(wait, js.get_or_create_stream(wanted))
        .await
        .map_err(|_| anyhow!("NATS at {urls} did not answer within {wait:?}"))?
        .map_err(|e| anyhow!("cannot open the rooms' stream (is JetStream on?): {e}"))?;
    let info = stream
        .info()
        .await
        .map_err(|e| anyhow!("cannot read the rooms' stream: {e}"))?;
    let epoch = info.created.unix_timestamp_nanos() as u64;
    tracing::info!(
        nats = %urls,
        stream = wire::STREAM,
        max_age_secs = info.config.max_age.as_secs(),
        max_bytes = info.config.max_bytes,
        per_room = info.config.max_messages_per_subject,
        shards = config.nats_shards,
        "cluster mode: rooms shared through NATS"
    );
    Ok(Connected {
        client,
        stream,
        epoch,
        shards: config.nats_shards,
    })
}

/// This relay's part of the cluster.
pub struct Cluster {
    client: async_nats::Client,
    /// JetStream over that client (for publishing to the stream).
    js: jetstream::Context,
    stream: stream::Stream,
    id: RelayId,
    shards: u16,
    hub: Weak<Hub>,
    metrics: Arc<Metrics>,
    /// The shards read here (one ordered consumer each).
    reading: tokio::sync::Mutex<HashSet<u16>>,
    /// Other relays, with when each was last heard from.
    live: Mutex<HashMap<RelayId, Instant>>,
    /// Relays declared gone lately (one heard again missed news).
    gone: Mutex<HashSet<RelayId>>,
    /// The other relays' tables.
    lobbies: Mutex<lobby::Lobbies>,
}

impl Cluster {
    /// Starts serving `hub`'s rooms through the cluster (the hub must use
    /// [`Connected::epoch`]): heartbeats, hellos and frames for this
    /// relay's members. Stops with `shutdown` (saying goodbye).
    pub async fn start(
        connected: Connected,
        hub: &Arc<Hub>,
        shutdown: Shutdown,
    ) -> anyhow::Result<Arc<Self>> {
        let cluster = Arc::new(Self {
            js: jetstream::new(connected.client.clone()),
            client: connected.client,
            stream: connected.stream,
            id: crate::rooms::random_u64(),
            shards: connected.shards,
            hub: Arc::downgrade(hub),
            metrics: Arc::clone(hub.metrics()),
            reading: tokio::sync::Mutex::new(HashSet::new()),
            live: Mutex::new(HashMap::new()),
            gone: Mutex::new(HashSet::new()),
            lobbies: Mutex::new(lobby::Lobbies::default()),
        });
        let nats = |e: async_nats::SubscribeError| anyhow!("NATS subscribe: {e}");
        let beats = cluster.client.subscribe(wire::RELAYS).await.map_err(nats)?;
        let hellos = cluster.client.subscribe(wire::HELLOS).await.map_err(nats)?;
        let direct = cluster
            .client
            .subscribe(wire::relay_subject(cluster.id))
            .await
            .map_err(nats)?;
        let lists = cluster.client.subscribe(wire::LOBBY).await.map_err(nats)?;
        hub.set_cluster(Arc::clone(&cluster));
        tokio::spawn(Arc::clone(&cluster).share_lobby(lists, shutdown.clone()));
        tokio::spawn(Arc::clone(&cluster).heartbeats(beats, shutdown));
        tokio::spawn(Arc::clone(&cluster).answer_hellos(hellos));
        tokio::spawn(Arc::clone(&cluster).receive_direct(direct));
        cluster.beat(Beat::Ask(cluster.id)).await;
        // Hear who else is there before taking players: a room's first
        // roster waits for the relays it knows of.
        tokio::time::sleep(STARTUP_LISTEN).await;
        tracing::info!(
            relay = %format!("{:016x}", cluster.id),
            others = cluster.live_relays().len(),
            "joined the cluster"
        );
        Ok(cluster)
    }

    /// This relay's id in the cluster.
    pub fn id(&self) -> RelayId {
        self.id
    }

    /// Whether this relay's link to NATS is up (readiness, `/readyz`).
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Other relays heard from lately.
    pub fn live_relays(&self) -> Vec<RelayId> {
        self.live
            .lock()
            .map(|l| l.keys().copied().collect())
            .unwrap_or_default()
    }

    async fn beat(&self, beat: Beat) {
        let _ = self.client.publish(wire::RELAYS, beat.encode()).await;
    }

    /// Says it is alive every second, hears the others, and declares gone
    /// those silent for too long; says goodbye on shutdown.
    async fn heartbeats(self: Arc<Self>, mut beats: async_nats::Subscriber, shutdown: Shutdown) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        let stop = shutdown.wait();
        tokio::pin!(stop);
        let mut was_up = true;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let up = self.connected();
                    if up != was_up {
                        was_up = up;
                        self.link_changed(up);
                    }
                    self.beat(Beat::Alive(self.id)).await;
                    // Cut off, this relay hears nobody: that says nothing
                    // of the others.
                    if up {
                        self.sweep(Instant::now());
                    }
                }
                message = beats.next() => match message.and_then(|m| Beat::decode(&m.payload)) {
                    Some(Beat::Alive(r)) if r != self.id => self.heard(r, false).await,
                    Some(Beat::Ask(r)) if r != self.id => self.heard(r, true).await,
                    Some(Beat::Bye(r)) if r != self.id => self.relay_gone(r),
                    _ => {}
                },
                () = &mut stop => {
                    self.beat(Beat::Bye(self.id)).await;
                    let _ = self.client.flush().await;
                    return;
                }
            }
        }
    }

    /// This relay lost NATS, or has it back. Lost: every player here is
    /// told its table waits. Back: the others get a fresh grace period
    /// (their heartbeats were not heard while cut off).
    fn link_changed(&self, up: bool) {
        if up {
            tracing::info!("cluster: NATS back; rooms go on");
            if let Ok(mut live) = self.live.lock() {
                let now = Instant::now();
                for at in live.values_mut() {
                    *at = now;
                }
            }
            return;
        }
        tracing::warn!("cluster: NATS unreachable; players are told their tables wait");
        if let Some(hub) = self.hub.upgrade() {
            hub.cluster_degraded();
        }
    }

    async fn heard(&self, relay: RelayId, asked: bool) {
        let new = self
            .live
            .lock()
            .map(|mut l| l.insert(relay, Instant::now()).is_none())
            .unwrap_or(false);
        if !new {
            return;
        }
        self.metrics
            .cluster_relays
            .set(self.live_relays().len() as i64);
        if asked {
            self.beat(Beat::Alive(self.id)).await;
        }
        // A relay declared gone and heard again (its link to NATS, or
        // ours, came back): both sides missed news; ask again who is in
        // each room followed here.
        let returned = self
            .gone
            .lock()
            .map(|mut g| g.remove(&relay))
            .unwrap_or(false);
        if returned {
            if let Some(hub) = self.hub.upgrade() {
                for room in hub.cluster_rooms() {
                    self.hello(&room).await;
                }
            }
        }
    }

    fn sweep(&self, now: Instant) {
        let silent: Vec<RelayId> = self
            .live
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|(_, at)| now.duration_since(**at) > GONE_AFTER)
                    .map(|(r, _)| *r)
                    .collect()
            })
            .unwrap_or_default();
        for relay in silent {
            self.relay_gone(relay);
        }
    }

    /// A relay left or went silent: its members leave every room.
    fn relay_gone(&self, relay: RelayId) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&relay);
            self.metrics.cluster_relays.set(live.len() as i64);
        }
        if let Ok(mut gone) = self.gone.lock() {
            gone.insert(relay);
        }
        self.forget_lobby(relay);
        self.metrics.cluster("relays_gone");
        tracing::info!(relay = %format!("{relay:016x}"), "a relay of the cluster is gone");
        if let Some(hub) = self.hub.upgrade() {
            hub.cluster_relay_gone(relay);
        }
    }

    /// Asks every relay who of theirs is in `room`.
    async fn hello(&self, room: &RoomId) {
        let _ = self
            .client
            .publish(
                wire::hello_subject(room),
                self.id.to_be_bytes().to_vec().into(),
            )
            .await;
    }

    /// Answers every hello with this relay's members of that room (none,
    /// often: the asker counts answers).
    async fn answer_hellos(self: Arc<Self>, mut hellos: async_nats::Subscriber) {
        while let Some(message) = hellos.next().await {
            let asker = message.payload.get(..8).and_then(|b| b.try_into().ok());
            let (Some(asker), Some(room)) = (asker, wire::room_of(&message.subject)) else {
                continue;
            };
            if u64::from_be_bytes(asker) == self.id {
                continue;
            }
            let Some(hub) = self.hub.upgrade() else {
                return;
            };
            let members = hub.local_members(&room);
            let state = wire::News::State(members).encode(self.id);
            self.metrics.cluster("presence_out");
            let _ = self
                .client
                .publish(wire::presence_subject(&room), state)
                .await;
        }
    }

    /// Frames other relays send to members here.
    async fn receive_direct(self: Arc<Self>, mut direct: async_nats::Subscriber) {
        while let Some(message) = direct.next().await {
            let Some((from, room, target, frame)) = wire::decode_direct(&message.payload) else {
                continue;
            };
            let Some(hub) = self.hub.upgrade() else {
                return;
            };
            self.metrics.cluster("direct_in");
            tracing::debug!(from = %format!("{from:016x}"), target = %shared::hex(&target[..6]), "cluster: frame for a member here");
            hub.cluster_direct(from, &room, &target, frame);
        }
    }

    /// Reads `shard`'s frames from now on, if not read here already.
    async fn read_shard(self: &Arc<Self>, shard: u16) -> anyhow::Result<()> {
        let mut reading = self.reading.lock().await;
        if reading.contains(&shard) {
            return Ok(());
        }
        let messages = self
            .shard_messages(shard, consumer::DeliverPolicy::New)
            .await?;
        reading.insert(shard);
        tokio::spawn(Arc::clone(self).read_frames(shard, messages));
        Ok(())
    }

    async fn shard_messages(
        &self,
        shard: u16,
        deliver_policy: consumer::DeliverPolicy,
    ) -> anyhow::Result<consumer::push::Ordered> {
        let consumer = self
            .stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                filter_subject: wire::shard_subjects(shard),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow!("cannot read shard {shard}: {e}"))?;
        consumer
            .messages()
            .await
            .map_err(|e| anyhow!("cannot read shard {shard}: {e}"))
    }

    /// Hands every frame of `shard` to its room here, in the stream's
    /// order; if the consumer ends, reads on from where it was.
    async fn read_frames(self: Arc<Self>, shard: u16, mut messages: consumer::push::Ordered) {
        let mut last = 0;
        loop {
            while let Some(message) = messages.next().await {
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(shard, error = %e, "reading the rooms' stream");
                        continue;
                    }
                };
                let Ok(info) = message.info() else { continue };
                let seq = info.stream_sequence;
                last = seq;
                let Some(room) = wire::room_of(&message.subject) else {
                    continue;
                };
                let Some(hub) = self.hub.upgrade() else {
                    return;
                };
                self.metrics.cluster("received");
                hub.cluster_deliver(
                    &room,
                    seq,
                    link::incarnation(&message.headers),
                    message.payload.clone(),
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let from = consumer::DeliverPolicy::ByStartSequence {
                start_sequence: last + 1,
            };
            match self.shard_messages(shard, from).await {
                Ok(m) => messages = m,
                Err(e) => tracing::warn!(shard, error = %e, "reading the rooms' stream"),
            }
        }
    }
}
