#!/usr/bin/env bash
# Gateway benchmarks on `slowlane up` defaults (figures, not tests):
#   1. /fast through the whole path: wrk -t2 -c50 -d10s (target >= 15,000 req/s, no non-2xx)
#   2. /fast latency while /slow is saturated: 8 concurrent 2-second /slow requests kept in
#      flight against 2 slow workers, /fast measured with wrk -t1 -c2 (target p99 <= 5 ms)
# Usage: bench/gateway_bench.sh [duration-seconds]   (binaries from $SLOWLANE_BIN, default build/bin)
#        UP_FLAGS=--separate-broker bench/gateway_bench.sh   (the broker as a process of its own)
# Prints `result NAME VALUE UNIT` lines (bench/lib.sh); raw wrk outputs go to $BENCH_OUT or /tmp.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
duration=${1:-10}
bin=${SLOWLANE_BIN:-build/bin}
command -v wrk >/dev/null || { echo "gateway_bench: wrk missing (scripts/install-deps.sh)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
broker_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp /tmp/slowlane-bench-XXXX.log)
raw=${BENCH_OUT:-/tmp}
mkdir -p "$raw"
fast_out=/tmp/slowlane-wrk-fast.txt slow_out=/tmp/slowlane-wrk-fast-under-slow.txt
if [ -n "${BENCH_OUT:-}" ]; then fast_out=$raw/wrk-fast.txt slow_out=$raw/wrk-fast-under-slow.txt; fi
# shellcheck disable=SC2086 # UP_FLAGS is a list of flags
"$bin/slowlane" up --listen "$port" --bind "tcp://127.0.0.1:$broker_port" --log-level warn \
    ${UP_FLAGS:-} >"$log" 2>&1 &
up_pid=$!
slow_pids=()
cleanup() {
    for p in "${slow_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 200); do
    grep -q "slowlane up: ready" "$log" && break
    kill -0 "$up_pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.05
done
grep -q "slowlane up: ready" "$log" || { echo "gateway_bench: cluster not ready"; cat "$log"; exit 1; }

echo "== /fast throughput: wrk -t2 -c50 -d${duration}s --latency http://127.0.0.1:$port/fast"
cluster=$(descendants "$up_pid")
cpu_before=$(cpu_ticks $cluster)
wrk -t2 -c50 -d"${duration}s" --latency "http://127.0.0.1:$port/fast" | tee "$fast_out"
cpu_after=$(cpu_ticks $cluster)
grep -q "Non-2xx" "$fast_out" && echo "!! non-2xx answers above" || echo "non-2xx: 0"
wrk_results fast "$fast_out" | tee "$raw/fast-results.txt"
requests=$(awk '$2 == "fast_requests" {print $3}' "$raw/fast-results.txt")
# CPU of the whole cluster (gateway, broker, every worker) per request: steadier than the rate
# on a shared machine.
if [ "${requests:-0}" -gt 0 ]; then
    result fast_cluster_cpu_us_per_req "$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(clock_ticks)" \
        -v n="$requests" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')" us
fi

echo
echo "== /fast latency while /slow is saturated (8 x /slow?ms=2000 in flight, 2 slow workers)"
# wrk holds the 8 slow requests (a new one as each answers): one process, no fork per request,
# so the load generator itself does not take CPU from the path being measured.
wrk -t1 -c8 -d"$((duration + 6))s" --timeout 10s "http://127.0.0.1:$port/slow?ms=2000" >/dev/null &
slow_pids+=($!)
# Measure only once both slow workers are busy and the rest of the 8 wait in the queue.
saturated=0
for _ in $(seq 1 100); do
    if curl -s "http://127.0.0.1:$port/metrics" | awk '
        /^slowlane_broker_workers\{.*service="slow".*state="busy"/ { busy = $NF }
        /^slowlane_broker_queue_depth\{.*service="slow"/ { queued = $NF }
        END { exit !(busy >= 2 && queued >= 1) }'; then saturated=1; break; fi
    sleep 0.1
done
[ "$saturated" = 1 ] || { echo "gateway_bench: /slow never saturated the slow workers" >&2; exit 1; }
wrk -t1 -c2 -d"${duration}s" --latency "http://127.0.0.1:$port/fast" | tee "$slow_out"
grep -q "Non-2xx" "$slow_out" && echo "!! non-2xx answers above" || echo "non-2xx: 0"
wrk_results fast_under_slow "$slow_out"
