//! The table's canonical bytes (what the per-roll state hash is of) and
//! reading them back.

use std::collections::BTreeMap;

use super::{PlayerId, Seat, Table, SEAT_CREDIT_MAX};
use crate::craps::bet::BetKind;
use crate::craps::phase::Phase;
use crate::craps::rules::TableRules;
use crate::decode::Reader;

impl Table {
    /// Canonical bytes of the whole state, for hashing: every peer with the
    /// same state produces the same bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.rules.encode(out);
        out.push(self.phase.to_byte());
        out.extend_from_slice(&self.banker);
        out.extend_from_slice(&self.bankroll.to_be_bytes());
        out.extend_from_slice(&self.bought_in.to_be_bytes());
        out.extend_from_slice(&(self.seats.len() as u32).to_be_bytes());
        for seat in &self.seats {
            out.extend_from_slice(&seat.player);
            out.extend_from_slice(&seat.balance.to_be_bytes());
        }
        out.extend_from_slice(self.shooter.as_ref().unwrap_or(&[0; 32]));
        out.extend_from_slice(&(self.bets.len() as u32).to_be_bytes());
        for ((player, kind), stake) in &self.bets {
            out.extend_from_slice(player);
            out.extend_from_slice(&kind.code());
            out.extend_from_slice(&stake.to_be_bytes());
        }
        out.extend_from_slice(&(self.departed.len() as u32).to_be_bytes());
        for (player, balance) in &self.departed {
            out.extend_from_slice(player);
            out.extend_from_slice(&balance.to_be_bytes());
        }
        out.extend_from_slice(&(self.working.len() as u32).to_be_bytes());
        for (player, kind) in &self.working {
            out.extend_from_slice(player);
            out.extend_from_slice(&kind.code());
        }
        out.extend_from_slice(&self.seat_credit.to_be_bytes());
    }

    /// The table [`Table::encode`] wrote, if the bytes are one: canonical
    /// (seats in key order, each once; the shooter seated; every bet a
    /// real one on a player's name, with chips on it), so a decoded
    /// table encodes to the same bytes and hashes the same.
    pub fn decode(bytes: &[u8]) -> Option<Table> {
        let mut r = Reader::new(bytes);
        let rules = TableRules::decode(r.take(TableRules::ENCODED_LEN).ok()?)?;
        let phase = Phase::from_byte(r.u8().ok()?)?;
        let banker: PlayerId = r.array().ok()?;
        let bankroll = r.u64().ok()?;
        let bought_in = r.u64().ok()?;
        let mut seats: Vec<Seat> = Vec::new();
        for _ in 0..r.count(40).ok()? {
            let player: PlayerId = r.array().ok()?;
            let balance = r.u64().ok()?;
            let in_order = seats.last().is_none_or(|last| last.player < player);
            if !in_order || player == banker {
                return None;
            }
            seats.push(Seat { player, balance });
        }
        let shooter: PlayerId = r.array().ok()?;
        let shooter = (shooter != [0; 32]).then_some(shooter);
        let seated = |p: &PlayerId| seats.binary_search_by(|s| s.player.cmp(p)).is_ok();
        if shooter.is_some_and(|s| !seated(&s)) {
            return None;
        }
        let mut bets = BTreeMap::new();
        let mut last = None;
        for _ in 0..r.count(43).ok()? {
            let player: PlayerId = r.array().ok()?;
            let kind = BetKind::from_code(r.array().ok()?)?;
            let stake = r.u64().ok()?;
            let key = (player, kind);
            if stake == 0 || last.is_some_and(|l| l >= key) {
                return None;
            }
            last = Some(key);
            bets.insert(key, stake);
        }
        let mut departed = BTreeMap::new();
        let mut last = None;
        for _ in 0..r.count(40).ok()? {
            let player: PlayerId = r.array().ok()?;
            if last.is_some_and(|l| l >= player) {
                return None;
            }
            last = Some(player);
            departed.insert(player, r.u64().ok()?);
        }
        let mut working = Vec::new();
        let mut last = None;
        for _ in 0..r.count(35).ok()? {
            let player: PlayerId = r.array().ok()?;
            let kind = BetKind::from_code(r.array().ok()?)?;
            let key = (player, kind);
            let workable = matches!(kind, BetKind::Place(_) | BetKind::Buy(_));
            if !workable || !bets.contains_key(&key) || last.is_some_and(|l| l >= key) {
                return None;
            }
            last = Some(key);
            working.push(key);
        }
        let seat_credit = r.u32().ok()?;
        if seat_credit > SEAT_CREDIT_MAX || !r.is_empty() {
            return None;
        }
        Some(Table {
            rules,
            phase,
            banker,
            bankroll,
            seats,
            shooter,
            bets,
            working,
            departed,
            bought_in,
            seat_credit,
        })
    }
}
