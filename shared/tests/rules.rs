//! The rules, dice and a signed round, checked natively and, compiled to
//! wasm32, inside headless Chromium by `wasm-bindgen-test`
//! (`scripts/wasm-cargo test -p bitcraps-shared --test rules`).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use shared::craps::{house_edge_percent, BetKind, Table, TableRules, PUBLISHED_EDGES};
use shared::session::{GameConfig, Session, SessionError};
use shared::{Roll, SigningKey};
#[test]
fn every_published_house_edge_is_reproduced() {
    let rules = TableRules::default();
    for &(kind, published) in PUBLISHED_EDGES {
        assert_eq!(
            house_edge_percent(kind, &rules),
            Some(published),
            "{kind:?}"
        );
    }
}

#[test]
fn dice_are_uniform_and_match_native_derivation() {
    let mut counts = [0u32; 6];
    for n in 0u32..6_000 {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&n.to_le_bytes());
        counts[usize::from(Roll::from_seed(&seed).die1() - 1)] += 1;
    }
    let chi2: f64 = counts
        .iter()
        .map(|&c| (f64::from(c) - 1_000.0).powi(2) / 1_000.0)
        .sum();
    assert!(chi2 < 25.0, "{counts:?}");
    // The test vector of docs/ARCHITECTURE.md: the same dice as natively.
    assert_eq!(Roll::from_seed(&[42; 32]), Roll::new(4, 4).unwrap());
}

#[test]
fn chips_are_conserved_over_settled_rolls() {
    let banker = [1; 32];
    let mut table = Table::new(TableRules::default(), banker, 1_000_000);
    table.sit([2; 32], 10_000).unwrap();
    for n in 0u32..300 {
        let _ = table.place_bet(&[2; 32], BetKind::PassLine, 5);
        let _ = table.place_bet(&[2; 32], BetKind::Field, 5);
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&n.to_be_bytes());
        table.settle(Roll::from_seed(&seed)).unwrap();
        assert_eq!(table.total_chips(), table.bought_in());
    }
}

#[test]
fn a_signed_round_between_two_sessions() {
    let banker_key = SigningKey::from_bytes(&[1; 32]);
    let config = GameConfig::new([7; 16], banker_key.verifying_key().to_bytes(), 10_000);
    let mut banker = Session::new(config, banker_key, [11; 32]);
    let mut player = Session::new(config, SigningKey::from_bytes(&[2; 32]), [22; 32]);
    player.sit(0, 500).unwrap();
    player.place_bet(0, BetKind::PassLine, 10).unwrap();
    player.roll(0).unwrap();
    // The relay: each message to both, the sender's own copy too (its
    // timed steps count as they come back; the rest it already has).
    let mut moved = true;
    while moved {
        moved = false;
        for from in 0..2 {
            let sender = if from == 0 { &mut player } else { &mut banker };
            let Some(m) = sender.poll_transmit() else {
                continue;
            };
            moved = true;
            for s in [&mut player, &mut banker] {
                match s.handle_relayed(0, m.clone(), 0) {
                    Ok(()) | Err(SessionError::Replayed { .. }) => {}
                    Err(e) => panic!("refused: {e}"),
                }
            }
        }
    }
    assert_eq!(player.history().len(), 1);
    assert_eq!(player.state_hash(), banker.state_hash());
}
