"""A worker of several brokers (docs/protocol.md 3.7), the worker library's side: two fake
brokers played by this test (python3-zmq ROUTER sockets written from the spec, not slowlane's
broker) and a real worker, slowlane-test-brokers-worker (tests/programs/brokers_worker.c:
sl_worker_new + sl_worker_add_broker; its handler sleeps as many ms as the body says and
answers "start end overlap"). Each check quotes the clause it tests. Against slowlane's own
brokers the end-to-end tests are the broker's and the cluster's."""
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import zmq
import zmq.auth

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HEARTBEAT_MS, LIVENESS, wait_for  # noqa: E402

READY, REQUEST, FINAL, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x04", b"\x05", b"\x06"
CREDIT, HANDBACK, DEMAND = b"\x10", b"\x11", b"\x12"
NAMES = {b"\x01": "READY", b"\x03": "PARTIAL", b"\x04": "FINAL", b"\x05": "HEARTBEAT",
         b"\x06": "DISCONNECT", b"\x10": "CREDIT", b"\x11": "HANDBACK"}
SERVICE = "multi"
# Both fake brokers are threads of this one Python process: when a loaded machine stalls it
# (seen: a quarter of a second at load 38 on 2 cores) both go quiet at once. The worker's
# liveness is therefore 5 here, not the harness's 3; the silent-broker test measures against
# whatever it is.
WORKER_LIVENESS = max(LIVENESS, 5)


