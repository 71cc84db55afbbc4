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
    /// Entry `index` is not in its turn: an earlier message of its sender
    /// is missing before it (dropped), or it was moved before a step it
    /// follows. A peer records each message as it processes it, in its
    /// turn, so every entry of a true transcript is in its turn.
    #[error("entry {index} is out of its turn: an earlier message of its sender is missing, or it was moved")]
    OutOfTurn {
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
    let mut verifier = Verifier::new(config);
    verifier.extend(transcript)?;
    Ok(Verified {
        state_hash: verifier.state_hash(),
        rolls: verifier.rolls().to_vec(),
    })
}

/// [`verify`] a transcript as it grows: each call to [`Verifier::extend`]
/// checks the entries that came since the last, so following a game roll
/// by roll replays every message once.
pub struct Verifier {
    observer: Session,
    game: crate::commit_reveal::GameId,
    /// Entries checked so far.
    checked: usize,
    /// Rolls whose dice were checked against their reveals.
    rolls_checked: usize,
}

impl Verifier {
    /// A verifier of the game `config`, before its first entry.
    pub fn new(config: GameConfig) -> Self {
        Verifier {
            observer: Session::observer(config),
            game: config.game,
            checked: 0,
            rolls_checked: 0,
        }
    }

    /// Checks the entries that follow those checked so far (`more` is
    /// what was appended to the transcript since). Indices in errors are
    /// the entries' places in the whole transcript.
    pub fn extend(&mut self, more: &[TranscriptEntry]) -> Result<(), VerifyError> {
        for entry in more {
            let index = self.checked;
            let waiting = self.observer.pending();
            match (self.observer.replay(0, entry), entry.accepted) {
                (Ok(()), true) | (Err(_), false) => {}
                (Err(error), true) => return Err(VerifyError::WronglyAccepted { index, error }),
                (Ok(()), false) => return Err(VerifyError::WronglyRefused { index }),
            }
            if self.observer.pending() > waiting {
                return Err(VerifyError::OutOfTurn { index });
            }
            self.checked += 1;
        }
        let history = self.observer.history();
        if let Some(bad) = history[self.rolls_checked..]
            .iter()
            .find(|r| !r.verify(&self.game))
        {
            return Err(VerifyError::BadRoll { round: bad.round });
        }
        self.rolls_checked = history.len();
        Ok(())
    }

    /// Messages of the transcript that wait for earlier ones of their
    /// senders (which it lacks, if nothing follows).
    pub fn pending(&self) -> usize {
        self.observer.pending()
    }

    /// How many entries were checked.
    pub fn checked(&self) -> usize {
        self.checked
    }

    /// The state hash after the last entry checked.
    pub fn state_hash(&self) -> Digest32 {
        self.observer.state_hash()
    }

    /// Every roll so far, recomputed.
    pub fn rolls(&self) -> &[RollRecord] {
        self.observer.history()
    }
}
