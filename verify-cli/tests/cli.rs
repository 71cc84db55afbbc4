//! The verifier as a user runs it: a real game's transcript file checks
//! out (exit 0, the rolls and "OK"); a tampered one fails with its reason
//! (exit 1); a file that is not a transcript is exit 2.

#[path = "../../shared/tests/sim/mod.rs"]
mod sim;

use std::path::PathBuf;
use std::process::Command;

use shared::transcript::GameTranscript;

fn written() -> GameTranscript {
    let mut net = sim::Net::new(3, 5);
    net.run_until(10_000_000, |n| n.rolls(0) >= 6);
    net.settle();
    GameTranscript::of(&net.peers[2].session)
}

fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bitcraps-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bitcraps-verify"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_true_game_checks_out_and_a_tampered_one_names_its_failure() {
    let game = written();
    let rolls = game.claims.as_ref().unwrap().rolls.clone();
    let good = file("good.bctx", &game.encode());
    let (code, out, _) = run(&[good.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK:"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .count(),
        rolls.len(),
        "one line per roll: {out}"
    );
    let (code, out, _) = run(&[good.as_os_str(), "--json".as_ref()]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["rolls"].as_array().unwrap().len(), rolls.len());
    assert_eq!(json["rolls"][0]["dice"], serde_json::json!(rolls[0].1));

    // A message dropped from the middle.
    let mut dropped = game.clone();
    let i = dropped.entries.len() / 2;
    dropped.entries.remove(i);
    let bad = file("dropped.bctx", &dropped.encode());
    let (code, _, err) = run(&[bad.as_os_str()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("FAILED ("), "{err}");
    let (code, out, _) = run(&[bad.as_os_str(), "--json".as_ref()]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ok"], false);
    assert!(json["reason"].as_str().unwrap().len() > 10);

    // A file whose writer had not finished (no claims at its end): not a
    // finished game (exit 1, "unfinished"), and with `--unfinished`
    // every message it holds checks out, said so.
    let mut open = game.clone();
    open.claims = None;
    let open = file("open.bctx", &open.encode());
    let (code, _, err) = run(&[open.as_os_str()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("(unfinished)"), "{err}");
    let (code, out, err) = run(&[open.as_os_str(), "--unfinished".as_ref()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK SO FAR (unfinished"), "{out}");

    // Not a transcript.
    let junk = file("junk.bctx", b"\x89PNG\r\n");
    let (code, _, err) = run(&[junk.as_os_str()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not-a-transcript"), "{err}");
}