class FakeBroker:
    """A ROUTER that records every command a worker sends it, in order, as (name, routing id,
    frames after the command); answers the worker's heartbeats with its own while
    `heartbeating`. With `queue_jobs` it also plays a slowlane broker's dispatch of 3.7: it
    sends its queued jobs while its jobs in flight are below the worker's limit, puts a
    handed-back job back at the head of the queue, and says DEMAND 1 / 0."""

    def __init__(self, name, curve=None):
        self.name = name
        self.curve = curve  # (public, secret) z85 keys: a CURVE server
        self.port = harness.free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.events = []
        self.lock = threading.Lock()
        self.heartbeating = True
        self.worker = None  # routing id of the worker's current connection
        self._outbox = queue.Queue()
        self._stop = threading.Event()
        self._started = threading.Event()
        # The dispatching broker's state (queue_jobs)
        self.jobs = None  # deque of bodies waiting, or None: the test sends by hand
        self.limit = 0
        self.in_flight = {}  # address -> body
        self.capacity = 1
        self.demanded = False
        self.dispatched = []  # addresses in the order sent
        self.handbacks = 0
        self._next_tag = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._started.wait(5)

    def queue_jobs(self, bodies, capacity):
        with self.lock:
            self.capacity = capacity
            self.jobs = list(bodies)

    def send(self, command, *frames):
        self._outbox.put([command, *frames])

    def request(self, address, body):
        self.send(REQUEST, address, b"", body)

    def demand(self, waiting):
        self.send(DEMAND, b"1" if waiting else b"0")

    def of(self, name):
        with self.lock:
            return [event for event in self.events if event[0] == name]

    def names(self, skip_heartbeats=True):
        with self.lock:
            return [event[0] for event in self.events
                    if not (skip_heartbeats and event[0] == "HEARTBEAT")]

    def wait(self, name, count=1, what=None, timeout=5.0):
        """Waits until count commands called name have arrived; returns the last of them."""
        wait_for(lambda: len(self.of(name)) >= count, timeout=timeout,
                 what=what or f"{count} {name} at broker {self.name}")
        return self.of(name)[count - 1]

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def _send_now(self, sock, frames):
        if self.worker is not None:
            sock.send_multipart([self.worker, b"MDPW02", *frames])

    def _dispatch(self, sock):
        """The broker of 3.7: sends while in flight < limit, asks DEMAND when it cannot."""
        if self.jobs is None or self.worker is None:
            return
        while self.jobs and len(self.in_flight) < self.limit:
            body = self.jobs.pop(0)
            self._next_tag += 1
            address = self._next_tag.to_bytes(8, "big")
            self.in_flight[address] = body
            self.dispatched.append(address)
            self._send_now(sock, [REQUEST, address, b"", body])
        # "DEMAND 1 ... when it has a request ... waiting that no worker can take now, and
        # that worker's limit at this broker is below its capacity"
        if self.jobs and not self.demanded and self.limit < self.capacity:
            self.demanded = True
            self._send_now(sock, [DEMAND, b"1"])
        # "DEMAND 0 when it holds unused limit ... and nothing of the service is waiting"
        elif not self.jobs and self.demanded and len(self.in_flight) < self.limit:
            self.demanded = False
            self._send_now(sock, [DEMAND, b"0"])

    def _receive(self, sock):
        identity, protocol, command, *rest = sock.recv_multipart()
        assert protocol == b"MDPW02", protocol
        name = NAMES.get(command, command.hex())
        with self.lock:
            self.events.append((name, identity, rest))
            if name == "READY":
                self.worker = identity
                self.in_flight.clear()
                credit = [frame for frame in rest if frame.startswith(b"credit=")]
                self.limit = int(credit[0][7:]) if credit else self.capacity
                self.demanded = False
            elif name == "CREDIT":
                self.limit = int(rest[0])
            elif name == "FINAL":
                self.in_flight.pop(rest[0], None)
            elif name == "HANDBACK":
                # "puts the job back at the head of its service's queue ... and treats the
                # worker as sending nothing more until its next CREDIT says otherwise"
                self.handbacks += 1
                body = self.in_flight.pop(rest[0], None)
                if self.jobs is not None and body is not None:
                    self.jobs.insert(0, body)
                self.limit = len(self.in_flight)
            self._dispatch(sock)
        if name == "READY" and self.heartbeating:
            # As slowlane's broker (protocol.md 2.3): "answers a READY at once"
            self._send_now(sock, [HEARTBEAT])

    def _run(self):
        sock = zmq.Context.instance().socket(zmq.ROUTER)
        sock.linger = 0
        if self.curve:
            sock.curve_publickey, sock.curve_secretkey = self.curve
            sock.curve_server = True
        sock.bind(self.endpoint)
        self._started.set()
        next_heartbeat = time.monotonic()
        try:
            while not self._stop.is_set():
                while True:
                    try:
                        frames = self._outbox.get_nowait()
                    except queue.Empty:
                        break
                    self._send_now(sock, frames)
                if sock.poll(2, zmq.POLLIN):
                    for _ in range(100):  # then heartbeats get their turn
                        if not sock.poll(0, zmq.POLLIN):
                            break
                        self._receive(sock)
                now = time.monotonic()
                if now >= next_heartbeat:
                    if self.heartbeating:
                        self._send_now(sock, [HEARTBEAT])
                    next_heartbeat = now + HEARTBEAT_MS / 1000
        finally:
            sock.close(0)


