//! Checkpoints: the game as it stands after a roll, in a few kilobytes,
//! so a newcomer to a long game takes the state instead of every message
//! since the table opened.
//!
//! After every roll each participant signs the state hash it holds
//! ([`Action::Settled`]); a checkpoint is the state that hash is of (the
//! agreed table and the round), plus what a session needs to go on from
//! there that the hash does not hold: each sender's numbering, the names
//! players signed, and the table actions that wait for the next cut
//! (signed by their senders). A giver hands a checkpoint whose hash the
//! other players have confirmed with their own `Settled` messages, then
//! every message it processed since; the receiver accepts it only when
//! those confirmations, signed by players other than the giver, say so
//! (see [`confirmed`] and `peer::sync`).
//!
//! ```text
//! checkpoint: round u64 (the roll it follows) | rolls u64 (rolls so far)
//!             | clock u64 (relay time) | table_len u32 | table (Table::encode)
//!             | senders u32 | (key [32] | next seq u64)*
//!             | names u32   | (len u16 | signed Name frame)*
//!             | held u32    | (relayed u8 | len u16 | signed table-action frame)*
//!               (each sender's in sequence order, senders in the order the
//!               relay brought them: first come, first seated)
//! ```

use std::collections::BTreeMap;

use bytes::Bytes;
use ed25519_dalek::VerifyingKey;

use crate::commit_reveal::Digest32;
use crate::craps::{PlayerId, Table};
use crate::decode::{Reader, UnexpectedEnd};
use crate::message::{Action, SignedMessage};
use crate::session::held::Held;
use crate::session::{
    GameConfig, Millis, Session, TranscriptEntry, MAX_HELD, MAX_NAMES, MAX_NEWCOMERS_HELD,
};
use crate::SigningKey;

/// Beyond any round, roll count, relay time or sequence number a game
/// reaches (so nothing computed from them overflows).
const MAX_COUNT: u64 = 1 << 60;

/// A checkpoint a session made (or started from).
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    /// The roll it follows.
    pub(crate) round: u64,
    /// How many of the session's transcript entries came before it.
    pub(crate) at: usize,
    /// The state hash the roll's participants sign.
    pub(crate) hash: Digest32,
    /// Who may confirm it: the banker and every seated player.
    pub(crate) voters: Vec<PlayerId>,
    /// Its bytes.
    pub(crate) bytes: Bytes,
}

/// Why a checkpoint is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Bytes that do not decode as a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// A signed message in it that is not what it claims (a bad
    /// signature, another game, a number its sender has not reached).
    #[error("a message in the checkpoint does not hold up")]
    BadMessage,
}

impl From<UnexpectedEnd> for CheckpointError {
    fn from(_: UnexpectedEnd) -> Self {
        CheckpointError::Malformed("cut short")
    }
}

/// A checkpoint read back, checked for form (not yet for what the players
/// confirmed).
pub struct CheckpointState {
    /// The roll it follows.
    pub round: u64,
    rolls: u64,
    clock: Millis,
    table: Table,
    expected: BTreeMap<PlayerId, u64>,
    names: Vec<SignedMessage>,
    held: Vec<(SignedMessage, bool)>,
    bytes: Bytes,
}

