"""slowlane_wsgi (sdk/python) against the real slowlane-broker and slowlane-gateway: a Flask
app behind the gateway (bodies, queries, repeated headers, ~1 MiB, status and headers, a
streamed reply), an app that raises, a CPU-bound handler that must not be expired, drain on
SIGTERM, a plain RFC 18 broker written here, and one worker registered with two brokers."""
import hashlib
import http.client
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import tempfile
import time
import unittest

import zmq
import zmq.auth

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
SOURCE = os.environ.get("SLOWLANE_SOURCE") or os.path.join(SDK, "..", "..")
sys.path.insert(0, os.path.join(SOURCE, "tests", "system"))
import harness  # noqa: E402
from gateway_support import start_gateway  # noqa: E402
from mdp_peers import Mdp02Broker  # noqa: E402

# The test apps are Flask apps (python3-flask, scripts/install-deps.sh): skipped, never passed,
# without it.
needs_flask = unittest.skipUnless(importlib.util.find_spec("flask"), "python3-flask missing")

W = b"MDPW02"
READY, REQUEST, PARTIAL, FINAL, HEARTBEAT, DISCONNECT = (
    b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06")


class SdkWorker(harness.EventsProcess):
    """python3 -m slowlane_wsgi as a child, with SLOWLANE_EVENTS_FD on a pipe the test reads."""

    def __init__(self, brokers, app, service="wsgi", env=None, heartbeat_ms=None, liveness=None):
        args = [sys.executable, "-m", "slowlane_wsgi", "--service", service, app,
                "--heartbeat-ms", str(heartbeat_ms or harness.HEARTBEAT_MS),
                "--liveness", str(liveness or harness.LIVENESS)]
        for broker in brokers:
            args += ["--broker", broker]
        super().__init__(args, name="slowlane-wsgi", env={
            "PYTHONPATH": f"{SDK}:{HERE}", "SLOWLANE_LOG_LEVEL": "debug", **(env or {})})


http_call = harness.http_call
header = harness.header_values


@needs_flask
class GatewayFlaskTest(unittest.TestCase):
    """A Flask app behind slowlane-gateway -> slowlane-broker -> slowlane_wsgi."""

    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        cls.gateway = start_gateway(cls.broker.endpoint, ["/app=wsgi,timeout-ms=30000"])
        cls.worker = SdkWorker([cls.broker.endpoint], "sdk_apps:app")
        harness.wait_for(lambda: harness.mmi_service_ready(cls.broker.endpoint, "wsgi"),
                         what="slowlane_wsgi to register")

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        cls.gateway.stop()
        cls.broker.stop()

    def test_get_with_query_and_repeated_headers(self):
        status, headers, body = http_call(
            self.gateway.port, "GET", "/app/echo/a%20b?x=1&y=two%20words&x=3",
            headers=[("X-Multi", "first"), ("X-Multi", "second"), ("X-Request-Id", "get-1")])
        self.assertEqual(status, 200, body)
        data = json.loads(body)
        self.assertEqual((data["method"], data["path"], data["rest"]),
                         ("GET", "/app/echo/a b", "a b"))  # PATH_INFO percent-decoded
        self.assertEqual(data["query"], "x=1&y=two%20words&x=3")
        self.assertEqual(data["args"], {"x": ["1", "3"], "y": ["two words"]})
        self.assertEqual(data["multi"], "first, second")  # repeated fields joined with ", "
        self.assertEqual(data["request_id"], "get-1")
        self.assertEqual(data["server"][0], "127.0.0.1")
        self.assertEqual(data["server"][1], str(self.gateway.port))

    def test_post_binary_body_near_one_mebibyte(self):
        payload = bytes(range(256)) * 4000 + b"\x00\xff\r\n"  # 1,024,004 bytes, every byte
        status, _, body = http_call(self.gateway.port, "POST", "/app/echo", body=payload,
                                    headers=[("Content-Type", "application/x-thing")])
        self.assertEqual(status, 200, body)
        data = json.loads(body)
        self.assertEqual((data["method"], data["length"], data["content_type"]),
                         ("POST", len(payload), "application/x-thing"))
        self.assertEqual(data["sha256"], hashlib.sha256(payload).hexdigest())
        status, headers, body = http_call(self.gateway.port, "POST", "/app/mirror", body=payload)
        self.assertEqual(status, 200)
        self.assertEqual(body, payload)
        self.assertEqual(header(headers, "Content-Type"), ["application/octet-stream"])

    def test_status_and_headers_set_by_the_app(self):
        status, headers, body = http_call(self.gateway.port, "GET", "/app/created")
        self.assertEqual((status, body), (201, b"made\n"))
        self.assertEqual(header(headers, "X-Custom"), ["yes"])
        self.assertEqual(header(headers, "Location"), ["/app/x"])

    def test_streamed_response_arrives_whole_and_in_order(self):
        status, headers, body = http_call(self.gateway.port, "GET", "/app/stream")
        self.assertEqual(status, 200)
        # protocol.md 4.3: a streamed reply "is sent with chunked transfer coding"
        self.assertEqual(header(headers, "Transfer-Encoding"), ["chunked"])
        self.assertEqual(body, "".join(f"chunk-{i:02d}\n" for i in range(20)).encode())

    def test_app_that_raises_gets_500_with_request_id_and_worker_goes_on(self):
        status, _, body = http_call(self.gateway.port, "GET", "/app/boom",
                                    headers=[("X-Request-Id", "boom-42")])
        self.assertEqual(status, 500)
        self.assertIn(b"boom-42", body)
        harness.wait_for(lambda: "the application failed on purpose" in self.worker.output(),
                         what="the exception in the worker's log")
        status, _, _ = http_call(self.gateway.port, "GET", "/app/echo")
        self.assertEqual(status, 200)
        self.assertTrue(self.worker.alive())

    def test_invalid_header_from_the_app_is_a_500(self):
        status, headers, body = http_call(self.gateway.port, "GET", "/app/badheader",
                                          headers=[("X-Request-Id", "bad-hdr")])
        self.assertEqual(status, 500)
        self.assertIn(b"bad-hdr", body)
        self.assertEqual(header(headers, "Injected"), [])
        self.assertEqual(http_call(self.gateway.port, "GET", "/app/echo")[0], 200)

    def test_progress_envelopes_for_a_job_run(self):
        # protocol.md 4.6: "slowlane's worker sends one with an empty note before the handler
        # starts ... and one per sl_job_progress() call"; the reply comes last.
        client = harness.MdpClient(self.broker.endpoint)
        self.addCleanup(client.close)
        client.send("wsgi", *harness.envelope_request(
            "job-1", path="/app/progress", headers=b"Slowlane-Job-Run: j-17\r\n"))
        replies = []
        while not replies or replies[-1][1] != b"\x03":
            reply = client.recv(5000)
            self.assertIsNotNone(reply, f"no reply after {replies}")
            replies.append(reply)
        progress = [r[4:] for r in replies if r[4:5] == [b"SLPRG/1"]]
        self.assertEqual([p[2] for p in progress], [b"", b"one", b"two"])
        self.assertTrue(progress[0][1])  # the worker's name
        self.assertEqual(replies[-1][4:6], [b"SLREP/1", b"200"])
        self.assertEqual(replies[-1][7], b"done")

    def test_events_fd(self):
        self.assertTrue(self.worker.read_events().startswith(b"R"))
        before = self.worker.read_events().count(b"E")
        self.assertEqual(http_call(self.gateway.port, "GET", "/app/echo")[0], 200)
        self.worker.wait_event(b"E", before + 1)
        self.assertEqual(self.worker.read_events().count(b"S"),
                         self.worker.read_events().count(b"E"))


@needs_flask
@needs_flask
class SupervisedTest(unittest.TestCase):
    """docs/workers/python.md's pool: slowlane-worker --handler 'program:python3 -m
    slowlane_wsgi ...' (docs/workers.md): the supervisor's environment configures each worker,
    and an app that exits in the middle of a job is restarted."""

    def test_pool_under_the_supervisor_and_restart_after_the_app_exits(self):
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        gateway = start_gateway(broker.endpoint, ["/app=wsgi,timeout-ms=30000"])
        self.addCleanup(gateway.stop)
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = f"{SDK}:{HERE}"  # the supervisor passes it on
        try:
            pool = harness.start_workers(broker.endpoint, "wsgi",
                                         f"program:{sys.executable} -m slowlane_wsgi sdk_apps:app",
                                         count=2)
        finally:
            if old is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = old
        self.addCleanup(pool.stop)
        harness.wait_for(lambda: harness.mmi_service_ready(broker.endpoint, "wsgi"),
                         what="the pool to register")
        harness.wait_for(lambda: pool.output().count("event=worker_started") >= 2,
                         what="both workers started")
        status, _, body = http_call(gateway.port, "GET", "/app/pid")
        self.assertEqual(status, 200, body)
        first = json.loads(body)
        # Its identity is the supervisor's host/pid/slot, passed as SLOWLANE_IDENTITY
        self.assertRegex(first["worker"], rf"/{pool.pid}/[01]$")
        starts = pool.output().count("event=worker_started")
        # A POST is never re-delivered: its worker's death is the answer, 502 worker_died
        status, _, _ = http_call(gateway.port, "POST", "/app/exit", body=b"")
        self.assertEqual(status, 502)
        harness.wait_for(lambda: pool.output().count("event=worker_started") > starts,
                         what="the supervisor to restart the worker that exited")
        harness.wait_for(lambda: http_call(gateway.port, "GET", "/app/pid")[0] == 200,
                         what="the pool to serve again")


class LongJobTest(unittest.TestCase):
    def test_cpu_bound_handler_of_30_s_is_not_expired(self):
        # protocol.md 2.3: "A slowlane worker sends heartbeats from its I/O thread while its
        # handler runs, so a long job does not look like a dead worker": 30 s of pure Python
        # with 1 s heartbeats and liveness 3
        broker = harness.start_broker(extra=["--heartbeat-ms", "1000"])
        self.addCleanup(broker.stop)
        gateway = start_gateway(broker.endpoint, ["/app=wsgi,timeout-ms=60000"])
        self.addCleanup(gateway.stop)
        worker = SdkWorker([broker.endpoint], "sdk_apps:app", heartbeat_ms=1000, liveness=3)
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        started = time.monotonic()
        status, _, body = http_call(gateway.port, "GET", "/app/cpu?seconds=30", timeout=90)
        self.assertEqual(status, 200, body)
        self.assertGreaterEqual(time.monotonic() - started, 30.0)
        self.assertGreater(json.loads(body)["loops"], 0)
        self.assertNotIn("worker_removed", broker.output())
        self.assertEqual(worker.read_events().count(b"R"), 1)  # never had to register again

    def test_sigterm_during_a_job_finishes_it_then_exits_0(self):
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        worker = SdkWorker([broker.endpoint], "sdk_apps:app")
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        client = harness.MdpClient(broker.endpoint)
        self.addCleanup(client.close)
        client.send("wsgi", *harness.envelope_request(
            "drain-1", path="/app/sleep", query="seconds=1", timeout_ms=10000))
        worker.wait_event(b"S")
        worker.signal(signal.SIGTERM)
        reply = client.recv(10000)
        self.assertIsNotNone(reply, "the job in hand was not finished")
        self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        self.assertEqual(reply[7], b"slept")
        self.assertEqual(worker.stop(signal.SIGTERM, timeout=5), 0)
        self.assertTrue(worker.events.endswith(b"SE"))
        # It said DISCONNECT: the broker forgets it at once, not after liveness
        harness.wait_for(lambda: not harness.mmi_service_ready(broker.endpoint, "wsgi"),
                         timeout=1.0, what="the broker to drop the worker")

    def test_signals_while_draining_do_not_kill_it(self):
        # A supervisor (or an impatient operator) may signal again while the worker drains;
        # at interpreter exit Python restores SIGTERM's default action unless it is ignored.
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        worker = SdkWorker([broker.endpoint], "sdk_apps:app")
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        deadline = time.monotonic() + 10 * harness.TIMEOUT_SCALE
        while worker.alive() and time.monotonic() < deadline:
            worker.signal(signal.SIGTERM)
            time.sleep(0.001)  # a stream of signals, not a wait for a condition
        self.assertEqual(worker.stop(timeout=5), 0)


@needs_flask
class CapacityTest(unittest.TestCase):
    def test_capacity_two_runs_two_jobs_at_once(self):
        # protocol.md 3.6: READY = %s"MDPW02" %x01 service [capacity]; "The worker MUST echo
        # the address frame of a REQUEST unchanged in every PARTIAL and FINAL of that job"
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        worker = SdkWorker([broker.endpoint], "sdk_apps:app", env={"SLOWLANE_CAPACITY": "2"})
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        clients = [harness.MdpClient(broker.endpoint) for _ in range(2)]
        for i, client in enumerate(clients):
            self.addCleanup(client.close)
            client.send("wsgi", *harness.envelope_request(
                f"cap-{i}", path="/app/sleep", query="seconds=1.5", timeout_ms=10000))
        worker.wait_event(b"S", 2)  # both reached the app before either finished
        self.assertEqual(worker.read_events().count(b"E"), 0)
        for i, client in enumerate(clients):
            reply = client.recv(10000)
            self.assertIsNotNone(reply)
            self.assertEqual(reply[3:6], [f"cap-{i}".encode(), b"SLREP/1", b"200"])


@needs_flask
class ReconnectTest(unittest.TestCase):
    def test_registers_again_after_a_broker_restart(self):
        # protocol.md 2.3: "when the broker looks dead, a worker closes its socket, reconnects
        # with backoff (100 ms up to 5 s) and sends READY again"
        broker = harness.start_broker()
        worker = SdkWorker([broker.endpoint], "sdk_apps:app")
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        port = broker.port
        broker.stop(signal.SIGKILL)  # no DISCONNECT: the worker finds out by liveness
        broker = harness.start_broker(port=port)
        self.addCleanup(broker.stop)
        worker.wait_event(b"R", 2)
        harness.wait_for(lambda: harness.mmi_service_ready(broker.endpoint, "wsgi"),
                         what="registration with the restarted broker")
        client = harness.MdpClient(broker.endpoint)
        self.addCleanup(client.close)
        reply = client.request("wsgi", *harness.envelope_request("again-1", path="/app/echo"))
        self.assertIsNotNone(reply)
        self.assertEqual(reply[3:6], [b"again-1", b"SLREP/1", b"200"])


@needs_flask
class PlainMajordomoTest(unittest.TestCase):
    def test_serves_a_plain_client_through_a_plain_broker(self):
        broker = Mdp02Broker()
        self.addCleanup(broker.close)
        worker = SdkWorker([broker.endpoint], "sdk_apps:opaque_app", service="plain")
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        # RFC 18: "READY ... Frame 2: Service name" and nothing more from a capacity 1 worker
        self.assertEqual(broker.readies[0], [W, READY, b"plain"])
        client = harness.MdpClient(broker.endpoint)
        self.addCleanup(client.close)
        reply = client.request("plain", b"hello ", b"world", timeout_ms=5000)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[:3], [b"MDPC02", b"\x03", b"plain"])
        self.assertEqual(len(reply), 4)  # one opaque frame, no envelope
        self.assertEqual(json.loads(reply[3]),
                         {"method": "POST", "path": "/", "upper": "HELLO WORLD"})


    def test_serve_from_python(self):
        broker = Mdp02Broker()
        self.addCleanup(broker.close)
        code = ("import slowlane_wsgi, sdk_apps; raise SystemExit(slowlane_wsgi.serve("
                f"sdk_apps.opaque_app, ['--broker', '{broker.endpoint}', '--service', 'viaserve']))")
        worker = harness.Process([sys.executable, "-c", code], name="serve",
                                 env={"PYTHONPATH": f"{SDK}:{HERE}"})
        self.addCleanup(worker.stop)
        harness.wait_for(lambda: broker.readies, what="READY from serve()")
        self.assertEqual(broker.readies[0], [W, READY, b"viaserve"])
        client = harness.MdpClient(broker.endpoint)
        self.addCleanup(client.close)
        reply = client.request("viaserve", b"abc", timeout_ms=5000)
        self.assertEqual(json.loads(reply[3])["upper"], "ABC")
        self.assertEqual(worker.stop(signal.SIGTERM, timeout=5), 0)


