//! The BitCraps browser peer.
//!
//! This crate wraps the `shared` engine in `wasm-bindgen` exports so the page
//! (and any page that embeds a table) can call it from JavaScript. It holds
//! no game logic of its own: every rule lives in `shared`, so the browser and
//! the relay can never disagree about the game. The [`Client`] is sans I/O;
//! `web/bitcraps.js` moves its bytes over WebSocket and WebRTC.

use wasm_bindgen::prelude::*;

mod client;
mod events;
mod refusal;

pub use refusal::Refusal;

pub use client::{bet_catalog, Client, Transmit, KEEPALIVE_MS};

/// The client's version string, e.g. `"0.1.0"`.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The wire protocol version this client speaks.
#[wasm_bindgen(js_name = protocolVersion)]
pub fn protocol_version() -> u8 {
    shared::PROTOCOL_VERSION
}

/// Derives the dice from a 32-byte seed with the engine's unbiased
/// derivation, returned as `[die1, die2]`.
///
/// Every peer that knows the seed computes the same dice, which is what lets
/// the page re-verify any past roll on its own.
#[wasm_bindgen(js_name = rollFromSeed)]
pub fn roll_from_seed(seed: &[u8]) -> Result<Vec<u8>, Refusal> {
    let seed: &[u8; 32] = seed.try_into().map_err(|_| {
        Refusal::new(
            "bad-seed",
            format!("a seed is 32 bytes, got {}", seed.len()),
        )
    })?;
    let roll = shared::Roll::from_seed(seed);
    Ok(vec![roll.die1(), roll.die2()])
}

/// Checks a whole game's transcript file (`.bctx`) in the browser, with
/// the very checks `bitcraps-verify` runs (`shared::transcript`): JSON
/// `{ok: true, messages, rolls: [{round, dice, participants, forfeited}],
/// stateHash, from}` (`from`: `null`, or where a game taken under way
/// starts: `{round, rollsBefore, signedBy, voters}`), or `{ok: false, failure, reason, unreadable}` with the
/// first failure's stable name and its reason in words.
#[wasm_bindgen(js_name = checkTranscript)]
pub fn check_transcript(bytes: &[u8]) -> String {
    use shared::transcript::GameTranscript;
    let checked = GameTranscript::decode(bytes).and_then(|t| t.check());
    match checked {
        Ok(checked) => serde_json::json!({
            "ok": true,
            "messages": checked.entries,
            "rolls": checked.rolls.iter().map(|r| serde_json::json!({
                "round": r.round,
                "dice": [r.roll.die1(), r.roll.die2()],
                "participants": r.commits.len(),
                "forfeited": r.forfeited.iter().map(|(p, why)| serde_json::json!([events::hex(p), format!("{why:?}")])).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "stateHash": events::hex(&checked.state_hash),
            "from": checked.from.as_ref().map(|f| serde_json::json!({
                "round": f.round,
                "rollsBefore": f.rolls_before,
                "signedBy": f.signed_by.iter().map(|p| events::hex(p)).collect::<Vec<_>>(),
                "voters": f.voters,
            })),
        }),
        Err(error) => serde_json::json!({
            "ok": false,
            "failure": error.kind(),
            "reason": error.to_string(),
            "unreadable": error.is_unreadable(),
        }),
    }
    .to_string()
}
