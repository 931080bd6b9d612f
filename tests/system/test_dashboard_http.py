"""The dashboard over plain HTTP (docs/observability.md, Dashboard): the page and its files
come from the gateway binary (no CDN), only the embedded names are served whatever the path
tricks, data.json needs the admin token when one is configured, and it carries the workers
and the routes' counters the page draws."""
import json
import os
import socket
import unittest

import gateway_support
import harness

TOKEN = "dashboard-http-test-token"


class DashboardHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        cls.workers = harness.start_workers(cls.broker.endpoint, "fast", "builtin:echo", count=2)
        os.environ["SLOWLANE_ADMIN_TOKEN"] = TOKEN
        try:
            cls.gateway = gateway_support.start_gateway(cls.broker.endpoint, ["/fast=fast"])
        finally:
            del os.environ["SLOWLANE_ADMIN_TOKEN"]
        cls.open_gateway = gateway_support.start_gateway(cls.broker.endpoint, ["/fast=fast"])
        gateway_support.wait_route_ready(cls.gateway.port, "/fast")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.open_gateway.stop()
        cls.workers.stop()
        cls.broker.stop()

    def get(self, path, port=None, headers=None):
        return harness.http_request(port or self.gateway.port, "GET", path, headers=headers)

    def test_page_and_files_are_embedded(self):
        status, headers, body = self.get("/dashboard")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("default-src 'self'", headers["content-security-policy"])
        page = body.decode()
        self.assertNotIn("http://", page)
        self.assertNotIn("https://", page)
        for path, kind in (("/dashboard/", "text/html"), ("/dashboard/dashboard.js",
                                                          "text/javascript"),
                           ("/dashboard/dashboard.css", "text/css")):
            status, headers, _ = self.get(path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["content-type"].startswith(kind), path)
        status, headers, body = harness.http_request(self.gateway.port, "HEAD", "/dashboard")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(harness.http_request(self.gateway.port, "POST", "/dashboard",
                                              body=b"x")[0], 405)

    def test_path_tricks_serve_nothing_else(self):
        for path in ("/dashboard/../../etc/passwd", "/dashboard/%2e%2e/%2e%2e/etc/passwd",
                     "/dashboard/..%2f..%2fetc%2fpasswd", "/dashboard/%2e%2e%2fgateway_main.c",
                     "/dashboard//etc/passwd", "/dashboard/embed.cmake",
                     "/dashboard/dashboard.js/", "/dashboard/./index.html%00",
                     "/dashboard/index.html/..", "/dashboardx", "/dashboard%2findex.html"):
            with self.subTest(path=path):
                sock = gateway_support.raw_connection(self.gateway.port)
                try:
                    gateway_support.send_request(sock, "GET", path)
                    answer = gateway_support.read_response(sock)
                finally:
                    sock.close()
                if answer is None:
                    continue  # civetweb refused the request line: nothing served
                status, _, body, _ = answer
                self.assertNotIn(b"root:", body)
                if status == 200:
                    # Only ever one of the embedded files (civetweb removes dot segments first).
                    self.assertTrue(body.startswith(b"<!doctype html>") or b"slowlane" in body,
                                    body[:80])
                else:
                    self.assertIn(status, (400, 404))

    def test_data_needs_the_token_when_configured(self):
        status, headers, _ = self.get("/dashboard/data.json")
        self.assertEqual(status, 401)
        self.assertIn("Bearer", headers["www-authenticate"])
        self.assertEqual(self.get("/dashboard/data.json",
                                  headers={"Authorization": "Bearer wrong"})[0], 401)
        self.assertEqual(self.get("/dashboard/data.json",
                                  headers={"Authorization": f"Bearer {TOKEN}x"})[0], 401)
        status, _, body = self.get("/dashboard/data.json",
                                   headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200)
        # Without a token configured, it is open.
        self.assertEqual(self.get("/dashboard/data.json", port=self.open_gateway.port)[0], 200)

    def data(self):
        status, headers, body = self.get("/dashboard/data.json",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-store")
        return json.loads(body)

    def test_data_has_workers_and_routes(self):
        harness.http_request(self.gateway.port, "GET", "/fast")
        # The broker's part is an mmi.stats answer up to 250 ms old, or older when the broker
        # is slow to answer (a loaded machine): one taken between the two workers' READYs
        # shows one. Waited for, not assumed
        harness.wait_for(lambda: len([w for w in (self.data()["broker"] or {}).get("workers", [])
                                      if w["service"] == "fast"]) == 2,
                         what="both fast workers in the dashboard's data")
        data = self.data()
        self.assertEqual(data["broker_state"], "connected")
        route = next(r for r in data["routes"] if r["route"] == "/fast")
        self.assertGreaterEqual(route["statuses"]["200"], 1)
        self.assertEqual(sum(route["latency_buckets"]), route["requests"])
        self.assertEqual(len(route["latency_buckets"]), len(route["latency_bounds_s"]) + 1)
        workers = [w for w in data["broker"]["workers"] if w["service"] == "fast"]
        self.assertEqual(len(workers), 2)
        for worker in workers:
            self.assertEqual(worker["host"], socket.gethostname())
            self.assertIn(worker["state"], ("idle", "busy"))
            self.assertGreaterEqual(worker["heartbeat_age_ms"], 0)

    def history(self, query=""):
        status, headers, body = self.get("/dashboard/history.json" + query,
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-store")
        return json.loads(body)

    def test_history_needs_the_token_and_charts_the_last_seconds(self):
        self.assertEqual(self.get("/dashboard/history.json")[0], 401)
        self.assertEqual(self.get("/dashboard/history.json",
                                  headers={"Authorization": "Bearer wrong"})[0], 401)
        self.assertEqual(self.get("/dashboard/history.json", port=self.open_gateway.port)[0], 200)

        # Requests in one second show as that second's rate and latency of the route
        def charted():
            for _ in range(20):
                harness.http_request(self.gateway.port, "GET", "/fast")
            rates = self.history()["series"].get("route:/fast:rps", [])
            return any(rate and rate > 0 for rate in rates)
        harness.wait_for(charted, what="/fast's request rate in the history")
        history = self.history()
        self.assertEqual(history["interval_ms"], 1000)
        self.assertEqual(len(history["t"]), history["seq"])  # from the first point: all kept
        for name, values in history["series"].items():
            self.assertEqual(len(values), len(history["t"]), name)
        self.assertTrue(any(v for v in history["series"]["route:/fast:p50_ms"] if v))
        # The service's workers: 2 idle or busy at the newest point the broker answered for
        points = [b + i for b, i in zip(history["series"]["service:fast:busy"],
                                        history["series"]["service:fast:idle"])
                  if b is not None and i is not None]
        self.assertEqual(points[-1], 2)
        # A reader that has the newest point gets nothing more; a bad number means "all"
        newest = self.history(f"?since={history['seq']}&marks_since={history['mark_seq']}")
        self.assertLessEqual(len(newest["t"]), 1)  # at most the point sampled since
        # The gateway's first connection to its broker is its start, not a mark
        self.assertEqual([m for m in history["marks"] if m["kind"].startswith("broker_")], [])
        self.assertEqual(newest["marks"], [])
        self.assertGreaterEqual(len(self.history("?since=-3")["t"]), len(history["t"]))

    def test_an_admin_command_is_a_mark(self):
        status, _, _ = harness.http_request(self.gateway.port, "POST",
                                            "/api/v1/services/fast/broadcast",
                                            headers={"Authorization": f"Bearer {TOKEN}"},
                                            body=b'{"message": "hello", "id": "mark-test"}')
        self.assertEqual(status, 202)
        marks = self.history()["marks"]
        self.assertIn({"kind": "broadcast", "subject": "fast", "text": "id=mark-test"},
                      [{k: m[k] for k in ("kind", "subject", "text")} for m in marks])


if __name__ == "__main__":
    harness.main()
