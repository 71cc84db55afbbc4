//! The signed messages players exchange at a table, and their bytes.
//!
//! Every message names its game, round and the sender's own sequence
//! number, and is signed by the sender's ed25519 key over
//! `"bitcraps/msg/v1" | message bytes`. The signed message is a transcript
//! entry: anyone can check it later without trusting whoever carried it.
//!
//! Layout (big-endian integers):
//!
//! ```text
//! signed  = sender[32] message signature[64]
//! message = version u8 (=1) | game [16] | round u64 | seq u64 | action
//! action  = 1 Sit      buy_in u64
//!         | 2 BuyIn    amount u64
//!         | 3 Bet      kind[3] stake u64
//!         | 4 TakeDown kind[3]
//!         | 5 Leave
//!         | 6 Commit   commitment[32] table_hash[32]
//!         | 7 Reveal   secret[32]
//! kind    = code u8 | a u8 | b u8   (see `BetKind` codes in this module)
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::craps::{BetKind, PlayerId};
use crate::fair::{Digest32, GameId, Secret};

/// The message format version.
pub const MESSAGE_VERSION: u8 = 1;

const SIGNING_DOMAIN: &[u8] = b"bitcraps/msg/v1";

/// What a player does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Leave the table (no bets may be on it).
    Leave,
    /// Commit to this round's secret and to the table as the sender sees it.
    Commit {
        /// `fair::commitment` of the secret.
        commitment: Digest32,
        /// Hash of the table (bets, balances) the sender agrees to roll on.
        table_hash: Digest32,
    },
    /// Reveal this round's secret.
    Reveal {
        /// The secret committed to.
        secret: Secret,
    },
}

/// A message before signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// An action code this peer does not know.
    #[error("unknown action {0}")]
    UnknownAction(u8),
    /// A bet code or number that is no bet.
    #[error("no such bet (code {0})")]
    BadBetKind(u8),
    /// The sender's key is not a valid ed25519 point.
    #[error("sender key is not a valid ed25519 public key")]
    BadKey,
    /// The signature does not match the sender and message.
    #[error("bad signature")]
    BadSignature,
}

fn kind_code(kind: BetKind) -> [u8; 3] {
    let p = |x: Option<u8>| x.unwrap_or(0);
    match kind {
        BetKind::PassLine => [1, 0, 0],
        BetKind::DontPass => [2, 0, 0],
        BetKind::Come { point } => [3, p(point), 0],
        BetKind::DontCome { point } => [4, p(point), 0],
        BetKind::PassOdds => [5, 0, 0],
        BetKind::DontPassOdds => [6, 0, 0],
        BetKind::ComeOdds { point } => [7, point, 0],
        BetKind::DontComeOdds { point } => [8, point, 0],
        BetKind::Place(n) => [9, n, 0],
        BetKind::Buy(n) => [10, n, 0],
        BetKind::Lay(n) => [11, n, 0],
        BetKind::Field => [12, 0, 0],
        BetKind::Big6 => [13, 0, 0],
        BetKind::Big8 => [14, 0, 0],
        BetKind::Hard(n) => [15, n, 0],
        BetKind::AnySeven => [16, 0, 0],
        BetKind::AnyCraps => [17, 0, 0],
        BetKind::Aces => [18, 0, 0],
        BetKind::AceDeuce => [19, 0, 0],
        BetKind::Yo => [20, 0, 0],
        BetKind::Boxcars => [21, 0, 0],
        BetKind::Horn => [22, 0, 0],
        BetKind::CAndE => [23, 0, 0],
        BetKind::Hop(a, b) => [24, a, b],
    }
}

fn kind_from_code([code, a, b]: [u8; 3]) -> Result<BetKind, MessageError> {
    let opt = |x: u8| (x != 0).then_some(x);
    let kind = match code {
        1 => BetKind::PassLine,
        2 => BetKind::DontPass,
        3 => BetKind::Come { point: opt(a) },
        4 => BetKind::DontCome { point: opt(a) },
        5 => BetKind::PassOdds,
        6 => BetKind::DontPassOdds,
        7 => BetKind::ComeOdds { point: a },
        8 => BetKind::DontComeOdds { point: a },
        9 => BetKind::Place(a),
        10 => BetKind::Buy(a),
        11 => BetKind::Lay(a),
        12 => BetKind::Field,
        13 => BetKind::Big6,
        14 => BetKind::Big8,
        15 => BetKind::Hard(a),
        16 => BetKind::AnySeven,
        17 => BetKind::AnyCraps,
        18 => BetKind::Aces,
        19 => BetKind::AceDeuce,
        20 => BetKind::Yo,
        21 => BetKind::Boxcars,
        22 => BetKind::Horn,
        23 => BetKind::CAndE,
        24 => BetKind::Hop(a, b),
        other => return Err(MessageError::BadBetKind(other)),
    };
    if kind_code(kind) != [code, a, b] || !kind.is_well_formed() {
        return Err(MessageError::BadBetKind(code));
    }
    Ok(kind)
}

