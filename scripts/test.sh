#!/usr/bin/env bash
# Runs every test of the project: the host-side unit tests of the guest workspaces (SDK, test
# harness, test guests), the host workspace (unit tests, and the integration tests against the
# fake Bot API with modules built from source), then the example modules' own tests, built for
# wasm32-wasip2 and run by `botbox test-runner` against a real bot, as a module author's would
# be. Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/botbox-target}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "== componentize-py for the Python example module (installed once, then reused)"
scripts/build-python-module.sh --setup

for ws in guest-sdk guest-test tests/guests; do
    echo "== host tests of the guest workspace $ws"
    cargo test --manifest-path "$ws/Cargo.toml" 2>&1 | tee -a "$log"
done
echo "== host workspace"
cargo test --workspace 2>&1 | tee -a "$log"

echo "== the example modules' own tests (in botbox test-runner)"
cargo build -p botbox
export CARGO_TARGET_WASM32_WASIP2_RUNNER="$CARGO_TARGET_DIR/debug/botbox test-runner"
cargo test --manifest-path example-modules/Cargo.toml --target wasm32-wasip2 2>&1 | tee -a "$log"

awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
