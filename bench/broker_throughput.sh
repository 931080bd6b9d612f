#!/usr/bin/env bash
# Broker throughput: the same pipelined client and 8 echo workers against the minimal
# load-balancing broker and against slowlane-broker, each run twice alternating, best of each.
# Builds nothing: expects the binaries in $SLOWLANE_BIN (default build/bin). Loopback only.
# Also prints `result NAME VALUE UNIT` lines (bench/lib.sh); logs go to $BENCH_OUT if set.
set -euo pipefail

BIN=${SLOWLANE_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
WORKERS=${WORKERS:-8}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
OUTSTANDING=${OUTSTANDING:-100}
ROUNDS=${ROUNDS:-2}
BROKERS=${BROKERS:-"minimal slowlane"} # BROKERS=minimal measures the yardstick alone
LOGDIR=${BENCH_OUT:-$(mktemp -d /tmp/slowlane-bench.XXXXXX)}
mkdir -p "$LOGDIR"

needed="bench-client bench-echo-worker"
for name in $BROKERS; do
    case $name in
    minimal) needed="$needed bench-minimal-broker" ;;
    slowlane) needed="$needed slowlane-broker" ;;
    *) echo "broker_throughput: unknown broker '$name' in BROKERS" >&2; exit 2 ;;
    esac
done
for b in $needed; do
    if [ ! -x "$BIN/$b" ]; then
        echo "broker_throughput: $BIN/$b not built (cmake --build build)" >&2
        exit 1
    fi
done

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_once NAME -> prints the replies/s figure of one run
run_once() {
    local name=$1 port endpoint
    port=$(free_port)
    endpoint="tcp://127.0.0.1:$port"
    if [ "$name" = minimal ]; then
        "$BIN/bench-minimal-broker" --bind "$endpoint" >"$LOGDIR/$name-broker.log" 2>&1 &
    else
        "$BIN/slowlane-broker" --bind "$endpoint" >"$LOGDIR/$name-broker.log" 2>&1 &
    fi
    pids+=($!)
    for _ in $(seq "$WORKERS"); do
        "$BIN/bench-echo-worker" --broker "$endpoint" --service echo >>"$LOGDIR/$name-workers.log" 2>&1 &
        pids+=($!)
    done
    # The client probes until the service answers and warms up before it measures.
    "$BIN/bench-client" --broker "$endpoint" --service echo --seconds "$SECONDS_PER_RUN" \
        --outstanding "$OUTSTANDING" 2>&1 | tee -a "$LOGDIR/$name-client.log" >&2 || true
    cleanup # this runs in a $(...) subshell, where the EXIT trap does not apply
    local figure
    figure=$(sed -n 's/^replies\/s: \([0-9]*\).*/\1/p' "$LOGDIR/$name-client.log" | tail -1)
    echo "${figure:-0}"
}

declare -A best
for name in $BROKERS; do best[$name]=0; done
for round in $(seq "$ROUNDS"); do
    for name in $BROKERS; do
        echo "round $round: $name" >&2
        : >"$LOGDIR/$name-client.log"
        figure=$(run_once "$name")
        if [ "$figure" -gt "${best[$name]}" ]; then best[$name]=$figure; fi
    done
done

for name in $BROKERS; do
    echo "$name: ${best[$name]}/s"
    echo "result broker_${name}_rps ${best[$name]} replies/s" # bench/lib.sh's convention
done
if [ -n "${best[minimal]:-}" ] && [ -n "${best[slowlane]:-}" ] && [ "${best[minimal]}" -gt 0 ]; then
    echo "ratio: $((best[slowlane] * 100 / best[minimal]))%"
    echo "result broker_pct_of_minimal $(awk -v s="${best[slowlane]}" -v m="${best[minimal]}" \
        'BEGIN {printf "%.1f", 100 * s / m}') %"
fi
echo "(logs in $LOGDIR; $WORKERS workers, $OUTSTANDING outstanding, ${SECONDS_PER_RUN}s per run, best of $ROUNDS)"
