//! The signed messages players exchange at a table, and their bytes.
//!
//! Every message names its game, round and the sender's own sequence
//! number. It travels as the payload of a `Game` frame ([`crate::codec`])
//! whose room is the game, and it is signed once: its ed25519 signature is
//! the frame's (over `"bitcraps/frame/v1" | Game | game | 32 zeros |
//! message bytes`). The signed message is a transcript entry: anyone can
//! check it later without trusting whoever carried it.
//!
//! Layout of the message bytes (big-endian integers):
//!
//! ```text
//! message = version u8 (=1) | game [16] | round u64 | seq u64 | action
//! action  = 1 Sit      buy_in u64
//!         | 2 BuyIn    amount u64
//!         | 3 Bet      kind[3] stake u64
//!         | 4 TakeDown kind[3]
//!         | 5 Leave
//!         | 6 Commit   commitment[32] table_hash[32] close
//!         | 7 Reveal   secret[32]
//!         | 8 Roll                  (the shooter asks the banker to close betting)
//!         | 9 PassDice              (the banker passes the dice of an idle shooter)
//!         | 10 Tick                 (asks the relay's clock: ends a phase whose deadline passed)
//!         | 11 Settled round u64 state_hash[32]   (a participant's state after that roll)
//!         | 12 Name    len u8 utf8[len]         (the name its sender plays under, 1-24 bytes)
//! kind    = code u8 | a u8 | b u8   (see `BetKind` codes in this module)
//! close   = 0                                   (a participant's commitment)
//!         | 1 count u8 (sender[32] seq u64)*    (the shooter's, closing betting)
//! ```
//!
//! The banker's commitment closes betting (when the shooter asks, with
//! `Roll`) and names the round's *cut*:
//! for each sender (in key order, at most [`MAX_CUT`]), the last of its
//! sequence numbers whose table actions this roll is on. Every peer applies
//! exactly those, waiting for any it has not received; later ones wait for
//! the next round (see [`crate::session`]).

use bytes::{Bytes, BytesMut};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::codec::frame::{
    encode_with_signature, signing_bytes, FrameError, FrameHeader, FrameRef,
};
use crate::commit_reveal::{Digest32, GameId, Secret};
use crate::craps::{BetKind, PlayerId};
use crate::decode::{Reader, UnexpectedEnd};
use crate::wire::{FrameKind, Priority};

/// The message format version.
pub const MESSAGE_VERSION: u8 = 2;

/// The most senders one cut may name.
pub const MAX_CUT: usize = 64;

/// Which table actions a roll is on: for each sender, in key order, the
/// last sequence number included (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Cut(Vec<(PlayerId, u64)>);

impl Cut {
    /// A cut from `(sender, last seq)` pairs; `None` if a sender appears
    /// twice or there are more than [`MAX_CUT`].
    pub fn new(mut entries: Vec<(PlayerId, u64)>) -> Option<Self> {
        entries.sort_unstable();
        let distinct = entries.windows(2).all(|w| w[0].0 != w[1].0);
        (distinct && entries.len() <= MAX_CUT).then_some(Self(entries))
    }

    /// Every `(sender, last seq)`, in key order.
    pub fn entries(&self) -> &[(PlayerId, u64)] {
        &self.0
    }

    /// The last sequence number of `sender` this cut includes, if any.
    pub fn last_of(&self, sender: &PlayerId) -> Option<u64> {
        self.0
            .binary_search_by(|(p, _)| p.cmp(sender))
            .ok()
            .map(|i| self.0[i].1)
    }
}

