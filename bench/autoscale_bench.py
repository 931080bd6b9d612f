#!/usr/bin/python3
"""autoscale_bench: the autoscaler under a step load (issue 22), as a timeline. One broker
with `--autoscale sleep=1..MAX,target-wait-ms=W,cooldown-s=C`, one gateway, one supervisor
of builtin:sleep starting with one worker. The load, through the gateway:

  idle      IDLE s, nothing sent
  step      CLIENTS clients, each sending GET /sleep?ms=JOB back to back, for STEP s
  idle      until the count is back at min (at most FALL s), a trickle of one request
            every 250 ms to show that nothing fails on the way down

Every 250 ms it records the registered workers and the broker's queue (mmi.stats), and per
second the requests answered and their p99 (client side). Writes autoscale-timeline.csv
(t_s, workers, queued, answered, p99_ms, failed) into $BENCH_OUT (or the current directory)
for report.py's plot, and prints `result NAME VALUE UNIT` lines:

  autoscale_rise_s        from the step's start to the most workers the step reached
  autoscale_peak_workers  the most workers registered
  autoscale_wait_p99_ms   p99 of (answer time - JOB) over the step: the wait the scaling left
  autoscale_max_wait_ms   the worst such wait
  autoscale_fall_s        from the step's end to the count back at min
  autoscale_failed        requests that did not get a 200 (step and fall)

    bench/autoscale_bench.py [--clients 20] [--job-ms 500] [--max 24] [--step-s 20]
                             [--heartbeat-ms 1000] [--cooldown-s 5] [--target-wait-ms 500]

Binaries from $SLOWLANE_BIN (default build/bin).
"""
import argparse
import csv
import http.client
import os
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("SLOWLANE_BIN", os.path.join(ROOT, "build", "bin"))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
import harness  # noqa: E402  (free ports, process groups, MMI)
from gateway_support import start_gateway  # noqa: E402

SERVICE = "sleep"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


