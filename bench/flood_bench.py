#!/usr/bin/python3
"""flood_bench: do busy workers stay registered while clients flood the broker's port?

Starts CLUSTERS independent clusters side by side (slowlane-broker + slowlane-worker with 2
workers, heartbeat 250 ms, liveness 3), gives each worker a job of SECONDS, and meanwhile
runs FLOODERS processes per cluster that flood its broker's port with new connections, as
fast as they can. Two clusters on this 2-core machine is what CI does when two system-test
files run at once. A worker that misses 3 heartbeats is expired by its broker and its job
fails or is re-delivered: the figures that matter are expirations, which should be 0, and
the worst silence of a busy worker the broker saw (mmi.stats worst_silence_ms: the gap
between two of a worker's messages, heartbeat 250 ms, expired at 750).

    bench/flood_bench.py [--clusters 2] [--flooders 2] [--seconds 10] [--handler builtin:sleep]
                         [--kind mmi|connect|curve] [--own-session]

--kind: what each flooder connection does.
  mmi      a ZeroMQ connection that asks mmi.service once and closes (the default)
  connect  a TCP connect and close, no ZMTP at all: what anyone who reaches the port can do
  curve    the brokers run CURVE (slowlane keygen keys, workers listed); each connection tries
           a CURVE handshake with a key pair the broker does not list, and is refused

--own-session starts each supervisor in a session of its own (setsid), as a separate terminal
or service would: on Linux that is a scheduling group of its own (autogroup), which this
kernel lets wait behind the busy one (bench/README.md, "Robustness benchmarks").

Binaries from $SLOWLANE_BIN (default build/bin). Prints `result NAME VALUE UNIT` lines
(bench/lib.sh) and leaves the logs in $BENCH_OUT or a temporary directory.
"""
import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time

import zmq
import zmq.auth

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmi_stats import ask, wait_for_workers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SLOWLANE_BIN") or os.path.join(ROOT, "build", "bin")
HEARTBEAT_MS = 250
WORKERS = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flood(endpoint, kind, server_key, stop, counter):
    """New connections as fast as one process can open them; see --kind."""
    context = zmq.Context()
    opened = 0
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    rogue = zmq.curve_keypair()  # listed nowhere: every handshake is refused
    while not stop.is_set():
        if kind == "connect":
            with socket.create_connection((host, int(port))):
                pass
            opened += 1
            continue
        client = context.socket(zmq.DEALER)
        client.linger = 0
        if kind == "curve":
            client.curve_publickey, client.curve_secretkey = rogue
            client.curve_serverkey = server_key
        client.connect(endpoint)
        client.send_multipart([b"MDPC02", b"\x01", b"mmi.service", b"work"])
        #  A refused handshake never answers: wait only as long as a handshake takes
        if client.poll(1000 if kind == "mmi" else 5) and kind == "curve":
            sys.exit("flood_bench: the broker answered a key it does not list")
        client.close()
        opened += 1
    with counter.get_lock():
        counter.value += opened
    context.term()


