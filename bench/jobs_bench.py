#!/usr/bin/python3
"""jobs_bench: what a job costs against a synchronous request (docs/jobs.md).

One broker, one gateway, WORKERS workers of builtin:sleep and slowlane-jobs on a fresh store.
JOBS requests of /work?ms=1 are sent CLIENTS at a time, each on its own keep-alive
connection:
  1. synchronously: requests per second;
  2. as jobs (Prefer: respond-async): 202s per second while submitting, and jobs completed
     per second from the first submission to the last job done;
  3. the store's size per job once they are done;
  4. JOBS jobs accepted while no worker runs, then slowlane-jobs killed with SIGKILL: the
     time from its restart until it answers for a job again, and until every job is done
     once the workers are back.

    bench/jobs_bench.py [--jobs 10000] [--clients 16] [--workers 2]

Binaries from $SLOWLANE_BIN (default build/bin). Prints `result NAME VALUE UNIT` lines
(bench/lib.sh) and leaves the logs in $BENCH_OUT or a temporary directory.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SLOWLANE_BIN") or os.path.join(ROOT, "build", "bin")
TOKEN = "jobs-bench-admin-token-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def result(name, value, unit):
    print(f"result {name} {value} {unit}", flush=True)


class Cluster:
    def __init__(self, out, workers):
        self.out = out
        self.workers_count = workers
        self.broker_port, self.http_port = free_port(), free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.broker_port}"
        self.store = os.path.join(out, "store")
        self.procs = {}
        self.start("broker", [f"{BIN}/slowlane-broker", "--bind", self.endpoint])
        self.start("gateway", [f"{BIN}/slowlane-gateway", "--listen", str(self.http_port),
                               "--broker", self.endpoint, "--route", "/work=work",
                               "--admin-token", TOKEN, "--access-log=false"])
        self.start_jobs()
        self.start_workers()

    def start(self, name, args):
        log = open(os.path.join(self.out, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def start_jobs(self):
        self.start("jobs", [f"{BIN}/slowlane-jobs", "--broker", self.endpoint,
                            "--data-dir", self.store, "--log-level", os.environ.get("JOBS_LOG_LEVEL", "warn")])

    def start_workers(self):
        self.start("workers", [f"{BIN}/slowlane-worker", "--broker", self.endpoint,
                               "--service", "work", "--handler", "builtin:sleep",
                               "--count", str(self.workers_count), "--log-level", "warn"])

    def stop(self, name, sig=signal.SIGTERM):
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(30)

    def stop_all(self):
        for name in ["gateway", "jobs", "workers", "broker"]:
            if name in self.procs:
                self.stop(name)

    def get(self, path, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def counts(self):
        status, body = self.get("/api/v1/jobs?limit=0",
                                {"Authorization": f"Bearer {TOKEN}"})
        return json.loads(body)["counts"] if status == 200 else None

    def wait(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        raise SystemExit(f"jobs_bench: timed out waiting for {what}")


def run_requests(port, count, clients, headers):
    """count GET /work?ms=1 on clients keep-alive connections; returns (seconds, statuses)."""
    per_client = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def client(n):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        statuses, ids = {}, []
        for _ in range(n):
            connection.request("GET", "/work?ms=1", headers=headers)
            response = connection.getresponse()
            body = response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status == 202:
                ids.append(json.loads(body)["id"])
        connection.close()
        return statuses, ids

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(client, per_client))
    elapsed = time.monotonic() - start
    statuses, ids = {}, []
    for part, part_ids in answers:
        ids += part_ids
        for status, n in part.items():
            statuses[status] = statuses.get(status, 0) + n
    return elapsed, statuses, ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    out = os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="jobs-bench-")
    os.makedirs(out, exist_ok=True)
    cluster = Cluster(out, options.workers)
    try:
        cluster.wait(lambda: cluster.get("/readyz")[0] == 200, 30, "the cluster ready")
        cluster.wait(lambda: cluster.counts() is not None, 30, "the jobs service")
        n = options.jobs

        seconds, statuses, _ = run_requests(cluster.http_port, n, options.clients, {})
        print(f"sync: {n} requests in {seconds:.2f} s, statuses {statuses}")
        result("jobs_sync_rate", round(n / seconds), "req/s")

        start = time.monotonic()
        seconds, statuses, ids = run_requests(cluster.http_port, n, options.clients,
                                              {"Prefer": "respond-async"})
        print(f"async: {n} submissions in {seconds:.2f} s, statuses {statuses}")
        result("jobs_submit_rate", round(n / seconds), "202/s")
        cluster.wait(lambda: cluster.counts()["done"] >= len(ids), 600, "every job done")
        done_seconds = time.monotonic() - start
        result("jobs_complete_rate", round(len(ids) / done_seconds), "jobs/s")
        size = sum(os.path.getsize(os.path.join(cluster.store, f))
                   for f in os.listdir(cluster.store))
        result("jobs_store_bytes_per_job", round(size / len(ids)), "bytes")

        # Recovery: n jobs waiting (no worker), then kill -9 of the store's owner.
        cluster.stop("workers")
        cluster.wait(lambda: cluster.get("/readyz")[0] == 503, 30, "the workers gone")
        _, statuses, ids = run_requests(cluster.http_port, n, options.clients,
                                        {"Prefer": "respond-async"})
        print(f"recovery: {len(ids)} jobs stored, statuses {statuses}")
        cluster.stop("jobs", signal.SIGKILL)
        start = time.monotonic()
        cluster.start_jobs()
        cluster.wait(lambda: cluster.get(f"/jobs/{ids[-1]}")[0] == 200, 120,
                     "slowlane-jobs answering again")
        result("jobs_recovery_answering", round((time.monotonic() - start) * 1000), "ms")
        cluster.start_workers()
        cluster.wait(lambda: cluster.counts()["done"] >= 2 * n, 600, "every stored job done")
        result("jobs_recovery_all_done", round((time.monotonic() - start) * 1000), "ms")
    finally:
        cluster.stop_all()
    print(f"logs: {out}")


if __name__ == "__main__":
    sys.exit(main())
