//! Re-verifying a whole game from its transcript, trusting nobody.
//!
//! A transcript is every message a peer processed, in its order, with the
//! relay time stamped on it and whether it was accepted (see
//! [`TranscriptEntry`]; deadlines are judged on those relay times). [`verify`] replays it through a fresh observer:
//! every signature is checked again, every rule applied again, every roll
//! recomputed from its reveals; it fails on the first entry whose result
//! differs from the record.

use crate::commit_reveal::Digest32;
use crate::craps::PlayerId;
use crate::session::{
    confirmed, settled_votes, CheckpointError, CheckpointState, GameConfig, RollRecord, Session,
    SessionError, TranscriptEntry,
};

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
    /// The checkpoint the game is followed from does not hold up.
    #[error("the checkpoint does not hold up: {0}")]
    BadCheckpoint(#[from] CheckpointError),
    /// The players did not sign the checkpoint's state (most of those who
    /// signed a state after that roll named another), or no roll was
    /// played on it.
    #[error("the state after round {round} that the file starts from is not one the players signed and played on")]
    Unvouched {
        /// The roll the checkpoint follows.
        round: u64,
    },
}

/// A checkpoint a verified game starts from, and who vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouched {
    /// The roll it follows (the game's rolls before it are not in the
    /// file: the writer took the game under way).
    pub round: u64,
    /// How many rolls the game had had by then.
    pub rolls_before: u64,
    /// Who signed its state hash after that roll (the banker and seated
    /// players who did), by their `Settled` messages in the file.
    pub signed_by: Vec<PlayerId>,
    /// Who could have (the banker and every seated player then).
    pub voters: usize,
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
    /// The checkpoint it started from, if any.
    from: Option<Vouched>,
    game: crate::commit_reveal::GameId,
    /// Entries checked so far.
    checked: usize,
    /// Rolls whose dice were checked against their reveals.
    rolls_checked: usize,
    /// Signatures checked in batches before the replay (the default).
    batched: bool,
}

impl Verifier {
    /// A verifier of the game `config`, before its first entry.
    pub fn new(config: GameConfig) -> Self {
        Verifier {
            observer: Session::observer(config),
            from: None,
            game: config.game,
            checked: 0,
            rolls_checked: 0,
            batched: true,
        }
    }

    /// Checks signatures one by one as the replay meets them instead of
    /// in batches first (the same verdicts; for comparison).
    pub fn one_by_one(mut self) -> Self {
        self.batched = false;
        self
    }

    /// A verifier of the game `config` from a checkpoint (`bytes`, as
    /// `Session::snapshot_parts` gives them) that `entries`, the messages
    /// after it, vouch for: most of its voters who signed a state hash
    /// after that roll (the banker and the seated players, read off the
    /// state) signed this state's, a player at least (not the house
    /// alone). The file is as good as those signers: the verdict names
    /// how many of the voters they are. Whether a roll was then
    /// played on it (every commitment of a finished roll names the table
    /// the replay rolled on, the banker's among them) is for the caller
    /// to ask once the entries are checked ([`Verifier::played_on`]).
    pub fn from_checkpoint(
        config: GameConfig,
        bytes: &[u8],
        entries: &[TranscriptEntry],
    ) -> Result<Self, VerifyError> {
        let state = CheckpointState::read(bytes, &config)?;
        let (round, hash) = (state.round, state.state_hash(&config));
        let voters = state.voters();
        let votes = settled_votes(entries, round, &config);
        // Nobody is the giver here: every voter counts.
        let nobody = [0u8; 32];
        if !confirmed(&voters, &nobody, &hash, &votes) {
            return Err(VerifyError::Unvouched { round });
        }
        let signed_by: Vec<PlayerId> = votes
            .iter()
            .filter(|(p, h)| voters.contains(p) && **h == hash)
            .map(|(p, _)| *p)
            .collect();
        // A player's word too, not the house's alone.
        if !signed_by.iter().any(|p| *p != config.banker) {
            return Err(VerifyError::Unvouched { round });
        }
        let observer = Session::from_checkpoint(config, None, state, 0)?;
        Ok(Verifier {
            from: Some(Vouched {
                round,
                rolls_before: observer.rolls(),
                signed_by,
                voters: voters.len(),
            }),
            observer,
            game: config.game,
            checked: 0,
            rolls_checked: 0,
            batched: true,
        })
    }

    /// The checkpoint this verifier started from, if any.
    pub fn from(&self) -> Option<&Vouched> {
        self.from.as_ref()
    }

    /// Whether a roll was played on the state this verifier started from
    /// (always, from a game's first message): a roll after the checkpoint
    /// finished in the replay, so its participants, the banker among
    /// them, committed to the table the replay rolled on.
    pub fn played_on(&self) -> bool {
        self.from.is_none() || !self.observer.history().is_empty()
    }

    /// Checks the entries that follow those checked so far (`more` is
    /// what was appended to the transcript since). Indices in errors are
    /// the entries' places in the whole transcript.
    pub fn extend(&mut self, more: &[TranscriptEntry]) -> Result<(), VerifyError> {
        // Every signature at once, in batches (the same verdicts).
        if self.batched {
            self.observer.preverify(more.iter().map(|e| &e.message));
        }
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
