//! The browser peer: one `Client` per page, one identity (an ed25519 key
//! the page keeps), any number of tables over one relay connection.
//!
//! It is sans I/O like the engine: the page's JavaScript moves bytes
//! (WebSocket to the relay, WebRTC data channels to peers) and passes the
//! time in; the client turns frames into events and actions into frames.
//! It keeps, per table, the last relay sequence number seen, so after a
//! reconnect it re-joins and resumes exactly where it left off.

use std::collections::{BTreeMap, VecDeque};

use bytes::BytesMut;
use serde::Serialize;
use serde_json::{json, Value};
use shared::codec::{control, encode_signed, FrameHeader, FrameRef};
use shared::craps::{house_edge_percent, BetKind, Phase};
use shared::message::SignedMessage;
use shared::session::{GameConfig, RollRecord, Session, SessionError};
use shared::wire::{FrameKind, PeerId, RoomId, MAX_FRAME_LEN};
use shared::SigningKey;
use wasm_bindgen::prelude::*;

use crate::events::{event_json, hex, unhex, RollJson};

/// Rolls `tableState` carries (the newest).
const RECENT_ROLLS: usize = 12;
/// Rolls one `rolls` call returns at most.
const MAX_ROLLS_PER_CALL: usize = 1_000;
/// Milliseconds between keep-alives: an empty Presence frame to every
/// joined table. The relay judges liveness on frames only (its idle and
/// room idle timeouts are 90 s and 120 s by default), so a player who
/// only watches stays at the table.
pub const KEEPALIVE_MS: u64 = 15_000;

struct Table {
    /// Our entropy for this table's secrets (kept by the page so a reload
    /// reveals what it committed to).
    entropy: [u8; 32],
    session: Option<Session>,
    roster: Vec<PeerId>,
    last_seq: u64,
    joined: bool,
    /// Left for good (its state stays readable).
    left: bool,
    /// A table opened here whose `Table` frame is still to be sent: it
    /// goes right after the first `Join` (the relay refuses frames for a
    /// room before its join).
    announce: bool,
}

/// A BitCraps peer in the browser.
#[wasm_bindgen]
pub struct Client {
    key: SigningKey,
    id: PeerId,
    nonce: Option<[u8; 32]>,
    tables: BTreeMap<RoomId, Table>,
    outbox: VecDeque<Vec<u8>>,
    events: Vec<Value>,
    /// When the next keep-alive is due (from the relay's challenge on).
    keepalive_at: Option<u64>,
}

fn room_of(table: &str) -> Result<RoomId, JsError> {
    unhex::<16>(table).ok_or_else(|| JsError::new("a table id is 32 hex digits"))
}

fn peer_of(peer: &str) -> Result<PeerId, JsError> {
    unhex::<32>(peer).ok_or_else(|| JsError::new("a peer id is 64 hex digits"))
}

fn refused(error: SessionError) -> JsError {
    JsError::new(&error.to_string())
}

#[derive(Serialize)]
struct SeatJson {
    player: String,
    balance: u64,
}

#[derive(Serialize)]
struct BetJson {
    player: String,
    bet: String,
    stake: u64,
}

#[wasm_bindgen]
impl Client {
    /// A client with this 32-byte secret key (generate it once with
    /// `crypto.getRandomValues` and keep it in `localStorage`).
    #[wasm_bindgen(constructor)]
    pub fn new(secret_key: &[u8]) -> Result<Client, JsError> {
        let secret: [u8; 32] = secret_key
            .try_into()
            .map_err(|_| JsError::new("the secret key is 32 bytes"))?;
        let key = SigningKey::from_bytes(&secret);
        Ok(Client {
            id: key.verifying_key().to_bytes(),
            key,
            nonce: None,
            tables: BTreeMap::new(),
            outbox: VecDeque::new(),
            events: Vec::new(),
            keepalive_at: None,
        })
    }

    /// This peer's id (its public key, hex).
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> String {
        hex(&self.id)
    }

    /// Call when the relay connection (re)opens: joins wait for the relay's
    /// challenge, then every table is (re)joined from its last sequence.
    #[wasm_bindgen(js_name = connectionOpened)]
    pub fn connection_opened(&mut self) {
        self.nonce = None;
        self.keepalive_at = None;
        self.outbox.clear();
        for table in self.tables.values_mut() {
            table.joined = false;
        }
    }

