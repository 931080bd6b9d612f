#!/usr/bin/env bash
# Scale by count (issue #8 row 5; a figure, not a test): 200 worker processes, each sleeping
# 50 ms per job (builtin:sleep, no CPU), behind broker and gateway. Ideal: 200 / 0.050 s =
# 4,000 jobs/s; target >= 90% of it. The load generator keeps twice as many requests in flight
# as there are workers (wrk -c400), so a worker that finishes finds the next job already queued
# in the broker: the figure is what the path loses per job, not what the client fails to offer.
# The route's budget (default 256) is raised to 1000 so the gateway admits all 400.
# Usage: bench/scale_bench.sh [seconds]   (binaries from $SLOWLANE_BIN, default build/bin)
# Knobs: WORKERS=200 JOB_MS=50 CONNECTIONS=2*WORKERS
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_enter
duration=${1:-10}
workers=${WORKERS:-200}
job_ms=${JOB_MS:-50}
connections=${CONNECTIONS:-$((workers * 2))}
out=$(bench_out_dir)
port=$(free_port)
broker_port=$(free_port)
endpoint="tcp://127.0.0.1:$broker_port"

pids=()
cleanup() { stop_pids "${pids[@]}"; }
trap cleanup EXIT
"$bin/slowlane-broker" --bind "$endpoint" --log-level warn >"$out/scale-broker.log" 2>&1 &
broker_pid=$!
pids+=($!)
"$bin/slowlane-worker" --broker "$endpoint" --service sleep --handler builtin:sleep \
    --count "$workers" --log-level warn >"$out/scale-workers.log" 2>&1 &
pids+=($!)
"$bin/slowlane-gateway" --listen "127.0.0.1:$port" --broker "$endpoint" \
    --route "/sleep=sleep,budget=1000" --access-log=false --log-level warn \
    >"$out/scale-gateway.log" 2>&1 &
gateway_pid=$!
pids+=($!)
wait_for_workers "$endpoint" sleep "$workers" 60
wait_for_http "http://127.0.0.1:$port/sleep?ms=0" 10

url="http://127.0.0.1:$port/sleep?ms=$job_ms"
echo "== $workers workers x ${job_ms} ms: wrk -t2 -c$connections -d${duration}s --latency $url"
cpu_before=$(cpu_ticks "$broker_pid" "$gateway_pid")
wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s --latency "$url" | tee "$out/wrk-scale.txt"
cpu_after=$(cpu_ticks "$broker_pid" "$gateway_pid")

ideal=$((workers * 1000 / job_ms))
wrk_results scale "$out/wrk-scale.txt" | tee "$out/scale-results.txt"
rps=$(awk '$2 == "scale_rps" {print $3}' "$out/scale-results.txt")
requests=$(awk '$2 == "scale_requests" {print $3}' "$out/scale-results.txt")
result scale_ideal_rps "$ideal" jobs/s
result scale_pct_of_ideal "$(awk -v r="$rps" -v i="$ideal" 'BEGIN {printf "%.1f", 100 * r / i}')" %
if [ "${requests:-0}" -gt 0 ]; then
    result scale_broker_gateway_cpu_us_per_req \
        "$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(clock_ticks)" -v n="$requests" \
            'BEGIN {printf "%.1f", t * 1e6 / hz / n}')" us
fi
