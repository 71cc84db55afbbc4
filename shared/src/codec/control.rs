//! Payloads of the relay's control frames: join, challenge, roster, peer
//! joined/left, errors, and WebRTC signaling text.
//!
//! ```text
//! Challenge   nonce[32]
//! Join        nonce[32] | resume_from u64   (replay after it; 0: all kept)
//! Leave       (empty)
//! Roster      count u16 | peer[32] * count
//! PeerJoined  peer[32]
//! PeerLeft    peer[32]
//! Error       code u16 | reason (UTF-8, at most 123 bytes)
//! Offer, Answer, Ice   UTF-8 text (SDP or candidate JSON)
//! ```

use crate::wire::PeerId;

/// Why a control payload is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The payload has the wrong length for its kind.
    #[error("payload of {len} bytes, expected {expected}")]
    BadLength {
        /// The payload's length.
        len: usize,
        /// What the kind needs.
        expected: usize,
    },
    /// Text that is not UTF-8.
    #[error("text is not UTF-8")]
    NotUtf8,
    /// An error reason longer than a WebSocket close reason may be.
    #[error("reason longer than {MAX_REASON} bytes")]
    ReasonTooLong,
}

/// Longest error reason (what fits a WebSocket close frame).
pub const MAX_REASON: usize = 123;

fn exact<const N: usize>(payload: &[u8]) -> Result<[u8; N], ControlError> {
    payload.try_into().map_err(|_| ControlError::BadLength {
        len: payload.len(),
        expected: N,
    })
}

/// A client's join: the relay's nonce (signed with the frame) and where to
/// resume the room's stream from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Join {
    /// The nonce from the relay's challenge.
    pub nonce: [u8; 32],
    /// The last room sequence number seen: the relay replays every frame
    /// after it that it still keeps (0: from the start of the room).
    pub resume_from: u64,
}

impl Join {
    /// Encoded payload.
    pub fn encode(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..32].copy_from_slice(&self.nonce);
        out[32..].copy_from_slice(&self.resume_from.to_be_bytes());
        out
    }

    /// Decodes a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ControlError> {
        let bytes: [u8; 40] = exact(payload)?;
        let mut nonce = [0u8; 32];
        nonce.copy_from_slice(&bytes[..32]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&bytes[32..]);
        Ok(Join {
            nonce,
            resume_from: u64::from_be_bytes(seq),
        })
    }
}

/// Decodes a single peer id (PeerJoined, PeerLeft) or a nonce (Challenge).
pub fn decode_id(payload: &[u8]) -> Result<[u8; 32], ControlError> {
    exact(payload)
}

/// Encodes a roster.
pub fn encode_roster(peers: &[PeerId]) -> Vec<u8> {
    let count = peers.len().min(usize::from(u16::MAX));
    let mut out = Vec::with_capacity(2 + 32 * count);
    out.extend_from_slice(&(count as u16).to_be_bytes());
    for peer in &peers[..count] {
        out.extend_from_slice(peer);
    }
    out
}

/// Decodes a roster.
pub fn decode_roster(payload: &[u8]) -> Result<Vec<PeerId>, ControlError> {
    let count = payload
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or(ControlError::BadLength {
            len: payload.len(),
            expected: 2,
        })?;
    let expected = 2 + 32 * count;
    if payload.len() != expected {
        return Err(ControlError::BadLength {
            len: payload.len(),
            expected,
        });
    }
    Ok(payload[2..]
        .chunks_exact(32)
        .map(|c| {
            let mut id = [0u8; 32];
            id.copy_from_slice(c);
            id
        })
        .collect())
}

/// Encodes an error: a code from `wire` and a short reason.
pub fn encode_error(code: u16, reason: &str) -> Result<Vec<u8>, ControlError> {
    if reason.len() > MAX_REASON {
        return Err(ControlError::ReasonTooLong);
    }
    let mut out = Vec::with_capacity(2 + reason.len());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
    Ok(out)
}

/// Decodes an error into its code and reason.
pub fn decode_error(payload: &[u8]) -> Result<(u16, &str), ControlError> {
    let code = payload.get(..2).ok_or(ControlError::BadLength {
        len: payload.len(),
        expected: 2,
    })?;
    let reason = std::str::from_utf8(&payload[2..]).map_err(|_| ControlError::NotUtf8)?;
    if reason.len() > MAX_REASON {
        return Err(ControlError::ReasonTooLong);
    }
    Ok((u16::from_be_bytes([code[0], code[1]]), reason))
}

/// Decodes signaling text (SDP or an ICE candidate).
pub fn decode_text(payload: &[u8]) -> Result<&str, ControlError> {
    std::str::from_utf8(payload).map_err(|_| ControlError::NotUtf8)
}
