//! A whole game's transcript file: written by a player, read back, checked
//! by a fresh observer; and every kind of tampering caught, each with its
//! own reason. The same tests run natively and, compiled to wasm, in
//! headless Chromium (the checks `verify.html` runs).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod sim;

use shared::message::{Action, SignedMessage};
use shared::session::{SessionError, TranscriptEntry};
use shared::transcript::{Claims, GameTranscript, TranscriptError};
use shared::verify::VerifyError;
use shared::SigningKey;
use sim::Net;

/// A game of a banker and three players, 12 rolls, as player 1 wrote it,
/// and the players' keys (by id).
fn game() -> (GameTranscript, Vec<SigningKey>) {
    let mut net = Net::new(3, 11);
    net.crossing = 10;
    net.run_until(10_000_000, |n| n.rolls(0) >= 12);
    net.settle();
    let keys = net.peers.iter().map(|p| p.key.clone()).collect();
    let written = GameTranscript::of(&net.peers[1].session);
    assert!(claims(&written).rolls.len() >= 12);
    (written, keys)
}

/// What the file claims.
fn claims(t: &GameTranscript) -> &Claims {
    t.claims.as_ref().expect("a finished file")
}

/// The first entry whose message matches, with its place.
fn find(t: &GameTranscript, what: impl Fn(&TranscriptEntry) -> bool) -> usize {
    t.entries.iter().position(what).expect("such an entry")
}

/// The check fails at entry `i`: recorded as accepted, refused on replay.
fn assert_wrongly_accepted(t: &GameTranscript, i: usize) {
    assert!(
        matches!(
            t.check(),
            Err(TranscriptError::Replay(VerifyError::WronglyAccepted { index, .. })) if index == i
        ),
        "{:?}",
        t.check()
    );
}

fn resign(m: &SignedMessage, keys: &[SigningKey]) -> SignedMessage {
    let key = keys
        .iter()
        .find(|k| k.verifying_key().to_bytes() == m.sender)
        .expect("a player's key");
    m.message.clone().sign(key)
}

#[test]
fn a_whole_game_round_trips_through_its_file_and_checks_out() {
    let (written, _) = game();
    let bytes = written.encode();
    let read = GameTranscript::decode(&bytes).expect("reads back");
    assert_eq!(read, written);
    let checked = read.check().expect("checks out");
    assert_eq!(checked.rolls.len(), claims(&written).rolls.len());
    assert_eq!(checked.state_hash, claims(&written).state_hash);
    assert_eq!(checked.entries, written.entries.len());
    assert!(checked.finished && checked.from.is_none());
    println!(
        "a 12-roll game of 4 peers: {} messages, {} bytes",
        written.entries.len(),
        bytes.len()
    );
}

