"""What every worker SDK must do, written once: tests that an SDK's own test file mixes into a
unittest.TestCase (sdk/python/tests, sdk/node/test/system). The test case provides `service`
and start_worker(brokers, env=None, heartbeat_ms=None), which starts one worker process of
that SDK (a harness.EventsProcess) serving an app with these routes:

    GET /app/sleep?seconds=N   answers "slept" after N seconds, waiting without the CPU
    GET /app/cpu?seconds=N     keeps the CPU for N seconds, answers JSON {"loops": n > 0}
    GET /app/echo              answers 200
    GET /app/progress          reports progress "one" then "two", answers "done"

For a plain Majordomo client (protocol.md section 6) it also provides start_plain_worker(broker,
service), a worker with its plain-RFC-18 settings serving a "plain app" (the request body joined,
answered as JSON {"method", "path", "upper": the body upper-cased}), and serve_command(broker,
service), the argv of a process that serves the same app through the SDK's own API.

Each test quotes the part of docs/protocol.md or docs/workers.md it checks."""
import os
import shutil
import signal
import time

import json

import harness
from gateway_support import start_gateway
from mdp_peers import Mdp02Broker


class SdkContract:
    service = None

    def start_worker(self, brokers, env=None, heartbeat_ms=None):
        raise NotImplementedError

    def start_plain_worker(self, broker, service):
        raise NotImplementedError

    def serve_command(self, broker, service):
        raise NotImplementedError

    def worker(self, brokers, env=None, heartbeat_ms=None):
        worker = self.start_worker(brokers, env=env, heartbeat_ms=heartbeat_ms)
        self.addCleanup(worker.stop)
        return worker

    def broker(self, extra=()):
        broker = harness.start_broker(extra=extra)
        self.addCleanup(broker.stop)
        return broker

    def client(self, endpoint):
        client = harness.MdpClient(endpoint)
        self.addCleanup(client.close)
        return client

    def request(self, request_id, path, query="", headers=b"Host: sdk\r\n", timeout_ms=10000):
        return harness.envelope_request(request_id, path=path, query=query, headers=headers,
                                        timeout_ms=timeout_ms)

    def assert_ok(self, reply, request_id):
        self.assertIsNotNone(reply, f"no reply to {request_id}")
        self.assertEqual(reply[3:6], [request_id.encode(), b"SLREP/1", b"200"])

    def test_cpu_bound_handler_of_30_s_is_not_expired(self):
        # protocol.md 2.3: "A slowlane worker sends heartbeats from its I/O thread while its
        # handler runs, so a long job does not look like a dead worker": 30 s of CPU with
        # 1 s heartbeats and liveness 3 (the broker's last --heartbeat-ms wins)
        broker = self.broker(extra=["--heartbeat-ms", "1000"])
        gateway = start_gateway(broker.endpoint, [f"/app={self.service},timeout-ms=60000"])
        self.addCleanup(gateway.stop)
        worker = self.worker([broker.endpoint], heartbeat_ms=1000)
        worker.wait_event(b"R")
        started = time.monotonic()
        status, _, body = harness.http_call(gateway.port, "GET", "/app/cpu?seconds=30",
                                            timeout=90)
        self.assertEqual(status, 200, body)
        self.assertGreaterEqual(time.monotonic() - started, 30.0)
        self.assertIn(b'"loops"', body)
        self.assertNotIn("worker_removed", broker.output())
        self.assertEqual(worker.read_events().count(b"R"), 1)  # never had to register again

    def test_sigterm_during_a_job_finishes_it_then_exits_0(self):
        # docs/workers.md 1: "SIGTERM means drain: finish the job in hand, send DISCONNECT to
        # every broker, exit 0"
        broker = self.broker()
        worker = self.worker([broker.endpoint])
        worker.wait_event(b"R")
        client = self.client(broker.endpoint)
        client.send(self.service, *self.request("drain-1", "/app/sleep", "seconds=1"))
        worker.wait_event(b"S")
        worker.signal(signal.SIGTERM)
        worker.signal(signal.SIGTERM)  # a second signal while draining changes nothing
        reply = client.recv(10000)
        self.assert_ok(reply, "drain-1")
        self.assertEqual(reply[7], b"slept")
        self.assertEqual(worker.stop(signal.SIGTERM, timeout=5), 0)
        self.assertTrue(worker.events.endswith(b"SE"))
        # It said DISCONNECT: the broker forgets it at once, not after liveness
        harness.wait_for(lambda: not harness.mmi_service_ready(broker.endpoint, self.service),
                         timeout=1.0, what="the broker to drop the worker")

    def test_capacity_two_runs_two_jobs_at_once(self):
        # protocol.md 3.6: READY = %s"MDPW02" %x01 service [capacity]; "The worker MUST echo
        # the address frame of a REQUEST unchanged in every PARTIAL and FINAL of that job"
        broker = self.broker()
        worker = self.worker([broker.endpoint], env={"SLOWLANE_CAPACITY": "2"})
        worker.wait_event(b"R")
        clients = [self.client(broker.endpoint) for _ in range(2)]
        for i, client in enumerate(clients):
            client.send(self.service, *self.request(f"cap-{i}", "/app/sleep", "seconds=1.5"))
        worker.wait_event(b"S", 2)  # both reached the app before either finished
        self.assertEqual(worker.read_events().count(b"E"), 0)
        for i, client in enumerate(clients):
            self.assert_ok(client.recv(10000), f"cap-{i}")

    def test_capacity_two_across_two_brokers(self):
        # protocol.md 3.7: "The worker holds at most K jobs (its capacity) across all its
        # brokers"; with no DEMAND each broker may use every free slot
        a, b = self.broker(), self.broker()
        worker = self.worker([a.endpoint, b.endpoint], env={"SLOWLANE_CAPACITY": "2"})
        worker.wait_event(b"R", 2)
        clients = [self.client(a.endpoint), self.client(b.endpoint)]
        for i, client in enumerate(clients):
            client.send(self.service, *self.request(f"c2-{i}", "/app/sleep", "seconds=1.5"))
        worker.wait_event(b"S", 2)  # one job from each broker, side by side
        self.assertEqual(worker.read_events().count(b"E"), 0)
        for i, client in enumerate(clients):
            self.assert_ok(client.recv(10000), f"c2-{i}")
        self.assertIn("credit=", a.output())  # 3.7: its READY stated the grant

    def test_registers_again_after_a_broker_restart(self):
        # protocol.md 2.3: "when the broker looks dead, a worker closes its socket, reconnects
        # with backoff (100 ms up to 5 s) and sends READY again"
        broker = harness.start_broker()
        worker = self.worker([broker.endpoint])
        worker.wait_event(b"R")
        port = broker.port
        broker.stop(signal.SIGKILL)  # no DISCONNECT: the worker finds out by liveness
        broker = harness.start_broker(port=port)
        self.addCleanup(broker.stop)
        worker.wait_event(b"R", 2)
        client = self.client(broker.endpoint)
        self.assert_ok(client.request(self.service, *self.request("again-1", "/app/echo")),
                       "again-1")

    def test_progress_envelopes_for_a_job_run(self):
        # protocol.md 4.6: "slowlane's worker sends one with an empty note before the handler
        # starts ... and one per sl_job_progress() call"; the reply comes last, and a request
        # without Slowlane-Job-Run gets none
        broker = self.broker()
        worker = self.worker([broker.endpoint])
        worker.wait_event(b"R")
        client = self.client(broker.endpoint)
        client.send(self.service, *self.request(
            "job-1", "/app/progress", headers=b"Host: sdk\r\nSlowlane-Job-Run: j-17\r\n"))
        replies = self.recv_all(client)
        progress = [r[4:] for r in replies if r[4:5] == [b"SLPRG/1"]]
        self.assertEqual([p[2] for p in progress], [b"", b"one", b"two"])
        self.assertTrue(progress[0][1])  # the worker's name
        self.assertEqual(replies[-1][4:6], [b"SLREP/1", b"200"])
        self.assertEqual(replies[-1][7], b"done")
        client.send(self.service, *self.request("sync-1", "/app/progress"))
        self.assertEqual(len(self.recv_all(client)), 1)

    def recv_all(self, client):
        replies = []
        while not replies or replies[-1][1] != b"\x03":
            reply = client.recv(10000)
            self.assertIsNotNone(reply, f"no reply after {replies}")
            replies.append(reply)
        return replies

    def test_serves_through_a_curve_broker(self):
        # docs/security.md 2.1: a worker with the SLOWLANE_CURVE_* variables is admitted by a
        # CURVE broker that lists its key; its log holds no key material
        keys = harness.curve_keys(["broker", "worker", "probe"], clients=["worker", "probe"])
        self.addCleanup(shutil.rmtree, keys, True)
        broker = self.broker(extra=["--curve-secret", os.path.join(keys, "broker_secret"),
                                    "--curve-clients", os.path.join(keys, "clients")])
        worker = self.worker([broker.endpoint], env={
            "SLOWLANE_CURVE_SECRET": os.path.join(keys, "worker_secret"),
            "SLOWLANE_CURVE_SERVER": os.path.join(keys, "broker")})
        worker.wait_event(b"R")
        client = harness.curve_client(broker.endpoint, keys, "probe", "broker")
        self.addCleanup(client.close)
        self.assert_ok(client.request(self.service, *self.request("curve-1", "/app/echo")),
                       "curve-1")
        for name in ("worker_secret", "probe_secret"):
            with open(os.path.join(keys, name)) as f:
                secret = [line.split('"')[1] for line in f if "secret-key" in line][0]
            self.assertNotIn(secret, worker.output())

    def plain_broker(self):
        broker = Mdp02Broker()
        self.addCleanup(broker.close)
        return broker

    def test_serves_a_plain_client_through_a_plain_broker(self):
        # protocol.md 6: an RFC 18 broker and client; "READY ... Frame 2: Service name" and
        # nothing more, the body back as one opaque frame
        broker = self.plain_broker()
        worker = self.start_plain_worker(broker.endpoint, "plain")
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        self.assertEqual(broker.readies[0], [b"MDPW02", b"\x01", b"plain"])
        reply = self.client(broker.endpoint).request("plain", b"hello ", b"world",
                                                     timeout_ms=5000)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[:3], [b"MDPC02", b"\x03", b"plain"])
        self.assertEqual(len(reply), 4)
        self.assertEqual(json.loads(reply[3]),
                         {"method": "POST", "path": "/", "upper": "HELLO WORLD"})

    def test_serve_from_the_sdk_api(self):
        broker = self.plain_broker()
        worker = harness.Process(self.serve_command(broker.endpoint, "viaserve"), name="serve")
        self.addCleanup(worker.stop)
        harness.wait_for(lambda: broker.readies, what="READY from the SDK's serve()")
        self.assertEqual(broker.readies[0], [b"MDPW02", b"\x01", b"viaserve"])
        reply = self.client(broker.endpoint).request("viaserve", b"abc", timeout_ms=5000)
        self.assertEqual(json.loads(reply[3])["upper"], "ABC")
        self.assertEqual(worker.stop(signal.SIGTERM, timeout=5), 0)
