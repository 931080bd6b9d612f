"""/metrics (docs/observability.md) against a real broker, workers and gateway: the text
passes a real parser (promtool, else prometheus_client), and the values follow the traffic:
answers by route and status, the latency histogram's count equals the answers, 503s by
cause, 504s, queue depth, worker restarts after a kill, missed heartbeats; and the broker's
mmi.stats answers any MDP client (docs/protocol.md, mmi.stats)."""
import json
import os
import re
import signal
import socket
import threading
import time
import unittest

import gateway_support
import harness
import metrics_support as metrics


def child_pid(supervisor, slot):
    found = re.findall(rf"event=worker_started slot={slot} pid=(\d+)", supervisor.output())
    return int(found[-1]) if found else None


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        cls.fast = harness.start_workers(cls.broker.endpoint, "fast", "builtin:echo", count=2)
        cls.slow = harness.start_workers(cls.broker.endpoint, "slow", "builtin:sleep", count=1)
        cls.gateway = gateway_support.start_gateway(
            cls.broker.endpoint,
            ["/fast=fast", "/slow=slow,budget=1,timeout-ms=1000", "/ghost=ghost"])
        gateway_support.wait_route_ready(cls.gateway.port, "/fast", "/slow")
        # A route is ready with one worker; the tests count them all
        harness.wait_for(lambda: {s["name"]: s["workers"] for s in
                                  (harness.mmi_json(cls.broker.endpoint, "mmi.stats") or
                                   {}).get("services", []) if s["name"] in ("fast", "slow")}
                         == {"fast": 2, "slow": 1}, what="every worker registered")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.fast.stop()
        cls.slow.stop()
        cls.broker.stop()

    def scrape(self):
        return metrics.scrape(self.gateway.port)

    def test_text_is_valid_and_counts_follow_requests(self):
        before = self.scrape()
        for i in range(7):
            status, _, _ = harness.http_request(self.gateway.port, "GET", f"/fast?i={i}")
            self.assertEqual(status, 200)
        # The broker's part may be up to a quarter second old (scrapes share one mmi.stats).
        after = harness.wait_for(
            lambda: (text := self.scrape()) and
            metrics.value(text, "slowlane_broker_replies_total", service="fast") -
            metrics.value(before, "slowlane_broker_replies_total", service="fast") >= 7 and text,
            what="the broker's counters")
        tool = metrics.validate(after)
        print(f"validated with {tool}")
        # Every family has HELP and TYPE, counters end in _total.
        for name in ("slowlane_http_requests_total", "slowlane_broker_requests_total",
                     "slowlane_worker_restarts_total"):
            self.assertIn(f"# TYPE {name} counter", after)
            self.assertIn(f"# HELP {name} ", after)
        self.assertIn("# TYPE slowlane_http_request_duration_seconds histogram", after)
        self.assertIn("# TYPE slowlane_broker_queue_wait_seconds histogram", after)

        def delta(name, **labels):
            return metrics.value(after, name, **labels) - metrics.value(before, name, **labels)

        self.assertEqual(delta("slowlane_http_requests_total", route="/fast", status="200"), 7)
        # The histogram counts every answer of the route, and its +Inf bucket is its count.
        answered = metrics.value(after, "slowlane_http_requests_total", route="/fast")
        count = metrics.value(after, "slowlane_http_request_duration_seconds_count",
                              route="/fast")
        self.assertEqual(count, answered)
        self.assertEqual(metrics.value(after, "slowlane_http_request_duration_seconds_bucket",
                                       route="/fast", le="+Inf"), count)
        self.assertGreater(metrics.value(after, "slowlane_http_request_duration_seconds_sum",
                                         route="/fast"), 0)
        self.assertGreaterEqual(delta("slowlane_broker_requests_total", service="fast"), 7)
        self.assertGreaterEqual(delta("slowlane_broker_replies_total", service="fast"), 7)
        self.assertGreaterEqual(delta("slowlane_broker_queue_wait_seconds_count",
                                      service="fast"), 7)
        self.assertEqual(metrics.value(after, "slowlane_broker_up"), 1)
        self.assertEqual(metrics.value(after, "slowlane_broker_workers", service="fast"), 2)
        host = socket.gethostname()
        self.assertEqual(metrics.value(after, "slowlane_host_workers", host=host,
                                       service="fast"), 2)

    def test_not_found_is_counted_without_a_route(self):
        before = self.scrape()
        self.assertEqual(harness.http_request(self.gateway.port, "GET", "/nowhere")[0], 404)
        # The count is taken when the request's handler ends, which may be just after the
        # client has its answer: wait for it, then check it counted exactly once.
        def counted():
            return (metrics.value(self.scrape(), "slowlane_http_requests_total", route="none",
                                  status="404") -
                    metrics.value(before, "slowlane_http_requests_total", route="none",
                                  status="404"))
        harness.wait_for(lambda: counted() >= 1, 5, what="the 404 to be counted")
        self.assertEqual(counted(), 1)

    def test_rejections_timeouts_and_queue_depth(self):
        before = self.scrape()
        # 503 no_worker: a route whose service has no worker at all.
        self.assertEqual(harness.http_request(self.gateway.port, "GET", "/ghost")[0], 503)
        # 504 deadline: the only slow worker is kept busy 1.5 s by a client of the broker
        # directly, so a request on the route (1 s deadline) waits in the queue past its
        # deadline. (Not a job that runs past it: builtin:sleep stops at the job's deadline,
        # and on a loaded machine its reply can beat the gateway's own timer.)
        client = harness.MdpClient(self.broker.endpoint)
        try:
            client.send("slow", *harness.envelope_request("busy-1", query="ms=1500",
                                                          timeout_ms=5000))
            harness.wait_for(lambda: metrics.value(self.scrape(), "slowlane_broker_workers",
                                                   service="slow", state="busy") == 1,
                             what="the slow worker busy")
            results = {}
            slow = threading.Thread(target=lambda: results.update(
                slow=harness.http_request(self.gateway.port, "GET", "/slow?ms=1")[0]))
            slow.start()
            harness.wait_for(lambda: metrics.value(self.scrape(), "slowlane_broker_queue_depth",
                                                   service="slow") == 1,
                             what="queue depth 1")
            # ... meanwhile the route's budget (1) is taken: 503 over_budget at once.
            self.assertEqual(harness.http_request(self.gateway.port, "GET", "/slow?ms=1")[0],
                             503)
            slow.join(10)
            self.assertEqual(results.get("slow"), 504)
            self.assertIsNotNone(client.recv(5000))
        finally:
            client.close()
        after = harness.wait_for(
            lambda: (text := self.scrape()) and
            metrics.value(text, "slowlane_broker_unknown_service_total") >
            metrics.value(before, "slowlane_broker_unknown_service_total") and text,
            what="the broker's counters")
        metrics.validate(after)

        def delta(name, **labels):
            return metrics.value(after, name, **labels) - metrics.value(before, name, **labels)

        self.assertEqual(delta("slowlane_http_rejected_total", route="/ghost",
                               cause="no_worker"), 1)
        self.assertEqual(delta("slowlane_http_rejected_total", route="/slow",
                               cause="over_budget"), 1)
        # The gateway's timer (deadline) or the broker's queue expiry (expired), whichever
        # comes first: both are the route's deadline.
        self.assertEqual(delta("slowlane_http_timeouts_total", route="/slow", cause="deadline") +
                         delta("slowlane_http_timeouts_total", route="/slow", cause="expired"), 1)
        self.assertEqual(delta("slowlane_http_requests_total", route="/slow", status="504"), 1)
        self.assertEqual(delta("slowlane_broker_errors_total", service="ghost",
                               code="no_worker"), 0)  # unknown service: counted apart
        self.assertEqual(delta("slowlane_broker_unknown_service_total"), 1)
        self.assertGreaterEqual(delta("slowlane_broker_queue_wait_seconds_bucket",
                                      service="slow", le="+Inf"), 1)

    def test_restart_after_kill_and_missed_heartbeats(self):
        harness.wait_for(lambda: child_pid(self.fast, 0) and child_pid(self.fast, 1),
                         what="fast workers started")
        before = self.scrape()
        # A stopped worker misses heartbeats (SIGSTOP for less than heartbeat x liveness).
        paused = child_pid(self.fast, 1)
        os.kill(paused, signal.SIGSTOP)
        time.sleep(harness.HEARTBEAT_MS * 2 / 1000)
        os.kill(paused, signal.SIGCONT)
        # A killed worker is restarted by its supervisor under the same identity.
        killed = child_pid(self.fast, 0)
        os.kill(killed, signal.SIGKILL)
        harness.wait_for(lambda: child_pid(self.fast, 0) not in (None, killed),
                         what="a new worker in slot 0")

        def restarted():
            text = self.scrape()
            return (metrics.value(text, "slowlane_worker_restarts_total", service="fast") >
                    metrics.value(before, "slowlane_worker_restarts_total", service="fast")
                    and metrics.value(text, "slowlane_broker_workers", service="fast") == 2
                    and text)

        after = harness.wait_for(restarted, what="the restart counted")
        metrics.validate(after)
        self.assertGreater(metrics.value(after, "slowlane_worker_registrations_total",
                                         service="fast"),
                           metrics.value(before, "slowlane_worker_registrations_total",
                                         service="fast"))
        self.assertGreater(metrics.value(after, "slowlane_broker_heartbeats_missed_total",
                                         service="fast"),
                           metrics.value(before, "slowlane_broker_heartbeats_missed_total",
                                         service="fast"))
        # The pause is the longest any fast worker went unheard: at least its length
        client = harness.MdpClient(self.broker.endpoint)
        try:
            stats = json.loads(client.request("mmi.stats")[3])
        finally:
            client.close()
        fast = {s["name"]: s for s in stats["services"]}["fast"]
        self.assertGreaterEqual(fast["worst_silence_ms"], harness.HEARTBEAT_MS * 2)
        self.assertGreaterEqual(metrics.value(self.scrape(),
                                              "slowlane_broker_worker_silence_max_seconds",
                                              service="fast"), harness.HEARTBEAT_MS * 2 / 1000)

    def test_mmi_stats_answers_any_mdp_client(self):
        client = harness.MdpClient(self.broker.endpoint)
        try:
            reply = client.request("mmi.stats")
            # 8/MMI: the reply echoes the service; the body is one frame (JSON here).
            self.assertEqual(reply[:3], [b"MDPC02", b"\x03", b"mmi.stats"])
            self.assertEqual(len(reply), 4)
            stats = json.loads(reply[3])
            services = {s["name"]: s for s in stats["services"]}
            self.assertEqual(services["fast"]["workers"], 2)
            self.assertEqual(len(services["fast"]["queue_wait"]["buckets"]),
                             len(stats["wait_bounds_ms"]) + 1)
            identities = [w["identity"] for w in stats["workers"] if w["service"] == "fast"]
            self.assertEqual(len(identities), 2)
            worker = stats["workers"][0]
            for key in ("host", "state", "heartbeat_age_ms", "uptime_ms", "registered_ms"):
                self.assertIn(key, worker)
            # Other unimplemented mmi.* names still answer 501.
            self.assertEqual(client.request("mmi.nothing")[-1], b"501")
        finally:
            client.close()


if __name__ == "__main__":
    harness.main()
