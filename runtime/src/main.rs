//! The `botbox` command (see [`botbox::cli`]).

/// jemalloc, configured in `.cargo/config.toml` to return freed pages to the system within a
/// second, from a background thread, even while the bot is idle (glibc's malloc kept what
/// wasmtime's compile threads freed: see docs/benchmarks.md, "Memory").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    botbox::cli::main()
}
