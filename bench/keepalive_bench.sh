#!/usr/bin/env bash
# 1,000 concurrent keep-alive clients (issue #8 row 7; a figure, not a test): `slowlane up`
# with its defaults (gateway --max-connections 2048, so 1,000 connections each get a civetweb
# thread) and wrk holding 1,000 keep-alive connections on /fast, each sending its next request
# as soon as it has the answer, so up to 1,000 requests are in flight. Every answer that is
# not a 2xx and every socket error counts as an error. Two runs on the same cluster:
#   keepalive_default: `up`'s own gateway, /fast budget 256 (the default): admission control
#     answers 503 to what is over the budget, by design; counted, shown, not judged;
#   keepalive: a fresh gateway whose /fast route has budget=1024 (BUDGET=N), so admission
#     never refuses one of the 1,000 clients: the row's target is judged on this one.
# Reports errors, rate, latency and the gateway's VmHWM (peak RSS) and thread count.
# Targets: no errors, gateway RSS <= 100 MB.
# Usage: bench/keepalive_bench.sh [seconds]   (binaries from $SLOWLANE_BIN, default build/bin)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_enter
duration=${1:-10}
connections=${CONNECTIONS:-1000}
budget=${BUDGET:-1024}
out=$(bench_out_dir)
port=$(free_port)
broker_port=$(free_port)
endpoint="tcp://127.0.0.1:$broker_port"
[ "$(ulimit -n)" -gt $((connections + 64)) ] || ulimit -n $((connections + 1024))

pids=()
cleanup() { stop_pids "${pids[@]}"; }
trap cleanup EXIT
"$bin/slowlane" up --listen "$port" --bind "$endpoint" --log-level warn >"$out/keepalive-up.log" 2>&1 &
up_pid=$!
pids+=($!)
wait_for_log "$out/keepalive-up.log" "slowlane up: ready" "$up_pid" 30 ||
    { cat "$out/keepalive-up.log"; exit 1; }
up_gateway=$(pgrep -P "$up_pid" -x slowlane-gatewa)

# measure PREFIX PORT GATEWAY_PID: one wrk run of $connections keep-alive clients.
measure() {
    local prefix=$1 port=$2 gateway_pid=$3 url cpu_before cpu_after hwm threads non2xx requests
    url="http://127.0.0.1:$port/fast"
    echo "== $prefix: $connections keep-alive clients: wrk -t2 -c$connections -d${duration}s --latency $url"
    echo "gateway $gateway_pid before: VmRSS $(status_kb "$gateway_pid" VmRSS) kB, VmHWM $(status_kb "$gateway_pid" VmHWM) kB"
    cpu_before=$(cpu_ticks "$gateway_pid")
    wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s --latency "$url" | tee "$out/wrk-$prefix.txt"
    cpu_after=$(cpu_ticks "$gateway_pid")
    hwm=$(status_kb "$gateway_pid" VmHWM)
    threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$gateway_pid/status")
    echo "gateway after: VmRSS $(status_kb "$gateway_pid" VmRSS) kB, VmHWM $hwm kB, threads $threads"
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$out/wrk-$prefix.txt")
    echo "non-2xx answers: ${non2xx:-0}"
    wrk_results "$prefix" "$out/wrk-$prefix.txt" | tee "$out/$prefix-results.txt"
    requests=$(awk -v m="${prefix}_requests" '$2 == m {print $3}' "$out/$prefix-results.txt")
    result "${prefix}_non2xx" "${non2xx:-0}" requests
    result "${prefix}_gateway_hwm_mb" "$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}')" MB
    result "${prefix}_gateway_threads" "$threads" threads
    if [ "${requests:-0}" -gt 0 ]; then
        result "${prefix}_gateway_cpu_us_per_req" \
            "$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(clock_ticks)" -v n="$requests" \
                'BEGIN {printf "%.1f", t * 1e6 / hz / n}')" us
    fi
}

# 1. `slowlane up` as it is: the /fast budget of 256 sheds what is over it (503, counted).
measure keepalive_default "$port" "$up_gateway"

# 2. The figure the target is judged on: the same cluster, a fresh gateway of ours (its VmHWM
#    is this run's alone) whose /fast route admits every client (budget=$budget).
port=$(free_port)
"$bin/slowlane-gateway" --listen "127.0.0.1:$port" --broker "$endpoint" \
    --route "/fast=fast,methods=GET|POST,budget=$budget" --log-level warn \
    >"$out/keepalive-gateway.log" 2>&1 &
gateway_pid=$!
pids+=("$gateway_pid")
wait_for_http "http://127.0.0.1:$port/fast" 10
measure keepalive "$port" "$gateway_pid"
