#!/usr/bin/env bash
# Does the slow lane yield the CPU? `slowlane up` runs its /slow workers at nice 10. With both
# slow workers burning CPU (two /slow?ms=N in flight) and two nice-0 CPU hogs started from the
# same shell, this measures the share of the 2 CPUs each side gets over a few seconds.
# Expected: the hogs get most of it (nice 10 weighs ~1/10 of nice 0). A worker alone in its
# own session (a Linux autogroup) would get a full share whatever its nice value.
# Usage: bench/nice_bench.sh [seconds]   (binaries from $SLOWLANE_BIN, default build/bin)
# Prints `result NAME VALUE UNIT` lines (bench/lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_enter
seconds=${1:-5}
port=$(free_port)
broker_port=$(free_port)
log=$(mktemp /tmp/slowlane-nice-XXXX.log)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "${up_pid:-}" ] && kill -TERM "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
    true
}
trap cleanup EXIT
"$bin/slowlane" up --listen "$port" --bind "tcp://127.0.0.1:$broker_port" --log-level warn >"$log" 2>&1 &
up_pid=$!
wait_for_http "http://127.0.0.1:$port/readyz" 10
job_ms=$(((seconds + 4) * 1000))
for _ in 1 2; do
    curl -s -o /dev/null "http://127.0.0.1:$port/slow?ms=$job_ms" &
    pids+=($!)
done
# Measure once the broker counts both slow workers busy (the gateway's /metrics)
busy=0
for _ in $(seq 1 100); do
    if curl -s "http://127.0.0.1:$port/metrics" | grep -q 'slowlane_broker_workers{service="slow",state="busy"} 2'; then
        busy=1
        break
    fi
    sleep 0.1
done
[ $busy = 1 ] || { echo "nice_bench: the slow workers never got busy" >&2; cat "$log" >&2; exit 1; }
slow=$(pgrep -f -- "--service slow" | tr '\n' ' ')
python3 -c 'while True: pass' &
hogs=($!)
python3 -c 'while True: pass' &
hogs+=($!)
pids+=("${hogs[@]}")
slow_before=$(cpu_ticks $slow)
hogs_before=$(cpu_ticks "${hogs[@]}")
sleep "$seconds" # the measuring window, not a wait for a condition
slow_after=$(cpu_ticks $slow)
hogs_after=$(cpu_ticks "${hogs[@]}")
share() { awk -v t="$1" -v hz="$(clock_ticks)" -v s="$seconds" 'BEGIN {printf "%.0f", t * 100 / hz / s}'; }
result nice_slow_workers_cpu_percent "$(share $((slow_after - slow_before)))" "%"
result nice_hogs_cpu_percent "$(share $((hogs_after - hogs_before)))" "%"