def job_request(request_id, job_ms):
    """An MDP/0.2 REQUEST carrying a request envelope (docs/protocol.md)."""
    return [b"MDPC02", b"\x01", b"work", b"SLREQ/1", request_id.encode(),
            str(job_ms + 10000).encode(), b"0", b"GET", b"/", f"ms={job_ms}".encode(), b"", b""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--flooders", type=int, default=2, help="per cluster")
    parser.add_argument("--seconds", type=int, default=10, help="job length and flood length")
    parser.add_argument("--handler", default="builtin:sleep")
    parser.add_argument("--kind", choices=["mmi", "connect", "curve"], default="mmi")
    parser.add_argument("--own-session", action="store_true",
                        help="each supervisor in a session (autogroup) of its own")
    options = parser.parse_args()
    logs = os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="slowlane-flood-")
    os.makedirs(logs, exist_ok=True)

    broker_curve, worker_curve, server_key = [], [], None
    configure = None  # what the bench's own clients set before they connect
    if options.kind == "curve":
        keys = os.path.join(logs, "keys")
        os.makedirs(os.path.join(keys, "clients"), exist_ok=True)
        for name in ("broker", "worker", "bench"):
            subprocess.run([os.path.join(BIN, "slowlane"), "keygen", "--out", keys, "--name",
                            name], check=True, capture_output=True)
        for name in ("worker", "bench"):
            os.replace(os.path.join(keys, name), os.path.join(keys, "clients", name))
        broker_curve = ["--curve-secret", os.path.join(keys, "broker_secret"),
                        "--curve-clients", os.path.join(keys, "clients")]
        worker_curve = ["--curve-secret", os.path.join(keys, "worker_secret"),
                        "--curve-server", os.path.join(keys, "broker")]
        server_key = zmq.auth.load_certificate(os.path.join(keys, "broker"))[0]
        bench_keys = zmq.auth.load_certificate(os.path.join(keys, "bench_secret"))

        def configure(socket):
            socket.curve_publickey, socket.curve_secretkey = bench_keys
            socket.curve_serverkey = server_key

    processes, endpoints = [], []
    try:
        for index in range(options.clusters):
            endpoint = f"tcp://127.0.0.1:{free_port()}"
            endpoints.append(endpoint)
            common = ["--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", "3"]
            processes.append(subprocess.Popen(
                [os.path.join(BIN, "slowlane-broker"), "--bind", endpoint, *common,
                 *broker_curve],
                stderr=open(os.path.join(logs, f"broker-{index}.log"), "w")))
            processes.append(subprocess.Popen(
                [os.path.join(BIN, "slowlane-worker"), "--broker", endpoint, "--service", "work",
                 "--handler", options.handler, "--count", str(WORKERS), *common, *worker_curve],
                stderr=open(os.path.join(logs, f"workers-{index}.log"), "w"),
                start_new_session=options.own_session))
        for endpoint in endpoints:
            ok, have = wait_for_workers(endpoint, "work", WORKERS, 10, configure)
            if not ok:
                sys.exit(f"flood_bench: {have} workers registered at {endpoint} (logs in {logs})")

        context = zmq.Context.instance()
        clients = []
        job_ms = options.seconds * 1000
        for endpoint in endpoints:
            client = context.socket(zmq.DEALER)
            client.linger = 0
            if configure:
                configure(client)
            client.connect(endpoint)
            for n in range(WORKERS):
                client.send_multipart(job_request(f"job-{n}", job_ms))
            clients.append(client)

        stop = multiprocessing.Event()
        counter = multiprocessing.Value("l", 0)
        flooders = [multiprocessing.Process(target=flood, args=(endpoint, options.kind,
                                                                server_key, stop, counter))
                    for endpoint in endpoints for _ in range(options.flooders)]
        started = time.monotonic()
        for flooder in flooders:
            flooder.start()
        answers = {200: 0, "other": 0}
        deadline = started + options.seconds + 10
        for client in clients:
            for _ in range(WORKERS):
                remaining = max(0, int((deadline - time.monotonic()) * 1000))
                reply = client.recv_multipart() if client.poll(remaining) else None
                if reply and reply[4:6] == [b"SLREP/1", b"200"]:
                    answers[200] += 1
                else:
                    answers["other"] += 1
        elapsed = time.monotonic() - started
        stop.set()
        for flooder in flooders:
            flooder.join()
        worst_silence_ms = 0
        for client in clients:
            stats = ask(client, 5000) or {}
            for service in stats.get("services", []):
                if service.get("name") == "work":
                    worst_silence_ms = max(worst_silence_ms, service.get("worst_silence_ms", 0))
            client.close()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()

    expired = 0
    for index in range(options.clusters):
        with open(os.path.join(logs, f"broker-{index}.log")) as log:
            expired += sum("event=worker_removed" in line and "reason=expired" in line
                           for line in log)
    print(f"flood_bench: {options.clusters} clusters x {options.flooders} flooders, "
          f"{WORKERS} workers each ({options.handler}), jobs of {job_ms} ms, flood of "
          f"{options.kind}, "
          f"{'supervisors in sessions of their own' if options.own_session else 'one session'}; "
          f"logs in {logs}")
    print(f"result flood_connections_per_s {counter.value / elapsed:.0f} conn/s")
    print(f"result flood_worker_expirations {expired} workers")
    print(f"result flood_worst_silence_ms {worst_silence_ms} ms")
    print(f"result flood_jobs_ok {answers[200]} jobs")
    print(f"result flood_jobs_failed {answers['other']} jobs")


if __name__ == "__main__":
    main()