    /// Joins (or opens, as its banker, when `bankroll` > 0, with commit and
    /// reveal deadlines of `deadline_ms` if > 0) a table. The 32 bytes of
    /// `entropy` seed this peer's secrets at the table: keep them with the
    /// key so a reloaded page can carry on.
    #[wasm_bindgen(js_name = joinTable)]
    pub fn join_table(
        &mut self,
        table: &str,
        entropy: &[u8],
        bankroll: f64,
        deadline_ms: f64,
    ) -> Result<(), JsError> {
        let room = room_of(table)?;
        let entropy: [u8; 32] = entropy
            .try_into()
            .map_err(|_| JsError::new("entropy is 32 bytes"))?;
        let mut state = Table {
            entropy,
            session: None,
            roster: Vec::new(),
            last_seq: 0,
            joined: false,
            left: false,
            announce: false,
        };
        if bankroll > 0.0 {
            let mut config = GameConfig::new(room, self.id, bankroll as u64);
            if deadline_ms > 0.0 {
                config.commit_timeout = deadline_ms as u64;
                config.reveal_timeout = deadline_ms as u64;
            }
            state.session = Some(Session::new(config, self.key.clone(), entropy));
            state.announce = true;
            self.tables.insert(room, state);
            self.queue_join(room);
        } else {
            self.tables.insert(room, state);
            self.queue_join(room);
        }
        Ok(())
    }

    fn queue_join(&mut self, room: RoomId) {
        let Some(nonce) = self.nonce else { return };
        let Some(table) = self.tables.get_mut(&room) else {
            return;
        };
        if table.joined || table.left {
            return;
        }
        table.joined = true;
        let join = control::Join {
            nonce,
            resume_from: table.last_seq,
        };
        let announce = std::mem::take(&mut table.announce)
            .then(|| table.session.as_ref().map(|s| s.config().encode()))
            .flatten();
        self.send_frame(FrameKind::Join, room, None, &join.encode());
        if let Some(config) = announce {
            self.send_frame(FrameKind::Table, room, None, &config);
        }
    }

    fn send_frame(
        &mut self,
        kind: FrameKind,
        room: RoomId,
        target: Option<PeerId>,
        payload: &[u8],
    ) {
        let mut header = FrameHeader::new(kind, room, self.id);
        header.target = target;
        let mut out = BytesMut::new();
        if encode_signed(&header, payload, &self.key, &mut out).is_ok() {
            self.outbox.push_back(out.to_vec());
        }
    }

