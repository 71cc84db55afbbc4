//! Pool vs the system allocator for frame buffers (see `benches::pool_benches`).

fn main() {
    let mut c = benches::criterion();
    benches::pool_benches(&mut c, "system");
    c.final_summary();
}
