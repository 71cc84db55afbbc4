//! The binary frame: one fixed header, the payload, and a signature.
//!
//! ```text
//! offset size field
//!  0      2   magic "BC"
//!  2      1   version (2)
//!  3      1   kind            (wire::FrameKind)
//!  4      1   priority        (0 critical, 1 normal, 2 low)
//!  5      1   flags           bit 0: target present, bit 1: signed; others 0
//!  6     16   room
//! 22     32   sender          (ed25519 public key; zeros from the relay)
//! 54      8   sequence        (per room, stamped by the relay; 0 from clients)
//! 62      8   relay time      (ms since the Unix epoch when the relay stamped
//!                              it, never decreasing in a room; 0 from clients,
//!                              and the relay replaces whatever a client wrote)
//! 70      4   payload length  (u32)
//! 74     32   target          (only if flag bit 0)
//!  …      n   payload
//!  …     64   signature       (only if flag bit 1)
//! ```
//!
//! All integers are big-endian. The signature is ed25519 over
//! `"bitcraps/frame/v1" | kind | room | target (or 32 zeros) | payload`:
//! priority, flags, the sequence number and the relay time stay outside
//! it, so the relay can re-prioritise and stamp a frame without breaking
//! it. The relay time is the one clock every peer of a room shares: the
//! game's deadlines are judged on it ([`crate::session`]). A game frame's
//! payload is an engine message and its signature *is* the message's
//! signature ([`crate::message`]): a signed frame is a transcript entry.
//!
//! Decoding never panics and never allocates from untrusted lengths: the
//! header is checked first ("is a whole frame here?"), the payload is
//! borrowed ([`FrameRef`]) or sliced from the shared buffer ([`Frame`]).

use bytes::{BufMut, Bytes, BytesMut};
use ed25519_dalek::{Signer, SigningKey};

use crate::decode::{Reader, UnexpectedEnd};
use crate::wire::{FrameKind, PeerId, Priority, RoomId, MAX_FRAME_LEN};

/// The two magic bytes every frame starts with.
pub const MAGIC: [u8; 2] = *b"BC";
/// The frame format version.
pub const FRAME_VERSION: u8 = 2;
/// Length of the fixed part of the header.
pub const FIXED_HEADER_LEN: usize = 74;
/// Length of a signature.
pub const SIGNATURE_LEN: usize = 64;
/// Offset of the sequence number (for [`stamp`]).
pub const SEQ_OFFSET: usize = 54;
/// Offset of the relay time (for [`stamp`]).
pub const TIME_OFFSET: usize = 62;
const LEN_OFFSET: usize = 70;

const FLAG_TARGET: u8 = 0b01;
const FLAG_SIGNED: u8 = 0b10;
const SIGNING_DOMAIN: &[u8] = b"bitcraps/frame/v1";

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not all of the frame is here yet (or the input was cut short).
    #[error("frame truncated: need {needed} bytes, have {have}")]
    Truncated {
        /// Bytes the frame needs (as far as known).
        needed: usize,
        /// Bytes there are.
        have: usize,
    },
    /// The frame is larger than allowed.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The frame's length (as declared).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first two bytes are not "BC".
    #[error("not a BitCraps frame (bad magic)")]
    BadMagic,
    /// A frame version this peer does not speak.
    #[error("unknown frame version {0}")]
    UnknownVersion(u8),
    /// A kind this peer does not know.
    #[error("unknown frame kind {0:#04x}")]
    UnknownKind(u8),
    /// A priority byte above 2.
    #[error("unknown priority {0}")]
    UnknownPriority(u8),
    /// Flag bits that are not defined, or that contradict the kind
    /// (a target where none belongs, a missing target or signature, a
    /// signed relay frame).
    #[error("flags {flags:#04x} are not valid for this frame kind")]
    BadFlags {
        /// The flags byte.
        flags: u8,
    },
    /// Bytes after the end the header declares.
    #[error("frame declares {declared} bytes but {actual} were given")]
    LengthMismatch {
        /// Length the header declares.
        declared: usize,
        /// Length of the input.
        actual: usize,
    },
    /// The sender is not a valid ed25519 key.
    #[error("sender is not a valid ed25519 public key")]
    BadKey,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
}