    /// Handles one frame from the relay or a peer; returns the events it
    /// caused (a JSON array).
    #[wasm_bindgen(js_name = handleFrame)]
    pub fn handle_frame(&mut self, bytes: &[u8], now: f64) -> Result<String, JsError> {
        let frame =
            FrameRef::parse(bytes, MAX_FRAME_LEN).map_err(|e| JsError::new(&e.to_string()))?;
        let room = frame.header.room;
        let table_id = hex(&room);
        if frame.header.seq > 0 {
            if let Some(t) = self.tables.get_mut(&room) {
                t.last_seq = t.last_seq.max(frame.header.seq);
            }
        }
        match frame.header.kind {
            FrameKind::Challenge => {
                self.nonce = Some(
                    control::decode_id(frame.payload).map_err(|e| JsError::new(&e.to_string()))?,
                );
                self.keepalive_at = Some(now as u64 + KEEPALIVE_MS);
                let rooms: Vec<RoomId> = self.tables.keys().copied().collect();
                for room in rooms {
                    self.queue_join(room);
                }
            }
            FrameKind::Roster => {
                let roster = control::decode_roster(frame.payload).unwrap_or_default();
                let peers: Vec<String> = roster.iter().map(|p| hex(p)).collect();
                if let Some(t) = self.tables.get_mut(&room) {
                    t.roster = roster;
                }
                self.events
                    .push(json!({"type": "roster", "table": table_id, "peers": peers}));
            }
            FrameKind::PeerJoined | FrameKind::PeerLeft => {
                let peer = control::decode_id(frame.payload).unwrap_or_default();
                let joined = frame.header.kind == FrameKind::PeerJoined;
                if let Some(t) = self.tables.get_mut(&room) {
                    t.roster.retain(|p| *p != peer);
                    if joined {
                        t.roster.push(peer);
                        t.roster.sort();
                    }
                }
                let kind = if joined { "peerJoined" } else { "peerLeft" };
                self.events
                    .push(json!({"type": kind, "table": table_id, "peer": hex(&peer)}));
            }
            FrameKind::Error => {
                let (code, reason) =
                    control::decode_error(frame.payload).unwrap_or((0, "unreadable error"));
                self.events.push(json!({"type": "relayError", "table": table_id, "code": code, "reason": reason}));
            }
            FrameKind::Table => {
                if let Ok(config) = GameConfig::decode(frame.payload) {
                    let key = self.key.clone();
                    let mut opened = false;
                    if let Some(t) = self.tables.get_mut(&room) {
                        if t.session.is_none()
                            && config.game == room
                            && config.banker == frame.header.sender
                        {
                            t.session = Some(Session::new(config, key, t.entropy));
                            opened = true;
                        }
                    }
                    if opened {
                        self.events.push(json!({
                            "type": "table", "table": table_id,
                            "banker": hex(&config.banker), "bankroll": config.bankroll
                        }));
                    }
                }
            }
            FrameKind::Game => {
                let message =
                    SignedMessage::from_frame(&frame).map_err(|e| JsError::new(&e.to_string()))?;
                if let Some(session) = self.tables.get_mut(&room).and_then(|t| t.session.as_mut()) {
                    match session.handle_message(now as u64, message) {
                        // The same frame by the relay and a data channel.
                        Ok(()) | Err(SessionError::Replayed { .. }) => {}
                        Err(error) => self.events.push(json!({
                            "type": "rejected", "table": table_id,
                            "player": hex(&message.sender), "reason": error.to_string()
                        })),
                    }
                }
                self.drain(room);
            }
            FrameKind::Offer | FrameKind::Answer | FrameKind::Ice => {
                let kind = match frame.header.kind {
                    FrameKind::Offer => "offer",
                    FrameKind::Answer => "answer",
                    _ => "ice",
                };
                let text = control::decode_text(frame.payload).unwrap_or_default();
                self.events.push(json!({
                    "type": "signal", "table": table_id, "kind": kind,
                    "from": hex(&frame.header.sender), "data": text
                }));
            }
            _ => {}
        }
        Ok(self.take_events())
    }

    fn drain(&mut self, room: RoomId) {
        let table_id = hex(&room);
        let Some(session) = self.tables.get_mut(&room).and_then(|t| t.session.as_mut()) else {
            return;
        };
        let mut frames = Vec::new();
        while let Some(message) = session.poll_transmit() {
            frames.push(message.to_frame().to_vec());
        }
        let mut events = Vec::new();
        while let Some(event) = session.poll_event() {
            events.push(event_json(&table_id, &event));
        }
        self.outbox.extend(frames);
        self.events.extend(events);
    }

    fn take_events(&mut self) -> String {
        let events = std::mem::take(&mut self.events);
        Value::Array(events).to_string()
    }

    fn act(
        &mut self,
        table: &str,
        f: impl FnOnce(&mut Session) -> Result<(), SessionError>,
    ) -> Result<String, JsError> {
        let room = room_of(table)?;
        let session = self
            .tables
            .get_mut(&room)
            .and_then(|t| t.session.as_mut())
            .ok_or_else(|| JsError::new("this table has not opened yet"))?;
        f(session).map_err(refused)?;
        self.drain(room);
        Ok(self.take_events())
    }

    /// Sits down with `buy_in` chips.
    pub fn sit(&mut self, table: &str, buy_in: f64, now: f64) -> Result<String, JsError> {
        self.act(table, |s| s.sit(now as u64, buy_in as u64))
    }

    /// Buys `amount` more chips.
    #[wasm_bindgen(js_name = buyIn)]
    pub fn buy_in(&mut self, table: &str, amount: f64, now: f64) -> Result<String, JsError> {
        self.act(table, |s| s.buy_in(now as u64, amount as u64))
    }

    /// Places a bet by name (`pass`, `place-6`, `hard-8`, `hop-2-5`, ...).
    pub fn bet(&mut self, table: &str, bet: &str, stake: f64, now: f64) -> Result<String, JsError> {
        let kind =
            BetKind::from_name(bet).ok_or_else(|| JsError::new(&format!("no bet called {bet}")))?;
        self.act(table, |s| s.place_bet(now as u64, kind, stake as u64))
    }

