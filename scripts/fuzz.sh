#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang into build-fuzz/ and runs each for a bounded
# time on a copy of its seed corpus (fuzz/corpus/<target>/, left untouched). Prints one
# "fuzz <target>: N execs, K crashes" line per target and exits non-zero if any target crashed.
# Usage: scripts/fuzz.sh [seconds-per-target, default 30; 0 replays the seed corpus only]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2
    exit 2
fi
build=build-fuzz
targets=(fuzz_mdp_decode fuzz_envelope fuzz_headers fuzz_routes fuzz_agent fuzz_framing)

command -v clang >/dev/null || { echo "fuzz: clang missing: run scripts/install-deps.sh" >&2; exit 1; }
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DSLOWLANE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_targets -j"$(nproc)" >/dev/null

# A sanitizer report must end the run as a crash, leaks included.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

failed=0
for target in "${targets[@]}"; do
    work="$build/fuzz-run/$target"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp fuzz/corpus/"$target"/* "$work/corpus/"
    if [ "$seconds" -eq 0 ]; then
        budget=(-runs=0)
    else
        budget=(-max_total_time="$seconds")
    fi
    rc=0
    "$build/fuzz/$target" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
        >"$work/log" 2>&1 || rc=$?
    # Executions: the final stats line, else "Done N runs", else the last "#N" status line.
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$work/log" | tail -1)
    crashes=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # died without saving an input (e.g. at start-up): still a failure
    fi
    echo "fuzz $target: ${execs:-0} execs, $crashes crashes"
    if [ "$crashes" -ne 0 ]; then
        failed=1
        grep -E -A25 '^==[0-9]+==ERROR|runtime error|fuzz check failed' "$work/log" | head -40 >&2 || true
        find "$work/artifacts" -type f -printf "fuzz $target: input saved as %p\n" >&2
        echo "fuzz $target: replay with $build/fuzz/$target <input>; full log $work/log" >&2
    fi
done
exit "$failed"
