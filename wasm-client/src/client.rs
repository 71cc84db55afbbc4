//! The browser peer: thin bindings over [`shared::peer::Peer`], one per
//! page, one identity (an ed25519 key the page keeps), any number of
//! tables over one relay connection.
//!
//! It is sans I/O like the engine: the page's JavaScript moves bytes
//! (WebSocket to the relay, WebRTC data channels to peers) where each
//! [`Transmit`] says, and passes the time in; every rule of the relay
//! protocol (join, resume, acknowledgement, relay restarts) lives in the
//! shared peer, which the load generator and the relay's tests drive too.

use serde::Serialize;
use serde_json::json;
use serde_json::Value;
use shared::craps::{house_edge_percent, BetKind, Phase};
use shared::peer::{Destination, Peer, PeerError, SignalKind};
use shared::session::{GameConfig, LocalAction, RollRecord, Session};
use shared::wire::{PeerId, RoomId};
use shared::SigningKey;
use wasm_bindgen::prelude::*;

use crate::events::{hex, unhex, JsEvent, RollJson};
use crate::refusal::Refusal;

/// Rolls `tableState` carries (the newest).
const RECENT_ROLLS: usize = 12;
/// How a page opens a table as its house: `joinTable`'s numbers, in this
/// order (one left out, or 0, keeps the default).
#[derive(Debug, Default)]
struct HouseOptions {
    /// The house's bankroll; 0 joins as a player.
    bankroll: u64,
    /// Commit and reveal deadlines (ms).
    deadline_ms: u64,
    /// How long the shooter may wait before its dice pass (ms).
    shooter_ms: u64,
    /// The smallest bet.
    min_bet: u64,
    /// The largest bet.
    max_bet: u64,
}

impl HouseOptions {
    fn read(numbers: &[f64]) -> Result<HouseOptions, Refusal> {
        if numbers.len() > 5 || numbers.iter().any(|n| !(n.is_finite() && *n >= 0.0)) {
            return Err(Refusal::new(
                "bad-options",
                "table options are up to 5 numbers, none negative",
            ));
        }
        let at = |i: usize| numbers.get(i).map_or(0, |n| *n as u64);
        Ok(HouseOptions {
            bankroll: at(0),
            deadline_ms: at(1),
            shooter_ms: at(2),
            min_bet: at(3),
            max_bet: at(4),
        })
    }
}

/// Rolls one `rolls` call returns at most.
const MAX_ROLLS_PER_CALL: usize = 1_000;
/// Milliseconds between keep-alives (see [`shared::peer::KEEPALIVE_MS`]).
pub const KEEPALIVE_MS: u64 = shared::peer::KEEPALIVE_MS;

/// A BitCraps peer in the browser.
#[wasm_bindgen]
pub struct Client {
    peer: Peer,
}

/// A frame to send, and where: `to` is `relay`, `peers` (this table's open
/// data channels) or `everyone` (both).
#[wasm_bindgen]
pub struct Transmit {
    table: String,
    to: &'static str,
    frame: Vec<u8>,
}

#[wasm_bindgen]
impl Transmit {
    /// The table (32 hex digits).
    #[wasm_bindgen(getter)]
    pub fn table(&self) -> String {
        self.table.clone()
    }

    /// `relay`, `peers` or `everyone`.
    #[wasm_bindgen(getter)]
    pub fn to(&self) -> String {
        self.to.to_owned()
    }

    /// The frame's bytes.
    #[wasm_bindgen(getter)]
    pub fn frame(&self) -> Vec<u8> {
        self.frame.clone()
    }
}

fn room_of(table: &str) -> Result<RoomId, Refusal> {
    unhex::<16>(table).ok_or_else(|| Refusal::new("bad-table-id", "a table id is 32 hex digits"))
}

fn peer_of(peer: &str) -> Result<PeerId, Refusal> {
    unhex::<32>(peer).ok_or_else(|| Refusal::new("bad-peer-id", "a peer id is 64 hex digits"))
}

fn refused(error: PeerError) -> Refusal {
    Refusal::from(error)
}

fn bet_of(bet: &str) -> Result<BetKind, Refusal> {
    BetKind::from_name(bet)
        .ok_or_else(|| Refusal::new("no-such-bet", format!("no bet called {bet}")))
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
    /// A place or buy bet its player called working on the come-out.
    working: bool,
}

