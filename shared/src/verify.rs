//! Re-verifying a whole game from its transcript, trusting nobody.
//!
//! A transcript is every message a peer processed, in its order, with the
//! relay time stamped on it and whether it was accepted (see
//! [`TranscriptEntry`]; deadlines are judged on those relay times). [`verify`] replays it through a fresh observer:
//! every signature is checked again, every rule applied again, every roll
//! recomputed from its reveals; it fails on the first entry whose result
//! differs from the record.

use crate::commit_reveal::Digest32;
use crate::session::{GameConfig, RollRecord, Session, SessionError, TranscriptEntry};

/// Why a transcript does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Entry `index` was recorded as accepted but is refused on replay.
    #[error("entry {index} was accepted but is invalid: {error}")]
    WronglyAccepted {
        /// Position in the transcript.
        index: usize,
        /// Why it is refused.
        error: SessionError,
    },
    /// Entry `index` was recorded as refused but is valid on replay.
    #[error("entry {index} was refused but is valid")]
    WronglyRefused {
        /// Position in the transcript.
        index: usize,
    },
    /// A roll's dice do not follow from its reveals and commitments.
    #[error("roll of round {round} does not follow from its reveals")]
    BadRoll {
        /// The round.
        round: u64,
    },
}

/// What a verified transcript establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The state hash after the last entry.
    pub state_hash: Digest32,
    /// Every roll, recomputed.
    pub rolls: Vec<RollRecord>,
}

/// Replays `transcript` for the game `config` and checks every step.
pub fn verify(config: GameConfig, transcript: &[TranscriptEntry]) -> Result<Verified, VerifyError> {
    let mut observer = Session::observer(config);
    for (index, entry) in transcript.iter().enumerate() {
        match (observer.replay(0, entry), entry.accepted) {
            (Ok(()), true) | (Err(_), false) => {}
            (Err(error), true) => return Err(VerifyError::WronglyAccepted { index, error }),
            (Ok(()), false) => return Err(VerifyError::WronglyRefused { index }),
        }
    }
    let game = config.game;
    if let Some(bad) = observer.history().iter().find(|r| !r.verify(&game)) {
        return Err(VerifyError::BadRoll { round: bad.round });
    }
    Ok(Verified {
        state_hash: observer.state_hash(),
        rolls: observer.history().to_vec(),
    })
}
