"""slowlane-gateway, the HTTP side: routing (404/405), limits (413/431), request ids,
/healthz and /readyz, keep-alive, what reaches the worker, and start-up refusals.
Real broker; a scripted Python MDP worker (gateway_support.FakeWorker)."""
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

import harness
import gateway_support as gs


def echo_handler(frames):
    """Answers with the request envelope it saw, as JSON, so tests can inspect it."""
    request = gs.parse_request(frames)
    request["body"] = request["body"].decode(errors="replace")
    return [("final", gs.reply(200, b"Content-Type: application/json\r\n",
                               json.dumps(request)))]


class GatewayHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        cls.worker = gs.FakeWorker(cls.broker.endpoint, "echo", echo_handler)
        cls.gateway = gs.start_gateway(cls.broker.endpoint, [
            "/echo=echo,methods=GET|POST|HEAD,body-limit=1024",
            "/ro=echo,methods=GET",
            "/ghost=ghost",
        ])
        cls.port = cls.gateway.port
        gs.wait_route_ready(cls.port, "/echo")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.worker.stop()
        cls.broker.stop()

    def request(self, method, path, **kwargs):
        return harness.http_request(self.port, method, path, **kwargs)

    def assert_error(self, response, status, cause):
        code, headers, body = response
        self.assertEqual(code, status, body)
        document = json.loads(body)
        self.assertEqual(document["error"], cause)
        self.assertEqual(document["request_id"], headers["x-request-id"])
        self.assertEqual(headers["content-type"], "application/json")

    def test_no_route_is_404(self):
        self.assert_error(self.request("GET", "/nothing/here"), 404, "no_route")
        # A prefix matches on a path segment boundary only.
        self.assert_error(self.request("GET", "/echoes"), 404, "no_route")

    def test_method_not_allowed_is_405_with_allow(self):
        response = self.request("DELETE", "/ro/x")
        self.assert_error(response, 405, "method_not_allowed")
        self.assertEqual(response[1]["allow"], "GET")

    def test_body_over_limit_is_413_without_reading_it(self):
        # Announce 10 MB and send none of it: the answer must come from the announced length
        # alone, and the connection must then close (the body is never read).
        sock = gs.raw_connection(self.port)
        try:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
            started = time.monotonic()
            status, headers, body, _ = gs.read_response(sock)
            self.assertEqual(status, 413)
            self.assertEqual(json.loads(body)["error"], "body_too_large")
            self.assertLess(time.monotonic() - started, 1.0)
            self.assertEqual(headers.get("connection"), "close")
            self.assertTrue(gs.closed_by_peer(sock))
        finally:
            sock.close()
        # Just over the limit with a body actually sent, and a chunked one.
        self.assert_error(self.request("POST", "/echo", body=b"x" * 1025), 413, "body_too_large")
        chunks = iter([b"y" * 600, b"y" * 600])
        self.assert_error(self.request("POST", "/echo", body=chunks), 413, "body_too_large")
        # At the limit it passes.
        status, _, body = self.request("POST", "/echo", body=b"x" * 1024)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(json.loads(body)["body"]), 1024)

    def test_too_many_headers_is_431(self):
        # civetweb keeps 64 fields and drops the rest silently: 70 must be refused, not cut.
        headers = {f"X-Extra-{i}": "v" for i in range(70)}
        self.assert_error(self.request("GET", "/echo", headers=headers), 431, "too_many_headers")
        # 40 is fine.
        headers = {f"X-Extra-{i}": "v" for i in range(40)}
        self.assertEqual(self.request("GET", "/echo", headers=headers)[0], 200)

    def test_too_large_headers_are_431(self):
        # One value over 8 KiB (the envelope's field limit), and a head over 32 KiB in all.
        self.assert_error(self.request("GET", "/echo", headers={"X-Big": "a" * 9000}),
                          431, "header_too_large")
        many = {f"X-Part-{i}": "b" * 4000 for i in range(9)}
        self.assert_error(self.request("GET", "/echo", headers=many), 431, "header_too_large")
        # Past civetweb's 64 KiB buffer the request cannot even be parsed: a 400, same JSON.
        huge = {f"X-Part-{i}": "c" * 7000 for i in range(10)}
        self.assert_error(self.request("GET", "/echo", headers=huge), 400, "bad_request")

    def test_request_reaches_worker_as_envelope(self):
        status, headers, body = self.request(
            "POST", "/echo/a%20b/c?x=1&y=%20", body=b"payload",
            headers={"X-Custom": "yes", "Content-Type": "text/plain",
                     "Connection": "keep-alive, X-Custom"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        seen = json.loads(body)
        self.assertEqual(seen["method"], "POST")
        self.assertEqual(seen["path"], "/echo/a%20b/c")
        self.assertEqual(seen["query"], "x=1&y=%20")
        self.assertEqual(seen["body"], "payload")
        self.assertEqual(seen["headers"]["x-custom"], "yes")
        self.assertEqual(seen["headers"]["content-type"], "text/plain")
        self.assertNotIn("connection", seen["headers"])  # hop-by-hop, not forwarded
        self.assertEqual(seen["headers"]["x-request-id"], headers["x-request-id"])
        self.assertEqual(seen["id"], headers["x-request-id"])
        self.assertFalse(seen["retry"])                 # POST on an idempotent-retry route
        self.assertTrue(0 < seen["timeout_ms"] <= 30000)
        status, _, body = self.request("GET", "/echo")
        self.assertTrue(json.loads(body)["retry"])      # GET is idempotent

    def test_request_id_passthrough_and_generation(self):
        status, headers, body = self.request("GET", "/echo", headers={"X-Request-Id": "abc-123.x:y_z"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-request-id"], "abc-123.x:y_z")
        self.assertEqual(json.loads(body)["id"], "abc-123.x:y_z")
        # Invalid ids are replaced by a generated one (32 hex digits).
        status, headers, _ = self.request("GET", "/echo", headers={"X-Request-Id": "bad id!"})
        self.assertEqual(status, 200)
        self.assertRegex(headers["x-request-id"], r"^[0-9a-f]{32}$")
        # Every response carries one, errors and own endpoints included.
        for method, path in (("GET", "/nothing"), ("GET", "/healthz"), ("GET", "/readyz")):
            self.assertRegex(self.request(method, path)[1]["x-request-id"], r"^[0-9a-f]{32}$")

    def test_same_request_id_one_after_another_is_kept(self):
        # A client that sends its next request with the id of the one just answered (a retry
        # after a 500, a client that sets one id per session) keeps it: the id is free before
        # the answer reaches the client, not some time after.
        for _ in range(200):
            status, headers, body = self.request("GET", "/echo", headers={"X-Request-Id": "again"})
            self.assertEqual((status, headers["x-request-id"]), (200, "again"))
            self.assertEqual(json.loads(body)["id"], "again")

    def test_healthz_and_readyz(self):
        status, _, body = self.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["status"], "ok")
        # /ghost's service has no worker: not ready, and /readyz says which.
        status, _, body = self.request("GET", "/readyz")
        self.assertEqual(status, 503)
        document = json.loads(body)
        self.assertFalse(document["ready"])
        self.assertEqual(document["http"], "started")
        self.assertEqual(document["broker"], "connected")
        by_prefix = {route["prefix"]: route["ready"] for route in document["routes"]}
        self.assertEqual(by_prefix, {"/echo": True, "/ro": True, "/ghost": False})
        ghost = gs.FakeWorker(self.broker.endpoint, "ghost", echo_handler)
        try:
            gs.wait_ready(self.port)
        finally:
            ghost.stop()

    def test_keep_alive_reuses_the_connection(self):
        sock = gs.raw_connection(self.port)
        try:
            local = sock.getsockname()
            for i in range(5):
                gs.send_request(sock, "GET", f"/echo?n={i}")
                status, headers, body, _ = gs.read_response(sock)
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(body)["query"], f"n={i}")
                self.assertNotEqual(headers.get("connection"), "close")
            # Errors that need no body keep the connection too.
            gs.send_request(sock, "GET", "/nothing")
            self.assertEqual(gs.read_response(sock)[0], 404)
            gs.send_request(sock, "GET", "/echo")
            self.assertEqual(gs.read_response(sock)[0], 200)
            self.assertEqual(sock.getsockname(), local)
        finally:
            sock.close()

    def test_head_has_no_body(self):
        sock = gs.raw_connection(self.port)
        try:
            gs.send_request(sock, "HEAD", "/echo")
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(4096)
            head, _, rest = data.partition(b"\r\n\r\n")
            self.assertIn(b"200 OK", head)
            self.assertIn(b"Content-Length: ", head)
            # Nothing follows the head: a next request on the same connection answers cleanly.
            gs.send_request(sock, "GET", "/echo?after=head")
            status, _, body, _ = gs.read_response(sock)
            self.assertEqual(rest, b"")
            self.assertEqual(json.loads(body)["query"], "after=head")
        finally:
            sock.close()


class GatewayStartupTest(unittest.TestCase):
    """A bad flag or config value stops start-up with one line naming it."""

    def run_gateway(self, *args):
        result = subprocess.run([harness.binary("slowlane-gateway"), "--listen",
                                 str(harness.free_port()), *args],
                                capture_output=True, text=True, timeout=10)
        return result.returncode, result.stderr.strip()

    def test_bad_route_spec(self):
        code, err = self.run_gateway("--route", "/fast=fast,budget=zero")
        self.assertNotEqual(code, 0)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("budget 'zero'", err)

    def test_bad_routes_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{"routes": [{"prefix": "/x", "service": "x", "retry": "sometimes"}]}')
        try:
            code, err = self.run_gateway("--routes", f.name)
            self.assertNotEqual(code, 0)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn("retry 'sometimes'", err)
        finally:
            os.unlink(f.name)

    def test_example_routes_file(self):
        # The example shipped next to the gateway is valid and means what it says.
        broker = harness.start_broker()
        example = os.path.join(harness.SOURCE, "gateway", "routes.example.json")
        gateway = gs.start_gateway(broker.endpoint, [], extra=["--routes", example])
        try:
            document = json.loads(harness.http_request(gateway.port, "GET", "/readyz")[2])
            self.assertEqual([r["prefix"] for r in document["routes"]], ["/fast", "/slow"])
            response = harness.http_request(gateway.port, "DELETE", "/slow")
            self.assertEqual(response[0], 405)
            self.assertEqual(response[1]["allow"], "GET")
        finally:
            gateway.stop()
            broker.stop()

    def test_no_routes(self):
        code, err = self.run_gateway()
        self.assertNotEqual(code, 0)
        self.assertIn("no routes", err)

    def test_port_taken(self):
        with socket.socket() as taken:
            taken.bind(("0.0.0.0", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            result = subprocess.run([harness.binary("slowlane-gateway"), "--listen", str(port),
                                     "--route", "/x=x"], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"cannot listen on {port}", result.stderr)

    def test_routes_from_environment(self):
        broker = harness.start_broker()
        worker = gs.FakeWorker(broker.endpoint, "envsvc", echo_handler)
        port = harness.free_port()
        gateway = harness.Process([harness.binary("slowlane-gateway")], name="gateway-env", env={
            "SLOWLANE_LISTEN": str(port), "SLOWLANE_BROKER": broker.endpoint,
            "SLOWLANE_ROUTE": "/env=envsvc", "SLOWLANE_PROBE_MS": "50"})
        try:
            gs.wait_ready(port)
            self.assertEqual(harness.http_request(port, "GET", "/env")[0], 200)
        finally:
            gateway.stop()
            worker.stop()
            broker.stop()


if __name__ == "__main__":
    harness.main()
