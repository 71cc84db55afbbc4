//! The relay's join handshake, written once: read the challenge, answer
//! with a join signed over its nonce. [`super::Peer`] uses it, and so do
//! the load generator and the relay's tests, which drive raw sockets.

use bytes::{Bytes, BytesMut};

use crate::codec::{control, encode_signed, EncodeError, FrameHeader, FrameRef};
use crate::wire::{FrameKind, PeerId, RoomId};
use crate::SigningKey;

/// Why bytes are not the relay's challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Some other frame came first.
    #[error("expected the relay's challenge, got {0:?}")]
    NotAChallenge(FrameKind),
    /// The challenge's payload does not decode.
    #[error("malformed challenge: {0}")]
    Malformed(#[from] control::ControlError),
}

/// Reads the relay's challenge from a parsed frame.
pub fn read_challenge(frame: &FrameRef<'_>) -> Result<control::Challenge, HandshakeError> {
    if frame.header.kind != FrameKind::Challenge {
        return Err(HandshakeError::NotAChallenge(frame.header.kind));
    }
    Ok(control::Challenge::decode(frame.payload)?)
}

/// A signed client frame of `kind` for `room` (and `target`).
pub fn signed_frame(
    key: &SigningKey,
    kind: FrameKind,
    room: RoomId,
    target: Option<PeerId>,
    payload: &[u8],
) -> Result<Bytes, EncodeError> {
    let mut header = FrameHeader::new(kind, room, key.verifying_key().to_bytes());
    header.target = target;
    let mut out = BytesMut::with_capacity(payload.len() + 200);
    encode_signed(&header, payload, key, &mut out)?;
    Ok(out.freeze())
}

/// The join that answers `challenge` for `room`, resuming after
/// `resume_from` (0: everything the relay keeps), with or without `echo`
/// of this peer's own room frames.
pub fn join_frame(
    key: &SigningKey,
    challenge: &control::Challenge,
    room: RoomId,
    resume_from: u64,
    echo: bool,
) -> Bytes {
    let join = control::Join {
        nonce: challenge.nonce,
        resume_from,
        echo,
    };
    signed_frame(key, FrameKind::Join, room, None, &join.encode())
        .expect("a join (fixed size, no target) always encodes")
}
