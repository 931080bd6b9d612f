"""slowlane_wsgi (sdk/python) against the real slowlane-broker and slowlane-gateway: a Flask
app behind the gateway (bodies, queries, repeated headers, ~1 MiB, status and headers, a
streamed reply), an app that raises, a CPU-bound handler that must not be expired, drain on
SIGTERM, a plain RFC 18 broker written here, and one worker registered with two brokers."""
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import unittest


HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
SOURCE = os.environ.get("SLOWLANE_SOURCE") or os.path.join(SDK, "..", "..")
sys.path.insert(0, os.path.join(SOURCE, "tests", "system"))
import harness  # noqa: E402
from gateway_support import start_gateway  # noqa: E402
import sdk_contract  # noqa: E402

# The test apps are Flask apps (python3-flask, scripts/install-deps.sh): skipped, never passed,
# without it.
needs_flask = unittest.skipUnless(importlib.util.find_spec("flask"), "python3-flask missing")


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

    def test_events_fd(self):
        self.assertTrue(self.worker.read_events().startswith(b"R"))
        before = self.worker.read_events().count(b"E")
        self.assertEqual(http_call(self.gateway.port, "GET", "/app/echo")[0], 200)
        self.worker.wait_event(b"E", before + 1)
        self.assertEqual(self.worker.read_events().count(b"S"),
                         self.worker.read_events().count(b"E"))


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


class DrainTest(unittest.TestCase):
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
class ContractTest(sdk_contract.SdkContract, unittest.TestCase):
    """tests/system/sdk_contract.py: what every SDK must do, with slowlane_wsgi."""
    service = "wsgi"

    def start_worker(self, brokers, env=None, heartbeat_ms=None):
        return SdkWorker(brokers, "sdk_apps:app", env=env, heartbeat_ms=heartbeat_ms)

    def start_plain_worker(self, broker, service):
        return SdkWorker([broker], "sdk_apps:opaque_app", service=service)

    def serve_command(self, broker, service):
        code = ("import sys; sys.path[:0] = sys.argv[1:3]; import slowlane_wsgi, sdk_apps; "
                "raise SystemExit(slowlane_wsgi.serve(sdk_apps.opaque_app, "
                f"['--broker', '{broker}', '--service', '{service}']))")
        return [sys.executable, "-c", code, SDK, HERE]


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
