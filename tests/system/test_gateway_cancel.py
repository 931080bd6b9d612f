"""slowlane-gateway, cancel-on-disconnect: the HTTP client of a synchronous request hangs up
while the request waits, and the gateway asks the broker holding it to drop it (mmi.cancel,
docs/protocol.md 3.8). Queued, it never reaches a worker; running, its worker is told and
freed. The route option cancel-on-disconnect=on|off|idempotent decides which requests: by
default idempotent methods only, so a POST whose client left runs to its end. Nothing is
written to a client that left: the access log says 499 error=client_closed.

A real broker; scripted Python workers (which record every request they receive) where the
test must know what a worker saw, a real builtin:sleep worker where it must see a worker
stop early. Each test has a service and worker of its own, so they cannot wait on each
other; counters are compared before and after."""
import json
import re
import time
import unittest

import harness
import gateway_support as gs
import metrics_support as ms

# The gateway watches a client only after its request has waited this long
# (GATEWAY_RELAY_WATCH_AFTER_MS): a client must stay past it for its hang-up to count.
WATCH_AFTER_S = 0.2
# How long a test's client stays before it hangs up: well past WATCH_AFTER_S.
HANG_UP_AFTER_S = WATCH_AFTER_S + 0.3


def scripted_handler(frames):
    """?s=SECONDS sleeps then answers the request id; ?stream=1 sends a PARTIAL first."""
    request = gs.parse_request(frames)
    query = dict(part.partition("=")[::2] for part in request["query"].split("&") if part)
    steps = []
    if query.get("stream"):
        steps.append(("partial", gs.reply(200, b"Content-Type: text/plain\r\n", "first,")))
    steps.append(("sleep", float(query.get("s", "0"))))
    steps.append(("final", [b"last"] if query.get("stream") else
                  gs.reply(200, b"", request["id"])))
    return steps


def mmi_stats(endpoint, service):
    """The broker's mmi.stats entry for service ({} if it has none yet)."""
    client = harness.MdpClient(endpoint)
    try:
        frames = client.request("mmi.stats", b"", timeout_ms=3000)
        assert frames, "no mmi.stats answer"
        for entry in json.loads(frames[-1])["services"]:
            if entry["name"] == service:
                return entry
        return {}
    finally:
        client.close()


def access_line(gateway, request_id):
    """The gateway's access log line for request_id, or None yet."""
    for line in gateway.output().splitlines():
        if "event=access" in line and f"rid={request_id} " in line + " ":
            return line
    return None


def hang_up(sock):
    """Closes like a client that gave up: FIN, no more reading."""
    sock.close()


class GatewayCancelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        endpoint = cls.broker.endpoint
        cls.workers = {name: gs.FakeWorker(endpoint, name, scripted_handler)
                       for name in ("queued", "post", "off", "on", "stream", "again", "early")}
        cls.sleeper = harness.start_workers(endpoint, "run", "builtin:sleep")
        cls.gateway = gs.start_gateway(endpoint, [
            "/queued=queued",
            "/run=run",
            "/post=post",
            "/off=off,cancel-on-disconnect=off",
            "/on=on,cancel-on-disconnect=on",
            "/stream=stream",
            "/again=again",
            "/early=early",
        ], extra=["--log-level", "debug"])
        cls.port = cls.gateway.port
        gs.wait_route_ready(cls.port, "/queued", "/run", "/post", "/off", "/on", "/stream",
                            "/again", "/early")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        for worker in cls.workers.values():
            worker.stop()
        cls.sleeper.stop()
        cls.broker.stop()

    # ------------------------------------------------------------------ helpers

    def metric(self, name, **labels):
        return ms.value(ms.scrape(self.port), name, **labels)

    def open_request(self, method, path, request_id, body=b""):
        """Sends one request on a connection of its own and returns the socket, unread."""
        sock = gs.raw_connection(self.port)
        gs.send_request(sock, method, path, {"X-Request-Id": request_id}, body)
        return sock

    def wait_access(self, request_id, timeout=10.0):
        return harness.wait_for(lambda: access_line(self.gateway, request_id), timeout=timeout,
                                what=f"the access log line of {request_id}")

    def assert_cancelled(self, request_id):
        """The gateway gave the request up for its client: 499 client_closed, and it said so."""
        line = self.wait_access(request_id)
        self.assertIn("status=499", line)
        self.assertIn("error=client_closed", line)
        self.assertTrue(gs.log_has(self.gateway, "event=request_cancelled rid=" + request_id),
                        "no request_cancelled line for " + request_id)

    def assert_ran_to_its_end(self, request_id, worker_seconds):
        """The gateway waited for the worker's answer as if the client were there."""
        line = self.wait_access(request_id)
        self.assertNotIn("client_closed", line)
        duration_us = int(re.search(r"duration_us=(\d+)", line).group(1))
        self.assertGreaterEqual(duration_us, worker_seconds * 1e6 * 0.9, line)
        self.assertFalse(gs.log_has(self.gateway, "event=request_cancelled rid=" + request_id))

    # ------------------------------------------------------------------ tests

    def test_queued_request_is_removed_and_never_runs(self):
        """A GET that waits in the broker's queue behind a busy worker, whose client hangs
        up: the broker takes it out of the queue (mmi.cancel answered 200) at once, and the
        worker never receives it."""
        worker = self.workers["queued"]
        removed = self.metric("slowlane_gateway_broker_cancel_answers_total", answer="removed")
        busy = self.open_request("GET", "/queued?s=3", "queued-busy")
        harness.wait_for(lambda: len(worker.requests) == 1, what="the worker busy")
        waiting = self.open_request("GET", "/queued?s=0", "queued-waiting")
        harness.wait_for(lambda: mmi_stats(self.broker.endpoint, "queued").get("queued") == 1,
                         what="the second request queued at the broker")
        time.sleep(HANG_UP_AFTER_S)
        hang_up(waiting)
        harness.wait_for(lambda: mmi_stats(self.broker.endpoint, "queued").get("queued") == 0,
                         timeout=1.0, what="the queue emptied")
        # Emptied by the cancel, not by the worker taking it: it is still on the first.
        self.assertEqual(len(worker.requests), 1)
        self.assert_cancelled("queued-waiting")
        harness.wait_for(lambda: self.metric("slowlane_gateway_broker_cancel_answers_total",
                                             answer="removed") == removed + 1,
                         what="the broker's 200 to mmi.cancel")
        self.assertGreaterEqual(
            self.metric("slowlane_http_cancelled_total", route="/queued"), 1)
        self.assertEqual(mmi_stats(self.broker.endpoint, "queued")["errors"]["cancelled"], 1)

        # The busy request is answered as usual, and the next one is served: the worker
        # never saw the cancelled request in between.
        status, _, body, _ = gs.read_response(busy)
        busy.close()
        self.assertEqual((status, body), (200, b"queued-busy"))
        status, _, body = harness.http_request(self.port, "GET", "/queued?s=0",
                                               headers={"X-Request-Id": "queued-after"})
        self.assertEqual((status, body), (200, b"queued-after"))
        ids = [gs.parse_request(frames)["id"] for frames in worker.requests]
        self.assertEqual(ids, ["queued-busy", "queued-after"])

    def test_running_request_is_cancelled_and_its_worker_freed(self):
        """A GET at a builtin:sleep worker whose client hangs up: the broker is sent
        mmi.cancel and answers 202 (at a worker), the worker is told and stops early, and
        the next request is served at once rather than after the first one's sleep."""
        stopped = self.metric("slowlane_gateway_broker_cancel_answers_total", answer="stopped")
        sent = self.metric("slowlane_gateway_broker_cancels_sent_total")
        sock = self.open_request("GET", "/run?ms=8000", "run-cancelled")
        harness.wait_for(lambda: mmi_stats(self.broker.endpoint, "run").get("busy") == 1,
                         what="the request at the worker")
        time.sleep(HANG_UP_AFTER_S)
        hang_up(sock)
        self.assert_cancelled("run-cancelled")
        self.assertEqual(self.metric("slowlane_gateway_broker_cancels_sent_total"), sent + 1)
        harness.wait_for(lambda: self.metric("slowlane_gateway_broker_cancel_answers_total",
                                             answer="stopped") == stopped + 1,
                         what="the broker's 202 to mmi.cancel")
        began = time.monotonic()
        status, _, body = harness.http_request(self.port, "GET", "/run?ms=10")
        self.assertEqual(status, 200, body)
        # With one worker, served well before the cancelled sleep's 8 s were over.
        self.assertLess(time.monotonic() - began, 4.0)
        self.assertEqual(mmi_stats(self.broker.endpoint, "run")["errors"]["cancelled"], 1)

    def test_keep_alive_connection_second_request(self):
        """The second request of a keep-alive connection is watched too (its socket found
        again, the first request's watch gone), and a request answered while its client is
        there is untouched."""
        sock = gs.raw_connection(self.port)
        gs.send_request(sock, "GET", "/again?s=0.4", {"X-Request-Id": "again-first"})
        status, _, body, _ = gs.read_response(sock)
        self.assertEqual((status, body), (200, b"again-first"))
        gs.send_request(sock, "GET", "/again?s=3", {"X-Request-Id": "again-second"})
        harness.wait_for(lambda: len(self.workers["again"].requests) == 2,
                         what="the second request at the worker")
        time.sleep(HANG_UP_AFTER_S)
        hang_up(sock)
        self.assert_cancelled("again-second")
        line = access_line(self.gateway, "again-first")
        self.assertIn("status=200", line)

    def test_client_gone_before_the_watch_begins(self):
        """A client that hangs up before the watch threshold is found gone as soon as its
        socket is watched: the request is cancelled then, not at its end."""
        sock = self.open_request("GET", "/early?s=3", "early-gone")
        harness.wait_for(lambda: len(self.workers["early"].requests) == 1,
                         what="the request at the worker")
        hang_up(sock)
        self.assert_cancelled("early-gone")
        duration_us = int(re.search(r"duration_us=(\d+)",
                                    access_line(self.gateway, "early-gone")).group(1))
        self.assertLess(duration_us, 2e6)

    def test_post_is_not_cancelled_by_default(self):
        """RFC 9110 9.2.2: a POST is not idempotent. Its client left, but it may already have
        done what it was for, so under the default it runs to its end and the gateway waits
        for its answer (then drops it): no mmi.cancel."""
        sent = self.metric("slowlane_gateway_broker_cancels_sent_total")
        sock = self.open_request("POST", "/post?s=1", "post-kept", body=b"order=1")
        harness.wait_for(lambda: len(self.workers["post"].requests) == 1,
                         what="the POST at the worker")
        time.sleep(HANG_UP_AFTER_S)
        hang_up(sock)
        self.assert_ran_to_its_end("post-kept", 1.0)
        self.assertEqual(self.metric("slowlane_gateway_broker_cancels_sent_total"), sent)
        self.assertEqual(mmi_stats(self.broker.endpoint, "post")["errors"]["cancelled"], 0)

    def test_route_with_the_option_off(self):
        """cancel-on-disconnect=off: even a GET runs to its end when its client leaves."""
        sent = self.metric("slowlane_gateway_broker_cancels_sent_total")
        sock = self.open_request("GET", "/off?s=1", "off-kept")
        harness.wait_for(lambda: len(self.workers["off"].requests) == 1,
                         what="the GET at the worker")
        time.sleep(HANG_UP_AFTER_S)
        hang_up(sock)
        self.assert_ran_to_its_end("off-kept", 1.0)
        self.assertEqual(self.metric("slowlane_gateway_broker_cancels_sent_total"), sent)

    def test_route_with_the_option_on_cancels_a_post(self):
        """cancel-on-disconnect=on: a POST is cancelled too, as the route asked."""
        sock = self.open_request("POST", "/on?s=3", "on-post", body=b"x=1")
        harness.wait_for(lambda: len(self.workers["on"].requests) == 1,
                         what="the POST at the worker")
        time.sleep(HANG_UP_AFTER_S)
        hang_up(sock)
        self.assert_cancelled("on-post")
        harness.wait_for(
            lambda: mmi_stats(self.broker.endpoint, "on")["errors"]["cancelled"] == 1,
            what="the broker's cancelled answer to the POST")

    def test_stream_whose_client_leaves_between_parts(self):
        """A streamed answer whose client hangs up after the first part, while the rest is
        awaited: cancelled too, the stream ended without its last chunk."""
        sent = self.metric("slowlane_gateway_broker_cancels_sent_total")
        sock = self.open_request("GET", "/stream?stream=1&s=3", "stream-left")
        data = b""
        while b"first," not in data:
            more = sock.recv(65536)
            self.assertTrue(more, "closed before the first part")
            data += more
        time.sleep(HANG_UP_AFTER_S)
        hang_up(sock)
        line = self.wait_access("stream-left", timeout=2.5)
        self.assertIn("status=200", line)      # the head went out before the client left
        self.assertIn("error=client_closed", line)
        self.assertEqual(self.metric("slowlane_gateway_broker_cancels_sent_total"), sent + 1)


if __name__ == "__main__":
    harness.main()