impl Message {
    /// Appends the message's canonical bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(MESSAGE_VERSION);
        out.extend_from_slice(&self.game);
        out.extend_from_slice(&self.round.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        match self.action {
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
                out.extend_from_slice(&kind_code(kind));
                out.extend_from_slice(&stake.to_be_bytes());
            }
            Action::TakeDown { kind } => {
                out.push(4);
                out.extend_from_slice(&kind_code(kind));
            }
            Action::Leave => out.push(5),
            Action::Commit {
                commitment,
                table_hash,
            } => {
                out.push(6);
                out.extend_from_slice(&commitment);
                out.extend_from_slice(&table_hash);
            }
            Action::Reveal { secret } => {
                out.push(7);
                out.extend_from_slice(&secret);
            }
        }
    }

    /// Decodes a message from the front of `bytes`, returning it and the
    /// number of bytes it used.
    pub fn decode(bytes: &[u8]) -> Result<(Message, usize), MessageError> {
        let mut r = Reader { bytes, pos: 0 };
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
                kind: kind_from_code(r.array::<3>()?)?,
                stake: r.u64()?,
            },
            4 => Action::TakeDown {
                kind: kind_from_code(r.array::<3>()?)?,
            },
            5 => Action::Leave,
            6 => Action::Commit {
                commitment: r.array()?,
                table_hash: r.array()?,
            },
            7 => Action::Reveal { secret: r.array()? },
            other => return Err(MessageError::UnknownAction(other)),
        };
        Ok((
            Message {
                game,
                round,
                seq,
                action,
            },
            r.pos,
        ))
    }

    fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(SIGNING_DOMAIN.len() + 96);
        bytes.extend_from_slice(SIGNING_DOMAIN);
        self.encode(&mut bytes);
        bytes
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
    /// Checks the signature against the sender's key (strict verification:
    /// no malleable or small-order signatures).
    pub fn verify(&self) -> Result<(), MessageError> {
        let key = VerifyingKey::from_bytes(&self.sender).map_err(|_| MessageError::BadKey)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.message.signing_bytes(), &signature)
            .map_err(|_| MessageError::BadSignature)
    }

    /// The signed message's bytes: sender, message, signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 64 + 96);
        out.extend_from_slice(&self.sender);
        self.message.encode(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses a signed message (the whole of `bytes`). Does not verify the
    /// signature: call [`SignedMessage::verify`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedMessage, MessageError> {
        let sender: [u8; 32] = bytes
            .get(..32)
            .ok_or(MessageError::Truncated)?
            .try_into()
            .map_err(|_| MessageError::Truncated)?;
        let (message, used) = Message::decode(&bytes[32..])?;
        let rest = &bytes[32 + used..];
        if rest.len() < 64 {
            return Err(MessageError::Truncated);
        }
        if rest.len() > 64 {
            return Err(MessageError::TrailingBytes(rest.len() - 64));
        }
        let signature: [u8; 64] = rest.try_into().map_err(|_| MessageError::Truncated)?;
        Ok(SignedMessage {
            sender,
            message,
            signature,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], MessageError> {
        let end = self.pos.checked_add(N).ok_or(MessageError::Truncated)?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(MessageError::Truncated)?;
        self.pos = end;
        slice.try_into().map_err(|_| MessageError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, MessageError> {
        Ok(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> Result<u64, MessageError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn sample(action: Action) -> SignedMessage {
        Message {
            game: [9; 16],
            round: 3,
            seq: 7,
            action,
        }
        .sign(&key(1))
    }

    fn every_action() -> Vec<Action> {
        vec![
            Action::Sit { buy_in: 500 },
            Action::BuyIn { amount: 5 },
            Action::Bet {
                kind: BetKind::Hop(2, 5),
                stake: 10,
            },
            Action::Bet {
                kind: BetKind::Come { point: None },
                stake: 1,
            },
            Action::TakeDown {
                kind: BetKind::ComeOdds { point: 6 },
            },
            Action::Leave,
            Action::Commit {
                commitment: [4; 32],
                table_hash: [5; 32],
            },
            Action::Reveal { secret: [6; 32] },
        ]
    }

    #[test]
    fn every_action_round_trips_and_verifies() {
        for action in every_action() {
            let signed = sample(action);
            let bytes = signed.to_bytes();
            let back = SignedMessage::from_bytes(&bytes).unwrap();
            assert_eq!(back, signed);
            back.verify().unwrap();
        }
    }

    #[test]
    fn a_changed_byte_breaks_the_signature() {
        let signed = sample(Action::Bet {
            kind: BetKind::Field,
            stake: 10,
        });
        let mut bytes = signed.to_bytes();
        let last_stake_byte = 32 + 1 + 16 + 8 + 8 + 1 + 3 + 7;
        bytes[last_stake_byte] ^= 1;
        let forged = SignedMessage::from_bytes(&bytes).unwrap();
        assert_eq!(forged.verify(), Err(MessageError::BadSignature));
        let mut other = signed;
        other.sender = key(2).verifying_key().to_bytes();
        assert_eq!(other.verify(), Err(MessageError::BadSignature));
    }

    #[test]
    fn malformed_bytes_give_typed_errors_never_panics() {
        let good = sample(Action::Reveal { secret: [1; 32] }).to_bytes();
        for len in 0..good.len() {
            assert!(
                SignedMessage::from_bytes(&good[..len]).is_err(),
                "prefix {len}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            SignedMessage::from_bytes(&long),
            Err(MessageError::TrailingBytes(1))
        );
        let mut version = good.clone();
        version[32] = 9;
        assert_eq!(
            SignedMessage::from_bytes(&version),
            Err(MessageError::UnknownVersion(9))
        );
        let mut action = good.clone();
        action[32 + 33] = 99;
        assert_eq!(
            SignedMessage::from_bytes(&action),
            Err(MessageError::UnknownAction(99))
        );
        let bad_kind = sample(Action::TakeDown {
            kind: BetKind::Place(6),
        });
        let mut bytes = bad_kind.to_bytes();
        bytes[32 + 34 + 1] = 7; // place-7
        assert_eq!(
            SignedMessage::from_bytes(&bytes),
            Err(MessageError::BadBetKind(9))
        );
        // Arbitrary garbage of every small length.
        let mut x: u32 = 12345;
        for len in 0..300 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = SignedMessage::from_bytes(&junk);
        }
    }
}