/// What a player does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Take a seat with `buy_in` chips.
    Sit {
        /// Chips brought to the table.
        buy_in: u64,
    },
    /// Add chips to one's balance.
    BuyIn {
        /// Chips added.
        amount: u64,
    },
    /// Place (or add to) a bet.
    Bet {
        /// Which bet.
        kind: BetKind,
        /// Chips staked.
        stake: u64,
    },
    /// Take a bet down.
    TakeDown {
        /// Which bet.
        kind: BetKind,
    },
    /// Call a place or buy bet working on the come-out (`working`), or off
    /// again (the default).
    Working {
        /// Which bet.
        kind: BetKind,
        /// Working (true) or off.
        working: bool,
    },
    /// Leave the table: every bet that may come down comes down (its
    /// stake back); refused while a pass or come bet is on.
    Leave,
    /// Commit to this round's secret and to the table as the sender sees it.
    Commit {
        /// `commit_reveal::commitment` of the secret.
        commitment: Digest32,
        /// Hash of the table (bets, balances) the sender agrees to roll on.
        table_hash: Digest32,
        /// The banker's commitment closes betting with its cut; every
        /// other participant's has none.
        close: Option<Cut>,
    },
    /// Reveal this round's secret.
    Reveal {
        /// The secret committed to.
        secret: Secret,
    },
    /// The shooter asks the banker to close betting and roll.
    Roll,
    /// The banker passes the dice of a shooter who did not roll in time.
    PassDice,
    /// Carries the relay's time to every peer when a phase's deadline has
    /// passed on the sender's clock and nothing else is under way (the
    /// deadline is judged on the time the relay stamps on it).
    Tick,
    /// A participant's state hash after roll `round`: every peer compares
    /// it with its own, so a peer that diverged is found after that roll
    /// (and takes the game from the others) instead of at the next
    /// round's commitments.
    Settled {
        /// The roll's round.
        round: u64,
        /// [`crate::session::Session::state_hash`] after it.
        state_hash: Digest32,
    },
    /// The name its sender plays under (1 to [`MAX_NAME`] bytes of UTF-8,
    /// no control characters): shown instead of a key; it changes nothing
    /// at the table.
    Name {
        /// The name.
        name: String,
    },
}

/// The longest name, in bytes of UTF-8.
pub const MAX_NAME: usize = 24;

/// Whether `name` is a name a player may go by: 1 to [`MAX_NAME`] bytes,
/// no control characters, not only spaces.
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && !name.chars().any(char::is_control)
        && !name.trim().is_empty()
}

impl Action {
    /// Whether this is a step of the protocol judged on the relay's clock
    /// (a commitment, a reveal, a roll request, which starts the banker's
    /// deadline to close betting, the banker's passing the dice, which
    /// cancels it, a tick): it counts only as the relay stamped it, never
    /// as a data channel carried it, and its sender's own copy counts when
    /// it comes back from the relay.
    pub fn is_timed(&self) -> bool {
        !self.is_table_action()
    }

    /// Whether this is a note no deadline or cut judges (a state hash, a
    /// name): relayed like a timed step, but it counts at its sender at
    /// once, holding none of the sender's later actions up.
    pub fn counts_at_once(&self) -> bool {
        matches!(self, Action::Settled { .. } | Action::Name { .. })
    }

    /// Whether this is a table action (sit, buy in, bet, take down,
    /// leave), judged when a roll's cut takes it in.
    pub fn is_table_action(&self) -> bool {
        !matches!(
            self,
            Action::Commit { .. }
                | Action::Reveal { .. }
                | Action::Roll
                | Action::PassDice
                | Action::Tick
                | Action::Settled { .. }
                | Action::Name { .. }
        )
    }
}

/// A message before signing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    /// The game it belongs to.
    pub game: GameId,
    /// The round it belongs to.
    pub round: u64,
    /// The sender's sequence number in this game: 1, 2, 3, ...
    pub seq: u64,
    /// What the sender does.
    pub action: Action,
}

/// A message with its sender and signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedMessage {
    /// The sender's public key.
    pub sender: PlayerId,
    /// The message.
    pub message: Message,
    /// ed25519 signature over the signing domain and the message bytes.
    pub signature: [u8; 64],
}

/// Why bytes are not a valid signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Fewer bytes than the message needs.
    #[error("message truncated")]
    Truncated,
    /// Bytes left over after the message.
    #[error("{0} unexpected bytes after the message")]
    TrailingBytes(usize),
    /// A message version this peer does not speak.
    #[error("unknown message version {0}")]
    UnknownVersion(u8),
    /// A cut that names a sender twice, out of key order, or too many.
    #[error("malformed cut")]
    BadCut,
    /// An action code this peer does not know.
    #[error("unknown action {0}")]
    UnknownAction(u8),
    /// A yes/no byte that is neither 0 nor 1.
    #[error("a flag is 0 or 1")]
    BadFlag,
    /// A bet code or number that is no bet.
    #[error("no such bet (code {0})")]
    BadBetKind(u8),
    /// The sender's key is not a valid ed25519 point.
    #[error("sender key is not a valid ed25519 public key")]
    BadKey,
    /// The signature does not match the sender and message.
    #[error("bad signature")]
    BadSignature,
    /// The frame is not a `Game` frame.
    #[error("not a game frame")]
    NotAGameFrame,
    /// The frame's room is not the message's game.
    #[error("frame room and message game differ")]
    RoomMismatch,
    /// A name that is empty, too long, not UTF-8 or has control characters.
    #[error("a name is 1-24 bytes of text")]
    BadName,
    /// The frame around the message is malformed.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
}

