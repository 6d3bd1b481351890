#!/usr/bin/env bash
# Runs every test of the project: the host workspace (unit tests, the integration tests against
# the fake Bot API with modules built from source) and the host-side unit tests of the guest
# workspaces (SDK, example modules, test guests).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/botbox-target}"

cargo test --workspace
for ws in guest-sdk example-modules tests/guests; do
    echo "== host tests of the guest workspace $ws"
    cargo test --manifest-path "$ws/Cargo.toml"
done
