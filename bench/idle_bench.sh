#!/usr/bin/env bash
# Idle workers (issue #8 row 6; a figure, not a test): 1,000 real worker processes
# (slowlane-worker --count 1000, builtin:echo, default 1 s heartbeats) connected to one broker
# and doing nothing but heartbeating, plus their supervisor's agent STATUS reports: what a
# production broker pays for a big idle fleet. Real processes, not a program faking 1,000
# DEALERs, so the broker sees exactly what it would see (1,000 TCP connections, 1,000 identities,
# the agent's 1,000-slot report). Measures the broker's CPU over a window (utime+stime from
# /proc/PID/stat, as % of one core) and its VmRSS / VmHWM.
# Targets: broker CPU <= 5% of a core, RSS <= 50 MB.
# Usage: bench/idle_bench.sh [window-seconds]   (default 20; binaries from $SLOWLANE_BIN)
# Knobs: WORKERS=1000 HEARTBEAT_MS=1000 (broker and workers; the target is for the default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_enter
window=${1:-20}
workers=${WORKERS:-1000}
heartbeat_ms=${HEARTBEAT_MS:-1000} # the default; the broker's cost is per heartbeat message
out=$(bench_out_dir)
broker_port=$(free_port)
endpoint="tcp://127.0.0.1:$broker_port"

pids=()
cleanup() { stop_pids "${pids[@]}"; }
trap cleanup EXIT
"$bin/slowlane-broker" --bind "$endpoint" --heartbeat-ms "$heartbeat_ms" --log-level warn \
    >"$out/idle-broker.log" 2>&1 &
broker_pid=$!
pids+=($!)
# A supervisor runs at most 1024 slots; 1,000 fit in one.
"$bin/slowlane-worker" --broker "$endpoint" --service idle --handler builtin:echo \
    --count "$workers" --heartbeat-ms "$heartbeat_ms" --log-level warn >"$out/idle-workers.log" 2>&1 &
pids+=($!)
started=$SECONDS
wait_for_workers "$endpoint" idle "$workers" 120
result idle_startup_s $((SECONDS - started)) s
# Let the start-up burst (1,000 READYs, connects) settle: two more heartbeat rounds after the
# last registration, then measure only the steady state.
sleep "$(awk -v h="$heartbeat_ms" 'BEGIN {print 2 * h / 1000}')"
registered=$(mmi_stats "$endpoint" | /usr/bin/python3 -c \
    'import json,sys; s=json.load(sys.stdin); print(sum(x["workers"] for x in s["services"] if x["name"]=="idle"))')

hz=$(clock_ticks)
before=$(cpu_ticks "$broker_pid")
switches_before=$(ctx_switches "$broker_pid")
t0=$(date +%s.%N)
echo "== broker $broker_pid with $registered idle workers: CPU over ${window}s"
: >"$out/idle-samples.csv"
echo "t_s,broker_cpu_ticks,broker_rss_kb" >"$out/idle-samples.csv"
for i in $(seq 1 "$window"); do
    sleep 1
    echo "$i,$(cpu_ticks "$broker_pid"),$(status_kb "$broker_pid" VmRSS)" >>"$out/idle-samples.csv"
done
after=$(cpu_ticks "$broker_pid")
switches=$(($(ctx_switches "$broker_pid") - switches_before))
t1=$(date +%s.%N)
rss=$(status_kb "$broker_pid" VmRSS)
hwm=$(status_kb "$broker_pid" VmHWM)
cpu_pct=$(awk -v t=$((after - before)) -v hz="$hz" -v a="$t0" -v b="$t1" \
    'BEGIN {printf "%.2f", 100 * t / hz / (b - a)}')
registered_after=$(mmi_stats "$endpoint" | /usr/bin/python3 -c \
    'import json,sys; s=json.load(sys.stdin); print(sum(x["workers"] for x in s["services"] if x["name"]=="idle"))')
echo "broker CPU: $((after - before)) ticks in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s = ${cpu_pct}% of a core"
echo "broker VmRSS ${rss} kB, VmHWM ${hwm} kB; workers registered before/after: $registered/$registered_after"
result idle_workers "$registered_after" workers
result idle_broker_cpu_pct "$cpu_pct" %core
result idle_broker_rss_mb "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')" MB
# Wake-ups of the broker's threads (its loop and libzmq's I/O thread): what the CPU goes to.
result idle_broker_switches_per_s "$(awk -v s="$switches" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", s / (b - a)}')" switches/s
result idle_broker_hwm_mb "$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}')" MB
