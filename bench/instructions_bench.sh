#!/usr/bin/env bash
# Instructions per /fast request, counted by callgrind (a figure, not a test; not in the suite):
# the one measure of row 1's path that this VM's minute-to-minute swings in speed leave alone
# (the same binaries and load give the same count). Two runs, each under valgrind
# --tool=callgrind, counters zeroed after a warm-up, then wrk -t1 -c10 for SECONDS:
#   1. slowlane: slowlane-gateway --embed-broker with `slowlane up`'s /fast route, and one fast
#      worker (slowlane-worker --count 1 --capacity 16 --handler builtin:echo, supervisor and
#      worker both counted);
#   2. the floor (bench_floor_server.c): bench-floor-server and one `bench-proxy echo` peer.
# Counts user-space instructions only (libraries included), not the kernel's: per thread CPU
# and context switches are gateway_bench.sh's. Under valgrind everything runs ~50x slower, so
# timers (heartbeats, probes) weigh more per request than at full speed: a few hundred
# instructions, well under 1%.
# Usage: bench/instructions_bench.sh [seconds]   (binaries from $SLOWLANE_BIN, default build/bin)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_enter
seconds=${1:-15}
command -v valgrind >/dev/null || { echo "instructions_bench: valgrind missing" >&2; exit 1; }
command -v callgrind_control >/dev/null || { echo "instructions_bench: callgrind_control missing" >&2; exit 1; }
out=$(bench_out_dir)
pids=()
cleanup() { stop_pids "${pids[@]}"; }
trap cleanup EXIT
callgrind() { # callgrind NAME COMMAND...: starts COMMAND under callgrind, dumps named NAME.PID
    local name=$1
    shift
    valgrind --tool=callgrind --trace-children=yes --max-threads=2100 \
        --callgrind-out-file="$out/cg.$name.%p" "$@" >"$out/$name.log" 2>&1 &
    pids+=($!)
}

# count URL NAME...: warms up, zeroes the counters of every process started so far, runs the
# timed load, dumps, and prints `result instructions_NAME_per_req` for each NAME (the sum of
# the dumps of its processes: a supervisor and its worker count together).
count() {
    local url=$1 requests name total file
    shift
    wait_for_http "$url" 120 || { echo "instructions_bench: $url does not answer" >&2; exit 1; }
    wrk -t1 -c10 -d3s "$url" >/dev/null
    callgrind_control -z >/dev/null 2>&1
    requests=$(wrk -t1 -c10 -d"${seconds}s" "$url" | awk '/requests in/ {print $1}')
    callgrind_control -d >/dev/null 2>&1
    [ "${requests:-0}" -gt 0 ] || { echo "instructions_bench: no request answered" >&2; exit 1; }
    echo "$url: $requests requests under callgrind"
    for name in "$@"; do
        total=0
        for file in "$out"/cg."$name".*.1; do
            [ -s "$file" ] || continue
            total=$((total + $(awk '/^summary:/ {print $2}' "$file")))
        done
        result "instructions_${name}_per_req" $((total / requests)) instructions
        printf -v "${name}_per_req" '%s' $((total / requests))
    done
    stop_pids "${pids[@]}"
    pids=()
}

broker=tcp://127.0.0.1:$(free_port)
port=$(free_port)
echo "== slowlane: gateway (broker inside) and one fast worker, under callgrind"
callgrind gateway "$bin/slowlane-gateway" --listen "$port" --route '/fast=fast,methods=GET|POST' \
    --log-level warn --embed-broker "$broker"
callgrind worker "$bin/slowlane-worker" --broker "$broker" --service fast --handler builtin:echo \
    --count 1 --capacity 16 --log-level warn
count "http://127.0.0.1:$port/fast" gateway worker

backend=tcp://127.0.0.1:$(free_port)
port=$(free_port)
echo "== the floor: bench-floor-server and one bench-proxy echo peer, under callgrind"
callgrind floor_server "$bin/bench-floor-server" --listen "127.0.0.1:$port" --backend "$backend"
callgrind floor_peer "$bin/bench-proxy" echo "$backend"
count "http://127.0.0.1:$port/fast" floor_server floor_peer

path=$((gateway_per_req + worker_per_req))
floor=$((floor_server_per_req + floor_peer_per_req))
result instructions_path_per_req "$path" instructions
result instructions_floor_per_req "$floor" instructions
result instructions_path_vs_floor "$(awk -v a="$path" -v b="$floor" 'BEGIN {printf "%.2f", a / b}')" x
