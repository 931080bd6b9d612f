"""examples/python_worker.py against the real slowlane-broker (and slowlane-gateway when it is
built): envelope in, envelope out, opaque bodies, heartbeats during a long job, re-registration
after a broker restart, and the HTTP path end to end. With several brokers (docs/protocol.md
section 3.7) it is checked against fake brokers, ROUTER sockets the test drives: the credit
in READY, CREDIT when a limit changes, HANDBACK of a job received while busy, DEMAND."""
import json
import os
import signal
import sys
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EXAMPLE = os.path.join(harness.SOURCE, "examples", "python_worker.py")


def mmi_status(endpoint, service):
    client = harness.MdpClient(endpoint)
    try:
        reply = client.request("mmi.service", service.encode(), timeout_ms=500)
        return reply[-1] if reply else None
    finally:
        client.close()


class PythonWorkerExampleTest(unittest.TestCase):
    def setUp(self):
        self.start(harness.LIVENESS)

    def start(self, liveness):
        port = harness.free_port()
        self.broker = harness.Process(
            [harness.binary("slowlane-broker"), "--bind", f"tcp://127.0.0.1:{port}",
             "--heartbeat-ms", str(harness.HEARTBEAT_MS), "--liveness", str(liveness)],
            name="broker")
        self.broker.endpoint, self.broker.port = f"tcp://127.0.0.1:{port}", port
        self.addCleanup(self.broker.stop)
        self.worker = harness.Process(
            [sys.executable, EXAMPLE, "--broker", self.broker.endpoint, "--service", "hello",
             "--heartbeat-ms", str(harness.HEARTBEAT_MS), "--liveness", str(liveness)],
            name="python-worker")
        self.addCleanup(self.worker.stop)
        harness.wait_for(lambda: mmi_status(self.broker.endpoint, "hello") == b"200",
                         what="the example worker to register")
        self.client = harness.MdpClient(self.broker.endpoint)
        self.addCleanup(self.client.close)

    def envelope_call(self, request_id, query="", timeout_ms=5000):
        reply = self.client.request(
            "hello", *harness.envelope_request(request_id, method="POST", path="/hello/there",
                                               query=query, headers=b"X-Test: 1\r\n",
                                               body=b"abc", timeout_ms=timeout_ms),
            timeout_ms=timeout_ms + 1000)
        self.assertIsNotNone(reply, "no reply from the example worker")
        # architecture.md: "MDPC02 | 0x03 | service | request-id | reply body..."
        self.assertEqual(reply[:4], [b"MDPC02", b"\x03", b"hello", request_id.encode()])
        self.assertEqual(reply[4:6] if len(reply) == 8 else reply[4:], [b"SLREP/1", b"200"],
                         "not a 200 reply envelope (an SLERR/1 error envelope?)")
        return reply[4:]

    def test_envelope_request_gets_json_reply(self):
        magic, status, headers, body = self.envelope_call("req-1", query="name=ann&x=1")
        self.assertEqual((magic, status), (b"SLREP/1", b"200"))
        self.assertIn(b"Content-Type: application/json\r\n", headers)
        self.assertTrue(headers.endswith(b"\r\n"))
        data = json.loads(body)
        self.assertEqual(data["greeting"], "hello, ann")
        self.assertEqual((data["method"], data["path"], data["query"]),
                         ("POST", "/hello/there", "name=ann&x=1"))
        self.assertEqual((data["request_id"], data["body_bytes"]), ("req-1", 3))

    def test_opaque_request_gets_one_opaque_frame(self):
        reply = self.client.request("hello", b"not an envelope", b"\x00")
        self.assertEqual(reply[:3], [b"MDPC02", b"\x03", b"hello"])
        self.assertEqual(len(reply), 4)
        self.assertEqual(json.loads(reply[3]), {"greeting": "hello", "opaque_bytes": 16})

    def test_keeps_heartbeating_during_a_long_job(self):
        # A job that lasts five times heartbeat x liveness: the broker would expire a worker
        # that went quiet, and its job would be re-queued or failed instead of answered.
        long_ms = 5 * harness.HEARTBEAT_MS * harness.LIVENESS
        started = time.monotonic()
        magic, status, _, body = self.envelope_call("long-1", query=f"sleep_ms={long_ms}")
        self.assertEqual((magic, status), (b"SLREP/1", b"200"))
        self.assertGreaterEqual(time.monotonic() - started, long_ms / 1000)
        self.assertEqual(json.loads(body)["request_id"], "long-1")
        self.assertIn("pid", json.loads(body))
        self.assertTrue(self.worker.alive())

    def test_reregisters_after_broker_restart(self):
        port = self.broker.port
        self.broker.stop(signal.SIGTERM)
        self.broker = harness.start_broker(port=port)
        self.addCleanup(self.broker.stop)
        harness.wait_for(lambda: mmi_status(self.broker.endpoint, "hello") == b"200",
                         what="the example worker to register with the new broker")
        self.client = harness.MdpClient(self.broker.endpoint)
        self.addCleanup(self.client.close)
        magic, status, _, _ = self.envelope_call("after-restart")
        self.assertEqual((magic, status), (b"SLREP/1", b"200"))

    def test_sigterm_exits_cleanly(self):
        # With liveness 30, expiry would take 3 s: a 404 within 1 s can only come from the
        # worker's DISCONNECT (RFC 18: "When the broker receives DISCONNECT from a worker it
        # MUST send no further commands to that worker").
        self.start(30)
        self.assertEqual(self.worker.stop(signal.SIGTERM, timeout=5), 0)
        harness.wait_for(lambda: mmi_status(self.broker.endpoint, "hello") == b"404",
                         timeout=1.0, interval=0.005,
                         what="the broker to drop the worker that said DISCONNECT")

    def test_through_the_http_gateway(self):
        gateway_binary = harness.binary("slowlane-gateway")  # SkipTest when not built
        port = harness.free_port()
        gateway = harness.Process([gateway_binary, "--listen", str(port), "--broker",
                                   self.broker.endpoint, "--route", "/hello=hello"],
                                  name="gateway")
        self.addCleanup(gateway.stop)

        def call():
            try:
                return harness.http_request(port, "GET", "/hello/web?name=bob")
            except OSError:
                return None  # not listening yet
        status, headers, body = harness.wait_for(
            lambda: (lambda r: r if r and r[0] == 200 else None)(call()),
            what="a 200 through the gateway")
        self.assertEqual(headers.get("content-type"), "application/json")
        data = json.loads(body)
        self.assertEqual((data["greeting"], data["method"], data["path"], data["query"]),
                         ("hello, bob", "GET", "/hello/web", "name=bob"))


