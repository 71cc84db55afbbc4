//! A deterministic network of simulated peers for the engine's tests.
//!
//! Every peer runs a real `Session`; messages travel as they do in the
//! product: to a relay over an ordered link (a random delay each, never
//! overtaking), which stamps them with its time and its order and sends
//! each to every peer, the sender too, over an ordered link of its own;
//! and table actions also straight to every other peer, as over a data
//! channel (a random delay each, so they arrive shuffled, even from one
//! sender), where they only show until the relay's copy comes. Every peer has its own clock, which may be offset and run fast
//! or slow. Tampering hooks let a test turn a peer into a cheater.

#![allow(dead_code)] // each test file uses part of the harness

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use shared::commit_reveal::GameId;
use shared::craps::{BetKind, PlayerId};
use shared::message::SignedMessage;
use shared::session::{Event, GameConfig, Millis, Session, SessionError};

/// A small deterministic PRNG (xorshift64*), so runs repeat exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A stranger's first two messages: it sits down with `buy_in` and bets
/// `stake` on the field (so it takes part in the dice once seated), signed
/// by `key` for `round`.
pub fn sit_and_stake(key: &SigningKey, round: u64, buy_in: u64, stake: u64) -> [SignedMessage; 2] {
    let sign = |seq, action| {
        shared::message::Message {
            game: GAME,
            round,
            seq,
            action,
        }
        .sign(key)
    };
    [
        sign(1, shared::message::Action::Sit { buy_in }),
        sign(
            2,
            shared::message::Action::Bet {
                kind: BetKind::Field,
                stake,
            },
        ),
    ]
}

/// What the network does with a peer's outgoing message: deliver these
/// instead (empty = withhold).
pub type Tamper = Box<dyn FnMut(SignedMessage, &SigningKey) -> Vec<SignedMessage>>;

pub struct Peer {
    pub session: Session,
    pub key: SigningKey,
    pub events: Vec<Event>,
    pub rejected: Vec<shared::session::SessionError>,
    /// Whether this peer places random bets each round.
    pub bets: bool,
    /// The round this peer last bet in, and when that round opened here.
    bet_round: u64,
    round_opened: Millis,
    pub tamper: Option<Tamper>,
    /// Whether the peer is still running (a crashed peer does nothing).
    pub alive: bool,
}

impl Peer {
    pub fn id(&self) -> PlayerId {
        self.key.verifying_key().to_bytes()
    }
}

/// Where a message in flight is going.
#[derive(Debug, Clone, Copy)]
enum Hop {
    /// To the relay (from a peer, or from outside the table).
    Relay,
    /// To a peer: from the relay with its stamp, or straight from a peer.
    Peer {
        to: usize,
        relayed_at: Option<Millis>,
    },
}

/// Where the relay's clock stands when simulated time starts.
pub const RELAY_EPOCH: Millis = 1_765_000_000_000;

/// A peer's clock: `offset + now * rate / 1000` in simulated time `now`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub offset: Millis,
    /// Per mille of real time (1000: on time; 1500: half as fast again).
    pub rate: u64,
}

impl Clock {
    fn at(&self, now: Millis) -> Millis {
        self.offset + now * self.rate / 1000
    }

    /// The first simulated moment at which this clock shows `local`.
    fn when(&self, local: Millis) -> Millis {
        (local.saturating_sub(self.offset) * 1000).div_ceil(self.rate)
    }
}

pub struct Net {
    pub now: Millis,
    pub peers: Vec<Peer>,
    /// (deliver at, tie-break) -> (where, message)
    in_flight: BTreeMap<(Millis, u64), (Hop, SignedMessage)>,
    /// Per peer: when its link to the relay, and the relay's link to it,
    /// are free (ordered links: nothing overtakes).
    uplink: Vec<Millis>,
    downlink: Vec<Millis>,
    /// Each peer's clock.
    pub clocks: Vec<Clock>,
    /// Whether table actions also go straight to the other peers.
    pub channels: bool,
    /// A peer whose link to the relay sometimes stalls: (peer, chance per
    /// mille per message, least and most extra delay).
    pub lag: Option<(usize, u64, Millis, Millis)>,
    /// How many times that link stalled.
    pub lags: u64,
    pub rng: Rng,
    pub max_delay: Millis,
    /// Delay between a round opening and the shooter rolling.
    pub roll_delay: Millis,
    /// Whether shooters keep rolling.
    pub rolling: bool,
    pub config: GameConfig,
    /// Per mille: the chance, at every moment something happens, that a
    /// seated player bets again whatever the phase (so bets cross the
    /// shooter's commitment and the roll).
    pub crossing: u64,
    /// Bets are staked 1..=`max_units` times their stake unit.
    pub max_units: u64,
    /// Extra random delay before each shooter rolls (0..this).
    pub roll_jitter: Millis,
}

