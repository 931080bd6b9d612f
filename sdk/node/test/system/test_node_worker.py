"""@slowlane/worker (sdk/node) against the real slowlane-broker, slowlane-gateway and
slowlane-worker: an unchanged Express app served through `slowlane-node app.js` (bodies,
queries, repeated headers, a body near the route's limit, status and headers, a streamed
reply, errors, progress, cancellation), a handler that blocks its event loop for 30 s with 1 s
heartbeats, drain on SIGTERM, a pool under the supervisor, capacity, reconnection, two
brokers, CURVE, a plain RFC 18 broker (tests/system/mdp_peers.py), and start-up errors.

Written in Python because it drives the same binaries as tests/system/ with their harness; the
SDK's own unit tests are in JavaScript (sdk/node/test/*.test.js, node --test)."""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.environ.get("SLOWLANE_SOURCE") or os.path.join(SDK, "..", "..")
sys.path.insert(0, os.path.join(SOURCE, "tests", "system"))
import harness  # noqa: E402
from gateway_support import start_gateway  # noqa: E402
import sdk_contract  # noqa: E402

NODE = shutil.which("node")
CLI = os.path.join(SDK, "bin", "slowlane-node.js")
APP = os.path.join(HERE, "apps", "app.js")
PLAIN = os.path.join(HERE, "apps", "plain.js")
BODY_LIMIT = 4 * 1024 * 1024


# `npm ci` in sdk/node (scripts/test.sh) installs zeromq and express: without them every test
# is skipped (the file exits 77, which ctest reports as not run), never passed
needs_node = unittest.skipUnless(
    NODE and os.path.isdir(os.path.join(SDK, "node_modules", "zeromq")),
    "node or sdk/node/node_modules missing: run npm ci in sdk/node")


class NodeWorker(harness.EventsProcess):
    """node slowlane-node.js [flags] APP, with SLOWLANE_EVENTS_FD on a pipe the test reads."""

    def __init__(self, brokers, app=APP, service="node", env=None, flags=(), heartbeat_ms=None):
        args = [NODE, CLI, "--service", service,
                "--heartbeat-ms", str(heartbeat_ms or harness.HEARTBEAT_MS),
                "--liveness", str(harness.LIVENESS), *flags]
        for broker in brokers:
            args += ["--broker", broker]
        super().__init__(args + [app], name="slowlane-node",
                         env={"SLOWLANE_LOG_LEVEL": "debug", **(env or {})})


def recv_all(test, client, timeout_ms=10000):
    """Every reply frame set up to the FINAL (MDPC02 0x03)."""
    replies = []
    while not replies or replies[-1][1] != b"\x03":
        reply = client.recv(timeout_ms)
        test.assertIsNotNone(reply, f"no reply after {replies}")
        replies.append(reply)
    return replies


