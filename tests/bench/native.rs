//! What WebAssembly costs: the clicker as the WebAssembly module and as the native baseline
//! (`sandbox/native.rs`: the same handler in Rust inside the host, through the same runtime
//! path — intake, router, shard, KV transaction, group commit, outbox), in one run, alternating
//! so that the machine's load falls on both alike. Prints every run, then per scenario the
//! medians and the ratio wasm ÷ native (1.0: WebAssembly costs nothing). Never fails on speed.
//!
//! Run: `cargo bench -p botbox --features native-baseline --bench native`
//! (`BOTBOX_BENCH_ROUNDS`, default 3: runs of each variant per scenario).

mod clicker_load;
mod support;

use serde_json::{Value, json};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn figure(runs: &[Value], key: &str) -> f64 {
    median(runs.iter().filter_map(|r| r[key].as_f64()).collect())
}

fn main() {
    let rounds: usize = std::env::var("BOTBOX_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        for feed in [clicker_load::POLLING, clicker_load::WEBHOOK] {
            let (mut wasm, mut native) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                // Alternate which goes first, so neither always runs on a warmer machine.
                for is_native in [round % 2 == 1, round % 2 == 0] {
                    let figures = clicker_load::run(&feed, is_native).await;
                    println!("{figures}");
                    if is_native { &mut native } else { &mut wasm }.push(figures);
                }
            }
            let (w, n) = (
                figure(&wasm, "updates_per_sec"),
                figure(&native, "updates_per_sec"),
            );
            println!(
                "{}",
                json!({
                    "scenario": feed.name,
                    "rounds": rounds,
                    "wasm_updates_per_sec": w.round(),
                    "native_updates_per_sec": n.round(),
                    "ratio_wasm_to_native": (w / n * 1000.0).round() / 1000.0,
                    "wasm_latency_us_p50": figure(&wasm, "latency_us_p50").round(),
                    "native_latency_us_p50": figure(&native, "latency_us_p50").round(),
                    "wasm_latency_us_p99": figure(&wasm, "latency_us_p99").round(),
                    "native_latency_us_p99": figure(&native, "latency_us_p99").round(),
                    "wasm_handler_us_p50": figure(&wasm, "handler_us_p50"),
                    "native_handler_us_p50": figure(&native, "handler_us_p50"),
                    "wasm_handler_us_p99": figure(&wasm, "handler_us_p99"),
                    "native_handler_us_p99": figure(&native, "handler_us_p99"),
                    "wasm_cpu_us_per_update": figure(&wasm, "cpu_us_per_update"),
                    "native_cpu_us_per_update": figure(&native, "cpu_us_per_update"),
                    "ratio_cpu_native_to_wasm": (figure(&native, "cpu_us_per_update")
                        / figure(&wasm, "cpu_us_per_update") * 1000.0).round() / 1000.0,
                })
            );
        }
    });
}
