//! Dice derivation: the engine's unbiased rejection sampling vs the plain
//! (biased) `byte % 6` a first version would write, on the same SHA-256
//! output, so the price of fairness is measured.

use sha2::{Digest, Sha256};
use std::hint::black_box;

fn biased_modulo(seed: &[u8; 32]) -> (u8, u8) {
    let block: [u8; 32] = Sha256::digest(seed).into();
    (block[0] % 6 + 1, block[1] % 6 + 1)
}

fn main() {
    let mut c = benches::criterion();
    let mut group = c.benchmark_group("dice_from_seed");
    let seeds: Vec<_> = (0..1024).map(benches::seed).collect();
    group.bench_function("unbiased_rejection (engine)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % seeds.len();
            black_box(shared::Roll::from_seed(black_box(&seeds[i])))
        })
    });
    group.bench_function("biased_modulo (plain)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % seeds.len();
            black_box(biased_modulo(black_box(&seeds[i])))
        })
    });
    group.finish();
    c.final_summary();
}
