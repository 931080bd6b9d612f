#!/usr/bin/python3
"""A slowlane worker in Python: MDP/0.2 worker + the HTTP envelope, in about two pages.

Needs only Debian's python3-zmq. The main thread owns the broker sockets (register, heartbeat,
reconnect); each job runs on a handler thread so heartbeats go on during a long job. Given one
--broker it is a plain RFC 18 worker; given several, it registers with each and takes one job
at a time across all of them (docs/protocol.md section 3.7: credit, hand-back and demand).
Run:  python3 examples/python_worker.py --broker tcp://127.0.0.1:5555 --service hello
It is also a program: worker (docs/workers.md): under
    slowlane-worker --count 4 --handler 'program:python3 examples/python_worker.py'
it takes what no flag gives from SLOWLANE_BROKER, SLOWLANE_SERVICE, SLOWLANE_IDENTITY,
SLOWLANE_HEARTBEAT_MS and SLOWLANE_LIVENESS, tells the supervisor 'R', 'S' and 'E' on
SLOWLANE_EVENTS_FD, and drains on SIGTERM (the job in hand finishes, then DISCONNECT)."""
import argparse, itertools, json, os, signal, threading, time, urllib.parse
import zmq

W = b"MDPW02"  # RFC 18 worker commands: READY 1, REQUEST 2, PARTIAL 3, FINAL 4, HEARTBEAT 5, DISCONNECT 6
READY, REQUEST, FINAL, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x04", b"\x05", b"\x06"
CREDIT, HANDBACK, DEMAND = b"\x10", b"\x11", b"\x12"  # slowlane, several brokers (3.7)
CAPACITY = 1  # jobs at once across all brokers: this worker runs one at a time


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


