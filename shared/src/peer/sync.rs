//! State transfer beyond the relay's window: a peer that joins after the
//! history it needs is gone (a long game, a relay restart) asks a
//! participant for a snapshot of the game and checks it before using it.
//!
//! A snapshot is a checkpoint and the transcript since. The checkpoint
//! (`session::checkpoint`) is the state after a recent roll whose state
//! hash the other players confirmed with their signed `Settled` messages;
//! the transcript is every signed message the giver processed after it,
//! in its order, each with the relay time stamped on it (deadlines are
//! judged on those, so a replay reaches the same verdicts at the same
//! messages). A giver that holds no confirmed checkpoint (the first roll
//! has not been confirmed yet) sends the whole transcript from the
//! house's signed `Table` frame. So a snapshot's size follows the current
//! round, not the game's length.
//!
//! The receiver checks the checkpoint first: its state must hash to what
//! the voters (the banker and the seated players, the giver not counted)
//! signed in the `Settled` messages among the entries, at least one of them
//! and more than half of those that spoke. Those voters are read off the
//! state itself, and the giver picks the entries, so that alone proves
//! little: the state must also have been played on. A roll after it must
//! finish in the replay with the commitment of a player other than the
//! giver and the receiver (every commitment of a finished roll names the
//! table the replay rolled on), unless the receiver signed the state's
//! hash itself before it reloaded. Then it replays the entries
//! through the session, which checks every signature and every rule again,
//! so nothing in them can be forged; what a giver could still do is leave
//! messages out or change their relay times. That shows: a gap in a
//! sender's numbering leaves messages waiting at the end of the replay
//! ("incomplete"), and a left-out or invented event changes the table, so
//! a later round whose commitments (signed by every participant) all name
//! one table hash, not the replayed one, is called off in the replay
//! ("does not match what the players signed"; the giver's own commitments
//! and the receiver's count for nothing here, only the other players' do);
//! so does a replay that never reaches a round whose messages the players
//! signed (a table "closed" by a forged relay time). Any of these refuses
//! the snapshot; the peer asks another participant. A stale snapshot (a
//! true prefix) is caught up by the relay's replay, or, if that has a gap
//! too, refused the same way.
//!
//! ```text
//! Direct frame payload:  kind u8 | ...
//!   1 request            (empty)
//!   2 chunk              index u16 | count u16 | bytes   (a snapshot's part)
//! snapshot:  version u8 (3) | table_len u32 | Table frame
//!            | checkpoint_len u32 | checkpoint (none when 0) | entries u32 | entry*
//! entry:     0 | len u16 | signed game frame              (straight from its sender)
//!            1 | relay time u64 | len u16 | signed game frame   (as the relay stamped it)
//! ```
//!
//! No entry depends on the giver's clock: relay times are the relay's.

use bytes::Bytes;

use crate::codec::FrameRef;
use crate::decode::{Reader, UnexpectedEnd};
use crate::message::SignedMessage;
use crate::session::{
    self, named_against, settled_votes, CheckpointError, CheckpointState, Event, GameConfig,
    Millis, Session, TranscriptEntry,
};
use crate::wire::{FrameKind, PeerId, MAX_FRAME_LEN};
use crate::SigningKey;

/// A `Direct` payload asking for a snapshot.
pub const REQUEST: u8 = 1;
/// A `Direct` payload carrying part of a snapshot.
pub const CHUNK: u8 = 2;
/// A `Direct` payload answering a request: this player has no game to
/// give (its table has not opened), so the asker asks the next at once.
pub const NONE: u8 = 3;
/// Snapshot bytes per chunk (a chunk frame stays under the frame limit).
pub const CHUNK_BYTES: usize = 60_000;
/// The most chunks a snapshot may have (about 123 MB, a game of some
/// 600,000 messages): a receiver never holds more for one giver. Givers
/// stream the chunks at their upload budget, so a long snapshot takes
/// longer to arrive rather than not being sent.
pub const MAX_CHUNKS: usize = 2_048;
const VERSION: u8 = 3;

/// Why a snapshot is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Bytes that do not decode as a snapshot.
    #[error("malformed snapshot: {0}")]
    Malformed(&'static str),
    /// The table announcement is not the house's for this table.
    #[error("the snapshot's table is not this table's, or not signed by its house")]
    WrongTable,
    /// A sender's numbering has a gap: messages were left out.
    #[error("incomplete snapshot: {0} messages wait for ones it leaves out")]
    Incomplete(usize),
    /// The replay saw a table that every participant's signed commitment
    /// contradicts.
    #[error("the snapshot does not match what the players signed (round {0})")]
    Contradicted(u64),
    /// Its checkpoint (the state after roll `0`) is not the state the other
    /// players signed after that roll.
    #[error("the snapshot's state after roll {0} is not what the players signed")]
    Unconfirmed(u64),
    /// Its checkpoint does not hold up.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl From<UnexpectedEnd> for SyncError {
    fn from(_: UnexpectedEnd) -> Self {
        SyncError::Malformed("cut short")
    }
}

