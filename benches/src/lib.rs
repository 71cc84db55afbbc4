//! Benchmarks for BitCraps live in `benches/benches/` (criterion, run with
//! `cargo bench -p bitcraps-benches`). This library holds what they share.

/// A deterministic 32-byte seed for run `n` of a benchmark, so runs compare
/// the same inputs.
pub fn seed(n: u32) -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed
}