@needs_node
class GatewayExpressTest(unittest.TestCase):
    """An Express app behind slowlane-gateway -> slowlane-broker -> slowlane-node."""

    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        cls.gateway = start_gateway(cls.broker.endpoint, [
            f"/app=node,timeout-ms=30000,body-limit={BODY_LIMIT},methods=GET|POST"])
        cls.worker = NodeWorker([cls.broker.endpoint])
        harness.wait_for(lambda: harness.mmi_service_ready(cls.broker.endpoint, "node"),
                         what="slowlane-node to register")

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        cls.gateway.stop()
        cls.broker.stop()

    def call(self, method, path, body=None, headers=()):
        return harness.http_call(self.gateway.port, method, path, body=body, headers=headers)

    def test_get_with_query_and_repeated_headers(self):
        status, headers, body = self.call("GET", "/app/echo/a%20b?x=1&x=2&y=%C3%A9", headers=[
            ("X-Multi", "one"), ("X-Multi", "two"), ("X-Request-Id", "node-get-1")])
        self.assertEqual(status, 200, body)
        seen = json.loads(body)
        self.assertEqual(seen["method"], "GET")
        self.assertEqual(seen["path"], "/app/echo/a%20b")
        self.assertEqual(seen["query"], {"x": ["1", "2"], "y": "\u00e9"})
        self.assertEqual(seen["multi"], "one, two")
        self.assertEqual(seen["requestId"], "node-get-1")
        self.assertEqual(seen["host"], "127.0.0.1")
        self.assertEqual(harness.header_values(headers, "X-Request-Id"), ["node-get-1"])
        self.assertEqual(harness.header_values(headers, "X-Powered-By"), ["Express"])

    def test_binary_post_body_near_the_route_limit(self):
        body = os.urandom(BODY_LIMIT - 1)
        status, headers, back = self.call("POST", "/app/mirror", body=body,
                                          headers=[("Content-Type", "application/x-thing")])
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(body).hexdigest())
        self.assertEqual(harness.header_values(headers, "Content-Length"), [str(len(body))])
        status, _, seen = self.call("POST", "/app/echo", body=b"\0\xff" * 1000,
                                    headers=[("Content-Type", "application/x-thing")])
        self.assertEqual(json.loads(seen)["sha256"], hashlib.sha256(b"\0\xff" * 1000).hexdigest())
        self.assertEqual(json.loads(seen)["contentType"], "application/x-thing")

    def test_status_and_headers_set_by_the_app(self):
        status, headers, body = self.call("GET", "/app/created")
        self.assertEqual((status, body), (201, b"made\n"))
        self.assertEqual(harness.header_values(headers, "X-Custom"), ["yes"])
        self.assertEqual(harness.header_values(headers, "Location"), ["/app/x"])
        self.assertEqual(harness.header_values(headers, "X-Twice"), ["one", "two"])  # two fields, in order

    def test_streamed_response_arrives_whole_and_in_order(self):
        status, headers, body = self.call("GET", "/app/stream")
        self.assertEqual(status, 200)
        self.assertEqual(harness.header_values(headers, "Transfer-Encoding"), ["chunked"])
        self.assertEqual(body.decode(), "".join(f"chunk-{i:02d}\n" for i in range(20)))

    def test_errors_in_the_app_are_500_with_the_request_id_and_the_worker_goes_on(self):
        for path in ("/app/boom", "/app/reject"):
            status, headers, _ = self.call("GET", path, headers=[("X-Request-Id", "boom-1")])
            self.assertEqual(status, 500, path)
            self.assertEqual(harness.header_values(headers, "X-Request-Id"), ["boom-1"])
        self.assertEqual(self.call("GET", "/app/echo")[0], 200)
        self.assertTrue(self.worker.alive())

    def test_client_that_hangs_up_cancels_the_job_and_the_app_sees_it(self):
        # A GET whose client goes away: the gateway sends mmi.cancel (cancel-on-disconnect
        # defaults to idempotent), the broker sends CANCEL, and the app's response closes as
        # it would under a listening server
        events = self.worker.read_events()
        started, ended = events.count(b"S"), events.count(b"E")
        conn = socket.create_connection(("127.0.0.1", self.gateway.port))
        conn.sendall(b"GET /app/hold HTTP/1.1\r\nHost: x\r\nX-Request-Id: hold-1\r\n\r\n")
        self.worker.wait_event(b"S", started + 1)  # the job reached the app
        conn.close()  # the gateway finds it gone once it watches the connection (after 200 ms)
        harness.wait_for(lambda: "client gone request_id=hold-1 cancelled=true" in
                         self.worker.output(), what="the app to see its client go")
        self.worker.wait_event(b"E", ended + 1)
        began = time.monotonic()
        self.assertEqual(self.call("GET", "/app/echo")[0], 200)
        self.assertLess(time.monotonic() - began, 5)

    def test_events_fd(self):
        self.assertTrue(self.worker.read_events().startswith(b"R"))
        before = self.worker.read_events().count(b"E")
        self.assertEqual(self.call("GET", "/app/echo")[0], 200)
        self.worker.wait_event(b"E", before + 1)
        events = self.worker.read_events()
        self.assertEqual(events.count(b"S"), events.count(b"E"))


@needs_node
class SupervisedTest(unittest.TestCase):
    """docs/workers/node.md's pool: slowlane-worker --handler 'program:node slowlane-node.js
    app.js': the supervisor's environment configures each worker, and an app that exits in
    the middle of a job is restarted."""

    def test_pool_under_the_supervisor_and_restart_after_the_app_exits(self):
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        gateway = start_gateway(broker.endpoint, ["/app=node,timeout-ms=30000"])
        self.addCleanup(gateway.stop)
        pool = harness.start_workers(broker.endpoint, "node", f"program:{NODE} {CLI} {APP}",
                                     count=2)
        self.addCleanup(pool.stop)
        harness.wait_for(lambda: pool.output().count("event=worker_started") >= 2,
                         what="both workers started")
        harness.wait_for(lambda: harness.mmi_service_ready(broker.endpoint, "node"),
                         what="the pool to register")
        status, _, body = harness.http_call(gateway.port, "GET", "/app/pid")
        self.assertEqual(status, 200, body)
        self.assertRegex(json.loads(body)["worker"], rf"/{pool.pid}/[01]$")
        # An app that exits, or throws where nothing catches it, dies with its job: a POST is
        # never re-delivered, so its answer is 502 worker_died, and the slot restarts
        for path in ("/app/exit", "/app/crash"):
            starts = pool.output().count("event=worker_started")
            status, _, _ = harness.http_call(gateway.port, "POST", path, body=b"")
            self.assertEqual(status, 502, path)
            harness.wait_for(lambda: pool.output().count("event=worker_started") > starts,
                             what=f"the supervisor to restart the worker after {path}")
            harness.wait_for(lambda: harness.http_call(gateway.port, "GET", "/app/pid")[0] == 200,
                             what="the pool to serve again")
        self.assertIn("uncaught, on purpose", pool.output())


