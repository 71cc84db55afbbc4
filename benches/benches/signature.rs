//! A game message's signature check: decompressing the sender's key for
//! every message (what `SignedMessage::verify` does) vs the key a session
//! keeps per sender (`verify_with`), beside the cost of signing. A roll of
//! 8 players costs every peer 14 checks, so this is most of a roll's CPU.
//! Then the rule itself: ed25519-dalek's `verify_strict` (the old rule)
//! vs ZIP 215 (`shared::sig`, the rule now), and ZIP 215 in batches of 8
//! and 64 against as many single checks.

use std::hint::black_box;

use shared::message::{Action, Message};
use shared::SigningKey;

fn main() {
    let mut c = benches::criterion();
    let key = SigningKey::from_bytes(&benches::seed(1));
    let message = Message {
        game: [1; 16],
        round: 1,
        seq: 1,
        action: Action::Reveal { secret: [3; 32] },
    };
    let signed = message.clone().sign(&key);
    let cached = key.verifying_key();
    let mut group = c.benchmark_group("game_message_signature");
    group.bench_function("verify, key decompressed each time (plain)", |b| {
        b.iter(|| black_box(&signed).verify())
    });
    group.bench_function("verify, cached key (session)", |b| {
        b.iter(|| black_box(&signed).verify_with(black_box(&cached)))
    });
    group.bench_function("sign", |b| b.iter(|| black_box(message.clone()).sign(&key)));
    group.finish();

    let mut rule = c.benchmark_group("signature_rule");
    // (A game message signs about 90 bytes.)
    use ed25519_dalek::Signer as _;
    let bytes = vec![7u8; 90];
    let sig = key.sign(&bytes).to_bytes();
    let sender = key.verifying_key().to_bytes();
    rule.bench_function("verify_strict (old rule)", |b| {
        b.iter(|| {
            cached.verify_strict(
                black_box(&bytes),
                &ed25519_dalek::Signature::from_bytes(black_box(&sig)),
            )
        })
    });
    let point = cached.to_edwards();
    rule.bench_function("ZIP 215, cached key", |b| {
        b.iter(|| shared::sig::verify_prepared(&point, &sender, black_box(&bytes), black_box(&sig)))
    });
    for n in [8usize, 64] {
        let keys: Vec<SigningKey> = (0..n)
            .map(|i| SigningKey::from_bytes(&benches::seed(i as u32 + 10)))
            .collect();
        let messages: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 90]).collect();
        let sigs: Vec<[u8; 64]> = keys
            .iter()
            .zip(&messages)
            .map(|(k, m)| k.sign(m).to_bytes())
            .collect();
        let pubs: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
        let items: Vec<shared::sig::Signed<'_>> = (0..n)
            .map(|i| shared::sig::Signed {
                key: &pubs[i],
                message: &messages[i],
                signature: &sigs[i],
            })
            .collect();
        rule.bench_function(format!("ZIP 215, {n} one by one"), |b| {
            b.iter(|| {
                for item in &items {
                    shared::sig::verify(item.key, item.message, item.signature).unwrap();
                }
            })
        });
        rule.bench_function(format!("ZIP 215, batch of {n}"), |b| {
            b.iter(|| shared::sig::verify_batch(black_box(&items)).unwrap())
        });
    }
    rule.finish();
    c.final_summary();
}
