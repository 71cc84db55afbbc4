//! Table chat: short texts a player sends to everyone at the table. A chat
//! line rides a `Presence` frame with a payload, which the relay fans out
//! to the room at low priority (dropped first under load, never stamped or
//! replayed: chat is not part of the game and late joiners do not see what
//! was said before). The frame is signed by its sender like every client
//! frame, and checked on arrival, so nobody can put words in another
//! player's mouth; the relay's rate limits bound how fast anyone talks.
//!
//! ```text
//! Presence payload:  1 (chat) | utf8 text (1-280 bytes, no control characters)
//! ```

/// The payload's first byte for a chat line.
pub const CHAT: u8 = 1;

/// The longest chat line, in bytes of UTF-8.
pub const MAX_CHAT: usize = 280;

/// Whether `text` may be said: 1 to [`MAX_CHAT`] bytes, not only spaces,
/// no control characters.
pub fn is_valid(text: &str) -> bool {
    (1..=MAX_CHAT).contains(&text.len())
        && !text.trim().is_empty()
        && !text.chars().any(char::is_control)
}

/// The `Presence` payload for a chat line (`None` if it may not be said).
pub fn encode(text: &str) -> Option<Vec<u8>> {
    is_valid(text).then(|| {
        let mut out = Vec::with_capacity(text.len() + 1);
        out.push(CHAT);
        out.extend_from_slice(text.as_bytes());
        out
    })
}

/// The chat line a `Presence` payload carries, if it is one that may be
/// said.
pub fn decode(payload: &[u8]) -> Option<&str> {
    let (&kind, text) = payload.split_first()?;
    let text = std::str::from_utf8(text).ok()?;
    (kind == CHAT && is_valid(text)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_round_trips_and_junk_is_no_line() {
        assert_eq!(decode(&encode("hi ⚅").unwrap()), Some("hi ⚅"));
        assert_eq!(encode(""), None);
        assert_eq!(encode("   "), None);
        assert_eq!(encode("a\nb"), None);
        assert_eq!(encode(&"x".repeat(MAX_CHAT + 1)), None);
        assert!(encode(&"x".repeat(MAX_CHAT)).is_some());
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[CHAT]), None);
        assert_eq!(decode(&[2, b'h', b'i']), None, "another kind");
        assert_eq!(decode(&[CHAT, 0xff, 0xfe]), None, "not UTF-8");
    }
}