pub const GAME: GameId = [0x6A; 16];

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub const BET_MENU: &[BetKind] = &[
    BetKind::PassLine,
    BetKind::DontPass,
    BetKind::Come { point: None },
    BetKind::DontCome { point: None },
    BetKind::PassOdds,
    BetKind::DontPassOdds,
    BetKind::Place(6),
    BetKind::Place(5),
    BetKind::Buy(10),
    BetKind::Lay(4),
    BetKind::Field,
    BetKind::Big8,
    BetKind::Hard(8),
    BetKind::AnySeven,
    BetKind::AnyCraps,
    BetKind::Yo,
    BetKind::Horn,
    BetKind::CAndE,
    BetKind::Hop(3, 4),
    BetKind::Hop(6, 6),
];

impl Net {
    /// A banker (key 1) and `players` players (keys 2..), every one
    /// seated with `buy_in` chips at time 0.
    pub fn new(players: u8, seed: u64) -> Self {
        Self::with_bankroll(players, seed, 100_000_000)
    }

    /// Like [`Net::new`], with the banker's bankroll.
    pub fn with_bankroll(players: u8, seed: u64, bankroll: u64) -> Self {
        let banker = key(1);
        let config = GameConfig {
            commit_timeout: 500,
            reveal_timeout: 500,
            ..GameConfig::new(GAME, banker.verifying_key().to_bytes(), bankroll)
        };
        let mut rng = Rng::new(seed);
        let mut peers = Vec::new();
        for n in 1..=players + 1 {
            let k = key(n);
            let mut entropy = [0u8; 32];
            entropy[..8].copy_from_slice(&rng.next().to_le_bytes());
            peers.push(Peer {
                session: Session::new(config, k.clone(), entropy),
                key: k,
                events: Vec::new(),
                rejected: Vec::new(),
                bets: n != 1,
                bet_round: 0,
                round_opened: 0,
                tamper: None,
                alive: true,
            });
        }
        let count = peers.len();
        let mut net = Self {
            now: 0,
            peers,
            in_flight: BTreeMap::new(),
            uplink: vec![0; count],
            downlink: vec![0; count],
            clocks: vec![
                Clock {
                    offset: 0,
                    rate: 1000
                };
                count
            ],
            channels: true,
            lag: None,
            lags: 0,
            rng,
            max_delay: 10,
            roll_delay: 50,
            rolling: true,
            config,
            crossing: 0,
            max_units: 5,
            roll_jitter: 0,
        };
        for i in 1..net.peers.len() {
            net.peers[i].session.sit(0, 1_000_000).expect("sit");
        }
        net.collect();
        net
    }

    /// Moves every peer's outgoing messages and events into the network.
    fn collect(&mut self) {
        let count = self.peers.len();
        for from in 0..count {
            while let Some(message) = self.peers[from].session.poll_transmit() {
                let key = self.peers[from].key.clone();
                let out = match self.peers[from].tamper.as_mut() {
                    Some(tamper) => tamper(message, &key),
                    None => vec![message],
                };
                for m in out {
                    self.broadcast(from, m);
                }
            }
            while let Some(event) = self.peers[from].session.poll_event() {
                if let Event::Rejected { error, .. } = &event {
                    self.peers[from].rejected.push(error.clone());
                }
                self.peers[from].events.push(event);
            }
        }
    }

    /// Peer `i`'s clock now.
    pub fn local(&self, i: usize) -> Millis {
        self.clocks[i].at(self.now)
    }

    /// Sends `message` from peer `from` through the relay, and a table
    /// action (or request) also straight to every other peer.
    pub fn broadcast(&mut self, from: usize, message: SignedMessage) {
        if self.channels && message.message.action.is_table_action() {
            for to in 0..self.peers.len() {
                if to != from {
                    self.send(to, message.clone());
                }
            }
        }
        self.through_relay(from, message);
    }

    /// Sends `message` from peer `from` through the relay only.
    pub fn through_relay(&mut self, from: usize, message: SignedMessage) {
        // (An ordered link: nothing overtakes, nothing arrives together.)
        let mut at = self.delay().max(self.uplink[from] + 1);
        if let Some((peer, chance, least, most)) = self.lag {
            if peer == from && self.rng.below(1000) < chance {
                // (What follows on that link waits behind it.)
                self.lags += 1;
                at += least + self.rng.below(most - least + 1);
            }
        }
        self.uplink[from] = at;
        self.queue(at, Hop::Relay, message);
    }

    /// Sends one copy straight to one peer (as a data channel would).
    pub fn send(&mut self, to: usize, message: SignedMessage) {
        let at = self.delay();
        self.queue(
            at,
            Hop::Peer {
                to,
                relayed_at: None,
            },
            message,
        );
    }

    fn delay(&mut self) -> Millis {
        self.now + 1 + self.rng.below(self.max_delay)
    }

    fn queue(&mut self, at: Millis, hop: Hop, message: SignedMessage) {
        let tie = self.rng.next();
        self.in_flight.insert((at, tie), (hop, message));
    }