class BrokersWorkerTest(unittest.TestCase):
    def setUp(self):
        self.brokers = []
        self.worker = None

    def tearDown(self):
        if self.worker:
            self.worker.stop()
        for broker in self.brokers:
            broker.stop()
        if self.worker:
            self.assertNotIn(self.worker.proc.returncode, (3,), "the handler saw two jobs at once")

    def start(self, count=2, capacity=1, liveness=WORKER_LIVENESS, curves=(), env=None):
        curves = list(curves) + [None] * count
        self.brokers = [FakeBroker(chr(ord("A") + index), curves[index])
                        for index in range(count)]
        self.worker = harness.Process(
            [harness.binary("slowlane-test-brokers-worker"), SERVICE, str(capacity),
             str(HEARTBEAT_MS), str(liveness), *[broker.endpoint for broker in self.brokers]],
            name="brokers-worker", env=env)
        for broker in self.brokers:
            broker.wait("READY")
        return self.brokers

    def assert_credit_before_final(self, broker, limit, address):
        """The last CREDIT broker received before the FINAL of address said limit."""
        names = broker.names()
        with broker.lock:
            events = [event for event in broker.events if event[0] != "HEARTBEAT"]
        final = next(i for i, event in enumerate(events)
                     if event[0] == "FINAL" and event[2][0] == address)
        credits = [event for event in events[:final] if event[0] == "CREDIT"]
        self.assertTrue(credits, f"no CREDIT before the FINAL at {broker.name}: {names}")
        self.assertEqual(credits[-1][2], [str(limit).encode()], names)

    def test_ready_carries_credit_on_every_broker(self):
        a, b = self.start(capacity=1)
        # 3.7: "sends the credit frame in every READY"; capacity 1 has no capacity frame (3.6)
        for broker in (a, b):
            self.assertEqual(broker.of("READY")[0][2], [SERVICE.encode(), b"credit=1", b"cancel"])

    def test_capacity_frame_and_credit_together(self):
        a, b = self.start(capacity=4)
        for broker in (a, b):
            self.assertEqual(broker.of("READY")[0][2],
                             [SERVICE.encode(), b"capacity=4", b"credit=4", b"cancel"])

    def test_one_broker_sends_no_credit(self):
        (a,) = self.start(count=1, capacity=1)
        # "a worker that never sends CREDIT or HANDBACK to a single broker" keeps plain peers
        self.assertEqual(a.of("READY")[0][2], [SERVICE.encode(), b"cancel"])
        a.request(b"client-1", b"50")
        a.wait("FINAL")
        a.request(b"client-2", b"0")
        a.wait("FINAL", 2)
        self.assertEqual(a.of("CREDIT"), [])
        self.assertEqual(a.of("HANDBACK"), [])

    def test_busy_worker_closes_the_other_broker_and_reopens_it(self):
        a, b = self.start()
        a.request(b"job-a", b"200")
        # "every other broker's limit is its jobs there": B may send nothing more
        self.assertEqual(b.wait("CREDIT")[2], [b"0"])
        final = a.wait("FINAL")
        self.assertEqual(final[2][0], b"job-a")
        # Nobody hungry: the freed slot is open to both again; A's limit (1) never changed
        self.assertEqual(b.wait("CREDIT", 2)[2], [b"1"])
        self.assertEqual(a.of("CREDIT"), [])

    def test_job_over_capacity_is_handed_back_and_its_broker_served_next(self):
        a, b = self.start()
        a.request(b"job-a", b"300")
        b.wait("CREDIT")
        # Two brokers sent into one slot: "MUST NOT start it and MUST return it at once with
        # HANDBACK, echoing the job's address frame"
        b.request(b"job-b", b"0")
        handback = b.wait("HANDBACK")
        self.assertEqual(handback[2], [b"job-b", b""])
        self.assertEqual(b.of("FINAL"), [])
        # "The worker then counts that broker as having waiting work": the slot A's job
        # frees goes to B, and A hears of its lowered limit before the FINAL
        final = a.wait("FINAL")
        self.assert_credit_before_final(a, 0, final[2][0])
        # After the HANDBACK B's limit is unknown to the worker: B hears CREDIT again (0,
        # while the slot is taken), then 1 when it is freed
        wait_for(lambda: [event[2] for event in b.of("CREDIT")][-1] == [b"1"],
                 what="CREDIT 1 at B")
        self.assertEqual([event[2] for event in b.of("CREDIT")], [[b"0"], [b"0"], [b"1"]])

    def test_demand_takes_the_freed_slot_and_demand_zero_shares_again(self):
        a, b = self.start()
        a.request(b"job-a", b"200")
        b.wait("CREDIT")
        b.demand(True)
        final = a.wait("FINAL")
        # "a lowered limit MUST reach a broker before the FINAL that would otherwise let it
        # send into a slot granted elsewhere"
        self.assert_credit_before_final(a, 0, final[2][0])
        self.assertEqual(b.wait("CREDIT", 2)[2], [b"1"])
        # DEMAND 0: nobody has waiting work, every broker may use the free slot again
        b.demand(False)
        self.assertEqual(a.wait("CREDIT", 2)[2], [b"1"])
        b.request(b"job-b", b"0")
        self.assertEqual(b.wait("FINAL")[2][0], b"job-b")

    def test_silent_broker_is_dropped_and_the_other_keeps_serving(self):
        a, b = self.start()
        b.heartbeating = False
        silent_since = time.monotonic()
        served = 0
        # Jobs from A keep flowing while B goes unanswered, and after the worker drops it
        while len(b.of("READY")) < 2:
            a.request(f"job-{served}".encode(), b"0")
            served += 1
            a.wait("FINAL", served, timeout=2.0)
            self.assertLess(time.monotonic() - silent_since, 10 * harness.TIMEOUT_SCALE,
                            "the silent broker was never dropped")
        dropped_after = time.monotonic() - silent_since
        # Dropped after heartbeat x liveness, then a new connection and READY (backoff 50 ms)
        self.assertGreaterEqual(dropped_after, (WORKER_LIVENESS - 1) * HEARTBEAT_MS / 1000)
        self.assertNotEqual(b.of("READY")[1][1], b.of("READY")[0][1], "not a new socket")
        # Its credit is the free slot, or 0 if it re-registered while a job of A was in hand
        self.assertIn(b.of("READY")[1][2], ([SERVICE.encode(), b"credit=1", b"cancel"],
                                            [SERVICE.encode(), b"credit=0", b"cancel"]))
        self.assertGreater(served, 1)
        b.heartbeating = True

    def test_closed_connection_loses_the_broker_at_once_and_its_slot_goes_elsewhere(self):
        # Liveness 50 x 100 ms: only the closed connection can explain a loss within 2.5 s.
        a, b = self.start(liveness=50)
        b.demand(True)
        # Only B is hungry: the free slot is B's (its READY said credit=1), A may use none
        self.assertEqual(a.wait("CREDIT")[2], [b"0"])
        self.assertEqual(b.of("CREDIT"), [])
        closed_at = time.monotonic()
        b.stop()  # its process gone: the connection closes (kill -9, crash)
        # The worker does not wait out liveness on a granted slot nobody will use
        self.assertEqual(a.wait("CREDIT", 2, timeout=2.5)[2], [b"1"])
        self.assertLess(time.monotonic() - closed_at, 2.5)
        wait_for(lambda: f"event=broker_lost endpoint={b.endpoint} reason=connection_closed"
                 in self.worker.output(), what="the loss logged with its reason")
        a.request(b"job-a", b"0")
        self.assertEqual(a.wait("FINAL")[2][0], b"job-a")

    def test_lost_broker_job_keeps_its_slot_and_its_reply_is_dropped(self):
        a, b = self.start()
        a.request(b"job-a", b"400")
        b.wait("CREDIT")
        a.send(DISCONNECT)
        # 3.7 "Connection loss": re-registers at once, with "a credit frame that states its
        # current grant": the job still running holds the only slot
        ready = a.wait("READY", 2)
        self.assertEqual(ready[2], [SERVICE.encode(), b"credit=0", b"cancel"])
        # When it ends its slot is free for both; the reply had nobody to go to
        self.assertEqual(b.wait("CREDIT", 2, timeout=5)[2], [b"1"])
        self.assertEqual(a.wait("CREDIT")[2], [b"1"])
        self.assertEqual(a.of("FINAL"), [])

    def test_drain_finishes_the_job_then_disconnects_from_every_broker(self):
        a, b = self.start()
        a.request(b"job-a", b"300")
        b.wait("CREDIT")
        self.worker.signal(signal.SIGTERM)
        # 3.5: "A worker MUST finish (send the FINAL of) every job it has started before it
        # sends DISCONNECT", and says it to every broker
        a.wait("DISCONNECT")
        b.wait("DISCONNECT")
        self.assertEqual(a.names()[-2:], ["FINAL", "DISCONNECT"])
        self.assertEqual(a.of("FINAL")[0][2][0], b"job-a")
        self.assertEqual(self.worker.proc.wait(5 * harness.TIMEOUT_SCALE), 0)

    def test_each_broker_its_own_curve_key(self):
        keys = tempfile.mkdtemp(prefix="slowlane-brokers-keys-")
        self.addCleanup(shutil.rmtree, keys, True)
        for name in ("worker", "broker-a", "broker-b"):
            subprocess.run([harness.binary("slowlane"), "keygen", "--out", keys, "--name", name],
                           check=True, capture_output=True)
        pair = {name: zmq.auth.load_certificate(os.path.join(keys, f"{name}_secret"))
                for name in ("broker-a", "broker-b")}
        # sl_worker_set_curve's broker key is A's; B gets its own (sl_worker_set_broker_curve_key)
        a, b = self.start(curves=[pair["broker-a"], pair["broker-b"]], env={
            "BROKERS_WORKER_CURVE_SECRET": os.path.join(keys, "worker_secret"),
            "BROKERS_WORKER_CURVE_SERVER": os.path.join(keys, "broker-a"),
            "BROKERS_WORKER_LAST_BROKER_KEY": os.path.join(keys, "broker-b")})
        for broker in (a, b):
            broker.request(b"job-" + broker.name.encode(), b"0")
            self.assertEqual(broker.wait("FINAL")[2][0], b"job-" + broker.name.encode())

    def saturate(self, capacity, per_broker, job_ms):
        # Two Python brokers pushing hundreds of jobs a second share the GIL and, on a busy
        # machine, can both stall for longer than 3 heartbeats: liveness is not what these
        # tests are about (test_silent_broker... is)
        a, b = self.start(capacity=capacity, liveness=20)
        for broker in (a, b):
            broker.queue_jobs([str(job_ms).encode()] * per_broker, capacity)
            broker.send(HEARTBEAT)  # wakes its dispatch
        for broker in (a, b):
            broker.wait("FINAL", per_broker, timeout=30,
                        what=f"every job of broker {broker.name} answered")
        return a, b

    def test_saturation_capacity_one_alternates(self):
        a, b = self.saturate(capacity=1, per_broker=40, job_ms=5)
        finals = [(int(event[2][2].split()[0]), broker.name)
                  for broker in (a, b) for event in broker.of("FINAL")]
        order = [name for _, name in sorted(finals)]
        # Both hungry: "one slot at a time in turn, starting with the broker after the one
        # that was given the last slot". The ends of the run (one broker's queue empty) aside,
        # the jobs alternate
        runs = sum(1 for i in range(1, 60) if order[i] == order[i - 1])
        print("order:", "".join(order))
        self.assertLessEqual(runs, 3, "".join(order))
        for broker in (a, b):
            overlaps = [event for event in broker.of("FINAL") if event[2][2].split()[2] != b"0"]
            self.assertEqual(overlaps, [], "the handler saw two jobs at once")
        handbacks = a.handbacks + b.handbacks
        credits = len(a.of("CREDIT")) + len(b.of("CREDIT"))
        print(f"capacity 1: 80 jobs, {handbacks} hand-backs, {credits} CREDITs")
        self.assertLessEqual(handbacks, 4)

    def test_saturation_capacity_sixteen_shares(self):
        a, b = self.saturate(capacity=16, per_broker=400, job_ms=1)
        handbacks = a.handbacks + b.handbacks
        # Both start with credit=16 and race for the slots; from then on hungry brokers get
        # them in turn, so hand-backs are the first race only
        credits = len(a.of("CREDIT")) + len(b.of("CREDIT"))
        print(f"capacity 16: 800 jobs, {handbacks} hand-backs, {credits} CREDITs")
        self.assertLessEqual(handbacks, 32)
        # While both had work waiting neither got the lion's share: compare how many jobs
        # of each were answered during the first half of the run
        finals = sorted((int(event[2][2].split()[0]), broker.name)
                        for broker in (a, b) for event in broker.of("FINAL"))
        first_half = [name for _, name in finals[:400]]
        self.assertGreater(first_half.count("A"), 120, first_half.count("A"))
        self.assertGreater(first_half.count("B"), 120, first_half.count("B"))


if __name__ == "__main__":
    harness.main()