class Broker:
    """One broker's conversation: its socket, heartbeats and, with several brokers, what it
    may send us (its limit) and whether it has work waiting (its demand)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.socket = None  # None between conversations
        self.registered = False  # the broker answered since our READY (told as 'R')
        self.conversation = 0  # a new number per socket: a job's reply goes only to its own
        self.retry_at = 0.0  # after DISCONNECT: reconnect then
        self.limit = 0  # the limit this broker was last told (READY credit=, CREDIT)
        self.demand = False  # DEMAND 1 (or our HANDBACK) until DEMAND 0 or a new conversation
        self.last_heard = self.last_sent = 0.0

    def send(self, frames):
        self.socket.send_multipart(frames)
        self.last_sent = time.monotonic()


class Credit:
    """protocol.md 3.7 for capacity 1. Free slots go to every broker while none has work
    waiting; once some have, the free slot goes to one of those only, in turn (starting after
    the one given the last slot), and every other broker may send nothing more."""

    def __init__(self, brokers):
        self.brokers = brokers
        self.held = []  # (conversation, address) of each job in hand, from any broker
        self.owner = None  # broker the free slot is granted to while some have demand
        self.last_given = len(brokers) - 1  # so the first turn starts with the first broker

    def limits(self):
        jobs = [sum(1 for conversation, _ in self.held if conversation == b.conversation)
                for b in self.brokers]
        free = max(CAPACITY - len(self.held), 0)
        wanting = [i for i, b in enumerate(self.brokers) if b.socket and b.demand]
        if not free or not wanting:
            self.owner = None
            return [jobs[i] + free for i in range(len(self.brokers))]
        if self.owner not in wanting:  # a slot came free, or its owner lost interest: next turn
            count = len(self.brokers)
            self.owner = next(i for i in ((self.last_given + k) % count
                                          for k in range(1, count + 1)) if i in wanting)
            self.last_given = self.owner
        return [jobs[i] + (free if i == self.owner else 0) for i in range(len(self.brokers))]

    def tell(self, lowered):
        """Sends CREDIT to each broker whose limit went down (lowered) or up (not lowered)."""
        for broker, limit in zip(self.brokers, self.limits()):
            if broker.socket and limit != broker.limit and (limit < broker.limit) == lowered:
                broker.send([W, CREDIT, str(limit).encode()])
                broker.limit = limit

    def tell_all(self):
        self.tell(lowered=True)
        self.tell(lowered=False)


class Events:
    """What a supervisor hears from a program: worker (docs/workers.md): one byte each for
    registered, job start and job end on SLOWLANE_EVENTS_FD. Nothing without the variable."""

    def __init__(self):
        fd = os.environ.get("SLOWLANE_EVENTS_FD")
        self.fd = int(fd) if fd else None

    def tell(self, event):
        if self.fd is not None:
            try:
                os.write(self.fd, event)
            except OSError:  # the supervisor is gone: not worth stopping a job for
                pass


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(description="slowlane example worker (Python)")
    parser.add_argument("--broker", action="append",
                        help="broker endpoint (default $SLOWLANE_BROKER, else "
                             "tcp://127.0.0.1:5555); repeat for several")
    parser.add_argument("--service", default=env("SLOWLANE_SERVICE") or "hello")
    parser.add_argument("--heartbeat-ms", type=int,
                        default=int(env("SLOWLANE_HEARTBEAT_MS") or 1000))
    parser.add_argument("--liveness", type=int, default=int(env("SLOWLANE_LIVENESS") or 3))
    args = parser.parse_args()
    beat = args.heartbeat_ms / 1000
    identity = (env("SLOWLANE_IDENTITY") or "").encode()  # the supervisor's host/pid/slot
    supervisor = Events()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    endpoints = args.broker or (env("SLOWLANE_BROKER") or "").split() or ["tcp://127.0.0.1:5555"]
    brokers = [Broker(endpoint) for endpoint in endpoints]
    several = len(brokers) > 1  # one broker: a plain RFC 18 worker, nothing of 3.7
    credit = Credit(brokers)
    conversations = itertools.count(1)
    context = zmq.Context()
    done = context.socket(zmq.PULL)  # handler threads hand replies to the I/O loop here
    done.bind("inproc://done")

    def run_job(conversation, address, body):
        out = context.socket(zmq.PUSH)
        out.connect("inproc://done")
        supervisor.tell(b"S")
        out.send_multipart([str(conversation).encode(), address] + handle(body))
        out.close()

    def hang_up(broker, retry_at):
        broker.socket.close()
        broker.socket, broker.demand, broker.retry_at = None, False, retry_at
        broker.registered = False
        if several:
            credit.tell_all()  # the slot it was granted goes to another broker

    while not stop.is_set() or credit.held:  # SIGTERM drains: the job in hand finishes first
        now = time.monotonic()
        for broker in brokers:  # (re)connect: a new socket per conversation, as RFC 18 requires
            if broker.socket is None and now >= broker.retry_at and not stop.is_set():
                broker.conversation = next(conversations)
                broker.socket = context.socket(zmq.DEALER)
                broker.socket.linger = 0
                if identity:  # stable across restarts: the broker hands the old one over
                    broker.socket.setsockopt(zmq.ROUTING_ID, identity)
                broker.socket.connect(broker.endpoint)
                ready = [W, READY, args.service.encode()]
                if several:  # 3.7: the credit frame in every READY states the current grant
                    broker.limit = credit.limits()[brokers.index(broker)]
                    ready.append(b"credit=%d" % broker.limit)
                broker.send(ready)
                broker.last_heard = broker.last_sent
        live = [b for b in brokers if b.socket]
        poller = zmq.Poller()
        for broker in live:
            poller.register(broker.socket, zmq.POLLIN)
        poller.register(done, zmq.POLLIN)
        wake = min([b.last_sent + beat for b in live] +
                   [b.retry_at for b in brokers if not b.socket and not stop.is_set()] +
                   [time.monotonic() + beat])
        events = dict(poller.poll(max(0, int((wake - time.monotonic()) * 1000))))
        if done in events:  # a job finished: FINAL to its broker, unless it reconnected since
            conversation, address, *reply = done.recv_multipart()
            credit.held.remove((int(conversation), address))
            supervisor.tell(b"E")
            owner = [b for b in live if b.conversation == int(conversation)]
            if several:  # 3.7: a lowered limit reaches a broker before the FINAL
                credit.tell(lowered=True)
            if owner:
                owner[0].send([W, FINAL, address, b""] + reply)
            if several:
                credit.tell(lowered=False)
        for broker in live:
            if broker.socket not in events:
                continue
            frames = broker.socket.recv_multipart()
            broker.last_heard = time.monotonic()  # any command from a broker is a heartbeat
            if not broker.registered:  # the broker answered our READY: we are registered
                broker.registered = True
                supervisor.tell(b"R")
            if len(frames) < 2 or frames[0] != W:
                continue  # not MDP/0.2: drop it
            if frames[1] == REQUEST and len(frames) >= 4:  # MDPW02|0x02|client|""|body...
                if several and len(credit.held) >= CAPACITY:
                    # Two brokers sent into one free slot at once: this one goes back, and
                    # its broker counts as having work waiting (3.7)
                    broker.send([W, HANDBACK, frames[2], b""])
                    broker.demand = True
                    broker.limit = sum(1 for c, _ in credit.held if c == broker.conversation)
                else:
                    credit.held.append((broker.conversation, frames[2]))
                    threading.Thread(target=run_job, daemon=True,
                                     args=(broker.conversation, frames[2], frames[4:])).start()
                if several:
                    credit.tell_all()
            elif frames[1] == DEMAND and several and len(frames) == 3:
                broker.demand = frames[2] == b"1"
                credit.tell_all()
            elif frames[1] == DISCONNECT:
                hang_up(broker, time.monotonic() + beat)  # it may be restarting: a beat later
        now = time.monotonic()
        for broker in brokers:
            if broker.socket is None:
                continue
            if now - broker.last_heard > beat * args.liveness:  # silent: a new conversation
                hang_up(broker, now)
            elif now - broker.last_sent >= beat:
                broker.send([W, HEARTBEAT])
    for broker in brokers:
        if broker.socket is not None:
            broker.send([W, DISCONNECT])
            broker.socket.close()
    done.close()
    context.term()


if __name__ == "__main__":
    main()
