#!/usr/bin/env bash
# Worker capacity benchmark (issue #8): one pipelined MDP/0.2 client -> a middle process -> 2 echo
# workers that each hold up to 16 jobs at once -> back, in two set-ups on the same machine:
#   proxy:    `bench-proxy proxy` (zmq_proxy, ROUTER <-> DEALER) and 2 `bench-proxy echo` peers that
#             take up to 16 waiting requests per wake-up: the yardstick, nothing is cheaper per request;
#   slowlane: slowlane-broker and `slowlane-worker --count 2 --capacity 16 --handler builtin:echo`
#             (the real broker and worker library).
# Same client (bench-client), same frames (the echo peers answer with the request's frames, command
# set to FINAL), same body size. Rounds alternate, best of each. Also the CPU time per request of
# each process (utime+stime from /proc/PID/stat over a window inside the client's measurement).
# Builds nothing: binaries from $SLOWLANE_BIN (default build/bin). Loopback only.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
BIN=${SLOWLANE_BIN:-$HERE/../build/bin}
CAPACITY=${CAPACITY:-16}
OUTSTANDING=${OUTSTANDING:-64}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-2}
SETUPS=${SETUPS:-"proxy slowlane"}
LOGDIR=$(bench_out_dir)
TICK_US=$((1000000 / $(clock_ticks)))

for b in bench-client bench-proxy slowlane-broker slowlane-worker; do
    if [ ! -x "$BIN/$b" ]; then
        echo "capacity_bench: $BIN/$b not built (cmake --build build)" >&2
        exit 1
    fi
done
if [ "$SECONDS_PER_RUN" -lt 3 ]; then
    echo "capacity_bench: SECONDS_PER_RUN must be at least 3" >&2
    exit 2
fi

pids=()
cleanup() {
    stop_pids "${pids[@]}"
    pids=()
}
trap cleanup EXIT