W = b"MDPW02"
READY, REQUEST, FINAL, HEARTBEAT = b"\x01", b"\x02", b"\x04", b"\x05"
CREDIT, HANDBACK, DEMAND = b"\x10", b"\x11", b"\x12"


class FakeBroker:
    """A ROUTER bound on a free port that plays one broker to the example worker: it reads
    the worker's commands (heartbeats dropped) and sends what the test says."""

    def __init__(self, name):
        self.name = name
        self.endpoint = f"tcp://127.0.0.1:{harness.free_port()}"
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.linger = 0
        self.socket.bind(self.endpoint)
        self.worker = None  # the worker's routing id, from its READY

    def next(self, timeout_ms=5000):
        """The worker's next command but HEARTBEAT, as frames after the routing id."""
        deadline = time.monotonic() + timeout_ms * harness.TIMEOUT_SCALE / 1000
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0 or not self.socket.poll(left, zmq.POLLIN):
                raise AssertionError(f"broker {self.name}: nothing from the worker")
            identity, *frames = self.socket.recv_multipart()
            if frames[:2] == [W, HEARTBEAT]:
                continue
            if frames[:2] == [W, READY]:
                self.worker = identity
            return frames

    def send(self, command, *frames):
        self.socket.send_multipart([self.worker, W, command, *frames])

    def request(self, address, sleep_ms=0):
        self.send(REQUEST, address, b"", *harness.envelope_request(
            address.decode(), query=f"sleep_ms={sleep_ms}"))

    def close(self):
        self.socket.close()


