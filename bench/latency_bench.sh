#!/usr/bin/env bash
# Latency overhead of the path (issue #8 row 8; a figure, not a test): what gateway -> broker ->
# worker -> back adds to one request at low load, over calling the same handler directly.
#   path:   `slowlane up` defaults, GET /fast (builtin:echo on a worker of capacity 16)
#   direct: bench-direct-server: the same civetweb server options, the gateway's own request
#           envelope and response code and the same builtin:echo handler, called in-process
#           (bench_direct_server.c says exactly what is in and out)
# Both measured by bench-latency with the same settings: one keep-alive connection, one request
# at a time, one request every INTERVAL_US (1 ms: ~1,000 req/s, nothing queues, every process
# sleeps between requests). ROUNDS rounds alternating, the best (lowest) percentile of each
# side. Overhead = path p50 - direct p50 (target <= 150 us); p99 likewise, for information.
# Also the context switches per request of each side's processes (round 1, heartbeats included:
# ~1 per second per thread, noise next to 10,000 requests): each is a thread put to sleep and
# woken again, the hand-offs that dominate an idle round trip and that scheduling delay on a
# busy machine multiplies.
# Then the floor under the overhead: a bare libzmq round trip per TCP hop (bench-zmq-rtt), see the end.
# Usage: bench/latency_bench.sh [requests]   (default 10000; binaries from $SLOWLANE_BIN)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_enter
requests=${1:-10000}
interval_us=${INTERVAL_US:-1000}
rounds=${ROUNDS:-2}
out=$(bench_out_dir)
up_port=$(free_port)
direct_port=$(free_port)
broker_port=$(free_port)

pids=()
cleanup() { stop_pids "${pids[@]}"; }
trap cleanup EXIT
"$bin/slowlane" up --listen "$up_port" --bind "tcp://127.0.0.1:$broker_port" --log-level warn \
    >"$out/latency-up.log" 2>&1 &
up_pid=$!
pids+=($!)
"$bin/bench-direct-server" --listen "127.0.0.1:$direct_port" >"$out/latency-direct.log" 2>&1 &
direct_pid=$!
pids+=($!)
wait_for_log "$out/latency-up.log" "slowlane up: ready" "$up_pid" 30 || { cat "$out/latency-up.log"; exit 1; }
wait_for_http "http://127.0.0.1:$direct_port/fast" 10

declare -A best
for round in $(seq "$rounds"); do
    for side in direct path; do
        if [ $side = direct ]; then
            port=$direct_port processes=$direct_pid
        else
            port=$up_port processes=$(descendants "$up_pid")
        fi
        # shellcheck disable=SC2086 # a list of pids
        switches_before=$(ctx_switches $processes)
        echo "== round $round, $side: bench-latency --port $port --path /fast --requests $requests --interval-us $interval_us"
        "$bin/bench-latency" --port "$port" --path /fast --requests "$requests" --warmup 500 \
            --interval-us "$interval_us" --csv "$out/latency-$side-$round.csv" |
            tee "$out/latency-$side-$round.txt"
        # shellcheck disable=SC2086
        switches=$(($(ctx_switches $processes) - switches_before))
        total=$((requests + 500))
        echo "context switches per request ($side, every thread of its processes): $(awk -v s=$switches -v n=$total 'BEGIN {printf "%.1f", s / n}')"
        [ "$round" = 1 ] && result "latency_${side}_switches_per_req" \
            "$(awk -v s=$switches -v n=$total 'BEGIN {printf "%.1f", s / n}')" switches
        for q in p50 p90 p99; do
            v=$(awk -v k="${q}_us:" '$1 == k {print $2}' "$out/latency-$side-$round.txt")
            if [ -z "${best[$side.$q]:-}" ] || awk -v a="$v" -v b="${best[$side.$q]}" 'BEGIN {exit !(a < b)}'; then
                best[$side.$q]=$v
            fi
        done
        errors=$(awk '$1 == "errors:" {print $2}' "$out/latency-$side-$round.txt")
        [ "$errors" = 0 ] || { echo "latency_bench: $errors errors on $side" >&2; result "latency_${side}_errors" "$errors" requests; }
    done
done
for side in direct path; do
    for q in p50 p90 p99; do result "latency_${side}_${q}_us" "${best[$side.$q]}" us; done
done
result latency_overhead_p50_us "$(awk -v a="${best[path.p50]}" -v b="${best[direct.p50]}" 'BEGIN {printf "%.1f", a - b}')" us
result latency_overhead_p99_us "$(awk -v a="${best[path.p99]}" -v b="${best[direct.p99]}" 'BEGIN {printf "%.1f", a - b}')" us

# The floor: the path through `slowlane up` crosses one ZeroMQ TCP hop (broker <-> worker; the
# gateway reaches the broker embedded in its process over inproc://, which this does not count,
# so the floor is a lower bound). A bare libzmq DEALER -> ROUTER -> DEALER round trip between two
# processes, paced the same way (bench_zmq_rtt.c), once per TCP hop, is the least any ZeroMQ
# broker could add here; what the overhead adds on top of it is slowlane's own work (HTTP
# hand-off, the in-process hop, broker and worker logic).
tcp_hops=1
echo "== floor: bench-zmq-rtt $requests $interval_us (one bare libzmq round trip between two processes)"
"$bin/bench-zmq-rtt" "$requests" "$interval_us" | tee "$out/latency-zmq-rtt.txt"
hop=$(awk '$2 == "zmq_rtt_p50_us" {print $3}' "$out/latency-zmq-rtt.txt")
result latency_zmq_hop_p50_us "$hop" us
result latency_floor_hops "$tcp_hops" hops
result latency_floor_p50_us "$(awk -v h="$hop" -v n="$tcp_hops" 'BEGIN {printf "%.1f", n * h}')" us
result latency_over_floor_p50_us "$(awk -v a="${best[path.p50]}" -v b="${best[direct.p50]}" -v h="$hop" -v n="$tcp_hops" 'BEGIN {printf "%.1f", a - b - n * h}')" us