#[test]
fn every_kind_of_tampering_is_caught_with_its_reason() {
    let (written, keys) = game();
    let relayed_commitment = |e: &TranscriptEntry| {
        e.accepted
            && e.relayed_at.is_some()
            && matches!(e.message.message.action, Action::Commit { close: None, .. })
    };
    let relayed_bet = |e: &TranscriptEntry| {
        e.accepted
            && e.relayed_at.is_some()
            && matches!(e.message.message.action, Action::Bet { .. })
    };

    // A changed die in what the file claims.
    let mut t = written.clone();
    let rolls = &mut t.claims.as_mut().unwrap().rolls;
    rolls[3].1 = if rolls[3].1 == [6, 6] { [1, 1] } else { [6, 6] };
    assert!(
        matches!(t.check(), Err(TranscriptError::DiceDiffer { index: 3, .. })),
        "{:?}",
        t.check()
    );

    // A bet's amount changed (its signature no longer holds).
    let mut t = written.clone();
    let i = find(&t, relayed_bet);
    if let Action::Bet { stake, .. } = &mut t.entries[i].message.message.action {
        *stake += 5;
    }
    assert_eq!(
        t.check().unwrap_err(),
        TranscriptError::Replay(VerifyError::WronglyAccepted {
            index: i,
            error: SessionError::Invalid(shared::message::MessageError::BadSignature),
        })
    );

    // A message forged under another player's name (signed by a key that
    // is not the sender's).
    let mut t = written.clone();
    let i = find(&t, relayed_bet);
    let mut forged = t.entries[i].message.clone();
    let other = keys
        .iter()
        .find(|k| k.verifying_key().to_bytes() != forged.sender)
        .unwrap();
    forged.signature = forged.message.clone().sign(other).signature;
    t.entries[i].message = forged;
    assert_wrongly_accepted(&t, i);

    // A reveal swapped for another secret, re-signed by its own sender: the
    // record says it counted, the replay says it forfeits.
    let mut t = written.clone();
    let i = find(&t, |e| {
        e.accepted && matches!(e.message.message.action, Action::Reveal { .. })
    });
    let mut swapped = t.entries[i].message.clone();
    swapped.message.action = Action::Reveal { secret: [0x42; 32] };
    t.entries[i].message = resign(&swapped, &keys);
    let found = t.check().unwrap_err();
    assert!(
        matches!(
            found,
            TranscriptError::DiceDiffer { .. }
                | TranscriptError::Replay(VerifyError::WronglyAccepted { .. })
                | TranscriptError::Replay(VerifyError::WronglyRefused { .. })
        ),
        "{found:?}"
    );

    // A message dropped: the first entry that needed it (its sender's next
    // message, or a cut that names it) is out of its turn.
    let mut t = written.clone();
    let i = find(&t, relayed_bet);
    let sender = t.entries[i].message.sender;
    t.entries.remove(i);
    let next = t.entries[i..]
        .iter()
        .position(|e| e.message.sender == sender)
        .map(|n| n + i)
        .unwrap();
    assert!(
        matches!(
            t.check(),
            Err(TranscriptError::Replay(VerifyError::OutOfTurn { index })) if (i..=next).contains(&index)
        ),
        "{:?}, dropped {i}, its sender's next {next}",
        t.check()
    );

    // Two messages of one sender swapped: the later one comes first.
    let mut t = written.clone();
    let i = find(&t, relayed_bet);
    let sender = t.entries[i].message.sender;
    let j = t.entries[i + 1..]
        .iter()
        .position(|e| e.message.sender == sender)
        .map(|n| n + i + 1)
        .unwrap();
    t.entries.swap(i, j);
    assert_eq!(
        t.check().unwrap_err(),
        TranscriptError::Replay(VerifyError::OutOfTurn { index: i })
    );

    // A commitment moved after the roll it was for: stale when it comes.
    let mut t = written.clone();
    let i = find(&t, relayed_commitment);
    let round = t.entries[i].message.message.round;
    let after = t.entries[i..]
        .iter()
        .position(|e| e.message.message.round > round + 1)
        .map(|n| n + i)
        .unwrap();
    let moved = t.entries.remove(i);
    t.entries.insert(after, moved);
    assert!(
        matches!(
            t.check(),
            Err(TranscriptError::Replay(_)) | Err(TranscriptError::Incomplete { .. })
        ),
        "{:?}",
        t.check()
    );

    // A forfeit forged by moving a commitment's relay time past its
    // deadline: the record says it counted.
    let mut t = written.clone();
    let i = find(&t, relayed_commitment);
    t.entries[i].relayed_at = t.entries[i]
        .relayed_at
        .map(|at| at + 10 * t.config.commit_timeout);
    assert_wrongly_accepted(&t, i);

    // The transcript cut short: fewer rolls than it claims.
    let mut t = written.clone();
    let half = t.entries.len() / 2;
    t.entries.truncate(half);
    assert!(
        matches!(t.check(), Err(TranscriptError::RollCount { .. })),
        "{:?}",
        t.check()
    );
    // The file cut short.
    let bytes = written.encode();
    assert_eq!(
        GameTranscript::decode(&bytes[..bytes.len() - 7]),
        Err(TranscriptError::Truncated("a field is cut short"))
    );
    // The file cut where its claims begin: not a finished game, and
    // what it holds checks out when read as unfinished.
    let mut unfinished = written.clone();
    unfinished.claims = None;
    let cut = unfinished.encode();
    assert_eq!(
        GameTranscript::decode(&cut),
        Err(TranscriptError::Unfinished)
    );
    let read = GameTranscript::decode_unfinished(&cut).unwrap();
    let checked = read.check().expect("what it holds checks out");
    assert!(!checked.finished);
    assert_eq!(checked.rolls.len(), claims(&written).rolls.len());
    // A writer that stopped in the middle of a record: the record is
    // dropped, the rest checked.
    let read = GameTranscript::decode_unfinished(&cut[..cut.len() - 5]).unwrap();
    assert_eq!(read.entries.len(), written.entries.len() - 1);
    // Not a transcript at all.
    assert_eq!(
        GameTranscript::decode(b"GIF89a"),
        Err(TranscriptError::NotATranscript(0))
    );
    // A state claimed that the messages do not make.
    let mut t = written.clone();
    t.claims.as_mut().unwrap().state_hash[0] ^= 1;
    assert_eq!(t.check().unwrap_err(), TranscriptError::StateDiffers);
}