/// The header of a frame: all the relay needs to route it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame carries.
    pub kind: FrameKind,
    /// Delivery priority.
    pub priority: Priority,
    /// The room.
    pub room: RoomId,
    /// Who sent it (zeros for the relay).
    pub sender: PeerId,
    /// The room sequence number the relay stamped (0 before).
    pub seq: u64,
    /// The relay's time when it stamped the frame, in milliseconds since
    /// the Unix epoch (0 before).
    pub time: u64,
    /// The one peer it is for, if any.
    pub target: Option<PeerId>,
}

impl FrameHeader {
    /// A header for `kind` with its default priority, no target, seq 0.
    pub fn new(kind: FrameKind, room: RoomId, sender: PeerId) -> Self {
        Self {
            kind,
            priority: kind.default_priority(),
            room,
            sender,
            seq: 0,
            time: 0,
            target: None,
        }
    }

    /// The same header addressed to `target`.
    pub fn to(mut self, target: PeerId) -> Self {
        self.target = Some(target);
        self
    }

    /// Length of the encoded header.
    pub fn len(&self) -> usize {
        FIXED_HEADER_LEN + if self.target.is_some() { 32 } else { 0 }
    }

    /// Headers are never empty; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Decodes only the header: enough to route a frame without looking
    /// at (or checking) its payload. Returns the header and the total frame
    /// length it declares.
    pub fn peek(buf: &[u8]) -> Result<(FrameHeader, usize), FrameError> {
        if buf.len() < FIXED_HEADER_LEN {
            if buf.len() >= 2 && buf[..2] != MAGIC {
                return Err(FrameError::BadMagic);
            }
            return Err(FrameError::Truncated {
                needed: FIXED_HEADER_LEN,
                have: buf.len(),
            });
        }
        // The length check above makes the fixed part's reads succeed.
        let mut r = Reader::new(buf);
        let fixed = |_: UnexpectedEnd| FrameError::Truncated {
            needed: FIXED_HEADER_LEN,
            have: buf.len(),
        };
        if r.array::<2>().map_err(fixed)? != MAGIC {
            return Err(FrameError::BadMagic);
        }
        let version = r.u8().map_err(fixed)?;
        if version != FRAME_VERSION {
            return Err(FrameError::UnknownVersion(version));
        }
        let kind = r.u8().map_err(fixed)?;
        let kind = FrameKind::from_u8(kind).ok_or(FrameError::UnknownKind(kind))?;
        let priority = r.u8().map_err(fixed)?;
        let priority = Priority::from_u8(priority).ok_or(FrameError::UnknownPriority(priority))?;
        let flags = r.u8().map_err(fixed)?;
        let has_target = flags & FLAG_TARGET != 0;
        let signed = flags & FLAG_SIGNED != 0;
        if flags & !(FLAG_TARGET | FLAG_SIGNED) != 0
            || has_target != kind.needs_target()
            || signed != kind.from_client()
        {
            return Err(FrameError::BadFlags { flags });
        }
        let room: RoomId = r.array().map_err(fixed)?;
        let sender: PeerId = r.array().map_err(fixed)?;
        let seq = r.u64().map_err(fixed)?;
        let time = r.u64().map_err(fixed)?;
        let payload_len = r.u32().map_err(fixed)? as usize;
        let header_len = FIXED_HEADER_LEN + if has_target { 32 } else { 0 };
        let target = match has_target {
            true => Some(r.array().map_err(|_| FrameError::Truncated {
                needed: header_len,
                have: buf.len(),
            })?),
            false => None,
        };
        // Saturating: on 32-bit targets a hostile length could overflow;
        // a saturated total is simply refused as too large.
        let total = header_len
            .saturating_add(payload_len)
            .saturating_add(if signed { SIGNATURE_LEN } else { 0 });
        Ok((
            FrameHeader {
                kind,
                priority,
                room,
                sender,
                seq,
                time,
                target,
            },
            total,
        ))
    }

    fn put(&self, payload_len: u32, signed: bool, out: &mut BytesMut) {
        let mut flags = 0;
        if self.target.is_some() {
            flags |= FLAG_TARGET;
        }
        if signed {
            flags |= FLAG_SIGNED;
        }
        out.put_slice(&MAGIC);
        out.put_u8(FRAME_VERSION);
        out.put_u8(self.kind as u8);
        out.put_u8(self.priority as u8);
        out.put_u8(flags);
        out.put_slice(&self.room);
        out.put_slice(&self.sender);
        out.put_u64(self.seq);
        out.put_u64(self.time);
        out.put_u32(payload_len);
        if let Some(target) = &self.target {
            out.put_slice(target);
        }
    }
}

