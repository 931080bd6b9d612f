#!/usr/bin/env bash
# Gateway benchmarks on `slowlane up` defaults (figures, not tests):
#   1. /fast through the whole path: wrk -t2 -c50 -d10s, FAST_ROUNDS times (default 3) on the
#      same cluster (target >= 15,000 req/s, no non-2xx). fast_* figures are the median round's,
#      fast_rps_min/max the spread, fast_errors the sum of all rounds. First, the same wrk
#      against bench-direct-server (civetweb alone, no broker: the machine's speed right now)
#      gives direct_rps and fast_vs_direct_pct: this VM's rates swing by a quarter from one
#      minute to the next, and the reference shows which kind of minute it was. Then the same
#      wrk against bench-floor-server with two `bench-proxy echo` peers: the bare skeleton of
#      this path (civetweb, an in-process zmq_proxy, worker processes over TCP) with none of
#      slowlane's code, giving floor_rps and fast_vs_floor_pct (bench_floor_server.c).
#   2. /fast latency while /slow is saturated: 8 concurrent 2-second /slow requests kept in
#      flight against 2 slow workers, /fast measured with wrk -t1 -c2 (target p99 <= 5 ms)
#   3. the same with HOGS (default 2; 0: not run) CPU hogs beside the cluster (issue 25)
# Usage: bench/gateway_bench.sh [duration-seconds]   (binaries from $SLOWLANE_BIN, default build/bin)
#        UP_FLAGS=--separate-broker bench/gateway_bench.sh   (the broker as a process of its own)
# Prints `result NAME VALUE UNIT` lines (bench/lib.sh); raw wrk outputs go to $BENCH_OUT or /tmp.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
duration=${1:-10}
hogs=${HOGS:-2}
bin=${SLOWLANE_BIN:-build/bin}
command -v wrk >/dev/null || { echo "gateway_bench: wrk missing (scripts/install-deps.sh)" >&2; exit 1; }
port=$(free_port)
broker_port=$(free_port)
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

rounds=${FAST_ROUNDS:-3}
case $rounds in '' | *[!0-9]* | 0) echo "gateway_bench: FAST_ROUNDS must be a positive number" >&2; exit 2 ;; esac

# reference_run NAME PORT PID...: row 1's wrk against a reference HTTP server on PORT, started
# as PID... (stopped after, last first); prints `result NAME_rps` and sets NAME_rps.
reference_run() {
    local name=$1 port=$2 rps
    shift 2
    slow_pids+=("$@")
    wait_for_http "http://127.0.0.1:$port/fast" 10 || { echo "gateway_bench: the $name server did not answer" >&2; exit 1; }
    wrk -t2 -c50 -d"${duration}s" "http://127.0.0.1:$port/fast" | tee "$raw/wrk-$name.txt"
    stop_pids "$@"
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$raw/wrk-$name.txt")
    printf -v "${name}_rps" '%s' "${rps:-0}"
    result "${name}_rps" "${rps:-0}" req/s
}

direct_port=$(free_port)
echo "== the machine now: civetweb alone (bench-direct-server), wrk -t2 -c50 -d${duration}s"
"$bin/bench-direct-server" --listen "127.0.0.1:$direct_port" >/dev/null 2>&1 &
reference_run direct "$direct_port" $!

floor_port=$(free_port)
floor_backend=tcp://127.0.0.1:$(free_port)
echo
echo "== the design's floor: bench-floor-server (civetweb + zmq_proxy thread) and 2 echo peers, wrk -t2 -c50 -d${duration}s"
"$bin/bench-floor-server" --listen "127.0.0.1:$floor_port" --backend "$floor_backend" >/dev/null 2>&1 &
floor_pids=($!)
for _ in 1 2; do
    "$bin/bench-proxy" echo "$floor_backend" >/dev/null 2>&1 &
    floor_pids+=($!)
done
reference_run floor "$floor_port" "${floor_pids[@]}"

