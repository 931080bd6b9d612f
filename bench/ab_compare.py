#!/usr/bin/python3
"""ab_compare: row 1's A/B, two or more builds of the /fast path taking turns.

    ab_compare.py [--rounds 6] [--seconds 5] NAME=BINDIR[:GATEWAY FLAGS] NAME=BINDIR[:...] ...

Each turn starts one build's path: slowlane-gateway --embed-broker with `slowlane up`'s routes, and
slowlane-worker --count 2 --capacity 16 --handler builtin:echo. It waits for both workers
(mmi_stats.py), warms up with a 1 s wrk, then runs `wrk -t2 -c50 -d<seconds>s /fast`. Figures per run:
the rate, and the CPU (utime + stime of every thread of the gateway, the supervisor and its workers)
per request. CPU per request moves less with this VM's minute-to-minute speed than the rate. The
order alternates each round, so neither build always runs first. Prints one `round` line per run
and a `median` line per build.

Example: ab_compare.py base=/tmp/base/build/bin new=build-bench/bin
         ab_compare.py on=build-bench/bin off=build-bench/bin:--access-log=false
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 8470  # the HTTP port of each turn; the broker binds PORT + 1


def cluster_cpu_ticks(pids):
    """utime + stime (clock ticks) of every thread of pids."""
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass  # a thread that ended between the listing and the read
    return total


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
            rate, us, errors = run_once(bindir, flags, args.seconds)
            results[name].append((rate, us))
            print(f"round {round_number} {name:12s} {rate:9.0f} req/s {us:7.1f} us/req"
                  f"{'  ERRORS (non-2xx or socket errors)' if errors else ''}", flush=True)
    for name, runs in results.items():
        print(f"median {name:12s} {statistics.median(r for r, _ in runs):9.0f} req/s "
              f"{statistics.median(u for _, u in runs):7.1f} us/req")


if __name__ == "__main__":
    main()
