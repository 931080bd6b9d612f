#!/usr/bin/python3
"""sdk_bench: what a worker written with an SDK costs on the fast path (issue 21), against a C
worker: the seed's /fast served by

  c      slowlane-worker --handler builtin:echo
  node   slowlane-node examples/seed-express/app.js (sdk/node; npm ci there and in sdk/node)
  flask  python3 -m slowlane_wsgi app:app, examples/seed-flask (sdk/python, python3-flask)

each as one worker behind slowlane-broker and slowlane-gateway. Per kind and round: 3,000
warm-up requests (a Node.js process runs interpreted until V8 has compiled its hot code), then
bench-latency (one keep-alive connection, back to back) for REQUESTS requests, alone and then
beside two CPU hogs at nice 10 (the slow lane's niceness under `slowlane up`). Reported: p50
and p99, and the worker's CPU per request (utime + stime of all its threads over the idle run).
Kinds take turns in each round, so the machine's drift hits them alike.

    bench/sdk_bench.py [--rounds 3] [--requests 5000] [--kinds c,node,flask]

Binaries from $SLOWLANE_BIN (default build/bin). Prints `result NAME VALUE UNIT` lines
(bench/lib.sh), the median over rounds.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SLOWLANE_BIN") or os.path.join(ROOT, "build", "bin")
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
import harness  # noqa: E402  (free ports, process groups, MMI readiness)
from gateway_support import start_gateway  # noqa: E402

SEED_EXPRESS = os.path.join(ROOT, "examples", "seed-express", "app.js")
SEED_FLASK = os.path.join(ROOT, "examples", "seed-flask")


def worker_command(kind, endpoint):
    if kind == "c":
        return [os.path.join(BIN, "slowlane-worker"), "--broker", endpoint, "--service", "fast",
                "--handler", "builtin:echo"]
    if kind == "node":
        return [shutil.which("node"), os.path.join(ROOT, "sdk", "node", "bin", "slowlane-node.js"),
                "--broker", endpoint, "--service", "fast", SEED_EXPRESS]
    return ["/usr/bin/python3", "-m", "slowlane_wsgi", "--broker", endpoint, "--service", "fast",
            "app:app"]


def cpu_ticks(pid):
    """utime + stime of every thread of pid and of its children (a supervisor's worker)."""
    total = 0
    for process in [pid] + harness.child_pids(pid):
        try:
            for tid in os.listdir(f"/proc/{process}/task"):
                with open(f"/proc/{process}/task/{tid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def latency(port, requests, warmup=0):
    out = subprocess.run([os.path.join(BIN, "bench-latency"), "--port", str(port), "--path",
                          "/fast", "--requests", str(requests), "--warmup", str(warmup),
                          "--interval-us", "0"], capture_output=True, text=True, check=True)
    figures = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    if int(figures["errors"]) != 0:
        raise SystemExit(f"sdk_bench: {figures['errors']} requests failed")
    return float(figures["p50_us"]) / 1000, float(figures["p99_us"]) / 1000


def one_run(kind, requests):
    broker = harness.start_broker()
    env = {"PYTHONPATH": f"{os.path.join(ROOT, 'sdk', 'python')}:{SEED_FLASK}"}
    worker = harness.Process(worker_command(kind, broker.endpoint), env=env, name=f"sdk-{kind}")
    gateway = start_gateway(broker.endpoint, ["/fast=fast,methods=GET"])
    hogs = []
    try:
        harness.wait_for(lambda: harness.mmi_service_ready(broker.endpoint, "fast"), timeout=20,
                         what=f"the {kind} worker")
        latency(gateway.port, 3000)  # warm-up, not counted
        ticks = cpu_ticks(worker.pid)
        idle = latency(gateway.port, requests)
        cpu_us = (cpu_ticks(worker.pid) - ticks) / os.sysconf("SC_CLK_TCK") * 1e6 / requests
        hogs = [subprocess.Popen(["nice", "-n", "10", "sh", "-c", "while :; do :; done"])
                for _ in range(2)]
        time.sleep(0.2)
        busy = latency(gateway.port, requests)
        return idle, busy, cpu_us
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        for process in (gateway, worker, broker):
            process.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--kinds", default="c,node,flask")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    runs = {kind: [] for kind in kinds}
    for round_ in range(args.rounds):
        order = kinds if round_ % 2 == 0 else list(reversed(kinds))
        for kind in order:
            idle, busy, cpu_us = one_run(kind, args.requests)
            runs[kind].append((idle, busy, cpu_us))
            print(f"round {round_ + 1} {kind}: idle p50 {idle[0]:.2f} p99 {idle[1]:.2f} ms; "
                  f"beside 2 hogs p50 {busy[0]:.2f} p99 {busy[1]:.2f} ms; "
                  f"cpu {cpu_us:.0f} us/request", flush=True)
    for kind in kinds:
        median = lambda pick: statistics.median(pick(run) for run in runs[kind])  # noqa: E731
        print(f"result sdk_{kind}_idle_p50 {median(lambda r: r[0][0]):.2f} ms")
        print(f"result sdk_{kind}_idle_p99 {median(lambda r: r[0][1]):.2f} ms")
        print(f"result sdk_{kind}_hogs_p50 {median(lambda r: r[1][0]):.2f} ms")
        print(f"result sdk_{kind}_hogs_p99 {median(lambda r: r[1][1]):.2f} ms")
        print(f"result sdk_{kind}_cpu_per_request {median(lambda r: r[2]):.0f} us")


if __name__ == "__main__":
    main()
