//! Payloads of the relay's control frames: join, challenge, roster, peer
//! joined/left, errors, and WebRTC signaling text.
//!
//! ```text
//! Challenge   nonce[32] | epoch u64     (epoch: random per relay start)
//! Join        nonce[32] | resume_from u64 | flags u8
//!             (replay after resume_from, 0: all kept; flags bit 0: echo,
//!             the sender's own Game and Table frames come back stamped)
//! Leave       (empty)
//! Roster      count u16 | peer[32] * count | incarnation u64
//!             (incarnation: random per room made; a new one means the
//!             room was emptied and made anew)
//! PeerJoined  peer[32]
//! PeerLeft    peer[32]
//! Error       code u16 | reason (UTF-8, at most 123 bytes)
//! Offer, Answer, Ice   UTF-8 text (SDP or candidate JSON)
//! ```

use crate::decode::{Reader, TrailingBytes, UnexpectedEnd};
use crate::wire::PeerId;

/// Why a control payload is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The payload ends before its kind's last field.
    #[error("payload ends too soon")]
    UnexpectedEnd(#[from] UnexpectedEnd),
    /// The payload goes on after its kind's last field.
    #[error(transparent)]
    TrailingBytes(#[from] TrailingBytes),
    /// Flag bits this version does not define.
    #[error("unknown flags {0:#04x}")]
    BadFlags(u8),
    /// Text that is not UTF-8.
    #[error("text is not UTF-8")]
    NotUtf8,
    /// An error reason longer than a WebSocket close reason may be.
    #[error("reason longer than {MAX_REASON} bytes")]
    ReasonTooLong,
}

/// Longest error reason (what fits a WebSocket close frame).
pub const MAX_REASON: usize = 123;

/// The relay's challenge: a nonce to sign, and the relay's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// What the client's join signs (new per connection).
    pub nonce: [u8; 32],
    /// Random per relay start: a client that sees a new epoch knows that
    /// every room's history and numbering are gone.
    pub epoch: u64,
}

impl Challenge {
    /// Encoded payload.
    pub fn encode(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..32].copy_from_slice(&self.nonce);
        out[32..].copy_from_slice(&self.epoch.to_be_bytes());
        out
    }

    /// Decodes a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ControlError> {
        let mut r = Reader::new(payload);
        let challenge = Challenge {
            nonce: r.array()?,
            epoch: r.u64()?,
        };
        r.finish()?;
        Ok(challenge)
    }
}

/// A client's join: the relay's nonce (signed with the frame), where to
/// resume the room's stream from, and whether its own room frames should
/// come back to it stamped (its acknowledgement that the relay has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Join {
    /// The nonce from the relay's challenge.
    pub nonce: [u8; 32],
    /// The last room sequence number seen: the relay replays every frame
    /// after it that it still keeps (0: from the start of the room).
    pub resume_from: u64,
    /// Echo: the sender's own Game and Table frames are delivered to it
    /// too, stamped.
    pub echo: bool,
}

const JOIN_ECHO: u8 = 0b1;

impl Join {
    /// Encoded payload.
    pub fn encode(&self) -> [u8; 41] {
        let mut out = [0u8; 41];
        out[..32].copy_from_slice(&self.nonce);
        out[32..40].copy_from_slice(&self.resume_from.to_be_bytes());
        out[40] = if self.echo { JOIN_ECHO } else { 0 };
        out
    }

    /// Decodes a payload (unknown flag bits are refused).
    pub fn decode(payload: &[u8]) -> Result<Self, ControlError> {
        let mut r = Reader::new(payload);
        let (nonce, resume_from, flags) = (r.array()?, r.u64()?, r.u8()?);
        r.finish()?;
        if flags & !JOIN_ECHO != 0 {
            return Err(ControlError::BadFlags(flags));
        }
        Ok(Join {
            nonce,
            resume_from,
            echo: flags & JOIN_ECHO != 0,
        })
    }
}

/// Decodes a single peer id (PeerJoined, PeerLeft).
pub fn decode_id(payload: &[u8]) -> Result<[u8; 32], ControlError> {
    let mut r = Reader::new(payload);
    let id = r.array()?;
    r.finish()?;
    Ok(id)
}

/// Encodes a roster of a room made as `incarnation`.
pub fn encode_roster(peers: &[PeerId], incarnation: u64) -> Vec<u8> {
    let count = peers.len().min(usize::from(u16::MAX));
    let mut out = Vec::with_capacity(2 + 32 * count + 8);
    out.extend_from_slice(&(count as u16).to_be_bytes());
    for peer in &peers[..count] {
        out.extend_from_slice(peer);
    }
    out.extend_from_slice(&incarnation.to_be_bytes());
    out
}

/// Decodes a roster: who is in the room, and the room's incarnation.
pub fn decode_roster_with_incarnation(payload: &[u8]) -> Result<(Vec<PeerId>, u64), ControlError> {
    let mut r = Reader::new(payload);
    let count = usize::from(r.u16()?);
    // (Checked against what is left before anything is reserved.)
    if r.len() < count.saturating_mul(32) {
        return Err(UnexpectedEnd.into());
    }
    let peers = (0..count).map(|_| r.array()).collect::<Result<_, _>>()?;
    let incarnation = r.u64()?;
    r.finish()?;
    Ok((peers, incarnation))
}

/// Decodes a roster's peers.
pub fn decode_roster(payload: &[u8]) -> Result<Vec<PeerId>, ControlError> {
    decode_roster_with_incarnation(payload).map(|(peers, _)| peers)
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
    let mut r = Reader::new(payload);
    let code = r.u16()?;
    let reason = decode_text(r.rest())?;
    if reason.len() > MAX_REASON {
        return Err(ControlError::ReasonTooLong);
    }
    Ok((code, reason))
}

/// Decodes signaling text (SDP or an ICE candidate).
pub fn decode_text(payload: &[u8]) -> Result<&str, ControlError> {
    std::str::from_utf8(payload).map_err(|_| ControlError::NotUtf8)
}