@needs_flask
class TwoBrokersTest(unittest.TestCase):
    def test_registers_with_both_and_serves_both(self):
        a, b = harness.start_broker(), harness.start_broker()
        self.addCleanup(a.stop)
        self.addCleanup(b.stop)
        worker = SdkWorker([a.endpoint, b.endpoint], "sdk_apps:app")
        self.addCleanup(worker.stop)
        worker.wait_event(b"R", 2)
        for broker in (a, b):
            harness.wait_for(lambda: harness.mmi_service_ready(broker.endpoint, "wsgi"),
                             what=f"registration at {broker.endpoint}")
        clients = [harness.MdpClient(a.endpoint), harness.MdpClient(b.endpoint)]
        for client in clients:
            self.addCleanup(client.close)
        for round_ in range(3):  # one at a time, then both at once (one waits for the slot)
            for i, client in enumerate(clients):
                client.send("wsgi", *harness.envelope_request(
                    f"r{round_}-{i}", path="/app/echo", query=f"broker={i}"))
                if round_ < 2:
                    self.check(client.recv(5000), f"r{round_}-{i}", i)
            if round_ == 2:
                for i, client in enumerate(clients):
                    self.check(client.recv(10000), f"r{round_}-{i}", i)

    def test_capacity_two_across_two_brokers(self):
        # protocol.md 3.7: "The worker holds at most K jobs (its capacity) across all its
        # brokers"; with no DEMAND each broker may use every free slot.
        a, b = harness.start_broker(), harness.start_broker()
        self.addCleanup(a.stop)
        self.addCleanup(b.stop)
        worker = SdkWorker([a.endpoint, b.endpoint], "sdk_apps:app",
                           env={"SLOWLANE_CAPACITY": "2"})
        self.addCleanup(worker.stop)
        worker.wait_event(b"R", 2)
        clients = [harness.MdpClient(a.endpoint), harness.MdpClient(b.endpoint)]
        for i, client in enumerate(clients):
            self.addCleanup(client.close)
            client.send("wsgi", *harness.envelope_request(
                f"c2-{i}", path="/app/sleep", query="seconds=1.5", timeout_ms=10000))
        worker.wait_event(b"S", 2)  # one job from each broker, side by side
        self.assertEqual(worker.read_events().count(b"E"), 0)
        for i, client in enumerate(clients):
            reply = client.recv(10000)
            self.assertIsNotNone(reply)
            self.assertEqual(reply[3:6], [f"c2-{i}".encode(), b"SLREP/1", b"200"])

    def check(self, reply, request_id, index):
        self.assertIsNotNone(reply, f"no reply to {request_id}")
        self.assertEqual(reply[3:6], [request_id.encode(), b"SLREP/1", b"200"])
        self.assertEqual(json.loads(reply[7])["args"], {"broker": [str(index)]})


