"""slowlane-gateway, the reply side: a worker's reply envelope becomes the HTTP response
(status, filtered headers, body), opaque replies are 200, anything malformed is 502, a header
that would split the response is refused, streamed replies arrive chunked, a dead worker is
502 (POST) or retried (GET), and the deadline gives 504 with the late reply dropped.
Real broker; scripted Python MDP workers."""
import json
import threading
import time
import unittest

import harness
import gateway_support as gs


def scripted_handler(frames):
    """The query string picks the behaviour, so one worker serves every test."""
    request = gs.parse_request(frames)
    query = dict(part.partition("=")[::2] for part in request["query"].split("&") if part)
    case = query.get("case", "")
    if case == "status":
        return [("final", gs.reply(int(query["code"]), b"X-From-Worker: yes\r\n", "custom"))]
    if case == "hop":
        return [("final", gs.reply(200, b"Connection: close\r\nTransfer-Encoding: chunked\r\n"
                                        b"Content-Length: 999\r\nX-Request-Id: forged\r\n"
                                        b"Keep-Alive: timeout=1\r\nX-Kept: 1\r\n", "hop"))]
    if case == "inject":
        return [("final", [b"SLREP/1", b"200", b"X-Evil: a\nSet-Cookie: pwned=1\r\n", b"x"])]
    if case == "inject-cr":
        return [("final", [b"SLREP/1", b"200", b"X-Evil: a\rb\r\n", b"x"])]
    if case == "opaque":
        return [("final", [b"plain ", b"mdp ", b"reply"])]
    if case == "short":
        return [("final", [b"SLREP/1", b"200"])]
    if case == "badstatus":
        return [("final", [b"SLREP/1", b"2000", b"", b"x"])]
    if case == "request":
        return [("final", list(frames))]
    if case == "stream":
        return [("partial", gs.reply(201, b"Content-Type: text/plain\r\n", "first,")),
                ("sleep", 0.05), ("partial", [b"second,"]),
                ("partial", [b""]),                      # an empty PARTIAL adds nothing
                ("sleep", 0.05), ("final", [b"third"])]
    if case == "sleep":
        return [("sleep", float(query["s"])), ("final", gs.reply(200, b"", request["id"]))]
    if case == "die":
        return [("die",)]
    return [("final", gs.reply(200, b"", request["id"]))]


class GatewayRepliesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        cls.worker = gs.FakeWorker(cls.broker.endpoint, "svc", scripted_handler)
        cls.gateway = gs.start_gateway(cls.broker.endpoint, [
            "/svc=svc",
            "/short=svc,timeout-ms=400",
        ], extra=["--log-level", "debug"])
        cls.port = cls.gateway.port
        gs.wait_route_ready(cls.port, "/svc")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.worker.stop()
        cls.broker.stop()

    def get(self, path, **kwargs):
        return harness.http_request(self.port, "GET", path, **kwargs)

    def assert_error(self, response, status, cause):
        code, headers, body = response
        self.assertEqual(code, status, body)
        self.assertEqual(json.loads(body)["error"], cause)
        self.assertEqual(json.loads(body)["request_id"], headers["x-request-id"])

    def test_reply_status_headers_body(self):
        for code in (200, 201, 404, 418, 500, 503):
            status, headers, body = self.get(f"/svc?case=status&code={code}")
            self.assertEqual(status, code)
            self.assertEqual(headers["x-from-worker"], "yes")
            self.assertEqual(body, b"custom")

    def test_no_content_has_no_body(self):
        sock = gs.raw_connection(self.port)
        try:
            gs.send_request(sock, "GET", "/svc?case=status&code=204")
            status, headers, body, _ = gs.read_response(sock)
            self.assertEqual(status, 204)
            self.assertNotIn("content-length", headers)
            self.assertEqual(body, b"")
            gs.send_request(sock, "GET", "/svc?case=status&code=200")
            self.assertEqual(gs.read_response(sock)[2], b"custom")  # framing intact after a 204
        finally:
            sock.close()

    def test_hop_by_hop_headers_from_worker_dropped(self):
        status, headers, body = self.get("/svc?case=hop", headers={"X-Request-Id": "mine-1"})
        self.assertEqual(status, 200)
        self.assertEqual(body, b"hop")
        self.assertEqual(headers["content-length"], "3")
        self.assertEqual(headers["x-request-id"], "mine-1")     # not the worker's forgery
        self.assertNotIn("transfer-encoding", headers)
        self.assertNotIn("keep-alive", headers)
        self.assertNotEqual(headers.get("connection"), "close")
        self.assertEqual(headers["x-kept"], "1")

    def test_header_injection_refused(self):
        # A bare LF or CR inside the header block would let a worker split the response.
        for case in ("inject", "inject-cr"):
            status, headers, body = self.get(f"/svc?case={case}")
            self.assert_error((status, headers, body), 502, "invalid_reply")
            self.assertNotIn("set-cookie", headers)

    def test_opaque_reply_is_200(self):
        status, headers, body = self.get("/svc?case=opaque")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"plain mdp reply")
        self.assertEqual(headers["content-type"], "application/octet-stream")

    def test_invalid_envelopes_are_502(self):
        for case in ("short", "badstatus", "request"):
            self.assert_error(self.get(f"/svc?case={case}"), 502, "invalid_reply")

    def test_streamed_reply_is_chunked(self):
        sock = gs.raw_connection(self.port)
        try:
            gs.send_request(sock, "GET", "/svc?case=stream")
            status, headers, body, chunked = gs.read_response(sock)
            self.assertEqual(status, 201)
            self.assertTrue(chunked)
            self.assertEqual(headers["content-type"], "text/plain")
            self.assertEqual(body, b"first,second,third")
            # The connection stays usable after the last chunk.
            gs.send_request(sock, "GET", "/svc?case=status&code=200")
            self.assertEqual(gs.read_response(sock)[2], b"custom")
        finally:
            sock.close()

    def test_deadline_is_504_and_late_reply_dropped(self):
        started = time.monotonic()
        response = self.get("/short?case=sleep&s=0.8", headers={"X-Request-Id": "late-one"})
        elapsed = time.monotonic() - started
        self.assertIn(json.loads(response[2])["error"], ("deadline", "expired"))
        self.assertEqual(response[0], 504)
        self.assertGreater(elapsed, 0.35)
        self.assertLess(elapsed, 1.5)  # the worker answers at 0.8 s: a 504 came first
        # The worker answers later; the gateway recognises the id and drops the reply.
        harness.wait_for(lambda: gs.log_has(self.gateway, "event=late_reply_dropped rid=late-one"),
                         what="late reply dropped")
        # The next request gets its own answer, not the stale one.
        status, headers, body = self.get("/svc", headers={"X-Request-Id": "next-one"})
        self.assertEqual(status, 200)
        self.assertEqual(body, b"next-one")

    def test_retry_with_same_id_never_gets_the_stale_reply(self):
        # A client retries at once with the X-Request-Id of a request that timed out and
        # whose reply is still on its way: the retry must get its own answer, so it runs
        # under a fresh id instead of waiting where the stale reply will land.
        first = self.get("/short?case=sleep&s=0.6", headers={"X-Request-Id": "retried"})
        self.assertEqual(first[0], 504)
        status, headers, body = self.get("/svc?case=sleep&s=0.5",
                                         headers={"X-Request-Id": "retried"})
        self.assertEqual(status, 200)
        self.assertNotEqual(headers["x-request-id"], "retried")
        self.assertEqual(body.decode(), headers["x-request-id"])

    def test_same_request_id_twice_at_once(self):
        # Two clients with the same X-Request-Id in flight together: both are answered with
        # their own reply; the second gets a fresh id instead of a crossed reply.
        results = []

        def call():
            results.append(self.get("/svc?case=sleep&s=0.2", headers={"X-Request-Id": "twin"}))

        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([r[0] for r in results], [200, 200])
        ids = sorted(r[1]["x-request-id"] for r in results)
        self.assertIn("twin", ids)
        self.assertNotEqual(ids[0], ids[1])
        for status, headers, body in results:
            self.assertEqual(body.decode(), headers["x-request-id"])


class GatewayWorkerDeathTest(unittest.TestCase):
    """A worker that dies with a job: POST (not retryable) is 502 worker_died; GET is
    re-delivered by the broker to another worker and answered."""

    def setUp(self):
        self.broker = harness.start_broker()
        self.gateway = gs.start_gateway(self.broker.endpoint, ["/job=job"])

    def tearDown(self):
        self.gateway.stop()
        self.broker.stop()

    def test_post_mid_job_is_502_and_get_is_retried(self):
        dying = gs.FakeWorker(self.broker.endpoint, "job", lambda frames: [("die",)])
        gs.wait_route_ready(self.gateway.port, "/job")
        started = time.monotonic()
        response = harness.http_request(self.gateway.port, "POST", "/job", body=b"data")
        self.assertEqual(response[0], 502, response)
        self.assertEqual(json.loads(response[2])["error"], "worker_died")
        self.assertLess(time.monotonic() - started, 5.0)   # heartbeat x liveness, not 30 s
        self.assertTrue(dying.dead.is_set())

        # GET: the first worker dies with it, a second one answers the re-delivery.
        dying2 = gs.FakeWorker(self.broker.endpoint, "job", lambda frames: [("die",)])
        gs.wait_route_ready(self.gateway.port, "/job")
        holder = []
        thread = threading.Thread(target=lambda: holder.append(
            harness.http_request(self.gateway.port, "GET", "/job")))
        thread.start()
        harness.wait_for(dying2.dead.is_set, what="the worker to die with the GET")
        healthy = gs.FakeWorker(self.broker.endpoint, "job",
                                lambda frames: [("final", gs.reply(200, b"", "second try"))])
        try:
            thread.join(10)
            self.assertEqual(holder[0][0], 200, holder)
            self.assertEqual(holder[0][2], b"second try")
            self.assertEqual(len(dying2.requests), 1)
        finally:
            healthy.stop()


if __name__ == "__main__":
    harness.main()