@needs_node
class PlainHandlerTest(unittest.TestCase):
    def test_a_plain_handler_that_throws_is_a_500_naming_the_request(self):
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        worker = NodeWorker([broker.endpoint], app=PLAIN, service="plain")
        self.addCleanup(worker.stop)
        worker.wait_event(b"R")
        client = harness.MdpClient(broker.endpoint)
        self.addCleanup(client.close)
        reply = client.request("plain", *harness.envelope_request("throw-1", path="/throw"))
        self.assertEqual(reply[4:6], [b"SLREP/1", b"500"])
        self.assertIn(b"request throw-1", reply[7])
        reply = client.request("plain", *harness.envelope_request("after-1", method="POST",
                                                                  body=b"ok"))
        self.assertEqual(json.loads(reply[7])["upper"], "OK")


@needs_node
class ContractTest(sdk_contract.SdkContract, unittest.TestCase):
    """tests/system/sdk_contract.py: what every SDK must do, with slowlane-node and the
    Express app (its /app/cpu blocks the event loop, as the seed's doSomeWork does)."""
    service = "node"

    def start_worker(self, brokers, env=None, heartbeat_ms=None):
        return NodeWorker(brokers, env=env, heartbeat_ms=heartbeat_ms)

    def start_plain_worker(self, broker, service):
        # --cancel off: a broker that knows only RFC 18 gets a READY with the service alone
        return NodeWorker([broker], app=PLAIN, service=service, flags=["--cancel", "off"])

    def serve_command(self, broker, service):
        code = (f"require({json.dumps(os.path.join(SDK, 'lib'))}).serve(require({json.dumps(PLAIN)}),"
                f" {{ broker: {json.dumps(broker)}, service: {json.dumps(service)}, cancel: 'off' }})")
        return [NODE, "-e", code]


@needs_node
class StartupTest(unittest.TestCase):
    def run_cli(self, args, env=None):
        return subprocess.run([NODE, CLI, *args], env={**os.environ, **(env or {})},
                              capture_output=True, timeout=30)

    def test_bad_flags_and_key_files_stop_start_up_in_one_line(self):
        missing = os.path.join(HERE, "no-such-key_secret")
        cases = [
            (["--broker", "tcp://127.0.0.1:1", "--service", "x", "--bogus", APP], {}, "--bogus"),
            (["--broker", "tcp://127.0.0.1:1", "--service", "x", "--capacity", "0", APP], {}, "capacity"),
            (["--service", "x", APP], {}, "no broker"),
            (["--broker", "tcp://127.0.0.1:1", "--service", "mmi.x", APP], {}, "service"),
            (["--broker", "tcp://127.0.0.1:1", "--service", "x"], {}, "no app"),
            (["--broker", "tcp://127.0.0.1:1", "--service", "x", "/no/such/app.js"], {}, "no such app"),
            (["--broker", "tcp://127.0.0.1:1", "--service", "x", APP],
             {"SLOWLANE_CURVE_SECRET": missing, "SLOWLANE_CURVE_SERVER": missing}, missing),
            (["--broker", "tcp://127.0.0.1:1", "--service", "x", APP],
             {"SLOWLANE_CURVE_SECRET": __file__, "SLOWLANE_CURVE_SERVER": __file__}, "malformed"),
            (["--broker", "tcp://127.0.0.1:1", "--service", "x", APP],
             {"SLOWLANE_CURVE_SECRET": missing}, "both"),
        ]
        for args, env, named in cases:
            result = self.run_cli(args, env)
            lines = result.stderr.decode().strip().splitlines()
            self.assertEqual(result.returncode, 2, (args, env, result.stderr))
            self.assertEqual(len(lines), 1, result.stderr)
            self.assertIn("slowlane-node: ", lines[0])
            self.assertIn(named, lines[0])

    def test_configuration_from_the_environment(self):
        # The names the supervisor's program: handler sets (docs/workers.md section 2)
        code = ("const c = require(process.argv[1]).parse([], process.env);"
                "process.stdout.write(JSON.stringify(c))")
        result = subprocess.run([NODE, "-e", code, os.path.join(SDK, "lib", "config.js")],
                                capture_output=True, timeout=30, env={
            **os.environ, "SLOWLANE_BROKER": "tcp://a:1  tcp://b:2\n", "SLOWLANE_SERVICE": "svc",
            "SLOWLANE_IDENTITY": "h/1/2", "SLOWLANE_HEARTBEAT_MS": "250",
            "SLOWLANE_LIVENESS": "5", "SLOWLANE_CAPACITY": "4", "SLOWLANE_LOG_LEVEL": "warn",
            "SLOWLANE_EVENTS_FD": "9"})
        parsed = json.loads(result.stdout)
        self.assertEqual((parsed["brokers"], parsed["service"], parsed["identity"]),
                         (["tcp://a:1", "tcp://b:2"], "svc", "h/1/2"))
        self.assertEqual((parsed["heartbeatMs"], parsed["liveness"], parsed["capacity"],
                          parsed["eventsFd"]), (250, 5, 4, 9))


if __name__ == "__main__":
    harness.main()