# wait_for_peers PORT COUNT: waits (10 s at most) until COUNT TCP connections to PORT are up.
wait_for_peers() {
    local end=$((SECONDS + 10))
    while [ $SECONDS -lt $end ]; do
        [ "$(ss -Htn state established "( dport = :$1 )" | wc -l)" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# us_per_request TICKS RATE SECONDS -> CPU microseconds per request
us_per_request() {
    awk -v d="$1" -v t="$TICK_US" -v r="$2" -v s="$3" 'BEGIN {printf "%.1f", (r > 0 ? d * t / (r * s) : 0)}'
}

# run_once SETUP -> "RATE TOTAL_US MIDDLE_US WORKERS_US CLIENT_US" on stdout, details on stderr
run_once() {
    local setup=$1 port back_port front middle workers=() client
    # Two ports held open together, so they differ (two free_port calls may return the same one)
    read -r port back_port <<<"$(/usr/bin/python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')"
    front="tcp://127.0.0.1:$port"
    if [ "$setup" = proxy ]; then
        "$BIN/bench-proxy" proxy "$front" "tcp://127.0.0.1:$back_port" >"$LOGDIR/proxy-middle.log" 2>&1 &
        middle=$!
        pids+=("$middle")
        for _ in 1 2; do
            "$BIN/bench-proxy" echo "tcp://127.0.0.1:$back_port" "$CAPACITY" >>"$LOGDIR/proxy-workers.log" 2>&1 &
            workers+=($!)
        done
        pids+=("${workers[@]}")
        wait_for_peers "$back_port" 2 || { echo "capacity_bench: echo peers did not connect" >&2; cleanup; return 1; }
    else
        "$BIN/slowlane-broker" --bind "$front" --log-level warn >"$LOGDIR/slowlane-middle.log" 2>&1 &
        middle=$!
        pids+=("$middle")
        "$BIN/slowlane-worker" --broker "$front" --service echo --handler builtin:echo \
            --capacity "$CAPACITY" --count 2 --log-level warn >"$LOGDIR/slowlane-workers.log" 2>&1 &
        local supervisor=$!
        pids+=("$supervisor")
        wait_for_workers "$front" echo 2 10 >/dev/null || { echo "capacity_bench: workers did not register" >&2; cleanup; return 1; }
        read -r -a workers <<<"$(descendants "$supervisor" | tr '\n' ' ')" # supervisor + children
    fi
    "$BIN/bench-client" --broker "$front" --service echo --seconds "$SECONDS_PER_RUN" \
        --outstanding "$OUTSTANDING" >"$LOGDIR/$setup-client.log" 2>&1 &
    client=$!
    pids+=("$client")
    # The client warms up for 0.5 s and then measures for SECONDS_PER_RUN: the CPU window is a
    # timed slice inside that (a measurement interval, not a wait for a condition).
    sleep 1
    local t0 t1 m0 w0 c0 m1 w1 c1
    t0=$(date +%s.%N)
    m0=$(cpu_ticks "$middle") w0=$(cpu_ticks "${workers[@]}") c0=$(cpu_ticks "$client")
    sleep "$(awk -v s="$SECONDS_PER_RUN" 'BEGIN {print s - 1.5}')"
    m1=$(cpu_ticks "$middle") w1=$(cpu_ticks "${workers[@]}") c1=$(cpu_ticks "$client")
    t1=$(date +%s.%N)
    wait "$client" || true
    cleanup # this runs in a $(...) subshell, where the EXIT trap does not apply
    local rate elapsed mid wrk cli total
    rate=$(sed -n 's/^replies\/s: \([0-9]*\).*/\1/p' "$LOGDIR/$setup-client.log" | tail -1)
    rate=${rate:-0}
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
    mid=$(us_per_request $((m1 - m0)) "$rate" "$elapsed")
    wrk=$(us_per_request $((w1 - w0)) "$rate" "$elapsed")
    cli=$(us_per_request $((c1 - c0)) "$rate" "$elapsed")
    total=$(awk -v a="$mid" -v b="$wrk" -v c="$cli" 'BEGIN {printf "%.1f", a + b + c}')
    echo "  $setup: $rate req/s; CPU per request: middle $mid us, 2 workers $wrk us," \
        "client $cli us, total $total us" | tee -a "$LOGDIR/$setup-cpu.txt" >&2
    echo "$rate $total $mid $wrk $cli"
}

declare -A best figures
for setup in $SETUPS; do best[$setup]=0; figures[$setup]="0 0 0 0 0"; done
for round in $(seq "$ROUNDS"); do
    for setup in $SETUPS; do
        echo "round $round: $setup" >&2
        line=$(run_once "$setup") || line="0 0 0 0 0"
        rate=${line%% *}
        if [ "$rate" -gt "${best[$setup]}" ]; then
            best[$setup]=$rate
            figures[$setup]=$line
        fi
    done
done

echo "worker capacity: 1 client ($OUTSTANDING outstanding) -> middle -> 2 echo workers x $CAPACITY"
for setup in $SETUPS; do
    read -r rate total mid wrk cli <<<"${figures[$setup]}"
    result "capacity_${setup}_rps" "$rate" req/s
    result "capacity_${setup}_cpu_us_per_req" "$total" us
    result "capacity_${setup}_middle_cpu_us_per_req" "$mid" us
    result "capacity_${setup}_workers_cpu_us_per_req" "$wrk" us
done
if [ -n "${best[proxy]:-}" ] && [ -n "${best[slowlane]:-}" ] && [ "${best[proxy]}" -gt 0 ]; then
    result capacity_ratio_pct $((best[slowlane] * 100 / best[proxy])) %
    echo "slowlane is $((best[slowlane] * 100 / best[proxy]))% of the bare zmq_proxy (target >= 50%)"
fi
echo "(logs in $LOGDIR; ${SECONDS_PER_RUN}s per run, best of $ROUNDS; CPU figures from the best round)"
