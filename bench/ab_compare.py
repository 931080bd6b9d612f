#!/usr/bin/python3
"""ab_compare: A/B of two or more builds taking turns, on row 1's /fast path or row 5's fleet.

    ab_compare.py [--rounds 6] [--seconds 5] [--path fast|scale] NAME=BINDIR[:GATEWAY FLAGS] ...

Each turn starts one build's path: slowlane-gateway --embed-broker with `slowlane up`'s routes, and
slowlane-worker --count 2 --capacity 16 --handler builtin:echo. It waits for both workers
(mmi_stats.py), warms up with a 1 s wrk, then runs `wrk -t2 -c50 -d<seconds>s /fast`. Figures per run:
the rate, and the CPU (utime + stime of every thread of the gateway, the supervisor and its workers)
per request. CPU per request moves less with this VM's minute-to-minute speed than the rate. The
order alternates each round, so neither build always runs first. Prints one `round` line per run
and a `median` line per build.

--path scale (issue 25) runs row 5's fleet instead: slowlane-broker, a gateway, and --workers (200)
builtin:sleep workers of --job-ms (50). It measures the idle fleet first (the whole machine's busy
CPU in %, so run it on a quiet machine, and the fleet's context switches per second, over 5 s), then
`wrk -t2 -c<--connections, default as many as workers> --latency /sleep?ms=<job-ms>`: jobs/s and
% of the ideal (workers / job time), p50, p99, CPU per job (the cluster's threads, then the whole
machine's from /proc/stat, wrk included) and context switches per job.

Example: ab_compare.py base=/tmp/base/build/bin new=build-bench/bin
         ab_compare.py --path scale --rounds 3 base=/tmp/base/build/bin new=build-dev/bin
         ab_compare.py on=build-bench/bin off=build-bench/bin:--access-log=false
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 8470  # the HTTP port of each turn; the broker binds PORT + 1


def thread_files(pids, name):
    """The text of /proc/PID/task/TID/<name> of every thread of pids; a thread that ended
    between the listing and the read is skipped."""
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/{name}") as file:
                    yield file.read()
            except OSError:
                pass


def cluster_cpu_ticks(pids):
    """utime + stime (clock ticks) of every thread of pids."""
    total = 0
    for text in thread_files(pids, "stat"):
        fields = text.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def cluster_switches(pids):
    """Voluntary + involuntary context switches of every thread of pids."""
    return sum(int(line.split()[1]) for text in thread_files(pids, "status")
               for line in text.splitlines()
               if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")))


def machine_busy_ticks():
    """(busy, all) clock ticks of every CPU since boot, from /proc/stat's cpu line."""
    with open("/proc/stat") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # idle and iowait are not busy