    /// Takes a bet down.
    #[wasm_bindgen(js_name = takeDown)]
    pub fn take_down(&mut self, table: &str, bet: &str, now: f64) -> Result<String, JsError> {
        let kind =
            BetKind::from_name(bet).ok_or_else(|| JsError::new(&format!("no bet called {bet}")))?;
        self.act(table, |s| s.take_down(now as u64, kind))
    }

    /// Starts the roll (shooter only).
    pub fn roll(&mut self, table: &str, now: f64) -> Result<String, JsError> {
        self.act(table, |s| s.roll(now as u64))
    }

    /// Leaves a table (no bets may be on it), for good: the table is not
    /// joined again on a reconnect, and gets no more keep-alives.
    pub fn leave(&mut self, table: &str, now: f64) -> Result<String, JsError> {
        let events = self.act(table, |s| s.leave(now as u64))?;
        let room = room_of(table)?;
        self.send_frame(FrameKind::Leave, room, None, &[]);
        if let Some(t) = self.tables.get_mut(&room) {
            t.joined = false;
            t.left = true;
        }
        Ok(events)
    }

    /// Queues a WebRTC signaling message (`offer`, `answer`, `ice`) for one
    /// peer of a table, through the relay.
    pub fn signal(&mut self, table: &str, kind: &str, to: &str, data: &str) -> Result<(), JsError> {
        let kind = match kind {
            "offer" => FrameKind::Offer,
            "answer" => FrameKind::Answer,
            "ice" => FrameKind::Ice,
            _ => return Err(JsError::new("signal kind is offer, answer or ice")),
        };
        let (room, peer) = (room_of(table)?, peer_of(to)?);
        self.send_frame(kind, room, Some(peer), data.as_bytes());
        Ok(())
    }

    /// The next frame to send to the relay (and, for game frames, to every
    /// peer's data channel), if any.
    #[wasm_bindgen(js_name = pollTransmit)]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// Whether a frame is a game frame (what data channels carry).
    #[wasm_bindgen(js_name = isGameFrame)]
    pub fn is_game_frame(frame: &[u8]) -> bool {
        frame.get(3) == Some(&(FrameKind::Game as u8))
    }

