//! Pool vs mimalloc for frame buffers: the same bodies as `pool_system`, in
//! a binary whose global allocator is mimalloc.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut c = benches::criterion();
    benches::pool_benches(&mut c, "mimalloc");
    c.final_summary();
}