cluster=$(descendants "$up_pid")
errors=0
: >"$raw/fast-rounds.txt"
for round in $(seq 1 "$rounds"); do
    echo
    echo "== /fast throughput, round $round of $rounds: wrk -t2 -c50 -d${duration}s --latency http://127.0.0.1:$port/fast"
    out=$raw/wrk-fast-$round.txt
    cpu_before=$(cpu_ticks $cluster)
    switches_before=$(ctx_switches $cluster)
    wrk -t2 -c50 -d"${duration}s" --latency "http://127.0.0.1:$port/fast" | tee "$out"
    cpu_after=$(cpu_ticks $cluster)
    switches=$(($(ctx_switches $cluster) - switches_before))
    wrk_results "fast_round$round" "$out" >"$raw/fast-round-$round-results.txt"
    rps=$(awk '$2 ~ /_rps$/ {print $3}' "$raw/fast-round-$round-results.txt")
    requests=$(awk '$2 ~ /_requests$/ {print $3}' "$raw/fast-round-$round-results.txt")
    errors=$((errors + $(awk '$2 ~ /_errors$/ {print $3}' "$raw/fast-round-$round-results.txt")))
    # CPU of the whole cluster (gateway, broker, every worker) per request.
    cpu_us=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(clock_ticks)" -v n="${requests:-0}" \
        'BEGIN {if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print 0}')
    # Context switches per request: the path's thread hand-offs, a figure that moves far less
    # with the VM's swings in speed than CPU time per request does.
    per_req_switches=$(awk -v s="$switches" -v n="${requests:-0}" \
        'BEGIN {if (n > 0) printf "%.2f", s / n; else print 0}')
    echo "$rps $round $cpu_us $per_req_switches" >>"$raw/fast-rounds.txt"
    result "fast_round${round}_rps" "$rps" req/s
done
# The median round by rate (the lower middle one for an even count) stands for the run.
read -r _ median_round median_cpu median_switches < <(sort -n "$raw/fast-rounds.txt" | awk -v n="$rounds" 'NR == int((n + 1) / 2)')
cp "$raw/wrk-fast-$median_round.txt" "$fast_out"
echo
echo "median round: $median_round; non-2xx and socket errors over all rounds: $errors"
wrk_results fast "$fast_out" | grep -v "_errors " | tee "$raw/fast-results.txt"
result fast_errors "$errors" requests
result fast_rps_min "$(sort -n "$raw/fast-rounds.txt" | awk 'NR == 1 {print $1}')" req/s
result fast_rps_max "$(sort -n "$raw/fast-rounds.txt" | awk 'END {print $1}')" req/s
result fast_cluster_cpu_us_per_req "$median_cpu" us
result fast_cluster_switches_per_req "$median_switches" switches
median_rps=$(awk '$2 == "fast_rps" {print $3}' "$raw/fast-results.txt")
if [ "${direct_rps:-0}" -gt 0 ]; then
    result fast_vs_direct_pct "$(awk -v a="$median_rps" -v b="$direct_rps" 'BEGIN {printf "%.1f", 100 * a / b}')" %
fi
if [ "${floor_rps:-0}" -gt 0 ]; then
    result fast_vs_floor_pct "$(awk -v a="$median_rps" -v b="$floor_rps" 'BEGIN {printf "%.1f", 100 * a / b}')" %
fi

echo
echo "== /fast latency while /slow is saturated (8 x /slow?ms=2000 in flight, 2 slow workers)"
# wrk holds the 8 slow requests (a new one as each answers): one process, no fork per request,
# so the load generator itself does not take CPU from the path being measured.
wrk -t1 -c8 -d"$(((hogs > 0 ? 2 : 1) * duration + 8))s" --timeout 10s "http://127.0.0.1:$port/slow?ms=2000" >/dev/null &
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

# Issue 25: the same measurement with HOGS (default 2) CPU hogs beside the cluster, the load
# users have when they look (a build, a test run). Each hog is a shell loop at nice 0 in a
# session of its own, as from another terminal: on Linux a session is a scheduling group
# (autogroup), so the hogs together get one group's share against the cluster's session.
# HOGS_SESSION=same starts them in this script's session instead, one share each.
if [ "$hogs" -gt 0 ]; then
    hog_out=/tmp/slowlane-wrk-fast-under-slow-hogs.txt
    [ -n "${BENCH_OUT:-}" ] && hog_out=$raw/wrk-fast-under-slow-hogs.txt
    hog_pids=()
    for _ in $(seq "$hogs"); do
        if [ "${HOGS_SESSION:-own}" = same ]; then
            sh -c 'while :; do :; done' &
        else
            setsid sh -c 'while :; do :; done' &
        fi
        hog_pids+=($!)
        slow_pids+=($!)
    done
    echo "== /fast latency while /slow is saturated and $hogs CPU hogs run (${HOGS_SESSION:-own} session)"
    wrk -t1 -c2 -d"${duration}s" --latency "http://127.0.0.1:$port/fast" | tee "$hog_out"
    kill "${hog_pids[@]}" 2>/dev/null || true
    grep -q "Non-2xx" "$hog_out" && echo "!! non-2xx answers above" || echo "non-2xx: 0"
    wrk_results fast_under_slow_hogs "$hog_out"
fi