/// Encodes a session's game as a snapshot (`table` is the house's signed
/// `Table` frame): its latest confirmed checkpoint, if any, and every
/// transcript entry after it.
pub fn encode(table: &[u8], session: &Session) -> Vec<u8> {
    let (checkpoint, transcript) = session.snapshot_parts();
    let checkpoint = checkpoint.map_or(&[][..], |c| &c[..]);
    let mut out = Vec::with_capacity(table.len() + checkpoint.len() + 200 * transcript.len() + 32);
    out.push(VERSION);
    out.extend_from_slice(&(table.len() as u32).to_be_bytes());
    out.extend_from_slice(table);
    out.extend_from_slice(&(checkpoint.len() as u32).to_be_bytes());
    out.extend_from_slice(checkpoint);
    out.extend_from_slice(&(transcript.len() as u32).to_be_bytes());
    for TranscriptEntry {
        relayed_at,
        message,
        ..
    } in transcript
    {
        let frame = message.to_frame();
        match relayed_at {
            None => out.push(0),
            Some(at) => {
                out.push(1);
                out.extend_from_slice(&at.to_be_bytes());
            }
        }
        out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

/// Splits a snapshot into `Direct` payloads.
pub fn chunks(snapshot: &[u8]) -> Vec<Vec<u8>> {
    let parts: Vec<&[u8]> = snapshot.chunks(CHUNK_BYTES).collect();
    let count = parts.len() as u16;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let mut p = Vec::with_capacity(part.len() + 5);
            p.push(CHUNK);
            p.extend_from_slice(&(i as u16).to_be_bytes());
            p.extend_from_slice(&count.to_be_bytes());
            p.extend_from_slice(part);
            p
        })
        .collect()
}

/// A snapshot being received, chunk by chunk and in order, from one giver
/// (its chunks travel in order over the relay). Chunk 0 starts a stream;
/// a chunk that does not follow (the rest of a stream asked for earlier)
/// is ignored, so two streams never mix.
#[derive(Debug)]
pub struct Assembly {
    /// Who it is from.
    pub from: PeerId,
    parts: Vec<Vec<u8>>,
    count: usize,
}

impl Assembly {
    /// Expecting a snapshot from `from`.
    pub fn new(from: PeerId) -> Self {
        Assembly {
            from,
            parts: Vec::new(),
            count: 0,
        }
    }

    /// Adds a chunk payload (after its kind byte); returns the whole
    /// snapshot once every part is in.
    pub fn add(&mut self, chunk: &[u8]) -> Result<Option<Vec<u8>>, SyncError> {
        let mut r = Reader::new(chunk);
        let (index, count) = (usize::from(r.u16()?), usize::from(r.u16()?));
        if count == 0 || count > MAX_CHUNKS || index >= count {
            return Err(SyncError::Malformed("bad chunk"));
        }
        if index == 0 {
            self.parts.clear();
            self.count = count;
        } else if index != self.parts.len() || count != self.count {
            return Ok(None); // not the next chunk of this stream
        }
        self.parts.push(r.rest().to_vec());
        if self.parts.len() < self.count {
            return Ok(None);
        }
        self.count = 0;
        Ok(Some(self.parts.drain(..).flatten().collect()))
    }
}

/// A checked snapshot: the session rebuilt from it, and the signed
/// `Table` frame.
pub struct Restored {
    /// The game, replayed and checked.
    pub session: Session,
    /// The house's announcement.
    pub table: Bytes,
}

