#!/usr/bin/python3
"""A slowlane worker in Python: MDP/0.2 worker + the HTTP envelope, in about a page.

Needs only Debian's python3-zmq. The main thread owns the broker socket (register, heartbeat,
reconnect); each job runs on a handler thread so heartbeats go on during a long job.
Run:  python3 examples/python_worker.py --broker tcp://127.0.0.1:5555 --service hello"""
import argparse, json, os, signal, threading, time, urllib.parse
import zmq

W = b"MDPW02"  # RFC 18 worker commands: READY 1, REQUEST 2, PARTIAL 3, FINAL 4, HEARTBEAT 5, DISCONNECT 6
READY, REQUEST, FINAL, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x04", b"\x05", b"\x06"


def handle(body):
    """Request body frames -> reply body frames. An envelope gets an envelope back."""
    if len(body) == 9 and body[0] == b"SLREQ/1":
        # SLREQ/1 | request-id | timeout-ms | retry | method | path | query | headers | body
        _, request_id, timeout_ms, _, method, path, query, headers, content = body
        params = urllib.parse.parse_qs(query.decode())
        time.sleep(min(int(params.get("sleep_ms", ["0"])[0]), 60000) / 1000)  # a "long job"
        reply = {"greeting": f"hello, {params.get('name', ['world'])[0]}", "pid": os.getpid(),
                 "method": method.decode(), "path": path.decode(), "query": query.decode(),
                 "request_id": request_id.decode(), "body_bytes": len(content)}
        # SLREP/1 | status | headers ("Name: value\r\n" each) | body
        return [b"SLREP/1", b"200", b"Content-Type: application/json\r\n",
                json.dumps(reply).encode()]
    # Not an envelope: a plain MDP client. Answer one opaque frame.
    return [json.dumps({"greeting": "hello", "opaque_bytes": sum(map(len, body))}).encode()]


def main():
    parser = argparse.ArgumentParser(description="slowlane example worker (Python)")
    parser.add_argument("--broker", default="tcp://127.0.0.1:5555")
    parser.add_argument("--service", default="hello")
    parser.add_argument("--heartbeat-ms", type=int, default=1000)
    parser.add_argument("--liveness", type=int, default=3)
    args = parser.parse_args()
    beat = args.heartbeat_ms / 1000
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    context = zmq.Context()
    done = context.socket(zmq.PULL)  # handler threads hand replies to the I/O loop here
    done.bind("inproc://done")
    socket = None

    def run_job(generation, address, body):
        out = context.socket(zmq.PUSH)
        out.connect("inproc://done")
        out.send_multipart([generation, address] + handle(body))
        out.close()

    generation = 0
    while not stop.is_set():
        if socket is None:  # (re)connect: a new socket per conversation, as RFC 18 requires
            generation += 1
            socket = context.socket(zmq.DEALER)
            socket.linger = 0
            socket.connect(args.broker)
            socket.send_multipart([W, READY, args.service.encode()])
            last_heard = last_sent = time.monotonic()
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(done, zmq.POLLIN)
        events = dict(poller.poll(max(0, int((last_sent + beat - time.monotonic()) * 1000))))
        if done in events:  # a job finished: FINAL to the broker, unless we reconnected since
            job_generation, address, *reply = done.recv_multipart()
            if int(job_generation) == generation:
                socket.send_multipart([W, FINAL, address, b""] + reply)
                last_sent = time.monotonic()
        if socket in events:
            frames = socket.recv_multipart()
            last_heard = time.monotonic()  # any command from the broker is a heartbeat
            if len(frames) < 2 or frames[0] != W:
                continue  # not MDP/0.2: drop it
            if frames[1] == REQUEST and len(frames) >= 4:  # MDPW02|0x02|client|""|body...
                threading.Thread(target=run_job, daemon=True,
                                 args=(str(generation).encode(), frames[2], frames[4:])).start()
            elif frames[1] == DISCONNECT:
                socket.close()
                socket = None
                stop.wait(beat)  # the broker may be restarting: come back after a beat
                continue
        now = time.monotonic()
        if now - last_heard > beat * args.liveness:  # broker silent: start a new conversation
            socket.close()
            socket = None
        elif now - last_sent >= beat:
            socket.send_multipart([W, HEARTBEAT])
            last_sent = now
    if socket is not None:
        socket.send_multipart([W, DISCONNECT])
        socket.close()
    done.close()
    context.term()


if __name__ == "__main__":
    main()
