//! The lobby: the tables houses list in their rooms (`GET /api/tables`);
//! in cluster mode, those listed on the other relays too.

use std::sync::{Arc, Mutex};

use shared::hex;
use shared::peer::listing;
use shared::wire::{error, PeerId, RoomId};

use super::{Hub, Refusal, Room};

/// A table in the lobby (`GET /api/tables`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedTable {
    /// The table's id (hex).
    pub table: String,
    /// The name its house gave it.
    pub name: String,
    /// The house's key (hex).
    pub house: String,
    /// Who else is in the room (players and watchers).
    pub players: usize,
    /// The smallest bet.
    pub min_bet: u64,
    /// The largest bet.
    pub max_bet: u64,
    /// The house's bankroll when it opened the table.
    pub bankroll: u64,
    /// Whether the room has no place left.
    pub full: bool,
}

impl Hub {
    /// A house lists its table in the lobby (a `Presence` frame with a
    /// listing, see `shared::peer::listing`): kept with the room while the
    /// house is in it, sent to nobody.
    pub fn list_table(
        &self,
        conn: u64,
        peer: PeerId,
        room_id: RoomId,
        payload: &[u8],
    ) -> Result<(), Refusal> {
        let bad = |why: &str| Refusal::new(error::BAD_LISTING, "bad_listing", why);
        let listing = listing::decode(payload).ok_or_else(|| bad("malformed table listing"))?;
        if listing.config.game != room_id || listing.config.banker != peer {
            return Err(bad("only the house lists its table, in its own room"));
        }
        self.as_member(conn, &peer, &room_id, |r| r.listing = Some(listing))
    }

    /// The tables in the lobby, those with the most players first (at most
    /// `max`): listed here, and in cluster mode on the other relays.
    pub fn tables(&self, max: usize) -> Vec<ListedTable> {
        let mut tables = self.own_tables(max);
        if let Some(cluster) = self.cluster() {
            tables.extend(cluster.lobby());
            // A house that moved relays may show twice for a moment.
            sort(&mut tables);
            let mut seen = std::collections::HashSet::new();
            tables.retain(|t| seen.insert(t.table.clone()));
            tables.truncate(max);
        }
        tables
    }

    /// The tables listed on this relay, those with the most players first
    /// (at most `max`).
    pub fn own_tables(&self, max: usize) -> Vec<ListedTable> {
        let rooms: Vec<Arc<Mutex<Room>>> = self.rooms.iter().map(|r| Arc::clone(&r)).collect();
        let mut tables: Vec<ListedTable> = rooms
            .iter()
            .filter_map(|room| {
                let r = room.lock().ok()?;
                let l = r.listing.as_ref()?;
                Some(ListedTable {
                    table: hex(&l.config.game),
                    name: l.name.clone(),
                    house: hex(&l.config.banker),
                    players: r.population().saturating_sub(1),
                    min_bet: l.config.rules.min_bet,
                    max_bet: l.config.rules.max_bet,
                    bankroll: l.config.bankroll,
                    full: r.population() >= self.limits.max_peers_per_room,
                })
            })
            .collect();
        sort(&mut tables);
        tables.truncate(max);
        tables
    }
}

/// Those with the most players first, then by name.
fn sort(tables: &mut [ListedTable]) {
    tables.sort_by(|a, b| {
        b.players
            .cmp(&a.players)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.table.cmp(&b.table))
    });
}