impl CheckpointState {
    /// Reads a checkpoint of the game `config` describes.
    pub fn read(bytes: &[u8], config: &GameConfig) -> Result<CheckpointState, CheckpointError> {
        let mut r = Reader::new(bytes);
        let round = r.u64()?;
        let rolls = r.u64()?;
        let clock = r.u64()?;
        let table_len = r.u32()? as usize;
        let table =
            Table::decode(r.take(table_len)?).ok_or(CheckpointError::Malformed("not a table"))?;
        if *table.rules() != config.rules || table.banker() != config.banker {
            return Err(CheckpointError::Malformed("not this game's table"));
        }
        // Counts a game can reach (none near overflowing what follows).
        if round == 0 || round > MAX_COUNT || rolls > round || clock > MAX_COUNT {
            return Err(CheckpointError::Malformed("a count no game reaches"));
        }
        let mut expected = BTreeMap::new();
        for _ in 0..r.count(40)? {
            let sender: PlayerId = r.array()?;
            let next = r.u64()?;
            if next > MAX_COUNT || expected.insert(sender, next).is_some() {
                return Err(CheckpointError::Malformed("a sender's numbering"));
            }
        }
        let message = |r: &mut Reader<'_>| -> Result<SignedMessage, CheckpointError> {
            let len = usize::from(r.u16()?);
            let m = SignedMessage::from_frame_bytes(r.take(len)?)
                .map_err(|_| CheckpointError::Malformed("a message does not decode"))?;
            let numbered = expected
                .get(&m.sender)
                .is_some_and(|next| m.message.seq < *next);
            if m.message.game != config.game || !numbered {
                return Err(CheckpointError::BadMessage);
            }
            Ok(m)
        };
        let mut names = Vec::new();
        let count = r.count(2)?;
        if count > MAX_NAMES {
            return Err(CheckpointError::Malformed("too many names"));
        }
        for _ in 0..count {
            let m = message(&mut r)?;
            if !matches!(m.message.action, Action::Name { .. }) {
                return Err(CheckpointError::BadMessage);
            }
            names.push(m);
        }
        let mut held: Vec<(SignedMessage, bool)> = Vec::new();
        let mut senders = std::collections::BTreeSet::new();
        for _ in 0..r.count(3)? {
            let relayed = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(CheckpointError::Malformed("unknown held flag")),
            };
            let m = message(&mut r)?;
            // Per sender in sequence order, each sender's together (in
            // their order of arrival, as held).
            let theirs = held.iter().rev().take_while(|(h, _)| h.sender == m.sender);
            let (before, last) = (theirs.clone().count(), theirs.map(|(h, _)| h).next());
            let in_order = match last {
                Some(last) => last.message.seq < m.message.seq,
                None => senders.insert(m.sender),
            };
            if !m.message.action.is_table_action() || !in_order || before >= MAX_HELD {
                return Err(CheckpointError::BadMessage);
            }
            held.push((m, relayed));
        }
        if !r.is_empty() {
            return Err(CheckpointError::Malformed("bytes after the end"));
        }
        Ok(CheckpointState {
            round,
            rolls,
            clock,
            table,
            expected,
            names,
            held,
            bytes: Bytes::copy_from_slice(bytes),
        })
    }

    /// The state hash the roll's participants signed, if they agree with
    /// this checkpoint.
    pub fn state_hash(&self, config: &GameConfig) -> Digest32 {
        super::state_hash_of(&config.game, self.round + 1, &self.table)
    }

    /// Who may confirm it: the banker and every seated player.
    pub fn voters(&self) -> Vec<PlayerId> {
        voters_of(&self.table)
    }
}

/// The banker and every seated player of `table`.
pub(crate) fn voters_of(table: &Table) -> Vec<PlayerId> {
    let mut voters: Vec<PlayerId> = table.seats().iter().map(|s| s.player).collect();
    voters.push(table.banker());
    voters
}

/// Whether the players confirm a checkpoint with state hash `hash`:
/// counting only its voters other than `giver`, each by its latest
/// `Settled` for the roll, at least one names `hash` and more than half of
/// those that spoke do. Where nobody but the giver could vote, there is
/// nothing to confirm with, and the checkpoint is as good as its giver.
pub fn confirmed<'a>(
    voters: &[PlayerId],
    giver: &PlayerId,
    hash: &Digest32,
    votes: impl IntoIterator<Item = (&'a PlayerId, &'a Digest32)>,
) -> bool {
    let others = voters.iter().filter(|v| *v != giver).count();
    let (mut agree, mut spoke) = (0usize, 0usize);
    for (voter, said) in votes {
        if voter != giver && voters.contains(voter) {
            spoke += 1;
            agree += usize::from(said == hash);
        }
    }
    others == 0 || (agree >= 1 && 2 * agree > spoke)
}

/// Each sender's latest state hash for roll `round` of this game among
/// `entries`, its signature checked (only those: padding costs no
/// signature checks).
pub fn settled_votes(
    entries: &[TranscriptEntry],
    round: u64,
    config: &GameConfig,
) -> BTreeMap<PlayerId, Digest32> {
    let mut votes = BTreeMap::new();
    for TranscriptEntry { message, .. } in entries {
        let Action::Settled {
            round: r,
            state_hash,
        } = message.message.action
        else {
            continue;
        };
        if r != round || message.message.game != config.game {
            continue;
        }
        let signed = VerifyingKey::from_bytes(&message.sender)
            .is_ok_and(|key| message.verify_with(&key).is_ok());
        if signed {
            votes.insert(message.sender, state_hash);
        }
    }
    votes
}

