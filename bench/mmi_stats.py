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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("--wait-service")
    parser.add_argument("--wait-workers", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(args.endpoint)
    deadline = time.monotonic() + args.timeout
    try:
        while True:
            stats = ask(socket, 2000)
            if stats is not None and not args.wait_service:
                print(json.dumps(stats))
                return 0
            if stats is not None:
                count = registered(stats, args.wait_service)
                if count >= args.wait_workers:
                    print(f"{args.wait_service}: {count} workers registered")
                    return 0
            if time.monotonic() > deadline:
                have = registered(stats, args.wait_service) if stats else "no answer"
                print(f"mmi_stats: timeout, {args.wait_service}: {have}", file=sys.stderr)
                return 1
            # mmi.stats walks every worker: a few asks a second, as protocol.md asks
            time.sleep(0.25)
    finally:
        socket.close()
        context.term()


if __name__ == "__main__":
    sys.exit(main())