    /// Applies deadlines and sends keep-alives when due; returns the
    /// events (JSON array).
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) -> String {
        let rooms: Vec<RoomId> = self.tables.keys().copied().collect();
        if self.keepalive_at.is_some_and(|at| at <= now as u64) {
            self.keepalive_at = Some(now as u64 + KEEPALIVE_MS);
            for room in &rooms {
                if self.tables.get(room).is_some_and(|t| t.joined) {
                    self.send_frame(FrameKind::Presence, *room, None, &[]);
                }
            }
        }
        for room in rooms {
            if let Some(session) = self.tables.get_mut(&room).and_then(|t| t.session.as_mut()) {
                session.handle_timeout(now as u64);
            }
            self.drain(room);
        }
        self.take_events()
    }

    /// The earliest deadline of any table or keep-alive, or -1.
    #[wasm_bindgen(js_name = nextTimeout)]
    pub fn next_timeout(&self) -> f64 {
        let keepalive = self
            .keepalive_at
            .filter(|_| self.tables.values().any(|t| t.joined));
        self.tables
            .values()
            .filter_map(|t| t.session.as_ref().and_then(Session::poll_timeout))
            .chain(keepalive)
            .min()
            .map_or(-1.0, |t| t as f64)
    }

    /// A table's state for display (JSON): phase, point, shooter, banker,
    /// balances, bets, round, roster, the number of rolls so far (`rolls`)
    /// and the last few of them (`recent`). Its size does not grow with the
    /// game; older rolls come from [`rolls`](Self::rolls).
    #[wasm_bindgen(js_name = tableState)]
    pub fn table_state(&self, table: &str) -> Result<String, JsError> {
        let room = room_of(table)?;
        let t = self
            .tables
            .get(&room)
            .ok_or_else(|| JsError::new("not at this table"))?;
        let roster: Vec<String> = t.roster.iter().map(|p| hex(p)).collect();
        let Some(s) = t.session.as_ref() else {
            return Ok(json!({"open": false, "roster": roster, "me": hex(&self.id)}).to_string());
        };
        let table_state = s.table();
        let seats: Vec<SeatJson> = table_state
            .seats()
            .iter()
            .map(|seat| SeatJson {
                player: hex(&seat.player),
                balance: seat.balance,
            })
            .collect();
        let bets: Vec<BetJson> = table_state
            .bets()
            .iter()
            .map(|((p, k), stake)| BetJson {
                player: hex(p),
                bet: k.name(),
                stake: *stake,
            })
            .collect();
        let history = s.history();
        let recent: Vec<RollJson> = history[history.len().saturating_sub(RECENT_ROLLS)..]
            .iter()
            .map(RollJson::from)
            .collect();
        Ok(json!({
            "open": true,
            "me": hex(&self.id),
            "round": s.round(),
            "betting": s.is_betting(),
            "closed": s.is_closed(),
            "point": match table_state.phase() { Phase::ComeOut => 0, Phase::Point(p) => p },
            "shooter": table_state.shooter().map(|p| hex(&p)),
            "banker": hex(&table_state.banker()),
            "bankroll": table_state.bankroll(),
            "seats": seats,
            "bets": bets,
            "roster": roster,
            "stateHash": hex(&s.state_hash()),
            "rolls": history.len(),
            "recent": recent,
        })
        .to_string())
    }

    /// Rolls of a table after round `after_round`, oldest first, at most
    /// `max` (and at most 1,000) of them, as a JSON array: a page keeps its
    /// history up to date by asking only for what it has not seen.
    #[wasm_bindgen(js_name = rolls)]
    pub fn rolls(&self, table: &str, after_round: f64, max: f64) -> Result<String, JsError> {
        let room = room_of(table)?;
        let Some(session) = self.tables.get(&room).and_then(|t| t.session.as_ref()) else {
            return Ok("[]".into());
        };
        let max = if max.is_finite() && max >= 0.0 {
            (max as usize).min(MAX_ROLLS_PER_CALL)
        } else {
            MAX_ROLLS_PER_CALL
        };
        let rolls: Vec<RollJson> = rolls_after(session, after_round)
            .iter()
            .take(max)
            .map(RollJson::from)
            .collect();
        Ok(serde_json::to_string(&rolls).unwrap_or_else(|_| "[]".into()))
    }

    /// Re-verifies a past roll from its commitments and reveals, in the
    /// browser: every reveal must match its commitment and the dice must
    /// follow from the reveals. Returns JSON `{round, ok, dice}`.
    #[wasm_bindgen(js_name = verifyRoll)]
    pub fn verify_roll(&self, table: &str, round: f64) -> Result<String, JsError> {
        let room = room_of(table)?;
        let session = self
            .tables
            .get(&room)
            .and_then(|t| t.session.as_ref())
            .ok_or_else(|| JsError::new("not at this table"))?;
        let record = rolls_after(session, round - 1.0)
            .first()
            .filter(|r| r.round as f64 == round)
            .ok_or_else(|| JsError::new("no such roll"))?;
        let recomputed = shared::fair::roll_from_reveals(
            &room,
            record.round,
            record.reveals.iter().map(|(p, s)| (p, s)),
        );
        Ok(json!({
            "round": record.round,
            "ok": record.verify(&room),
            "dice": [recomputed.die1(), recomputed.die2()],
        })
        .to_string())
    }
}

/// The rolls after round `after_round`, oldest first. Rounds only grow
/// along the history (aborted rounds leave gaps), so this is a search.
fn rolls_after(session: &Session, after_round: f64) -> &[RollRecord] {
    let history = session.history();
    &history[history.partition_point(|r| (r.round as f64) <= after_round)..]
}

/// Every bet's name, payout class and house edge under the default rules
/// (for the page's help and tooltips), as JSON.
#[wasm_bindgen(js_name = betCatalog)]
pub fn bet_catalog() -> String {
    let rules = shared::craps::TableRules::default();
    let catalog: Vec<Value> = shared::craps::PUBLISHED_EDGES
        .iter()
        .map(|(kind, _)| {
            json!({
                "bet": kind.name(),
                "unit": kind.stake_unit(&rules),
                "edge": house_edge_percent(*kind, &rules),
            })
        })
        .collect();
    Value::Array(catalog).to_string()
}
