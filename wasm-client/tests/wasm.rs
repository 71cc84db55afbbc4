//! Tests of the client's JavaScript-facing API, run in headless Chromium by
//! `wasm-bindgen-test` (see `scripts/test.sh`). Natively they compile to
//! nothing.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn version_matches_the_crate() {
    assert_eq!(bitcraps_client::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn dice_from_seed_agree_with_the_engine() {
    let seed = [42u8; 32];
    let expected = shared::Roll::from_seed(&seed);
    let dice = bitcraps_client::roll_from_seed(&seed).expect("32-byte seed");
    assert_eq!(dice, vec![expected.die1(), expected.die2()]);
    assert!(dice.iter().all(|d| (1..=6).contains(d)));
}

#[wasm_bindgen_test]
fn the_protocol_version_comes_from_the_engine() {
    assert_eq!(
        bitcraps_client::protocol_version(),
        shared::PROTOCOL_VERSION
    );
}

#[wasm_bindgen_test]
fn a_seed_of_the_wrong_length_is_an_error() {
    assert!(bitcraps_client::roll_from_seed(&[1, 2, 3]).is_err());
}