#[wasm_bindgen]
impl Client {
    /// A client with this 32-byte secret key (generate it once with
    /// `crypto.getRandomValues` and keep it in `localStorage`).
    #[wasm_bindgen(constructor)]
    pub fn new(secret_key: &[u8]) -> Result<Client, Refusal> {
        let secret: [u8; 32] = secret_key
            .try_into()
            .map_err(|_| Refusal::new("bad-key", "the secret key is 32 bytes"))?;
        Ok(Client {
            peer: Peer::new(SigningKey::from_bytes(&secret)),
        })
    }

    /// This peer's id (its public key, hex).
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> String {
        hex(&self.peer.id())
    }

    /// Call when the relay connection opens and when it closes: joins wait
    /// for the relay's challenge; frames made meanwhile are kept and sent
    /// after the join.
    #[wasm_bindgen(js_name = connectionOpened)]
    pub fn connection_opened(&mut self) {
        self.peer.connection_opened();
    }

    /// Joins a table, or opens it as its banker when `house` (see
    /// [`HouseOptions`]) has a bankroll. The 32 bytes of `entropy` seed this
    /// peer's secrets at the table: keep them with the key so a reloaded
    /// page can carry on.
    #[wasm_bindgen(js_name = joinTable)]
    pub fn join_table(
        &mut self,
        table: &str,
        entropy: &[u8],
        house: &[f64],
    ) -> Result<(), Refusal> {
        let room = room_of(table)?;
        let entropy: [u8; 32] = entropy
            .try_into()
            .map_err(|_| Refusal::new("bad-entropy", "entropy is 32 bytes"))?;
        let options = HouseOptions::read(house)?;
        let house = (options.bankroll > 0).then(|| {
            let mut config = GameConfig::new(room, self.peer.id(), options.bankroll);
            if options.deadline_ms > 0 {
                config.commit_timeout = options.deadline_ms;
                config.reveal_timeout = options.deadline_ms;
            }
            if options.shooter_ms > 0 {
                config.shooter_timeout = options.shooter_ms;
            }
            if options.min_bet > 0 {
                config.rules.min_bet = options.min_bet;
            }
            if options.max_bet > 0 {
                config.rules.max_bet = options.max_bet;
            }
            config
        });
        if house.is_some_and(|c| c.rules.min_bet > c.rules.max_bet) {
            return Err(Refusal::new(
                "bad-limits",
                "the smallest bet is above the largest",
            ));
        }
        self.peer.join_table(room, entropy, house);
        Ok(())
    }

    /// Handles one WebSocket message from the relay (one frame, or several
    /// packed: `/ws?pack=1`); returns the events it caused (a JSON array).
    #[wasm_bindgen(js_name = handleFrame)]
    pub fn handle_frame(&mut self, bytes: &[u8], now: f64) -> Result<String, Refusal> {
        let handled = self.peer.handle_message(now as u64, bytes);
        let mut events = self.poll_events();
        match handled {
            Ok(()) => {}
            // A packed message with a frame that could not be read: the
            // other frames were handled and their events go out, with the
            // refusal (a lone unreadable frame is refused as before).
            Err(error) if !events.is_empty() => events.push(JsEvent::Rejected {
                table: String::new(),
                player: String::new(),
                reason: error.to_string(),
            }),
            Err(error) => return Err(refused(error)),
        }
        Ok(serde_json::to_string(&events).unwrap_or_else(|_| "[]".into()))
    }

    /// Handles one frame from the data channel of peer `from` (hex) at
    /// `table`: only that table's game frames that peer signed; returns the
    /// events it caused (a JSON array).
    #[wasm_bindgen(js_name = handleChannelFrame)]
    pub fn handle_channel_frame(
        &mut self,
        table: &str,
        from: &str,
        bytes: &[u8],
        now: f64,
    ) -> Result<String, Refusal> {
        let room = room_of(table)?;
        let from = peer_of(from)?;
        let handled = self
            .peer
            .handle_channel_frame(now as u64, room, &from, bytes);
        let events = self.take_events();
        handled.map_err(refused)?;
        Ok(events)
    }

    fn poll_events(&mut self) -> Vec<JsEvent> {
        std::iter::from_fn(|| self.peer.poll_event())
            .map(JsEvent::from)
            .collect()
    }