    /// The relay: stamps `message` with its time and order, and sends it
    /// to every peer, the sender too.
    fn relay(&mut self, message: SignedMessage) {
        // The relay's clock is wall time (ms since the Unix epoch), far
        // from the peers' own clocks and from zero.
        let stamp = RELAY_EPOCH + self.now;
        for to in 0..self.peers.len() {
            let at = self.delay().max(self.downlink[to] + 1);
            self.downlink[to] = at;
            self.queue(
                at,
                Hop::Peer {
                    to,
                    relayed_at: Some(stamp),
                },
                message.clone(),
            );
        }
    }

    /// Lets honest behaviour happen: bet when a round opens, roll later,
    /// and (with `crossing`) bet again at any moment.
    fn behave(&mut self) {
        for i in 0..self.peers.len() {
            let now = self.local(i);
            let peer = &mut self.peers[i];
            if self.crossing > 0
                && peer.alive
                && peer.bets
                && !peer.session.is_closed()
                && self.rng.below(1000) < self.crossing
            {
                let kind = BET_MENU[self.rng.below(BET_MENU.len() as u64) as usize];
                let unit = kind.stake_unit(peer.session.table().rules());
                let stake = unit * (1 + self.rng.below(self.max_units));
                let _ = peer.session.place_bet(now, kind, stake);
            }
            if !peer.alive || !peer.session.is_betting() || peer.session.is_closed() {
                continue;
            }
            let round = peer.session.round();
            if peer.bet_round != round {
                peer.bet_round = round;
                peer.round_opened = now + self.rng.below(self.roll_jitter.max(1));
                let Some(me) = peer.session.local_id() else {
                    continue;
                };
                if peer.bets && peer.session.table().is_seated(&me) {
                    for _ in 0..1 + self.rng.below(3) {
                        let kind = BET_MENU[self.rng.below(BET_MENU.len() as u64) as usize];
                        let unit = kind.stake_unit(peer.session.table().rules());
                        let stake = unit * (1 + self.rng.below(self.max_units));
                        // Refused bets (wrong phase, no line bet) are not sent.
                        let _ = peer.session.place_bet(now, kind, stake);
                    }
                }
            }
            let me = peer.session.local_id();
            if self.rolling
                && me.is_some()
                && peer.session.table().shooter() == me
                && now >= peer.round_opened + self.roll_delay
            {
                let _ = peer.session.roll(now);
            }
        }
        self.collect();
    }

    /// The next moment something happens.
    fn next_time(&self) -> Option<Millis> {
        let delivery = self.in_flight.keys().next().map(|(at, _)| *at);
        let timeout = self
            .peers
            .iter()
            .zip(&self.clocks)
            .filter(|(p, _)| p.alive)
            .filter_map(|(p, c)| p.session.poll_timeout().map(|t| c.when(t).max(self.now)))
            .min();
        let roll = self
            .peers
            .iter()
            .zip(&self.clocks)
            .filter(|(p, _)| p.alive && self.rolling && p.session.is_betting())
            .map(|(p, c)| c.when(p.round_opened + self.roll_delay))
            .filter(|&t| t > self.now)
            .min();
        [delivery, timeout, roll].into_iter().flatten().min()
    }

    /// Advances to the next moment and handles everything due then.
    /// Returns false when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        self.behave();
        let Some(at) = self.next_time() else {
            return false;
        };
        self.now = self.now.max(at);
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (hop, message) = entry.remove();
            let (to, relayed_at) = match hop {
                Hop::Relay => {
                    self.relay(message);
                    continue;
                }
                Hop::Peer { to, relayed_at } => (to, relayed_at),
            };
            let now = self.local(to);
            let peer = &mut self.peers[to];
            if !peer.alive {
                continue;
            }
            let Some(at) = relayed_at else {
                // A data channel's copy only shows until the relay's comes
                // (which reports any refusal).
                let _ = peer.session.handle_message(now, message);
                continue;
            };
            match peer.session.handle_relayed(now, message, at) {
                // Our own echo.
                Ok(()) | Err(SessionError::Replayed { .. }) => {}
                Err(error) => peer.rejected.push(error),
            }
        }
        for i in 0..self.peers.len() {
            let now = self.local(i);
            if self.peers[i].alive {
                self.peers[i].session.handle_timeout(now);
            }
        }
        self.collect();
        true
    }

    /// Steps until `done` holds or `limit` ms of simulated time pass.
    pub fn run_until(&mut self, limit: Millis, mut done: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        done(self)
    }

    /// Stops rolling and delivers everything still in flight (also what
    /// the last moment sent, such as the banker passing idle dice).
    pub fn settle(&mut self) {
        self.rolling = false;
        let end = self.now + 10_000;
        while self.now < end && self.step() {}
        while !self.in_flight.is_empty() && self.step() {}
    }

    /// Rolls seen by peer `i`.
    pub fn rolls(&self, i: usize) -> usize {
        self.peers[i].session.history().len()
    }

    /// Has the relay carry `message` from someone outside the table.
    pub fn inject(&mut self, message: SignedMessage) {
        let at = self.delay();
        self.queue(at, Hop::Relay, message);
    }
}
