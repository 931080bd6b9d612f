# shellcheck shell=bash
# bench/lib.sh: helpers the benchmark scripts share (sourced, not run). Owns the
# `result NAME VALUE UNIT` convention, wrk output parsing, /proc readings and process cleanup.
#
# Convention: every benchmark prints its human output as before and, on stdout, one line per
# figure: `result <metric_name> <value> <unit>` (e.g. `result fast_rps 9714 req/s`). bench/run.sh
# collects these lines into results.tsv; nothing else is parsed.

# bench_enter: what every benchmark does first. Works from the repository root (so build/bin and
# other relative paths resolve there) and picks the binaries: $SLOWLANE_BIN, else build/bin.
bench_enter() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    bin=${SLOWLANE_BIN:-build/bin}
}

# Where a script keeps raw files (wrk outputs, CSVs): $BENCH_OUT (set by run.sh) or a temp dir.
bench_out_dir() {
    if [ -n "${BENCH_OUT:-}" ]; then
        mkdir -p "$BENCH_OUT"
        echo "$BENCH_OUT"
    else
        mktemp -d /tmp/slowlane-bench.XXXXXX
    fi
}

result() { # result NAME VALUE UNIT
    echo "result $1 $2 $3"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wrk_results PREFIX FILE: the figures of one `wrk --latency` output as result lines:
# PREFIX_rps, PREFIX_p50_ms .. PREFIX_p99_ms, PREFIX_requests, PREFIX_errors (socket errors +
# non-2xx answers).
wrk_results() {
    local prefix=$1 file=$2
    awk -v p="$prefix" '
        function ms(text,   v) {
            v = text + 0
            if (text ~ /us$/) return v / 1000
            if (text ~ /ms$/) return v
            if (text ~ /s$/) return v * 1000
            return v
        }
        /Latency Distribution/ { dist = 1; next }
        dist && $1 ~ /^[0-9]+%$/ { q = $1; sub("%", "", q); printf "result %s_p%s_ms %.3f ms\n", p, q, ms($2); next }
        { dist = 0 }
        /requests in/ { requests = $1 }
        /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { non2xx = $5 }
        /^Requests\/sec:/ { rps = $2 }
        END {
            printf "result %s_rps %.0f req/s\n", p, rps
            printf "result %s_requests %d requests\n", p, requests
            printf "result %s_errors %d requests\n", p, errors + non2xx
        }' "$file"
}

# cpu_ticks PID...: utime+stime of the processes, in clock ticks (0 for a vanished one).
cpu_ticks() {
    local total=0 pid fields
    for pid in "$@"; do
        fields=$(cut -d')' -f2- "/proc/$pid/stat" 2>/dev/null) || continue
        # after "pid (comm)": field 3 is state, so utime and stime are words 12 and 13
        total=$((total + $(echo "$fields" | awk '{print $12 + $13}')))
    done
    echo "$total"
}

clock_ticks() { getconf CLK_TCK; }

# ctx_switches PID...: voluntary + involuntary context switches of every thread of the
# processes (a thread that sleeps and is woken counts one voluntary switch: the hand-offs).
ctx_switches() {
    local pid
    for pid in "$@"; do cat /proc/"$pid"/task/*/status 2>/dev/null; done |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ {n += $2} END {print n + 0}'
}

# status_kb PID FIELD: a /proc/PID/status size in kB (VmRSS, VmHWM).
status_kb() {
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null
}

# descendants PID: PID and every process below it.
descendants() {
    local pid child
    for pid in "$@"; do
        echo "$pid"
        for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do descendants "$child"; done
    done
}

# mmi_stats ENDPOINT: the broker's mmi.stats JSON (docs/protocol.md 2.5).
mmi_stats() {
    /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/mmi_stats.py" "$1"
}

# wait_for_workers ENDPOINT SERVICE COUNT TIMEOUT_S: waits until COUNT workers of SERVICE are
# registered with the broker; returns 1 on timeout.
wait_for_workers() {
    /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/mmi_stats.py" "$1" --wait-service "$2" \
        --wait-workers "$3" --timeout "$4"
}

# wait_for_log FILE PATTERN PID TIMEOUT_S: waits for PATTERN in FILE while PID lives.
wait_for_log() {
    local file=$1 pattern=$2 pid=$3 end=$((SECONDS + $4))
    while [ $SECONDS -lt $end ]; do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# wait_for_http URL TIMEOUT_S: waits for a 200 from URL.
wait_for_http() {
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}

# stop_pids PID...: SIGTERM and wait for each, last started first: the gateway before the
# workers, the workers (which drain and say DISCONNECT) before the broker they talk to.
stop_pids() {
    local i pid tries
    for ((i = $# ; i >= 1; i--)); do
        pid=${!i}
        kill -TERM "$pid" 2>/dev/null || true
        # A process that misses its SIGTERM (zmq_proxy checks no flag: a signal that lands
        # between two of its calls is lost) must not hold the benchmark lock for ever: after
        # 5 s it gets SIGKILL. A zombie (exited, not yet waited for) counts as stopped.
        for ((tries = 0; tries < 50; tries++)); do
            [ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] ||
                break
            sleep 0.1
        done
        if [ "$tries" -ge 50 ]; then
            echo "bench: pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) ignored SIGTERM for 5 s: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}