/// The bytes a frame's signature covers.
pub fn signing_bytes(
    kind: FrameKind,
    room: &RoomId,
    target: Option<&PeerId>,
    payload: &[u8],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SIGNING_DOMAIN.len() + 1 + 16 + 32 + payload.len());
    bytes.extend_from_slice(SIGNING_DOMAIN);
    bytes.push(kind as u8);
    bytes.extend_from_slice(room);
    bytes.extend_from_slice(target.unwrap_or(&[0; 32]));
    bytes.extend_from_slice(payload);
    bytes
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The payload makes the frame larger than [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// What the frame would be.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header does not suit the kind (target missing or misplaced, a
    /// client kind without signature or a relay kind with one).
    #[error("header does not suit a {0:?} frame")]
    BadHeader(FrameKind),
}

fn check_encodable(header: &FrameHeader, payload: &[u8], signed: bool) -> Result<u32, EncodeError> {
    if header.target.is_some() != header.kind.needs_target() || signed != header.kind.from_client()
    {
        return Err(EncodeError::BadHeader(header.kind));
    }
    let len = header.len() + payload.len() + if signed { SIGNATURE_LEN } else { 0 };
    if len > MAX_FRAME_LEN {
        return Err(EncodeError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    u32::try_from(payload.len()).map_err(|_| EncodeError::TooLarge {
        len,
        max: MAX_FRAME_LEN,
    })
}

/// Encodes a client frame, signing it with `key` (whose public key must be
/// `header.sender`), into `out`.
pub fn encode_signed(
    header: &FrameHeader,
    payload: &[u8],
    key: &SigningKey,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let signature = key.sign(&signing_bytes(
        header.kind,
        &header.room,
        header.target.as_ref(),
        payload,
    ));
    encode_with_signature(header, payload, &signature.to_bytes(), out)
}

/// Encodes a client frame with a signature made earlier (sign once: an
/// engine message's signature is its frame's signature).
pub fn encode_with_signature(
    header: &FrameHeader,
    payload: &[u8],
    signature: &[u8; 64],
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let len = check_encodable(header, payload, true)?;
    out.reserve(header.len() + payload.len() + SIGNATURE_LEN);
    header.put(len, true, out);
    out.put_slice(payload);
    out.put_slice(signature);
    Ok(())
}

/// Encodes an unsigned relay frame into `out`.
pub fn encode_unsigned(
    header: &FrameHeader,
    payload: &[u8],
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let len = check_encodable(header, payload, false)?;
    out.reserve(header.len() + payload.len());
    header.put(len, false, out);
    out.put_slice(payload);
    Ok(())
}

/// Overwrites the sequence number and the relay time of an encoded frame
/// in place (the relay's stamp; outside the signed bytes). `None` if
/// `frame` is too short.
pub fn stamp(frame: &mut [u8], seq: u64, time: u64) -> Option<()> {
    frame
        .get_mut(SEQ_OFFSET..LEN_OFFSET)?
        .copy_from_slice(&[seq.to_be_bytes(), time.to_be_bytes()].concat());
    Some(())
}

/// A frame borrowed from a buffer: header parsed, payload not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The header.
    pub header: FrameHeader,
    /// The payload, borrowed.
    pub payload: &'a [u8],
    /// The signature, if the frame is signed.
    pub signature: Option<&'a [u8; 64]>,
}

impl<'a> FrameRef<'a> {
    /// Parses exactly one frame filling `buf`, of at most `max_len` bytes.
    pub fn parse(buf: &'a [u8], max_len: usize) -> Result<Self, FrameError> {
        if buf.len() > max_len {
            return Err(FrameError::TooLarge {
                len: buf.len(),
                max: max_len,
            });
        }
        let (header, total) = FrameHeader::peek(buf)?;
        if total > max_len {
            return Err(FrameError::TooLarge {
                len: total,
                max: max_len,
            });
        }
        if buf.len() < total {
            return Err(FrameError::Truncated {
                needed: total,
                have: buf.len(),
            });
        }
        if buf.len() > total {
            return Err(FrameError::LengthMismatch {
                declared: total,
                actual: buf.len(),
            });
        }
        let start = header.len();
        let (payload, signature) = if header.kind.from_client() {
            let end = total - SIGNATURE_LEN;
            let sig: &[u8; 64] = buf[end..total]
                .try_into()
                .map_err(|_| FrameError::Truncated {
                    needed: total,
                    have: buf.len(),
                })?;
            (&buf[start..end], Some(sig))
        } else {
            (&buf[start..total], None)
        };
        Ok(FrameRef {
            header,
            payload,
            signature,
        })
    }

    /// Checks the signature against the sender's key (ed25519 by ZIP
    /// 215: [`crate::sig`]).
    pub fn verify(&self) -> Result<(), FrameError> {
        let signature = self.signature.ok_or(FrameError::BadSignature)?;
        let bytes = signing_bytes(
            self.header.kind,
            &self.header.room,
            self.header.target.as_ref(),
            self.payload,
        );
        crate::sig::verify(&self.header.sender, &bytes, signature).map_err(|e| match e {
            crate::sig::SigError::BadKey => FrameError::BadKey,
            _ => FrameError::BadSignature,
        })
    }
}

/// An owned frame over a shared buffer: cloning it or handing out its
/// payload never copies bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    header: FrameHeader,
    bytes: Bytes,
}