/// The bet three wire bytes name.
fn bet_kind(bytes: [u8; 3]) -> Result<BetKind, MessageError> {
    BetKind::from_code(bytes).ok_or(MessageError::BadBetKind(bytes[0]))
}

impl Message {
    /// Appends the message's canonical bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(MESSAGE_VERSION);
        out.extend_from_slice(&self.game);
        out.extend_from_slice(&self.round.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        match &self.action {
            Action::Sit { buy_in } => {
                out.push(1);
                out.extend_from_slice(&buy_in.to_be_bytes());
            }
            Action::BuyIn { amount } => {
                out.push(2);
                out.extend_from_slice(&amount.to_be_bytes());
            }
            Action::Bet { kind, stake } => {
                out.push(3);
                out.extend_from_slice(&kind.code());
                out.extend_from_slice(&stake.to_be_bytes());
            }
            Action::TakeDown { kind } => {
                out.push(4);
                out.extend_from_slice(&kind.code());
            }
            Action::Leave => out.push(5),
            Action::Commit {
                commitment,
                table_hash,
                close,
            } => {
                out.push(6);
                out.extend_from_slice(commitment);
                out.extend_from_slice(table_hash);
                match close {
                    None => out.push(0),
                    Some(cut) => {
                        out.push(1);
                        // A cut holds at most MAX_CUT (< 256) entries.
                        out.push(cut.0.len() as u8);
                        for (sender, seq) in &cut.0 {
                            out.extend_from_slice(sender);
                            out.extend_from_slice(&seq.to_be_bytes());
                        }
                    }
                }
            }
            Action::Reveal { secret } => {
                out.push(7);
                out.extend_from_slice(secret);
            }
            Action::Roll => out.push(8),
            Action::PassDice => out.push(9),
            Action::Tick => out.push(10),
            Action::Settled { round, state_hash } => {
                out.push(11);
                out.extend_from_slice(&round.to_be_bytes());
                out.extend_from_slice(state_hash);
            }
            Action::Working { kind, working } => {
                out.push(13);
                out.extend_from_slice(&kind.code());
                out.push(u8::from(*working));
            }
            Action::Name { name } => {
                out.push(12);
                // (A valid name is at most MAX_NAME < 256 bytes; a longer
                // one is cut, and refused by whoever decodes it.)
                let bytes = &name.as_bytes()[..name.len().min(255)];
                out.push(bytes.len() as u8);
                out.extend_from_slice(bytes);
            }
        }
    }

    /// Decodes a message from the front of `bytes`, returning it and the
    /// number of bytes it used.
    pub fn decode(bytes: &[u8]) -> Result<(Message, usize), MessageError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != MESSAGE_VERSION {
            return Err(MessageError::UnknownVersion(version));
        }
        let game = r.array::<16>()?;
        let round = r.u64()?;
        let seq = r.u64()?;
        let action = match r.u8()? {
            1 => Action::Sit { buy_in: r.u64()? },
            2 => Action::BuyIn { amount: r.u64()? },
            3 => Action::Bet {
                kind: bet_kind(r.array::<3>()?)?,
                stake: r.u64()?,
            },
            4 => Action::TakeDown {
                kind: bet_kind(r.array::<3>()?)?,
            },
            5 => Action::Leave,
            6 => Action::Commit {
                commitment: r.array()?,
                table_hash: r.array()?,
                close: match r.u8()? {
                    0 => None,
                    1 => {
                        let count = usize::from(r.u8()?);
                        let mut entries = Vec::with_capacity(count.min(MAX_CUT));
                        for _ in 0..count {
                            entries.push((r.array()?, r.u64()?));
                        }
                        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
                        if !sorted || count > MAX_CUT {
                            return Err(MessageError::BadCut);
                        }
                        Some(Cut(entries))
                    }
                    _ => return Err(MessageError::BadCut),
                },
            },
            7 => Action::Reveal { secret: r.array()? },
            8 => Action::Roll,
            9 => Action::PassDice,
            10 => Action::Tick,
            11 => Action::Settled {
                round: r.u64()?,
                state_hash: r.array()?,
            },
            12 => {
                let len = usize::from(r.u8()?);
                let name = std::str::from_utf8(r.take(len)?).map_err(|_| MessageError::BadName)?;
                if !is_valid_name(name) {
                    return Err(MessageError::BadName);
                }
                Action::Name {
                    name: name.to_owned(),
                }
            }
            13 => Action::Working {
                kind: bet_kind(r.array::<3>()?)?,
                working: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(MessageError::BadFlag),
                },
            },
            other => return Err(MessageError::UnknownAction(other)),
        };
        Ok((
            Message {
                game,
                round,
                seq,
                action,
            },
            bytes.len() - r.rest().len(),
        ))
    }

    pub(crate) fn signing_bytes(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(96);
        self.encode(&mut payload);
        signing_bytes(FrameKind::Game, &self.game, None, &payload)
    }

    /// Signs the message with `key`.
    pub fn sign(self, key: &SigningKey) -> SignedMessage {
        let signature = key.sign(&self.signing_bytes());
        SignedMessage {
            sender: key.verifying_key().to_bytes(),
            message: self,
            signature: signature.to_bytes(),
        }
    }
}