/// Replays a snapshot from `giver` for `room` as the peer holding `key`
/// (with its `entropy` at the table), at `now` on its clock, and checks
/// it. A checkpoint counts only when the other players confirmed its
/// state ([`session::confirmed`]). The giver's own commitments, and this
/// peer's (which the replay makes again), count for nothing in the check:
/// only the other players' signatures do. (At a table where nobody else
/// committed, the snapshot is as good as its giver.)
pub fn restore(
    snapshot: &[u8],
    room: [u8; 16],
    giver: PeerId,
    key: &SigningKey,
    entropy: [u8; 32],
    now: Millis,
) -> Result<Restored, SyncError> {
    let excluding = [giver, key.verifying_key().to_bytes()];
    let mut r = Reader::new(snapshot);
    if r.u8()? != VERSION {
        return Err(SyncError::Malformed("unknown version"));
    }
    let table_len = r.u32()? as usize;
    let table = r.take(table_len)?;
    let frame = FrameRef::parse(table, MAX_FRAME_LEN).map_err(|_| SyncError::WrongTable)?;
    let config = GameConfig::decode(frame.payload).map_err(|_| SyncError::WrongTable)?;
    if frame.header.kind != FrameKind::Table
        || frame.header.room != room
        || config.game != room
        || config.banker != frame.header.sender
        || frame.verify().is_err()
    {
        return Err(SyncError::WrongTable);
    }
    let checkpoint_len = r.u32()? as usize;
    let checkpoint = r.take(checkpoint_len)?;
    let mut entries = Vec::new();
    for _ in 0..r.count(3)? {
        let relayed_at = match r.u8()? {
            0 => None,
            1 => Some(r.u64()?),
            _ => return Err(SyncError::Malformed("unknown entry")),
        };
        let len = usize::from(r.u16()?);
        let message = SignedMessage::from_frame_bytes(r.take(len)?)
            .map_err(|_| SyncError::Malformed("a message does not decode"))?;
        entries.push(TranscriptEntry {
            relayed_at,
            message,
            // Refusals are part of the game (the giver refused them too);
            // a forged signature is refused in the replay.
            accepted: true,
        });
    }
    if !r.is_empty() {
        return Err(SyncError::Malformed("bytes after the last entry"));
    }
    let me = key.verifying_key().to_bytes();
    // (The roll the checkpoint follows, and whether this peer itself
    // signed its state hash before: a reloaded participant.)
    let mut from_checkpoint = None;
    let mut session = if checkpoint.is_empty() {
        Session::new(config, key.clone(), entropy)
    } else {
        let state = CheckpointState::read(checkpoint, &config)?;
        let (round, hash) = (state.round, state.state_hash(&config));
        let votes = settled_votes(&entries, round, &config);
        if !session::confirmed(&state.voters(), &giver, &hash, &votes) {
            return Err(SyncError::Unconfirmed(round));
        }
        from_checkpoint = Some((round, votes.get(&me) == Some(&hash)));
        Session::from_checkpoint(config, Some((key.clone(), entropy)), state, now)?
    };
    // A newcomer's snapshot: its signatures at once, in batches.
    session.preverify(entries.iter().map(|e| &e.message));
    let mut max_round = 0;
    for entry in &entries {
        max_round = max_round.max(entry.message.message.round);
        let _ = session.replay(now, entry);
        if let Some(round) = contradicted(&mut session, &excluding) {
            return Err(SyncError::Contradicted(round));
        }
    }
    if session.pending() > 0 {
        return Err(SyncError::Incomplete(session.pending()));
    }
    // A session only processes a message in its round or after: players
    // signed rounds this replay never reached (it closed the table, say,
    // for a deadline that never fired).
    if max_round > session.round() {
        return Err(SyncError::Contradicted(session.round()));
    }
    // A checkpoint's state is only as good as the votes the giver chose to
    // include, and its voters are read off that very state: it must also
    // have been played on. A roll after it finished in the replay with the
    // commitment of a player other than the giver and this peer, and a
    // finished roll's commitments all name the table the replay rolled on
    // (the banker's among them): that player held this state. (Or this
    // peer signed the state's hash itself before it reloaded.)
    if let Some((round, own_vote)) = from_checkpoint {
        let played_on = session
            .history()
            .iter()
            .any(|r| r.commits.iter().any(|(p, _)| *p != giver && *p != me));
        if !(played_on || own_vote) {
            return Err(SyncError::Unconfirmed(round));
        }
    }
    Ok(Restored {
        session,
        table: Bytes::copy_from_slice(table),
    })
}

/// Drops the replay's events (they happened before this peer came), and
/// reports a round that only this replay saw differently. (Messages of
/// our own the replay makes again stay queued: a reloaded participant may
/// never have sent them, and a duplicate is harmless.)
fn contradicted(session: &mut Session, excluding: &[PeerId]) -> Option<u64> {
    let mut against = None;
    while let Some(event) = session.poll_event() {
        if let Event::RoundAborted {
            round,
            table_hash,
            named,
            ..
        } = event
        {
            if named_against(&named, &table_hash, excluding) {
                against.get_or_insert(round);
            }
        }
    }
    against
}