    fn take_events(&mut self) -> String {
        serde_json::to_string(&self.poll_events()).unwrap_or_else(|_| "[]".into())
    }

    fn act(&mut self, table: &str, now: f64, action: LocalAction) -> Result<String, Refusal> {
        let room = room_of(table)?;
        self.peer.act(now as u64, room, action).map_err(refused)?;
        Ok(self.take_events())
    }

    /// Sits down with `buy_in` chips.
    pub fn sit(&mut self, table: &str, buy_in: f64, now: f64) -> Result<String, Refusal> {
        self.act(
            table,
            now,
            LocalAction::Sit {
                buy_in: buy_in as u64,
            },
        )
    }

    /// Buys `amount` more chips.
    #[wasm_bindgen(js_name = buyIn)]
    pub fn buy_in(&mut self, table: &str, amount: f64, now: f64) -> Result<String, Refusal> {
        self.act(
            table,
            now,
            LocalAction::BuyIn {
                amount: amount as u64,
            },
        )
    }

    /// Places a bet by name (`pass`, `place-6`, `hard-8`, `hop-2-5`, ...).
    pub fn bet(&mut self, table: &str, bet: &str, stake: f64, now: f64) -> Result<String, Refusal> {
        let kind = bet_of(bet)?;
        self.act(
            table,
            now,
            LocalAction::Bet {
                kind,
                stake: stake as u64,
            },
        )
    }

    /// Takes a bet down.
    #[wasm_bindgen(js_name = takeDown)]
    pub fn take_down(&mut self, table: &str, bet: &str, now: f64) -> Result<String, Refusal> {
        let kind = bet_of(bet)?;
        self.act(table, now, LocalAction::TakeDown { kind })
    }

    /// Calls a place or buy bet working on the come-out (`working`), or
    /// off again.
    #[wasm_bindgen(js_name = setWorking)]
    pub fn set_working(
        &mut self,
        table: &str,
        bet: &str,
        working: bool,
        now: f64,
    ) -> Result<String, Refusal> {
        let kind = bet_of(bet)?;
        self.act(table, now, LocalAction::Working { kind, working })
    }

    /// Starts the roll (shooter only).
    pub fn roll(&mut self, table: &str, now: f64) -> Result<String, Refusal> {
        self.act(table, now, LocalAction::Roll)
    }

    /// Leaves a table (every bet that may come down comes down; refused
    /// while a pass or come bet is on), for good: the relay is told
    /// once it has every frame of ours, and the table is not joined again.
    pub fn leave(&mut self, table: &str, now: f64) -> Result<String, Refusal> {
        let room = room_of(table)?;
        self.peer.leave_table(now as u64, room).map_err(refused)?;
        Ok(self.take_events())
    }

    /// Says a line (1-280 bytes of text) to everyone at a table; returns
    /// the events (this page's own `chat` among them).
    pub fn chat(&mut self, table: &str, text: &str) -> Result<String, Refusal> {
        let room = room_of(table)?;
        self.peer.chat(room, text).map_err(refused)?;
        Ok(self.take_events())
    }

    /// (The house) Lists its table in the relay's lobby under `name` (1-40
    /// bytes of text), now and whenever it joins the room again.
    #[wasm_bindgen(js_name = listTable)]
    pub fn list_table(&mut self, table: &str, name: &str) -> Result<String, Refusal> {
        let room = room_of(table)?;
        self.peer.list_table(room, name).map_err(refused)?;
        Ok(self.take_events())
    }

    /// Tells a table the name this player goes by (1-24 bytes of text, no
    /// control characters): every page shows it instead of the key.
    #[wasm_bindgen(js_name = setName)]
    pub fn set_name(&mut self, table: &str, name: &str, now: f64) -> Result<String, Refusal> {
        let room = room_of(table)?;
        self.peer
            .set_name(now as u64, room, name)
            .map_err(refused)?;
        Ok(self.take_events())
    }

    /// Queues a WebRTC signaling message (`offer`, `answer`, `ice`) for one
    /// peer of a table, through the relay.
    pub fn signal(&mut self, table: &str, kind: &str, to: &str, data: &str) -> Result<(), Refusal> {
        let kind = match kind {
            "offer" => SignalKind::Offer,
            "answer" => SignalKind::Answer,
            "ice" => SignalKind::Ice,
            _ => {
                return Err(Refusal::new(
                    "bad-signal",
                    "signal kind is offer, answer or ice",
                ))
            }
        };
        let (room, peer) = (room_of(table)?, peer_of(to)?);
        self.peer.signal(room, kind, peer, data).map_err(refused)
    }