#[test]
fn a_game_whose_rolls_end_at_a_deadline_checks_out_in_turn() {
    // A player that never reveals: each roll ends when a message stamped
    // past the reveal deadline comes, and the other peers then send their
    // own `Settled`, which their transcripts must record after that
    // message (a replay makes it there); before, it was recorded first and
    // the replay found it out of its turn.
    let mut net = Net::new(3, 21);
    net.peers[1].tamper = Some(Box::new(|m, _| match m.message.action {
        Action::Reveal { .. } => vec![],
        _ => vec![m],
    }));
    net.run_until(10_000_000, |n| n.rolls(0) >= 3);
    net.settle();
    for i in [0, 2, 3] {
        let written = GameTranscript::of(&net.peers[i].session);
        let forfeits = net.peers[i]
            .session
            .history()
            .iter()
            .filter(|r| !r.forfeited.is_empty())
            .count();
        assert!(forfeits >= 1, "a roll ended at its deadline");
        written.check().unwrap_or_else(|e| panic!("peer {i}: {e}"));
    }
}

/// A page that took the game under way from a snapshot writes the
/// checkpoint it started from: the file checks out from there, saying
/// from which roll and who signed that state; a checkpoint changed, or
/// stripped of the players' signatures on it, does not.
#[test]
fn a_game_taken_under_way_checks_out_from_its_checkpoint() {
    use shared::peer::{handshake, sync};
    use shared::wire::FrameKind;

    let mut net = Net::new(3, 31);
    net.run_until(10_000_000, |n| n.rolls(0) >= 12);
    net.settle();
    let config = *net.peers[1].session.config();
    let banker = &net.peers[0].key;
    let table = handshake::signed_frame(
        banker,
        FrameKind::Table,
        config.game,
        None,
        &config.encode(),
    )
    .unwrap();
    let giver = &net.peers[1];
    let snapshot = sync::encode(&table, &giver.session);
    let newcomer = SigningKey::from_bytes(&[0x5A; 32]);
    let restored = sync::restore(
        &snapshot,
        config.game,
        giver.id(),
        &newcomer,
        [3; 32],
        net.now,
    )
    .expect("the snapshot holds up");
    let session = restored.session;
    assert!(
        session.started_from_checkpoint(),
        "a checkpoint, not the whole game"
    );

    let written = GameTranscript::of(&session);
    let base = written.base.clone().expect("the checkpoint is in the file");
    let read = GameTranscript::decode(&written.encode()).unwrap();
    assert_eq!(read, written);
    let checked = read.check().expect("checks out from the checkpoint");
    let from = checked.from.expect("says it starts from a checkpoint");
    assert!(from.rolls_before >= 1 && from.round >= 1, "{from:?}");
    // Every peer was honest: every voter signed it.
    assert_eq!(from.signed_by.len(), from.voters, "{from:?}");
    assert!(!checked.rolls.is_empty(), "a roll played on it");

    // The checkpoint's state changed (a byte of its table): its hash is no
    // longer what the players signed.
    let mut t = written.clone();
    let mut changed = base.clone();
    let at = changed.len() / 2;
    changed[at] ^= 1;
    t.base = Some(changed);
    let error = t.check().unwrap_err();
    assert!(
        matches!(error.kind(), "unvouched" | "bad-checkpoint"),
        "{error:?}"
    );
    // The players' signatures on it taken out.
    let mut t = written.clone();
    t.entries
        .retain(|e| !matches!(e.message.message.action, Action::Settled { round, .. } if round == from.round));
    assert_eq!(t.check().unwrap_err().kind(), "unvouched");
}