impl Session {
    /// Records the state right after a roll (called by `finish_roll` once
    /// the next round opened), keeping the last few.
    pub(super) fn take_checkpoint(&mut self, round: u64, hash: Digest32) {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(&round.to_be_bytes());
        out.extend_from_slice(&(self.rolls_before + self.history.len() as u64).to_be_bytes());
        out.extend_from_slice(&self.clock.to_be_bytes());
        let mut table = Vec::with_capacity(512);
        self.round_start.encode(&mut table);
        out.extend_from_slice(&(table.len() as u32).to_be_bytes());
        out.extend_from_slice(&table);
        out.extend_from_slice(&(self.expected.len() as u32).to_be_bytes());
        for (sender, next) in &self.expected {
            out.extend_from_slice(sender);
            out.extend_from_slice(&next.to_be_bytes());
        }
        let frame = |out: &mut Vec<u8>, m: &SignedMessage| {
            let f = m.to_frame();
            out.extend_from_slice(&(f.len() as u16).to_be_bytes());
            out.extend_from_slice(&f);
        };
        out.extend_from_slice(&(self.names.len() as u32).to_be_bytes());
        for m in self.names.values() {
            frame(&mut out, m);
        }
        out.extend_from_slice(&(self.held.len() as u32).to_be_bytes());
        for (m, relayed) in self.held.iter_flagged() {
            out.push(u8::from(relayed));
            frame(&mut out, m);
        }
        self.checkpoints.push_back(Checkpoint {
            round,
            at: self.transcript.len(),
            hash,
            voters: voters_of(&self.round_start),
            bytes: Bytes::from(out),
        });
        while self.checkpoints.len() > super::SETTLED_ROUNDS {
            self.checkpoints.pop_front();
        }
    }

    /// What a snapshot of this game holds: the latest checkpoint the other
    /// players have confirmed before the last roll (so the receiver plays
    /// that roll through itself and can show and check it), or else the
    /// one this session started from, if any; and every transcript entry
    /// after it. (Early in a game, before any such checkpoint, that is
    /// the whole transcript, which is short then.)
    pub fn snapshot_parts(&self) -> (Option<&Bytes>, &[super::TranscriptEntry]) {
        let giver = self.local_id().unwrap_or([0; 32]);
        let last_roll = self.history.last().map(|r| r.round);
        let chosen = self.checkpoints.iter().rev().find(|c| {
            Some(c.round) != last_roll
                && self
                    .settled
                    .get(&c.round)
                    .is_some_and(|votes| confirmed(&c.voters, &giver, &c.hash, votes))
        });
        match chosen.or(self.base.as_ref()) {
            Some(c) => (
                Some(&c.bytes),
                &self.transcript[c.at.min(self.transcript.len())..],
            ),
            None => (None, &self.transcript),
        }
    }

    /// A session for the participant holding `key` (or an observer),
    /// going on from a checkpoint at `now` on its clock. The checkpoint's
    /// signed messages are checked here; whether the players confirmed
    /// its state is the caller's to check ([`confirmed`]).
    pub fn from_checkpoint(
        config: GameConfig,
        key: Option<(SigningKey, [u8; 32])>,
        checkpoint: CheckpointState,
        now: Millis,
    ) -> Result<Session, CheckpointError> {
        let mut s = match key {
            Some((key, entropy)) => Session::new(config, key, entropy),
            None => Session::observer(config),
        };
        for m in checkpoint
            .names
            .iter()
            .chain(checkpoint.held.iter().map(|(m, _)| m))
        {
            s.check_signature(m)
                .map_err(|_| CheckpointError::BadMessage)?;
        }
        let hash = checkpoint.state_hash(&config);
        let voters = checkpoint.voters();
        let CheckpointState {
            round,
            rolls,
            clock,
            table,
            expected,
            names,
            held,
            bytes,
        } = checkpoint;
        s.round = round + 1;
        s.rolls_before = rolls;
        s.round_start = table;
        s.expected = expected;
        s.names = names.into_iter().map(|m| (m.sender, m)).collect();
        s.held = Held::default();
        for (m, relayed) in held {
            let newcomer = s.is_newcomer(&m.sender);
            s.held.push(m, relayed, newcomer);
        }
        if s.held.newcomers() > MAX_NEWCOMERS_HELD {
            return Err(CheckpointError::Malformed(
                "too many newcomers' actions held",
            ));
        }
        if let Some(local) = s.local.as_mut() {
            local.next_seq = s.expected.get(&local.id).copied().unwrap_or(1).max(1);
        }
        s.clock = clock;
        s.clock_seen_at = now;
        s.show_held();
        s.restart_idle(now);
        s.base = Some(Checkpoint {
            round,
            at: 0,
            hash,
            voters,
            bytes,
        });
        Ok(s)
    }
}
