#!/usr/bin/env bash
# Runs selected system tests with every slowlane binary they start under valgrind memcheck
# (harness.py puts $SLOWLANE_WRAPPER before each one) and fails on any memcheck error or any
# definitely lost block. Builds build-valgrind/ (RelWithDebInfo, no sanitizer). One log per
# process in build-valgrind/valgrind-logs/; the bad ones are shown.
# Usage: scripts/valgrind.sh [system-test-regex ...]   (default: a quick subset)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-valgrind
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)" >&2; exit 1; }
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

logs="$PWD/$build/valgrind-logs"
rm -rf "$logs"
mkdir -p "$logs"
export SLOWLANE_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full \
--show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=30 --max-threads=2000 \
--log-file=$logs/vg.%p.log"
patterns=("$@")
[ ${#patterns[@]} -gt 0 ] || patterns=(test_broker_queue test_gateway_http test_gateway_replies)

rc=0
for pattern in "${patterns[@]}"; do
    (cd "$build" && ctest -L system -R "$pattern" --output-on-failure --timeout 600) || rc=1
done

bad=0 incomplete=0 total=0
for log in "$logs"/vg.*.log; do
    [ -e "$log" ] || continue
    total=$((total + 1))
    # --quiet: a clean process leaves an empty log; errors, definite leaks and valgrind's own
    # failures are written, so any non-empty log fails the run.
    if [ -s "$log" ]; then
        bad=$((bad + 1))
        echo "----- $log" >&2
        head -80 "$log" >&2
    fi
done
[ "$bad" -eq 0 ] || rc=1
echo "valgrind: $total processes checked, $bad with errors or definite leaks; ctest $([ "$rc" -eq 0 ] && echo passed || echo FAILED)"
exit "$rc"