class Load:
    """Clients sending /sleep?ms=JOB back to back; each answer as (end time, seconds, ok)."""

    def __init__(self, port, job_ms):
        self.port, self.job_ms = port, job_ms
        self.answers = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def one(self, connection):
        began = time.monotonic()
        try:
            connection.request("GET", f"/sleep?ms={self.job_ms}")
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
        ended = time.monotonic()
        with self.lock:
            self.answers.append((ended, ended - began, ok))
        return ok

    def client(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stop.is_set():
            if not self.one(connection):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.close()

    def start(self, clients):
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def end(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(120)


def sample(endpoint):
    stats = harness.mmi_json(endpoint, "mmi.stats", b"") or {"services": []}
    entry = next((s for s in stats["services"] if s["name"] == SERVICE), {})
    return entry.get("workers", 0), entry.get("queued", 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--job-ms", type=int, default=500)
    parser.add_argument("--max", type=int, default=24)
    parser.add_argument("--heartbeat-ms", type=int, default=1000)
    parser.add_argument("--target-wait-ms", type=int, default=500)
    parser.add_argument("--cooldown-s", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=3)
    parser.add_argument("--step-s", type=float, default=20)
    parser.add_argument("--fall-s", type=float, default=90)
    args = parser.parse_args()
    out = os.environ.get("BENCH_OUT") or "."
    os.makedirs(out, exist_ok=True)

    policy = (f"{SERVICE}=1..{args.max},target-wait-ms={args.target_wait_ms},"
              f"cooldown-s={args.cooldown_s}")
    # The product's defaults (1 s heartbeats: one decision a second), not the tests' 100 ms
    port = harness.free_port()
    beat = ("--heartbeat-ms", str(args.heartbeat_ms), "--liveness", "3")
    broker = harness.Process([harness.binary("slowlane-broker"), "--bind",
                              f"tcp://127.0.0.1:{port}", *beat, "--autoscale", policy],
                             name="broker")
    broker.endpoint = f"tcp://127.0.0.1:{port}"
    gateway = start_gateway(broker.endpoint, [f"/sleep={SERVICE},budget=1000"])
    pool = harness.Process([harness.binary("slowlane-worker"), "--broker", broker.endpoint,
                            "--service", SERVICE, "--count", "1", "--handler", "builtin:sleep",
                            *beat], name="workers")
    try:
        harness.wait_for(lambda: sample(broker.endpoint)[0] == 1, what="the first worker")
        print(f"policy {policy}; heartbeat {args.heartbeat_ms} ms; {args.clients} clients of "
              f"{args.job_ms} ms jobs for {args.step_s:.0f} s")
        timeline = []  # (t, workers, queued)
        load = Load(gateway.port, args.job_ms)
        t0 = time.monotonic()
        phase = "idle"
        step_start = step_end = None
        trickle = Load(gateway.port, 1)
        next_trickle = 0.0
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
        while True:
            now = time.monotonic() - t0
            if phase == "idle" and now >= args.idle_s:
                phase, step_start = "step", now
                load.start(args.clients)
            elif phase == "step" and now >= step_start + args.step_s:
                phase = "fall"
                load.end()
                step_end = time.monotonic() - t0
            workers, queued = sample(broker.endpoint)
            timeline.append((now, workers, queued))
            if phase == "fall":
                if now >= next_trickle:
                    if not trickle.one(connection):
                        connection.close()
                        connection = http.client.HTTPConnection("127.0.0.1", gateway.port,
                                                                timeout=60)
                    next_trickle = time.monotonic() - t0 + 0.25
                if workers == 1 or now > step_end + args.fall_s:
                    break
            time.sleep(0.25)  # the sampling period, not a wait for a condition
        connection.close()
    finally:
        pool.stop()
        gateway.stop()
        broker.stop()

    answers = [(end - t0, seconds, ok) for end, seconds, ok in load.answers]
    fall_answers = [(end - t0, seconds, ok) for end, seconds, ok in trickle.answers]
    seconds_total = int(timeline[-1][0]) + 1
    rows = []
    for second in range(seconds_total):
        points = [p for p in timeline if second <= p[0] < second + 1]
        done = [a for a in answers + fall_answers if second <= a[0] < second + 1]
        ok_times = [a[1] * 1000 for a in done if a[2]]
        rows.append((second, max((p[1] for p in points), default=0),
                     max((p[2] for p in points), default=0), len(done),
                     round(percentile(ok_times, 0.99), 1), sum(1 for a in done if not a[2])))
    with open(os.path.join(out, "autoscale-timeline.csv"), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["t_s", "workers", "queued", "answered", "p99_ms", "failed"])
        writer.writerows(rows)

    peak = max(p[1] for p in timeline)
    step_points = [p for p in timeline if step_start <= p[0] <= step_end]
    settled = max(p[1] for p in step_points)
    rise = next(p[0] for p in step_points if p[1] == settled) - step_start
    back = next((p[0] for p in timeline if p[0] > step_end and p[1] == 1), None)
    waits = [seconds * 1000 - args.job_ms for _, seconds, ok in answers if ok]
    failed = sum(1 for a in answers + fall_answers if not a[2])
    for second, workers, queued, answered, p99, bad in rows:
        print(f"t={second:3d}s workers={workers:2d} queued={queued:3d} answered={answered:3d} "
              f"p99={p99:7.1f} ms failed={bad}")
    print(f"result autoscale_rise_s {rise:.2f} s")
    print(f"result autoscale_peak_workers {peak} workers")
    print(f"result autoscale_wait_p99_ms {percentile(waits, 0.99):.0f} ms")
    print(f"result autoscale_wait_median_ms {statistics.median(waits) if waits else 0:.0f} ms")
    print(f"result autoscale_max_wait_ms {max(waits) if waits else 0:.0f} ms")
    print(f"result autoscale_fall_s {(back - step_end) if back else float('nan'):.1f} s")
    print(f"result autoscale_failed {failed} requests")
    print(f"result autoscale_requests {len(answers)} requests")


if __name__ == "__main__":
    main()
