#!/usr/bin/python3
"""mmi_stats: asks a broker for mmi.stats (docs/protocol.md 2.5) as an MDP/0.2 client.

    mmi_stats.py ENDPOINT                       prints the JSON
    mmi_stats.py ENDPOINT --wait-service S --wait-workers N --timeout T
                                                waits until S has N registered workers

The benchmarks use it to start measuring when the workers are there, not after a guessed sleep.
"""
import argparse
import json
import sys
import time

import zmq


def ask(socket, timeout_ms):
    socket.send_multipart([b"MDPC02", b"\x01", b"mmi.stats", b""])
    if not socket.poll(timeout_ms):
        return None
    frames = socket.recv_multipart()
    if len(frames) < 4 or frames[1] != b"\x03":
        return None
    return json.loads(frames[-1])


def registered(stats, service):
    for entry in stats.get("services", []):
        if entry.get("name") == service:
            return entry.get("workers", 0)
    return 0


def wait_for_workers(endpoint, service, workers, timeout, configure=None):
    """Asks mmi.stats until service has at least `workers` registered. Returns (True, count),
    or (False, what was last seen) after timeout seconds. configure(socket), if given, is
    called before the connect (CURVE keys, say)."""
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    if configure:
        configure(socket)
    socket.connect(endpoint)
    deadline = time.monotonic() + timeout
    try:
        while True:
            stats = ask(socket, 2000)
            if stats is not None and registered(stats, service) >= workers:
                return True, registered(stats, service)
            if time.monotonic() > deadline:
                return False, registered(stats, service) if stats else "no answer"
            # mmi.stats walks every worker: a few asks a second, as protocol.md asks
            time.sleep(0.25)
    finally:
        socket.close()
        context.term()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--wait-service")
    parser.add_argument("--wait-workers", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    if args.wait_service:
        ok, have = wait_for_workers(args.endpoint, args.wait_service, args.wait_workers,
                                    args.timeout)
        if ok:
            print(f"{args.wait_service}: {have} workers registered")
            return 0
        print(f"mmi_stats: timeout, {args.wait_service}: {have}", file=sys.stderr)
        return 1
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(args.endpoint)
    deadline = time.monotonic() + args.timeout
    try:
        while (stats := ask(socket, 2000)) is None:
            if time.monotonic() > deadline:
                print("mmi_stats: no answer", file=sys.stderr)
                return 1
        print(json.dumps(stats))
        return 0
    finally:
        socket.close()
        context.term()


if __name__ == "__main__":
    sys.exit(main())