impl Frame {
    /// Decodes a frame from `bytes` (at most [`MAX_FRAME_LEN`]).
    pub fn decode(bytes: Bytes) -> Result<Frame, FrameError> {
        Self::decode_with_limit(bytes, MAX_FRAME_LEN)
    }

    /// Decodes a frame of at most `max_len` bytes.
    pub fn decode_with_limit(bytes: Bytes, max_len: usize) -> Result<Frame, FrameError> {
        let header = FrameRef::parse(&bytes, max_len)?.header;
        Ok(Frame { header, bytes })
    }

    /// The header.
    pub fn header(&self) -> &FrameHeader {
        &self.header
    }

    /// The whole encoded frame (shared, not copied).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The payload as a shared slice of the frame's buffer.
    pub fn payload(&self) -> Bytes {
        let start = self.header.len();
        let end = self.bytes.len()
            - if self.header.kind.from_client() {
                SIGNATURE_LEN
            } else {
                0
            };
        self.bytes.slice(start..end)
    }

    /// A borrowing view.
    pub fn as_ref(&self) -> FrameRef<'_> {
        let start = self.header.len();
        let signed = self.header.kind.from_client();
        let end = self.bytes.len() - if signed { SIGNATURE_LEN } else { 0 };
        FrameRef {
            header: self.header,
            payload: &self.bytes[start..end],
            signature: if signed {
                self.bytes[end..].try_into().ok()
            } else {
                None
            },
        }
    }
}

/// The frames of one WebSocket message: one frame, or several back to
/// back (a relay packs what it has queued for a client that asked,
/// `/ws?pack=1`; each frame says its own length). Yields each frame's
/// bytes; a message that ends inside a frame (or with a header that
/// cannot be read) yields that error last.
pub fn frames(message: &[u8]) -> Frames<'_> {
    Frames { rest: message }
}

/// A frame's total length read from its fixed header alone (magic, flags
/// and length fields), whatever its version, kind or priority.
fn raw_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < FIXED_HEADER_LEN || buf[..2] != MAGIC {
        return None;
    }
    let flags = buf[5];
    let len = u32::from_be_bytes(buf[70..74].try_into().ok()?) as usize;
    let header = FIXED_HEADER_LEN + if flags & FLAG_TARGET != 0 { 32 } else { 0 };
    let signature = if flags & FLAG_SIGNED != 0 {
        SIGNATURE_LEN
    } else {
        0
    };
    header.checked_add(len)?.checked_add(signature)
}

/// The iterator [`frames`] returns.
pub struct Frames<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<&'a [u8], FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let total = match FrameHeader::peek(self.rest) {
            Ok((_, total)) if total <= self.rest.len() => total,
            Ok((_, total)) => {
                let have = self.rest.len();
                self.rest = &[];
                return Some(Err(FrameError::Truncated {
                    needed: total,
                    have,
                }));
            }
            // A header this build cannot read (an unknown kind from a newer
            // relay, say) but whose length can be: that frame is reported
            // and skipped, the ones after it still come.
            Err(e) => {
                match raw_len(self.rest) {
                    Some(total) if total <= self.rest.len() => self.rest = &self.rest[total..],
                    _ => self.rest = &[],
                }
                return Some(Err(e));
            }
        };
        let (frame, rest) = self.rest.split_at(total);
        self.rest = rest;
        Some(Ok(frame))
    }
}
