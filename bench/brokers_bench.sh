#!/usr/bin/env bash
# Several brokers (issue 18; figures, not tests):
#  1. Two brokers vs one on the same workers and load, interleaved (one, two, one, two): WORKERS
#     processes of builtin:sleep JOB_MS behind a gateway, wrk -c2*WORKERS for SECONDS each. Prints
#     the throughput of each run, the ratio two/one of the means (target >= 0.9) and hand-backs
#     per 1,000 jobs (mmi.stats of both brokers: jobs two brokers sent into the same free slot).
#  2. The same with /fast-style work: builtin:echo workers of capacity 16, CPU-bound on 2 cores.
#  3. Failover: two brokers under the sleep load; 10 s of wrk with one broker killed (kill -9) at
#     5 s, then 10 s with one broker stopped (SIGSTOP) at 5 s: failed requests and p99/max latency
#     of those 10 s.
# Usage: bench/brokers_bench.sh [seconds]   (binaries from $SLOWLANE_BIN, default build/bin)
# Knobs: WORKERS=50 JOB_MS=20 ECHO_WORKERS=4
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_enter
duration=${1:-8}
workers=${WORKERS:-50}
job_ms=${JOB_MS:-20}
echo_workers=${ECHO_WORKERS:-4}
out=$(bench_out_dir)
py=/usr/bin/python3

pids=()
cleanup() { stop_pids "${pids[@]}"; }
trap cleanup EXIT

# mmi_field ENDPOINT SERVICE FIELD: one counter of a service from the broker's mmi.stats.
mmi_field() {
    "$py" - "$1" "$2" "$3" <<'EOF'
import json, sys, zmq
endpoint, service, field = sys.argv[1:]
s = zmq.Context.instance().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 3000)
s.connect(endpoint)
s.send_multipart([b"MDPC02", b"\x01", b"mmi.stats", b""])
doc = json.loads(s.recv_multipart()[-1])
print(next((x.get(field, 0) for x in doc["services"] if x["name"] == service), 0))
EOF
}

# start_cluster BROKERS SERVICE HANDLER COUNT EXTRA...: brokers, one supervisor and a gateway
# attached to every broker; sets endpoints[], broker_pids[], gateway_port.
start_cluster() {
    local brokers=$1 service=$2 handler=$3 count=$4
    shift 4
    endpoints=()
    broker_pids=()
    local flags=() i
    for ((i = 0; i < brokers; i++)); do
        local port
        port=$(free_port)
        endpoints+=("tcp://127.0.0.1:$port")
        "$bin/slowlane-broker" --bind "tcp://127.0.0.1:$port" --log-level warn \
            >"$out/brokers-broker$i.log" 2>&1 &
        broker_pids+=($!)
        pids+=($!)
        flags+=(--broker "tcp://127.0.0.1:$port")
    done
    "$bin/slowlane-worker" "${flags[@]}" --service "$service" --handler "$handler" \
        --count "$count" --log-level warn "$@" >"$out/brokers-workers.log" 2>&1 &
    pids+=($!)
    gateway_port=$(free_port)
    "$bin/slowlane-gateway" --listen "127.0.0.1:$gateway_port" "${flags[@]}" \
        --route "/$service=$service,budget=1000" --access-log=false --log-level warn \
        >"$out/brokers-gateway.log" 2>&1 &
    pids+=($!)
    for endpoint in "${endpoints[@]}"; do
        wait_for_workers "$endpoint" "$service" "$count" 60
    done
    wait_for_http "http://127.0.0.1:$gateway_port/$service" 10
}

stop_cluster() {
    stop_pids "${pids[@]}"
    pids=()
}

# run_load NAME URL CONNECTIONS SECONDS: wrk into $out/wrk-NAME.txt; prints NAME's result lines.
run_load() {
    wrk -t2 -c"$3" -d"$4s" --timeout 10s --latency "$2" >"$out/wrk-$1.txt"
    wrk_results "$1" "$out/wrk-$1.txt"
}

# compare KIND SERVICE HANDLER COUNT CONNECTIONS QUERY EXTRA...: one, two, one, two brokers.
compare() {
    local kind=$1 service=$2 handler=$3 count=$4 connections=$5 query=$6
    shift 6
    local rates_one=() rates_two=() handbacks=0 jobs=0 round brokers
    for round in 1 2; do
        for brokers in 1 2; do
            start_cluster "$brokers" "$service" "$handler" "$count" "$@"
            local name="${kind}_${brokers}b_r$round"
            run_load "$name" "http://127.0.0.1:$gateway_port/$service$query" "$connections" \
                "$duration" >"$out/$name.results"
            local rps
            rps=$(awk '$2 ~ /_rps$/ {print $3}' "$out/$name.results")
            echo "   $kind: $brokers broker(s), round $round: $rps req/s ($(awk '$2 ~ /_errors$/ {print $3}' "$out/$name.results") errors)"
            if [ "$brokers" = 1 ]; then rates_one+=("$rps"); else
                rates_two+=("$rps")
                local endpoint
                for endpoint in "${endpoints[@]}"; do
                    handbacks=$((handbacks + $(mmi_field "$endpoint" "$service" handbacks)))
                    jobs=$((jobs + $(mmi_field "$endpoint" "$service" replies)))
                done
            fi
            stop_cluster
        done
    done
    local one two
    one=$(printf '%s\n' "${rates_one[@]}" | awk '{s += $1} END {printf "%.0f", s / NR}')
    two=$(printf '%s\n' "${rates_two[@]}" | awk '{s += $1} END {printf "%.0f", s / NR}')
    result "brokers_${kind}_one_rps" "$one" req/s
    result "brokers_${kind}_two_rps" "$two" req/s
    result "brokers_${kind}_two_over_one" "$(awk -v a="$two" -v b="$one" 'BEGIN {printf "%.2f", a / b}')" ratio
    result "brokers_${kind}_handbacks_per_1000" \
        "$(awk -v h="$handbacks" -v j="$jobs" 'BEGIN {printf "%.1f", j ? 1000 * h / j : 0}')" per_1000_jobs
}

echo "== two brokers vs one: $workers workers x builtin:sleep ${job_ms} ms, wrk -c$((2 * workers)), ${duration} s each, interleaved"
compare sleep sleep builtin:sleep "$workers" $((2 * workers)) "?ms=$job_ms"
echo "== two brokers vs one: $echo_workers workers x builtin:echo capacity 16 (CPU-bound), wrk -c64"
compare echo fast builtin:echo "$echo_workers" 64 "" --capacity 16

# failover SIGNAL NAME: 10 s of load through two brokers, SIGNAL to the first at 5 s.
failover() {
    local sig=$1 name=$2
    start_cluster 2 sleep builtin:sleep "$workers"
    local victim=${broker_pids[0]}
    (sleep 5 && kill "-$sig" "$victim") &
    local killer=$!
    run_load "failover_$name" "http://127.0.0.1:$gateway_port/sleep?ms=$job_ms" $((2 * workers)) 10 |
        tee "$out/failover_$name.results"
    wait "$killer" || true
    [ "$sig" = STOP ] && kill -CONT "$victim" 2>/dev/null || true
    result "failover_${name}_max_ms" "$(awk '/Latency/ && !/Distribution/ {print $4}' "$out/wrk-failover_$name.txt" |
        awk '{v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[^m]s$/) v *= 1000; printf "%.0f", v}')" ms
    stop_cluster
}
echo "== failover: two brokers, $workers sleep workers, wrk 10 s, kill -9 of one broker at 5 s"
failover KILL kill9
echo "== failover: the same, SIGSTOP of one broker at 5 s"
failover STOP sigstop