impl SignedMessage {
    /// Checks the signature against the sender's key (ed25519 by ZIP 215,
    /// [`crate::sig`]: the same rule alone and in batches, on every peer).
    pub fn verify(&self) -> Result<(), MessageError> {
        let key = VerifyingKey::from_bytes(&self.sender).map_err(|_| MessageError::BadKey)?;
        self.verify_with(&key)
    }

    /// Like [`verify`](Self::verify), with the sender's key already
    /// decompressed (a peer keeps its players' keys: decompressing one is
    /// a tenth of a verification). `key` must be the sender's.
    pub fn verify_with(&self, key: &VerifyingKey) -> Result<(), MessageError> {
        if key.as_bytes() != &self.sender {
            return Err(MessageError::BadKey);
        }
        crate::sig::verify_prepared(
            &key.to_edwards(),
            &self.sender,
            &self.message.signing_bytes(),
            &self.signature,
        )
        .map_err(|e| match e {
            crate::sig::SigError::BadKey => MessageError::BadKey,
            _ => MessageError::BadSignature,
        })
    }

    /// The priority its frame travels with: every game frame is critical,
    /// so the relay's outboxes never reorder one game frame past another
    /// (deadlines are judged on the relay's order and clock) and never
    /// drop one (peers refuse game frames of any other priority).
    pub fn priority(&self) -> Priority {
        Priority::Critical
    }

    /// Appends the message as a signed `Game` frame to `out`.
    pub fn encode_frame(&self, out: &mut BytesMut) {
        let mut payload = Vec::with_capacity(96);
        self.message.encode(&mut payload);
        let header = FrameHeader {
            priority: self.priority(),
            ..FrameHeader::new(FrameKind::Game, self.message.game, self.sender)
        };
        // A message payload is under 100 bytes and a Game frame has no
        // target, so encoding cannot fail.
        let _ = encode_with_signature(&header, &payload, &self.signature, out);
    }

    /// The message as one signed `Game` frame.
    pub fn to_frame(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(160);
        self.encode_frame(&mut out);
        out.freeze()
    }

    /// The message carried by a `Game` frame. Does not verify the
    /// signature: call [`SignedMessage::verify`].
    pub fn from_frame(frame: &FrameRef<'_>) -> Result<SignedMessage, MessageError> {
        if frame.header.kind != FrameKind::Game {
            return Err(MessageError::NotAGameFrame);
        }
        let (message, used) = Message::decode(frame.payload)?;
        if used != frame.payload.len() {
            return Err(MessageError::TrailingBytes(frame.payload.len() - used));
        }
        if message.game != frame.header.room {
            return Err(MessageError::RoomMismatch);
        }
        let signature = frame.signature.ok_or(MessageError::BadSignature)?;
        Ok(SignedMessage {
            sender: frame.header.sender,
            message,
            signature: *signature,
        })
    }

    /// Parses a whole encoded `Game` frame.
    pub fn from_frame_bytes(bytes: &[u8]) -> Result<SignedMessage, MessageError> {
        let frame = FrameRef::parse(bytes, crate::wire::MAX_FRAME_LEN)?;
        Self::from_frame(&frame)
    }
}

impl From<UnexpectedEnd> for MessageError {
    fn from(_: UnexpectedEnd) -> Self {
        MessageError::Truncated
    }
}

#[cfg(test)]
mod tests;
