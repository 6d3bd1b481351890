//! Updates per second through intake → router → clicker → group commit → outbox enqueue,
//! in-process against the fake Bot API, with per-update latency. Prints one JSON object per
//! scenario; never fails on speed.
//!
//! Run: `cargo bench -p botbox --bench throughput` (release build).

mod clicker_load;
mod support;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        for feed in [clicker_load::POLLING, clicker_load::WEBHOOK] {
            println!("{}", clicker_load::run(&feed, false).await);
        }
    });
}
