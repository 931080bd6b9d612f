#!/usr/bin/env bash
# Builds the whole project with AddressSanitizer + UBSan into build-asan/ (-DSLOWLANE_SANITIZE=ON)
# and runs the unit tests there, then the system tests matching any argument (ctest -R), in one
# ctest run, SLOWLANE_TEST_JOBS (default: the number of cores) at a time; tests marked
# RUN_SERIAL (tests/system/CMakeLists.txt: those that assert latencies) run alone.
# Any sanitizer report fails the run: it aborts the process that made it, and every report file
# (from test binaries and from the broker, gateway and workers a system test starts) is shown.
# Usage: scripts/sanitize.sh [-E exclude-regex] [system-test-regex ...]
#        e.g. scripts/sanitize.sh test_broker_queue
#        scripts/sanitize.sh .                         (every system test)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan

cmake -S . -B "$build" -DSLOWLANE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

reports="$PWD/$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
# halt + abort: the first report ends the process with SIGABRT, so its test fails; log_path
# keeps the reports of processes whose exit status no test looks at (children killed at the
# end of a system test still run the leak check when they exit on SIGTERM).
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitize.supp:print_suppressions=0"

# The instrumented binaries are 2-3x slower: waits on conditions in the harness last longer
# (tests/system/harness.py; never a sleep, never a test's own elapsed-time assertion).
export SLOWLANE_TIMEOUT_SCALE="${SLOWLANE_TIMEOUT_SCALE:-3}"
# A gateway's default pool is one civetweb thread per allowed connection (2048); under ASan each
# thread costs a fake stack, and starting one gateway took seconds of CPU (test_gateway_admission:
# 26 s of CPU with 2048, 4.7 s with 256). No test here holds more than a few hundred connections,
# and the pool's size changes no code path. Tests that pass --threads keep theirs.
export SLOWLANE_THREADS="${SLOWLANE_THREADS:-256}"
jobs="${SLOWLANE_TEST_JOBS:-$(nproc)}"
exclude=()
if [ "${1:-}" = "-E" ]; then
    exclude=(-E "$2")
    shift 2
fi

rc=0
(cd "$build" && ctest -L unit --output-on-failure) || rc=1
if [ $# -gt 0 ]; then
    regex=$(printf '(%s)|' "$@")
    (cd "$build" && ctest -L system -R "${regex%|}" "${exclude[@]}" -j"$jobs" --output-on-failure) || rc=1
fi

# Every report file fails the run, LeakSanitizer's "Running thread N was not suspended. False
# leaks are possible." included: it means a process was forked while other threads ran and then
# ran on without exec, the pattern of the supervisor's fork hang (fixed by closing the agent's
# ZeroMQ context before each fork), and the likely source of an earlier one-off "16 KB leak
# inside libzmq": memory only the parent's libzmq threads, absent in the child, pointed to.
count=$(find "$reports" -type f | wc -l)
if [ "$count" -ne 0 ]; then
    rc=1
    for report in "$reports"/*; do
        echo "----- $report" >&2
        head -60 "$report" >&2
    done
fi
echo "sanitize: $count sanitizer reports; ctest $([ "$rc" -eq 0 ] && echo passed || echo FAILED)"
exit "$rc"
