//! `bitcraps-verify game.bctx`: checks a whole BitCraps game from its
//! transcript file (see `shared::transcript`), trusting nobody: every
//! signature and every sender's turn, every rule and the banker's cover,
//! every deadline verdict (on the relay times in the file), every
//! settlement, every roll's dice from its reveals, the claimed dice and the
//! final state hash. Prints a table of the rolls and a verdict; exits 0 if
//! the game checks out, 1 with the first failure and its reason, 2 if the
//! file cannot be read. `--json` prints one JSON object instead.
//!
//! It links the engine only (not the relay): anyone can build and run it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;
use shared::session::RollRecord;
use shared::transcript::{GameTranscript, TranscriptError};

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
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    let transcript = match GameTranscript::decode(&bytes) {
        Ok(t) => t,
        Err(error) => return failed(&args, None, &error, 2),
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
                    })
                );
            } else {
                println!("game {}", hex(&transcript.config.game));
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
                println!(
                    "OK: {} messages, {} rolls; every signature, turn, rule, deadline, settlement and roll checks out; state {}",
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
