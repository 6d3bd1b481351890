#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a set time, one after another, and prints a
# table: target, CPU-seconds, executions, corpus size, crashes. See docs/fuzzing.md.
#
#   scripts/fuzz.sh [seconds-per-target]        (default 180)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and libFuzzer's nightly flags: a nightly toolchain,
# or the stable one with RUSTC_BOOTSTRAP=1 (what this script sets; no nightly is needed). The committed corpus
# (fuzz/corpus/<target>/) seeds each run and is not changed; what a run finds goes to
# $FUZZ_WORK (default fuzz/target-work/): corpus/<target>/ (new inputs) and
# artifacts/<target>/ (crashes, with libFuzzer's log). With FUZZ_MERGE=1 the inputs that add
# coverage are merged into the committed corpus afterwards. FUZZ_TARGETS="a b" picks targets.
# The exit status is non-zero when a target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-180}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/fuzz/target}"
work="${FUZZ_WORK:-$PWD/fuzz/target-work}"
targets="${FUZZ_TARGETS:-update_convert router webhook backup_reader kv_keys config manifest}"

# No sanitizer: the host forbids `unsafe`, so AddressSanitizer would only slow every run; panics,
# overflow checks (debug assertions stay on) and the targets' own assertions are the findings.
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build --sanitizer none --target-dir "$CARGO_TARGET_DIR")
bin_dir="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"

rows=()
crashed=0
for t in $targets; do
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    log="$work/artifacts/$t/libfuzzer.log"
    dict=()
    [ -f "fuzz/dicts/$t.dict" ] && dict=(-dict="fuzz/dicts/$t.dict")
    echo "== $t: ${seconds}s" >&2
    start_cpu=$( { cat /proc/$$/stat; } | awk '{print $16 + $17}')
    # The committed corpus after the work corpus: new inputs are written to the first directory.
    status=0
    "$bin_dir/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1 "${dict[@]}" -artifact_prefix="$work/artifacts/$t/" \
        "$work/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    # Children's CPU time (user + system), in clock ticks, as the kernel counted it.
    end_cpu=$( { cat /proc/$$/stat; } | awk '{print $16 + $17}')
    cpu=$(( (end_cpu - start_cpu) / $(getconf CLK_TCK) ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "$work/corpus/$t" "fuzz/corpus/$t" -type f | wc -l)
    crashes=$(find "$work/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
    if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        crashed=1
        echo "   $t stopped with status $status; see $log" >&2
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "$bin_dir/$t" -merge=1 -max_len=16384 "fuzz/corpus/$t" "$work/corpus/$t" >>"$log" 2>&1
    fi
    rows+=("$(printf '%-15s %12s %12s %8s %8s' "$t" "$cpu" "${execs:-?}" "$corpus" "$crashes")")
done

printf '%-15s %12s %12s %8s %8s\n' target cpu-seconds execs corpus crashes
printf '%s\n' "${rows[@]}"
exit "$crashed"
