//! A game message's signature check: decompressing the sender's key for
//! every message (what `SignedMessage::verify` does) vs the key a session
//! keeps per sender (`verify_with`), beside the cost of signing. A roll of
//! 8 players costs every peer 14 checks, so this is most of a roll's CPU.

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
    c.final_summary();
}