class EnvelopeTest(unittest.TestCase):
    """The pure codec (slowlane_wsgi/envelope.py): protocol.md 4.4 and PEP 3333."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, SDK)
        from slowlane_wsgi import envelope
        cls.envelope = envelope

    def test_header_block(self):
        parse = self.envelope.parse_header_block
        self.assertEqual(parse(b"A: 1\r\nB:2 \r\n"), [(b"A", b"1"), (b"B", b"2")])
        # "A bare CR or LF, an empty line, a line starting with a space or tab (obs-fold), or
        # a line without a colon makes the whole block malformed"
        for bad in (b"A: 1", b"A: 1\nB: 2\r\n", b"\r\n", b" A: 1\r\n", b"A 1\r\n",
                    b"A: 1\rx\r\n"):
            self.assertIsNone(parse(bad), bad)

    def test_environ(self):
        request = self.envelope.parse_request(harness.envelope_request(
            "id-1", method="PUT", path="/a%2Fb%C3%A9", query="q=1",
            headers=b"Host: [::1]:8080\r\nX-A: 1\r\nx-a: 2\r\nX_A: 3\r\nContent-Type: text/x\r\n",
            body=b"xyz"))
        environ = self.envelope.build_environ(request, False, {"slowlane.request_id": "id-1"})
        self.assertEqual(environ["PATH_INFO"], "/a/b\xc3\xa9")  # PEP 3333: bytes as latin-1
        self.assertEqual((environ["SERVER_NAME"], environ["SERVER_PORT"]), ("::1", "8080"))
        self.assertEqual((environ["HTTP_X_A"], environ["CONTENT_TYPE"],
                          environ["CONTENT_LENGTH"]), ("1, 2", "text/x", "3"))
        self.assertNotIn("HTTP_CONTENT_TYPE", environ)
        self.assertEqual(environ["wsgi.input"].read(), b"xyz")
        plain = self.envelope.parse_request([b"not", b"an envelope"])
        self.assertEqual((plain.envelope, plain.method, plain.path, plain.body),
                         (False, b"POST", b"/", b"notan envelope"))

    def test_reply_headers(self):
        encode = self.envelope.encode_headers
        self.assertEqual(encode([("A", "1"), ("Connection", "close")], False), b"A: 1\r\n")
        self.assertEqual(encode([("Content-Length", "3")], True), b"")
        for bad in ([("A", "1\r\nB: 2")], [("A B", "1")], [("A", "\0")], [("A", 1)]):
            self.assertRaises(ValueError, encode, bad, False)
        self.assertEqual(self.envelope.encode_status("404 Not Found"), b"404")
        for bad in ("2000 OK", "99 X", "600 X", 200, "200 OK\r\nX: 1"):
            self.assertRaises(ValueError, self.envelope.encode_status, bad)


@needs_flask
class CurveTest(unittest.TestCase):
    """docs/security.md 2.1: a worker with --curve-secret/--curve-server (here: the
    SLOWLANE_CURVE_* variables) is admitted by a CURVE broker that lists its key."""

    def test_serves_through_a_curve_broker(self):
        keys = harness.curve_keys(["broker", "worker", "probe"], clients=["worker", "probe"])
        self.addCleanup(shutil.rmtree, keys, True)
        broker = harness.start_broker(extra=[
            "--curve-secret", os.path.join(keys, "broker_secret"),
            "--curve-clients", os.path.join(keys, "clients")])
        self.addCleanup(broker.stop)
        worker = SdkWorker([broker.endpoint], "sdk_apps:app", env={
            "SLOWLANE_CURVE_SECRET": os.path.join(keys, "worker_secret"),
            "SLOWLANE_CURVE_SERVER": os.path.join(keys, "broker")})
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        client = harness.curve_client(broker.endpoint, keys, "probe", "broker")
        self.addCleanup(client.close)
        reply = client.request("wsgi", *harness.envelope_request(
            "curve-1", path="/app/echo", query="over=curve"))
        self.assertIsNotNone(reply)
        self.assertEqual(reply[3:6], [b"curve-1", b"SLREP/1", b"200"])
        self.assertEqual(json.loads(reply[7])["args"], {"over": ["curve"]})
        for secret_file in ("worker_secret", "probe_secret"):  # no key material in logs
            key = zmq.auth.load_certificate(os.path.join(keys, secret_file))[1].decode()
            self.assertNotIn(key, worker.output())


class StartupTest(unittest.TestCase):
    def test_bad_curve_key_file_stops_start_up_in_one_line(self):
        missing = os.path.join(HERE, "no-such-key_secret")
        for env in ({"SLOWLANE_CURVE_SECRET": missing, "SLOWLANE_CURVE_SERVER": missing},
                    {"SLOWLANE_CURVE_SECRET": __file__, "SLOWLANE_CURVE_SERVER": __file__},
                    {"SLOWLANE_CURVE_SECRET": missing}):  # both or neither
            result = subprocess.run(
                [sys.executable, "-m", "slowlane_wsgi", "--broker", "tcp://127.0.0.1:1",
                 "--service", "x", "sdk_apps:app"],
                env={**os.environ, "PYTHONPATH": f"{SDK}:{HERE}", **env},
                capture_output=True, timeout=30)
            self.assertEqual(result.returncode, 2, env)
            self.assertEqual(len(result.stderr.decode().strip().splitlines()), 1, result.stderr)
            self.assertIn(b"slowlane_wsgi: ", result.stderr)

    def test_configuration_from_the_environment(self):
        sys.path.insert(0, SDK)
        from slowlane_wsgi import config
        parsed = config.from_args(["m:app"], {
            "SLOWLANE_BROKER": "tcp://a:1  tcp://b:2\n", "SLOWLANE_SERVICE": "svc",
            "SLOWLANE_IDENTITY": "h/1/2", "SLOWLANE_HEARTBEAT_MS": "250",
            "SLOWLANE_LIVENESS": "5", "SLOWLANE_CAPACITY": "4", "SLOWLANE_LOG_LEVEL": "warn",
            "SLOWLANE_EVENTS_FD": "9"})
        self.assertEqual((parsed.brokers, parsed.service, parsed.identity),
                         (["tcp://a:1", "tcp://b:2"], "svc", "h/1/2"))
        self.assertEqual((parsed.heartbeat_ms, parsed.liveness, parsed.capacity,
                          parsed.events_fd), (250, 5, 4, 9))
        flags = config.from_args(["--broker", "tcp://c:3", "--capacity", "2", "m:app"],
                                 {"SLOWLANE_BROKER": "tcp://a:1", "SLOWLANE_SERVICE": "s"})
        self.assertEqual((flags.brokers, flags.capacity, flags.heartbeat_ms),
                         (["tcp://c:3"], 2, 1000))


if __name__ == "__main__":
    harness.main()
