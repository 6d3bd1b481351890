//! Latency figures of the benches that time answers (inline, payments): p50, p99 and the
//! largest, in milliseconds, from sorted samples.

use serde_json::{Value, json};

/// `{answered, p50_ms, p99_ms, max_ms}` of `latencies` (milliseconds, sorted ascending).
pub fn summary(latencies: &[f64]) -> Value {
    if latencies.is_empty() {
        return json!({ "answered": 0 });
    }
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        (latencies[i] * 10.0).round() / 10.0
    };
    json!({
        "answered": latencies.len(),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": at(1.0),
    })
}