    /// The next frame to send, with its table and destination, if any.
    #[wasm_bindgen(js_name = pollTransmit)]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.peer.poll_transmit()?;
        let to = match t.to {
            Destination::Relay => "relay",
            Destination::Peers => "peers",
            Destination::Everyone => "everyone",
        };
        Some(Transmit {
            table: hex(&t.room),
            to,
            frame: t.frame.to_vec(),
        })
    }

    /// Applies deadlines and sends keep-alives when due; returns the
    /// events (JSON array).
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) -> String {
        self.peer.handle_timeout(now as u64);
        self.take_events()
    }

    /// The earliest deadline of any table or keep-alive, or -1.
    #[wasm_bindgen(js_name = nextTimeout)]
    pub fn next_timeout(&self) -> f64 {
        self.peer.poll_timeout().map_or(-1.0, |t| t as f64)
    }

    /// Whether this peer is at `table` (joined, or still following its
    /// game): whether [`table_state`](Self::table_state) has a state.
    #[wasm_bindgen(js_name = isAt)]
    pub fn is_at(&self, table: &str) -> bool {
        room_of(table)
            .is_ok_and(|room| self.peer.is_at(&room) || self.peer.session(&room).is_some())
    }

    /// A table's state for display (JSON): phase, point, shooter, banker,
    /// balances, bets, round, roster, the number of rolls so far (`rolls`)
    /// and the last few of them (`recent`). Its size does not grow with the
    /// game; older rolls come from [`rolls`](Self::rolls).
    #[wasm_bindgen(js_name = tableState)]
    pub fn table_state(&self, table: &str) -> Result<String, Refusal> {
        if !self.is_at(table) {
            return Err(Refusal::new("not-at-table", "not at this table"));
        }
        let room = room_of(table)?;
        let roster: Vec<String> = self.peer.roster(&room).iter().map(|p| hex(p)).collect();
        let me = hex(&self.peer.id());
        let joined = self.peer.is_joined(&room);
        let waiting = self.peer.waiting(&room);
        let elsewhere = self.peer.is_elsewhere(&room);
        let Some(s) = self.peer.session(&room) else {
            return Ok(json!({
                "open": false, "roster": roster, "me": me,
                "joined": joined, "waiting": waiting, "elsewhere": elsewhere,
            })
            .to_string());
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
                working: table_state.is_working(p, *k),
            })
            .collect();
        let history = s.history();
        let recent: Vec<RollJson> = history[history.len().saturating_sub(RECENT_ROLLS)..]
            .iter()
            .map(RollJson::from)
            .collect();
        Ok(json!({
            "open": true,
            "me": me,
            "joined": joined,
            "waiting": waiting,
            "elsewhere": elsewhere,
            "round": s.round(),
            "betting": s.is_betting(),
            "awaitingRoll": s.held_count(&self.peer.id()),
            "closed": s.is_closed(),
            "point": match table_state.phase() { Phase::ComeOut => 0, Phase::Point(p) => p },
            "shooter": table_state.shooter().map(|p| hex(&p)),
            "banker": hex(&table_state.banker()),
            "minBet": table_state.rules().min_bet,
            "maxBet": table_state.rules().max_bet,
            "bankroll": table_state.bankroll(),
            "seats": seats,
            "bets": bets,
            "roster": roster,
            "stateHash": hex(&s.state_hash()),
            "names": s.names().map(|(p, n)| (hex(p), Value::from(n))).collect::<serde_json::Map<String, Value>>(),
            "rolls": s.rolls(),
            "recent": recent,
        })
        .to_string())
    }

    /// Rolls of a table after round `after_round`, oldest first, at most
    /// `max` (and at most 1,000) of them, as a JSON array: a page keeps its
    /// history up to date by asking only for what it has not seen.
    #[wasm_bindgen(js_name = rolls)]
    pub fn rolls(&self, table: &str, after_round: f64, max: f64) -> Result<String, Refusal> {
        let room = room_of(table)?;
        let Some(session) = self.peer.session(&room) else {
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

    /// Milliseconds left (at `now`, this page's clock) for the shooter to
    /// roll before the house passes its dice, or -1 when no countdown runs
    /// (a roll is under way or asked for, or nobody has the dice).
    #[wasm_bindgen(js_name = shooterClock)]
    pub fn shooter_clock(&self, table: &str, now: f64) -> f64 {
        let Some(session) = room_of(table)
            .ok()
            .and_then(|room| self.peer.session(&room))
        else {
            return -1.0;
        };
        session.shooter_due().map_or(-1.0, |due| {
            due.saturating_sub(session.relay_now(now as u64)) as f64
        })
    }

    /// A bet at a table, for the page's help (JSON): the most it pays per
    /// chip (`pays`: `[numerator, denominator]`, after any commission), its
    /// house edge in percent (`edge`, `null` where it has none of its own)
    /// and the chip count its stakes come in (`unit`), under the table's
    /// rules.
    #[wasm_bindgen(js_name = betHelp)]
    pub fn bet_help(&self, table: &str, bet: &str) -> Result<String, Refusal> {
        let room = room_of(table)?;
        let session = self
            .peer
            .session(&room)
            .ok_or_else(|| Refusal::new("not-open", "this table has not opened yet"))?;
        let kind =
            BetKind::from_name(bet).ok_or_else(|| Refusal::new("no-such-bet", "no such bet"))?;
        let rules = &session.config().rules;
        let pays = kind.max_profit(rules);
        Ok(json!({
            "pays": [pays.numer() as f64, pays.denom() as f64],
            "edge": house_edge_percent(kind, rules),
            "unit": kind.stake_unit(rules),
        })
        .to_string())
    }

    /// What each path delivered of a table's game frames (JSON): `relay`
    /// and, per peer (hex), its data channel's `{taken, ignored, refused,
    /// lastAt}`, and `direct`: the peers whose channel delivered a game
    /// frame within the last minute (by `now`).
    #[wasm_bindgen(js_name = pathCounts)]
    pub fn path_counts(&self, table: &str, now: f64) -> Result<String, Refusal> {
        let room = room_of(table)?;
        let Some(paths) = self.peer.paths(&room) else {
            return Err(Refusal::new("not-at-table", "not at this table"));
        };
        let channels: serde_json::Map<String, Value> = paths
            .channels
            .iter()
            .map(|(peer, counts)| (hex(peer), path_json(counts)))
            .collect();
        let direct: Vec<String> = paths.direct_peers(now as u64).map(|p| hex(p)).collect();
        Ok(json!({
            "relay": path_json(&paths.relay),
            "channels": channels,
            "direct": direct,
        })
        .to_string())
    }

    /// The whole game of `table` so far as a transcript file (`.bctx`:
    /// the configuration, every signed message this page processed with
    /// its relay time, and the dice and state it claims; see
    /// `shared::transcript`), for `bitcraps-verify` or anyone's checker.
    /// A game this page took under way starts from the checkpoint it took
    /// (the players' signatures on it are in the file).
    #[wasm_bindgen(js_name = transcript)]
    pub fn transcript(&self, table: &str) -> Result<Vec<u8>, Refusal> {
        let room = room_of(table)?;
        let session = self
            .peer
            .session(&room)
            .ok_or_else(|| Refusal::new("not-open", "this table has not opened yet"))?;
        Ok(shared::transcript::GameTranscript::of(session).encode())
    }

    /// Re-verifies a past roll from its commitments and reveals, in the
    /// browser: every reveal must match its commitment and the dice must
    /// follow from the reveals. Returns JSON `{round, ok, dice}`.
    #[wasm_bindgen(js_name = verifyRoll)]
    pub fn verify_roll(&self, table: &str, round: f64) -> Result<String, Refusal> {
        let room = room_of(table)?;
        let session = self
            .peer
            .session(&room)
            .ok_or_else(|| Refusal::new("not-at-table", "not at this table"))?;
        let record = rolls_after(session, round - 1.0)
            .first()
            .filter(|r| r.round as f64 == round)
            .ok_or_else(|| Refusal::new("no-such-roll", "no such roll"))?;
        let recomputed = shared::commit_reveal::roll_from_reveals(
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

fn path_json(counts: &shared::peer::PathCounts) -> Value {
    json!({
        "taken": counts.taken,
        "ignored": counts.ignored,
        "refused": counts.refused,
        "lastAt": counts.last_at,
    })
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