def wrk_ms(out, quantile):
    """A --latency quantile line of wrk's output ("50%" -> 64.70) in milliseconds."""
    match = re.search(rf"^\s*{quantile}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wait_http_ready(port, timeout=30.0):
    """Until the gateway answers HTTP (/healthz, any status): its workers register first, its
    listener comes up after its thread pool has started."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gateway on port {port} never ready")
        time.sleep(0.05)


def run_scale(bindir, gateway_flags, args):
    """Row 5's fleet, once: the idle figures, then the loaded ones (a dict)."""
    broker = f"tcp://127.0.0.1:{PORT + 1}"
    url = f"http://127.0.0.1:{PORT}/sleep?ms={args.job_ms}"
    log = open(f"/tmp/ab_compare.{PORT}.log", "w")
    processes = [subprocess.Popen(
        [f"{bindir}/slowlane-broker", "--bind", broker, "--log-level", "warn"],
        stdout=log, stderr=log)]
    processes.append(subprocess.Popen(
        [f"{bindir}/slowlane-gateway", "--listen", str(PORT), "--broker", broker, "--route",
         "/sleep=sleep,budget=1000", "--access-log=false", "--log-level", "warn"] + gateway_flags,
        stdout=log, stderr=log))
    processes.append(subprocess.Popen(
        [f"{bindir}/slowlane-worker", "--broker", broker, "--service", "sleep", "--handler",
         "builtin:sleep", "--count", str(args.workers), "--log-level", "warn"],
        stdout=log, stderr=log))
    try:
        subprocess.run([sys.executable, f"{HERE}/mmi_stats.py", broker, "--wait-service", "sleep",
                        "--wait-workers", str(args.workers), "--timeout", "60"], check=True,
                       stdout=subprocess.DEVNULL)
        wait_http_ready(PORT)
        workers = subprocess.check_output(["pgrep", "-P", str(processes[2].pid)]).split()
        pids = [p.pid for p in processes] + [int(w) for w in workers]
        hz = os.sysconf("SC_CLK_TCK")
        idle_window = 5.0
        #  Short wake-ups escape the per-thread tick sampling: the idle CPU is the machine's
        busy, switches = machine_busy_ticks(), cluster_switches(pids)
        time.sleep(idle_window)  # the figure is what doing nothing costs over this window
        busy_after = machine_busy_ticks()
        idle_cpu = 100.0 * (busy_after[0] - busy[0]) / (busy_after[1] - busy[1])
        idle_switches = (cluster_switches(pids) - switches) / idle_window
        connections = args.connections or args.workers
        subprocess.run(["wrk", "-t2", f"-c{connections}", "-d1s", url], check=True,
                       capture_output=True)
        ticks, switches = cluster_cpu_ticks(pids), cluster_switches(pids)
        machine = machine_busy_ticks()[0]
        out = subprocess.check_output(["wrk", "-t2", f"-c{connections}", f"-d{args.seconds}s",
                                       "--timeout", "10s", "--latency", url]).decode()
        ticks, switches = cluster_cpu_ticks(pids) - ticks, cluster_switches(pids) - switches
        machine = machine_busy_ticks()[0] - machine
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+(\S+)", out).group(1))
    return {"rate": rate, "ideal_pct": 100.0 * rate * args.job_ms / 1000.0 / args.workers,
            "p50_ms": wrk_ms(out, "50%"), "p99_ms": wrk_ms(out, "99%"),
            "us_per_job": ticks * 1e6 / hz / requests, "switches_per_job": switches / requests,
            "machine_us_per_job": machine * 1e6 / hz / requests,
            "idle_cpu_pct": idle_cpu, "idle_switches_per_s": idle_switches,
            "errors": "Non-2xx" in out or "Socket errors" in out}


SCALE_FIGURES = [("rate", "jobs/s", "%8.0f"), ("ideal_pct", "% ideal", "%5.1f"),
                 ("p50_ms", "ms p50", "%6.1f"), ("p99_ms", "ms p99", "%6.1f"),
                 ("us_per_job", "us/job", "%6.0f"), ("machine_us_per_job", "us/job all", "%6.0f"),
                 ("switches_per_job", "cs/job", "%5.1f"),
                 ("idle_cpu_pct", "% idle cpu", "%5.1f"),
                 ("idle_switches_per_s", "idle cs/s", "%6.0f")]


def scale_line(figures):
    return "  ".join((fmt % figures[key]) + " " + unit for key, unit, fmt in SCALE_FIGURES)


def run_once(bindir, gateway_flags, seconds):
    broker = f"tcp://127.0.0.1:{PORT + 1}"
    url = f"http://127.0.0.1:{PORT}/fast"
    log = open(f"/tmp/ab_compare.{PORT}.log", "w")
    gateway = subprocess.Popen(
        [f"{bindir}/slowlane-gateway", "--listen", str(PORT), "--route",
         "/fast=fast,methods=GET|POST", "--route", "/slow=slow,methods=GET", "--log-level", "info",
         "--embed-broker", broker, "--broker-heartbeat-ms", "1000"] + gateway_flags,
        stdout=log, stderr=log)
    supervisor = subprocess.Popen(
        [f"{bindir}/slowlane-worker", "--broker", broker, "--service", "fast", "--handler",
         "builtin:echo", "--count", "2", "--capacity", "16", "--heartbeat-ms", "1000",
         "--log-level", "info"], stdout=log, stderr=log)
    try:
        subprocess.run([sys.executable, f"{HERE}/mmi_stats.py", broker, "--wait-service", "fast",
                        "--wait-workers", "2", "--timeout", "20"], check=True,
                       stdout=subprocess.DEVNULL)
        wait_http_ready(PORT)
        subprocess.run(["wrk", "-t2", "-c50", "-d1s", url], check=True, capture_output=True)
        workers = subprocess.check_output(["pgrep", "-P", str(supervisor.pid)]).split()
        pids = [gateway.pid, supervisor.pid] + [int(w) for w in workers]
        before = cluster_cpu_ticks(pids)
        out = subprocess.check_output(["wrk", "-t2", "-c50", f"-d{seconds}s", url]).decode()
        after = cluster_cpu_ticks(pids)
    finally:
        supervisor.terminate()
        gateway.terminate()
        supervisor.wait()
        gateway.wait()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+(\S+)", out).group(1))
    errors = "Non-2xx" in out or "Socket errors" in out
    us_per_request = (after - before) * 1e6 / os.sysconf("SC_CLK_TCK") / requests
    return rate, us_per_request, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--path", choices=["fast", "scale"], default="fast")
    parser.add_argument("--workers", type=int, default=200, help="--path scale: worker processes")
    parser.add_argument("--job-ms", type=int, default=50, help="--path scale: each job's sleep")
    parser.add_argument("--connections", type=int, default=0,
                        help="--path scale: wrk's connections (default: as many as workers)")
    parser.add_argument("builds", nargs="+", metavar="NAME=BINDIR[:GATEWAY FLAGS]")
    args = parser.parse_args()
    builds = []
    for spec in args.builds:
        name, sep, rest = spec.partition("=")
        bindir, _, flags = rest.partition(":")
        if not sep or not name or not os.path.isfile(f"{bindir}/slowlane-gateway"):
            parser.error(f"{spec}: want NAME=BINDIR with BINDIR/slowlane-gateway in it")
        builds.append((name, bindir, flags.split()))
    results = {name: [] for name, _, _ in builds}
    for round_number in range(args.rounds):
        order = builds if round_number % 2 == 0 else builds[::-1]
        for name, bindir, flags in order:
            if args.path == "scale":
                figures = run_scale(bindir, flags, args)
                results[name].append(figures)
                print(f"round {round_number} {name:12s} {scale_line(figures)}"
                      f"{'  ERRORS (non-2xx or socket errors)' if figures['errors'] else ''}",
                      flush=True)
                continue
            rate, us, errors = run_once(bindir, flags, args.seconds)
            results[name].append((rate, us))
            print(f"round {round_number} {name:12s} {rate:9.0f} req/s {us:7.1f} us/req"
                  f"{'  ERRORS (non-2xx or socket errors)' if errors else ''}", flush=True)
    for name, runs in results.items():
        if args.path == "scale":
            medians = {key: statistics.median(run[key] for run in runs)
                       for key, _, _ in SCALE_FIGURES}
            print(f"median {name:12s} {scale_line(medians)}")
            continue
        print(f"median {name:12s} {statistics.median(r for r, _ in runs):9.0f} req/s "
              f"{statistics.median(u for _, u in runs):7.1f} us/req")


if __name__ == "__main__":
    main()
