//! The lobby across relays: every [`LOBBY_EVERY`] each relay publishes
//! the tables listed on it (its top [`MAX_LISTED`], a JSON list on
//! `bc.lobby`); each keeps the others' last lists and shows them with its
//! own at `/api/tables`. A relay's list is replaced by its next one and
//! dropped when the relay is gone or silent for three periods.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::wire::{RelayId, LOBBY};
use super::Cluster;
use crate::http::MAX_LISTED;
use crate::rooms::ListedTable;
use crate::shutdown::Shutdown;

/// How often a relay tells the others the tables listed on it.
pub const LOBBY_EVERY: Duration = Duration::from_secs(2);

/// One relay's tables.
#[derive(Debug, Serialize, Deserialize)]
struct Listed {
    relay: RelayId,
    tables: Vec<ListedTable>,
}

/// The other relays' last lists, each with when it came.
#[derive(Default)]
pub(super) struct Lobbies(HashMap<RelayId, (Instant, Vec<ListedTable>)>);

impl Cluster {
    /// The tables listed on the other relays lately.
    pub fn lobby(&self) -> Vec<ListedTable> {
        let now = Instant::now();
        let Ok(lobbies) = self.lobbies.lock() else {
            return Vec::new();
        };
        lobbies
            .0
            .values()
            .filter(|(at, _)| now.duration_since(*at) < 3 * LOBBY_EVERY)
            .flat_map(|(_, tables)| tables.iter().cloned())
            .collect()
    }

    /// A relay is gone: so are its tables.
    pub(super) fn forget_lobby(&self, relay: RelayId) {
        if let Ok(mut lobbies) = self.lobbies.lock() {
            lobbies.0.remove(&relay);
        }
    }

    /// Publishes this relay's tables every [`LOBBY_EVERY`] and keeps the
    /// others' lists, until shutdown.
    pub(super) async fn share_lobby(
        self: Arc<Self>,
        mut lists: async_nats::Subscriber,
        shutdown: Shutdown,
    ) {
        let mut tick = tokio::time::interval(LOBBY_EVERY);
        let stop = shutdown.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let Some(hub) = self.hub.upgrade() else { return };
                    let listed = Listed { relay: self.id, tables: hub.own_tables(MAX_LISTED) };
                    if let Ok(json) = serde_json::to_vec(&listed) {
                        let _ = self.client.publish(LOBBY, json.into()).await;
                    }
                }
                message = lists.next() => {
                    let Some(message) = message else { return };
                    let Ok(listed) = serde_json::from_slice::<Listed>(&message.payload) else {
                        continue;
                    };
                    if listed.relay == self.id {
                        continue;
                    }
                    if let Ok(mut lobbies) = self.lobbies.lock() {
                        lobbies.0.insert(listed.relay, (Instant::now(), listed.tables));
                    }
                }
                () = &mut stop => return,
            }
        }
    }
}
