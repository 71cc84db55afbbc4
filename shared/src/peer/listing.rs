//! The lobby: a house lists its table on the relay, which shows the open
//! tables at `GET /api/tables` (the landing page's list). The listing
//! rides a `Presence` frame, signed by the house like every client frame,
//! which the relay keeps with the room instead of fanning it out; it goes
//! again whenever the house joins the room (after a relay restart too),
//! and the relay drops it when the house leaves the room.
//!
//! ```text
//! Presence payload:  2 (listing) | table configuration (GameConfig, 103 bytes)
//!                    | utf8 name (1-40 bytes, no control characters)
//! ```
//!
//! The configuration is the one the house signed in its `Table` frame: the
//! relay lists only a house's own table (its key is the banker's, the
//! room is the game's), with the limits and bankroll from it.

use crate::session::{GameConfig, CONFIG_LEN};

/// The payload's first byte for a listing.
pub const LISTING: u8 = 2;

/// The longest table name, in bytes of UTF-8.
pub const MAX_TABLE_NAME: usize = 40;

/// A house's listing of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The table's configuration (limits, bankroll, banker).
    pub config: GameConfig,
    /// The name the lobby shows.
    pub name: String,
}

/// Whether `name` may name a table: 1 to [`MAX_TABLE_NAME`] bytes, not
/// only spaces, no control characters.
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_TABLE_NAME).contains(&name.len())
        && !name.trim().is_empty()
        && !name.chars().any(char::is_control)
}

/// The `Presence` payload listing a table (`None` for a name that may not
/// be shown).
pub fn encode(config: &GameConfig, name: &str) -> Option<Vec<u8>> {
    is_valid_name(name).then(|| {
        let mut out = Vec::with_capacity(1 + CONFIG_LEN + name.len());
        out.push(LISTING);
        out.extend_from_slice(&config.encode());
        out.extend_from_slice(name.as_bytes());
        out
    })
}

/// The listing a `Presence` payload carries, if it is one.
pub fn decode(payload: &[u8]) -> Option<Listing> {
    let (&kind, rest) = payload.split_first()?;
    if kind != LISTING || rest.len() <= CONFIG_LEN {
        return None;
    }
    let (config, name) = rest.split_at(CONFIG_LEN);
    let config = GameConfig::decode(config).ok()?;
    let name = std::str::from_utf8(name).ok()?;
    is_valid_name(name).then(|| Listing {
        config,
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_round_trips_and_junk_is_none() {
        let config = GameConfig::new([7; 16], [9; 32], 50_000);
        let payload = encode(&config, "Zoë's table").unwrap();
        assert_eq!(
            decode(&payload),
            Some(Listing {
                config,
                name: "Zoë's table".into()
            })
        );
        assert_eq!(encode(&config, ""), None);
        assert_eq!(encode(&config, "  "), None);
        assert_eq!(encode(&config, "a\nb"), None);
        assert_eq!(encode(&config, &"x".repeat(MAX_TABLE_NAME + 1)), None);
        assert_eq!(decode(&payload[..1 + CONFIG_LEN]), None, "no name");
        assert_eq!(decode(&[1, b'h', b'i']), None, "a chat line");
        let mut bad = payload.clone();
        *bad.last_mut().unwrap() = 0xff;
        assert_eq!(decode(&bad), None, "not UTF-8");
    }
}
