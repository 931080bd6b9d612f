#!/usr/bin/env bash
# Runs selected system tests with every slowlane binary they start under valgrind memcheck
# (harness.py puts $SLOWLANE_WRAPPER before each one; a supervisor's forked workers stay under
# it) and fails on any memcheck error or any definitely or indirectly lost block, or if a test
# fails. Builds build-valgrind/ (RelWithDebInfo, no sanitizer). One log per process in
# build-valgrind/valgrind-logs/; the bad ones are shown.
# Usage: scripts/valgrind.sh [system-test-regex ...]
#   (default: the broker, worker and gateway tests below, the gateway seed scenario among them,
#   the broker embedded in the gateway (test_gateway_embedded) and the supervisor's
#   test_worker_supervisor)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-valgrind
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)" >&2; exit 1; }
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

logs="$PWD/$build/valgrind-logs"
rm -rf "$logs"
mkdir -p "$logs"
# Definite and indirect leaks count as errors; %p gives a forked worker its own log.
# --fair-sched: valgrind runs one thread at a time, and a worker's heartbeat thread must get its
# turn while its job thread spins (builtin:busy), as it does on real cores.
export SLOWLANE_WRAPPER="valgrind --error-exitcode=99 --leak-check=full \
--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --num-callers=30 \
--fair-sched=yes --max-threads=2100 --log-file=$logs/vg.%p.log"
# Valgrind makes every binary 20-50x slower: waits on conditions in the harness last this many
# times longer (never a sleep, never an asserted bound).
export SLOWLANE_TIMEOUT_SCALE="${SLOWLANE_TIMEOUT_SCALE:-6}"
# Valgrind runs one thread at a time: a worker's or the broker's heartbeat (every 100 ms in the
# tests) may come several periods late, so peers count as dead after 10 missed ones, not 3.
export SLOWLANE_TEST_LIVENESS="${SLOWLANE_TEST_LIVENESS:-10}"
# The gateway's civetweb threads (one per connection, 2048 by default) all start at once, which
# takes valgrind ~40 s per gateway; these tests hold at most a few dozen connections, so the
# gateway reads --threads from the environment (sl_flags) as 64. Memcheck still sees every
# code path: the thread count only sizes civetweb's pool.
export SLOWLANE_THREADS="${SLOWLANE_THREADS:-64}"
patterns=("$@")
# test_broker_queue is left to ASan (84 s here): the broker runs under memcheck in every test
# below, each of which goes through it.
# test_worker_broker$: the one broker's worker (test_worker_brokers, credit and hand-back,
# runs under ASan).
# test_cluster_api is left to ASan too (92 s here, 37 s under ASan since its gateways run a
# 256-thread pool there): the admin API's C is the gateway's, which the tests below drive.
[ ${#patterns[@]} -gt 0 ] || patterns=('test_worker_broker$' test_gateway_http
    test_gateway_rfc9112 test_gateway_replies test_gateway_seed test_gateway_embedded
    test_worker_supervisor)

# One ctest run, SLOWLANE_TEST_JOBS (default: the number of cores) tests at a time; RUN_SERIAL
# ones (tests/system/CMakeLists.txt) alone.
regex=$(printf '(%s)|' "${patterns[@]}")
rc=0
(cd "$build" && ctest -L system -R "${regex%|}" -j"${SLOWLANE_TEST_JOBS:-$(nproc)}" \
    --output-on-failure --timeout 600) || rc=1

bad=0 unfinished=0 total=0
for log in "$logs"/vg.*.log; do
    [ -e "$log" ] || continue
    total=$((total + 1))
    summary=$(grep -o "ERROR SUMMARY: [0-9]* errors" "$log" | tail -1 || true)
    if [ -z "$summary" ]; then
        # No closing summary: the process was killed with SIGKILL (a test kills a worker on
        # purpose, or the harness reaped a process that ignored SIGTERM), or it is a worker's
        # fork that exec'd an exec: handler's program (valgrind does not follow the exec). No
        # leak check then; errors found before that are still in the log.
        unfinished=$((unfinished + 1))
        if grep -q "^==[0-9]*== \(Invalid\|Conditional\|Use of\|Syscall param\|Mismatched\|Source and destination\)" "$log"; then
            bad=$((bad + 1))
            echo "----- $log (killed before its end, with errors)" >&2
            head -80 "$log" >&2
        else
            echo "valgrind: no leak check (killed, or exec'd a handler): $(basename "$log")" \
                "$(grep -m1 -o "Command: .*" "$log" | cut -c1-160)" >&2
        fi
    elif [ "$summary" != "ERROR SUMMARY: 0 errors" ]; then
        bad=$((bad + 1))
        echo "----- $log" >&2
        grep -v "^==[0-9]*== *$" "$log" | head -80 >&2
    fi
done
[ "$bad" -eq 0 ] || rc=1
[ "$total" -gt 0 ] || { echo "valgrind: no process ran under valgrind" >&2; rc=1; }
echo "valgrind: $total processes checked, $bad with errors or definite/indirect leaks" \
    "($unfinished ended without a leak check: killed, or exec'd a handler); ctest $([ "$rc" -eq 0 ] && echo passed || echo FAILED)"
exit "$rc"
