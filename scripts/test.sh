#!/usr/bin/env bash
# Runs every test of the project: the host-side unit tests of the guest workspaces (SDK, test
# harness, test guests), the host workspace (unit tests, and the integration tests against the
# fake Bot API with modules built from source), then the example modules' own tests, built for
# wasm32-wasip2 and run by `botbox test-runner` against a real bot, as a module author's would
# be. Every step runs even when an earlier one failed; the last line counts the tests of all of
# them ("N passed, N failed"), and the exit status is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/botbox-target}"
# The log that the closing line is counted from lives beside the build, not in /tmp: a fresh-clone
# run once ended with "25 passed" because the log in /tmp vanished during the host tests.
mkdir -p "$CARGO_TARGET_DIR"
log="$CARGO_TARGET_DIR/test-sh.log"
: > "$log"
failed_steps=()

# Runs one step, its output shown and kept for the count.
step() {
    local name="$1"
    shift
    echo "== $name"
    if ! "$@" 2>&1 | tee -a "$log"; then
        failed_steps+=("$name")
    fi
}

# The fault tests preload libfaketime into the real binary to jump its wall clock. Installed here
# when this runs as root with apt (CI); elsewhere the test that needs it fails and says how.
if ! ls /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 &&
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== libfaketime for the clock-jump test (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libfaketime >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libfaketime >/dev/null; } ||
        echo "could not install libfaketime; the clock-jump test will fail"
fi

# The console's browser tests drive Debian's chromium through chromedriver. Installed here when
# this runs as root with apt (CI); elsewhere those tests fail and say how to install them.
if ! command -v chromedriver >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== chromium and chromedriver for the console's browser tests (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; } ||
        echo "could not install chromium; the console's browser tests will fail"
fi

# The PostgreSQL backend's tests start a throwaway server from Debian's binaries (see
# tests/postgres-harness). Installed here when this runs as root with apt (CI); elsewhere those
# tests fail and say which package to install.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== postgresql-15 for the PostgreSQL backend's tests (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >/dev/null; } ||
        echo "could not install postgresql-15; the PostgreSQL tests will fail"
fi

step "componentize-py for the Python example module (installed once, then reused)" \
    scripts/build-python-module.sh --setup

for ws in guest-sdk guest-test tests/guests; do
    step "host tests of the guest workspace $ws" cargo test --no-fail-fast --manifest-path "$ws/Cargo.toml"
done
# With the benchmarks' native baseline compiled in (inert unless a benchmark asks for it), so
# that the test that it answers as the clicker module does runs too.
step "host workspace" cargo test --workspace --no-fail-fast --features botbox/native-baseline

# The host workspace's tests built target/debug/botbox (the integration tests run the real
# binary); building it again with `-p botbox` alone would unify features differently and
# recompile dependencies, so it is built here only if that step did not.
if [ ! -x "$CARGO_TARGET_DIR/debug/botbox" ]; then
    step "botbox for the example modules' own tests" cargo build -p botbox
fi
export CARGO_TARGET_WASM32_WASIP2_RUNNER="$CARGO_TARGET_DIR/debug/botbox test-runner"
step "the example modules' own tests (in botbox test-runner)" \
    cargo test --no-fail-fast --manifest-path example-modules/Cargo.toml --target wasm32-wasip2

echo "== summary"
# libtest's line, wherever it stands on the line (a runner may prefix it):
# "test result: ok. 12 passed; 0 failed; ..."
grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" |
    awk '{ passed += $4; failed += $6; binaries += 1 }
         END { printf "%d test binaries\n", binaries }'
if [ "${#failed_steps[@]}" -gt 0 ]; then
    printf 'failed step: %s\n' "${failed_steps[@]}"
fi
grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" |
    awk '{ passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }'
[ "${#failed_steps[@]}" -eq 0 ]
