#!/usr/bin/env bash
# Scale by count (issue #8 row 5; a figure, not a test): 200 worker processes, each sleeping
# 50 ms per job (builtin:sleep, no CPU), behind broker and gateway. Ideal: 200 / 0.050 s =
# 4,000 jobs/s; target >= 90% of it. The load generator keeps twice as many requests in flight
# as there are workers (wrk -c400), so a worker that finishes finds the next job already queued
# in the broker: the figure is what the path loses per job, not what the client fails to offer.
# A second run (issue 25) keeps as many requests in flight as there are workers (wrk -c200):
# there every job pays the whole path's latency. Each run reports jobs/s, % of ideal, the
# latency quantiles, and the CPU and context switches per job of every process of the path.
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
supervisor_pid=$!
pids+=($!)
"$bin/slowlane-gateway" --listen "127.0.0.1:$port" --broker "$endpoint" \
    --route "/sleep=sleep,budget=1000" --access-log=false --log-level warn \
    >"$out/scale-gateway.log" 2>&1 &
gateway_pid=$!
pids+=($!)
wait_for_workers "$endpoint" sleep "$workers" 60
wait_for_http "http://127.0.0.1:$port/sleep?ms=0" 10

url="http://127.0.0.1:$port/sleep?ms=$job_ms"
ideal=$((workers * 1000 / job_ms))
result scale_ideal_rps "$ideal" jobs/s
# Every process of the path: broker, gateway, the supervisor and its workers
fleet=$(descendants "$broker_pid" "$gateway_pid" "$supervisor_pid" | tr '\n' ' ')
# measure PREFIX CONNECTIONS: one wrk run, its results under PREFIX_*
measure() {
    local prefix=$1 connections=$2
    echo "== $workers workers x ${job_ms} ms: wrk -t2 -c$connections -d${duration}s --latency $url"
    wrk -t2 -c"$connections" -d1s "$url" >/dev/null # warm-up: connections and worker caches
    local cpu_before switches_before cpu_after switches_after
    cpu_before=$(cpu_ticks $fleet)
    switches_before=$(ctx_switches $fleet)
    wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s --latency "$url" | tee "$out/wrk-$prefix.txt"
    cpu_after=$(cpu_ticks $fleet)
    switches_after=$(ctx_switches $fleet)
    wrk_results "$prefix" "$out/wrk-$prefix.txt" | tee "$out/$prefix-results.txt"
    local rps requests
    rps=$(awk -v m="${prefix}_rps" '$2 == m {print $3}' "$out/$prefix-results.txt")
    requests=$(awk -v m="${prefix}_requests" '$2 == m {print $3}' "$out/$prefix-results.txt")
    result "${prefix}_pct_of_ideal" "$(awk -v r="$rps" -v i="$ideal" 'BEGIN {printf "%.1f", 100 * r / i}')" %
    if [ "${requests:-0}" -gt 0 ]; then
        result "${prefix}_cpu_us_per_job" \
            "$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(clock_ticks)" -v n="$requests" \
                'BEGIN {printf "%.1f", t * 1e6 / hz / n}')" us
        result "${prefix}_switches_per_job" \
            "$(awk -v s=$((switches_after - switches_before)) -v n="$requests" \
                'BEGIN {printf "%.1f", s / n}')" switches
    fi
}
# Row 5 as it was: twice as many clients as workers, the next job already queued
measure scale "$connections"
# Issue 25's row: as many clients as workers, so every job pays the whole path's latency
measure scale_c1 "$workers"
