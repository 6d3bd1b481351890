#!/usr/bin/env bash
# Runs every test of the project: the host-side unit tests of the guest workspaces (SDK, example
# modules, test guests), then the host workspace (unit tests, and the integration tests against
# the fake Bot API with modules built from source). Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/botbox-target}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "== componentize-py for the Python example module (installed once, then reused)"
scripts/build-python-module.sh --setup

for ws in guest-sdk example-modules tests/guests; do
    echo "== host tests of the guest workspace $ws"
    cargo test --manifest-path "$ws/Cargo.toml" 2>&1 | tee -a "$log"
done
echo "== host workspace"
cargo test --workspace 2>&1 | tee -a "$log"

awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