class PythonWorkerSeveralBrokersTest(unittest.TestCase):
    """protocol.md 3.7 for a worker of capacity 1 and two brokers, A and B."""

    def start(self, *brokers):
        args = [sys.executable, EXAMPLE, "--service", "hello", "--heartbeat-ms", "1000",
                "--liveness", "60"]  # the fake brokers send no heartbeats
        for broker in brokers:
            args += ["--broker", broker.endpoint]
            self.addCleanup(broker.close)
        worker = harness.Process(args, name="python-worker")
        self.addCleanup(worker.stop)
        return worker

    def two_registered(self):
        a, b = FakeBroker("A"), FakeBroker("B")
        self.start(a, b)
        for broker in (a, b):
            # READY = %s"MDPW02" %x01 service [capacity] [credit]: capacity 1 is not declared
            self.assertEqual(broker.next(), [W, READY, b"hello", b"credit=1"])
        return a, b

    def busy_with_a_job_from_a(self, a, b):
        # A job lasting long enough for the test to act while it runs
        a.request(b"client-a", sleep_ms=int(3000 * harness.TIMEOUT_SCALE))
        # "every broker's limit is its jobs there plus all free slots": none free, B's is 0
        self.assertEqual(b.next(), [W, CREDIT, b"0"])

    def test_one_broker_stays_plain_majordomo(self):
        a = FakeBroker("A")
        self.start(a)
        self.assertEqual(a.next(), [W, READY, b"hello"])  # no credit frame
        a.request(b"client-1")
        self.assertEqual(a.next()[:4], [W, FINAL, b"client-1", b""])

    def test_credit_comes_back_to_b_after_a_final_with_no_demand(self):
        a, b = self.two_registered()
        a.request(b"client-a")
        self.assertEqual(b.next(), [W, CREDIT, b"0"])
        # A's limit stays 1 (its job plus the free slot, then the free slot): no CREDIT to A
        self.assertEqual(a.next()[:4], [W, FINAL, b"client-a", b""])
        self.assertEqual(b.next(), [W, CREDIT, b"1"])

    def test_job_received_while_busy_is_handed_back(self):
        a, b = self.two_registered()
        self.busy_with_a_job_from_a(a, b)
        b.request(b"client-b")
        # "A worker that receives a job while it already holds K MUST NOT start it and MUST
        # return it at once with HANDBACK, echoing the job's address frame"
        self.assertEqual(b.next(), [W, HANDBACK, b"client-b", b""])
        # "The worker then counts that broker as having waiting work": the slot A's job frees
        # goes to B, and A's lowered limit comes before A's FINAL
        self.assertEqual(a.next(), [W, CREDIT, b"0"])
        self.assertEqual(a.next(timeout_ms=10000)[:4], [W, FINAL, b"client-a", b""])
        self.assertEqual(b.next(), [W, CREDIT, b"1"])
        b.request(b"client-b")  # B's job, re-dispatched, now runs
        self.assertEqual(b.next()[:4], [W, FINAL, b"client-b", b""])
        # B said nothing of its queue since: the slot stays B's until DEMAND 0
        b.send(DEMAND, b"0")
        self.assertEqual(a.next(), [W, CREDIT, b"1"])

    def test_demand_from_b_takes_the_slot_a_frees(self):
        a, b = self.two_registered()
        self.busy_with_a_job_from_a(a, b)
        b.send(DEMAND, b"1")
        # "a lowered limit MUST reach a broker before the FINAL that would otherwise let it
        # send into a slot granted elsewhere"
        self.assertEqual(a.next(timeout_ms=10000), [W, CREDIT, b"0"])
        self.assertEqual(a.next()[:4], [W, FINAL, b"client-a", b""])
        self.assertEqual(b.next(), [W, CREDIT, b"1"])

    def test_demand_while_idle_gives_the_slot_to_that_broker_only(self):
        a, b = self.two_registered()
        b.send(DEMAND, b"1")
        self.assertEqual(a.next(), [W, CREDIT, b"0"])  # B's limit stays 1: nothing to B
        b.send(DEMAND, b"0")
        self.assertEqual(a.next(), [W, CREDIT, b"1"])


if __name__ == "__main__":
    harness.main()
