//! `bitcraps-verify game.bctx`: checks a whole BitCraps game from its
//! transcript file (see `shared::transcript`), trusting nobody: every
//! signature and every sender's turn, every rule and the banker's cover,
//! every deadline verdict (on the relay times in the file), every
//! settlement, every roll's dice from its reveals, the claimed dice and the
//! final state hash. Prints a table of the rolls and a verdict; exits 0 if
//! the game checks out, 1 with the first failure and its reason, 2 if the
//! file cannot be read. `--json` prints one JSON object instead.
//! `--unfinished` checks a file its writer had not finished (a relay's
//! log of a game still on, or of a relay that crashed): every message it
//! holds, with no claims to compare.
//!
//! It links the engine only (not the relay): anyone can build and run it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;
use shared::hex;
use shared::session::RollRecord;
use shared::transcript::{GameTranscript, TranscriptError};
use shared::verify::Vouched;

/// Checks a whole BitCraps game from its transcript file.
#[derive(Debug, Parser)]
#[command(name = "bitcraps-verify", version)]
struct Args {
    /// The transcript (`.bctx`: "Download this game" on the page, or
    /// `GameTranscript::encode`).
    file: PathBuf,
    /// One JSON object on standard output instead of the table.
    #[arg(long)]
    json: bool,
    /// Accept a file without its writer's claims at the end (a relay's
    /// log of a game still on, or cut short by a crash).
    #[arg(long)]
    unfinished: bool,
}

fn short(bytes: &[u8]) -> String {
    hex(&bytes[..4])
}

fn roll_json(r: &RollRecord) -> serde_json::Value {
    json!({
        "round": r.round,
        "dice": [r.roll.die1(), r.roll.die2()],
        "participants": r.commits.iter().map(|(p, _)| hex(p)).collect::<Vec<_>>(),
        "forfeited": r.forfeited.iter().map(|(p, why)| json!([hex(p), format!("{why:?}")])).collect::<Vec<_>>(),
        "bets": r.settlement.results.len(),
        "stateHash": hex(&r.state_hash),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!(
                "bitcraps-verify: cannot read {}: {error}",
                args.file.display()
            );
            return ExitCode::from(2);
        }
    };
    let read = if args.unfinished {
        GameTranscript::decode_unfinished(&bytes)
    } else {
        GameTranscript::decode(&bytes)
    };
    let transcript = match read {
        Ok(t) => t,
        Err(error) => {
            let code = if error.is_unreadable() { 2 } else { 1 };
            return failed(&args, None, &error, code);
        }
    };
    match transcript.check() {
        Ok(checked) => {
            if args.json {
                println!(
                    "{}",
                    json!({
                        "ok": true,
                        "game": hex(&transcript.config.game),
                        "messages": checked.entries,
                        "rolls": checked.rolls.iter().map(roll_json).collect::<Vec<_>>(),
                        "stateHash": hex(&checked.state_hash),
                        "finished": checked.finished,
                        "from": checked.from.as_ref().map(from_json),
                    })
                );
            } else {
                println!("game {}", hex(&transcript.config.game));
                if let Some(from) = &checked.from {
                    println!("{}", from_words(from));
                }
                println!(
                    "{:>6}  {:>5}  {:>5}  {:>12}  {:>4}  forfeited",
                    "round", "dice", "total", "participants", "bets"
                );
                for r in &checked.rolls {
                    let forfeited: Vec<String> = r
                        .forfeited
                        .iter()
                        .map(|(p, why)| format!("{} ({why:?})", short(p)))
                        .collect();
                    println!(
                        "{:>6}  {}+{}    {:>5}  {:>12}  {:>4}  {}",
                        r.round,
                        r.roll.die1(),
                        r.roll.die2(),
                        r.roll.total(),
                        r.commits.len(),
                        r.settlement.results.len(),
                        forfeited.join(", ")
                    );
                }
                let verdict = if checked.finished {
                    "OK"
                } else {
                    "OK SO FAR (unfinished: no claims to compare)"
                };
                println!(
                    "{verdict}: {} messages, {} rolls; every signature, turn, rule, deadline, settlement and roll checks out; state {}",
                    checked.entries,
                    checked.rolls.len(),
                    hex(&checked.state_hash)
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => failed(&args, Some(&transcript), &error, 1),
    }
}

fn from_json(from: &Vouched) -> serde_json::Value {
    json!({
        "round": from.round,
        "rollsBefore": from.rolls_before,
        "signedBy": from.signed_by.iter().map(|p| hex(p)).collect::<Vec<_>>(),
        "voters": from.voters,
    })
}

/// Says where a game taken under way starts, and on whose word.
fn from_words(from: &Vouched) -> String {
    format!(
        "from the state after round {} ({} earlier rolls are not in this file): signed by {} of its {} voters, and the next roll was played on it",
        from.round,
        from.rolls_before,
        from.signed_by.len(),
        from.voters
    )
}

/// Reports `error` (with its kind) and returns `code`.
fn failed(
    args: &Args,
    transcript: Option<&GameTranscript>,
    error: &TranscriptError,
    code: u8,
) -> ExitCode {
    let kind = error.kind();
    if args.json {
        println!(
            "{}",
            json!({
                "ok": false,
                "game": transcript.map(|t| hex(&t.config.game)),
                "failure": kind,
                "reason": error.to_string(),
            })
        );
    } else {
        eprintln!("FAILED ({kind}): {error}");
    }
    ExitCode::from(code)
}
