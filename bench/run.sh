#!/usr/bin/env bash
# bench/run.sh: every benchmark of issue #8 on this machine, in one command.
#   bench/run.sh                  build (Release, build-bench/) and run them all
#   bench/run.sh fast broker      only these (names below)
#   SLOWLANE_BIN=DIR bench/run.sh use the binaries in DIR, build nothing
# Benchmarks: fast (rows 1-2, gateway_bench.sh), broker (3, broker_throughput.sh), capacity
# (4, capacity_bench.sh, "not run" if absent), scale (5), idle (6), keepalive (7), latency (8),
# brokers (issue 18: two brokers vs one, hand-backs, failover; brokers_bench.sh), jobs (issue
# 20: asynchronous jobs against the synchronous path, store size, recovery; jobs_bench.py), sdk
# (issue 21: the fast path through a Node.js and a Python SDK worker against a C one; sdk_bench.py),
# autoscale (issue 22: a step load's timeline, workers and queue and p99; autoscale_bench.py).
# Each runs under `flock /tmp/slowlane-bench.lock` (never two benchmarks at once on the shared
# machine), at normal priority. Everything lands in bench/results/<UTC timestamp>/: each
# benchmark's output (<name>.log) and raw files (<name>/: wrk outputs, CSVs, component logs),
# results.tsv (every `result NAME VALUE UNIT` line), commands.tsv (exact command, status,
# seconds), machine.txt, and report.md with the PNG plots (bench/report.py).
# bench/results/latest points at the newest run. Knobs: FAST_SECONDS=10 SCALE_SECONDS=10
# IDLE_SECONDS=20 KEEPALIVE_SECONDS=10 LATENCY_REQUESTS=10000 BROKERS_SECONDS=8 JOBS_COUNT=10000; BENCH_TIMEOUT=300 (seconds one
# benchmark may hold the lock before it is stopped and marked "exit 124").
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root" || exit 1
all="fast broker capacity scale idle keepalive latency brokers jobs sdk autoscale"
selected=${*:-$all}
for name in $selected; do
    case " $all " in *" $name "*) ;; *) echo "run.sh: unknown benchmark '$name' (have: $all)" >&2; exit 2 ;; esac
done

if [ -n "${SLOWLANE_BIN:-}" ]; then
    bin=$(cd "$SLOWLANE_BIN" && pwd)
else
    bin=$root/build-bench/bin
    echo "== building (Release) into build-bench"
    nice -n 19 cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
        nice -n 19 cmake --build "$root/build-bench" -j"$(nproc)" >/dev/null ||
        { echo "run.sh: build failed (run: cmake --build build-bench)" >&2; exit 1; }
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/results/$stamp
mkdir -p "$out"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(hostname)"
    echo "nproc: $(nproc)"
    echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -srm)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo ' (working tree has uncommitted changes)')"
    echo "binaries: $bin"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
} >"$out/machine.txt"
cat "$out/machine.txt"
printf 'bench\tmetric\tvalue\tunit\n' >"$out/results.tsv"
printf 'bench\tstatus\tlock_wait_s\trun_s\tload_1min\tcommand\n' >"$out/commands.tsv"

command_of() {
    case $1 in
    fast) echo "bench/gateway_bench.sh ${FAST_SECONDS:-10}" ;;
    broker) echo "bench/broker_throughput.sh" ;;
    capacity) echo "bench/capacity_bench.sh" ;;
    scale) echo "bench/scale_bench.sh ${SCALE_SECONDS:-10}" ;;
    idle) echo "bench/idle_bench.sh ${IDLE_SECONDS:-20}" ;;
    keepalive) echo "bench/keepalive_bench.sh ${KEEPALIVE_SECONDS:-10}" ;;
    latency) echo "bench/latency_bench.sh ${LATENCY_REQUESTS:-10000}" ;;
    brokers) echo "bench/brokers_bench.sh ${BROKERS_SECONDS:-8}" ;;
    jobs) echo "bench/jobs_bench.py --jobs ${JOBS_COUNT:-10000}" ;;
    sdk) echo "bench/sdk_bench.py --rounds ${SDK_ROUNDS:-3}" ;;
    autoscale) echo "bench/autoscale_bench.py --fall-s ${AUTOSCALE_FALL_SECONDS:-200}" ;;
    esac
}

for name in $selected; do
    command=$(command_of "$name")
    script=${command%% *}
    if [ ! -x "$script" ]; then
        echo "== $name: $script does not exist: not run"
        printf '%s\tmissing\t0\t0\t-\t%s\n' "$name" "$command" >>"$out/commands.tsv"
        continue
    fi
    echo
    echo "== $name: $command"
    stamp_file=$(mktemp)
    requested=$(date +%s)
    # Inside the lock: note when it was taken and the load then (a shared machine: the load
    # average says how much else was running while this benchmark measured).
    # shellcheck disable=SC2086 # the command's words are its arguments
    flock /tmp/slowlane-bench.lock bash -c \
        'echo "$(date +%s) $(cut -d" " -f1 /proc/loadavg)" >"$0"; echo "(lock taken, load average $(cut -d" " -f1-3 /proc/loadavg))"; exec "$@"' \
        "$stamp_file" timeout --kill-after=10 "${BENCH_TIMEOUT:-300}" \
        env BENCH_OUT="$out/$name" SLOWLANE_BIN="$bin" $command 2>&1 | tee "$out/$name.log"
    status=${PIPESTATUS[0]}
    finished=$(date +%s)
    read -r locked load <"$stamp_file" || { locked=$requested; load='?'; }
    rm -f "$stamp_file"
    [ "$status" -eq 0 ] && state=ok || state="exit $status"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$state" "$((locked - requested))" "$((finished - locked))" \
        "$load" "flock /tmp/slowlane-bench.lock env SLOWLANE_BIN=$bin $command" >>"$out/commands.tsv"
    awk -v b="$name" '$1 == "result" && NF >= 4 {printf "%s\t%s\t%s\t%s\n", b, $2, $3, $4}' \
        "$out/$name.log" >>"$out/results.tsv"
    # The latency CSVs feed the report's plot: keep them where report.py looks.
    cp "$out/$name"/latency-*.csv "$out/$name"/autoscale-timeline.csv "$out/" 2>/dev/null || true
done

/usr/bin/python3 "$here/report.py" "$out"
ln -sfn "$stamp" "$root/bench/results/latest"
echo "results: $out (bench/results/latest)"
