"""The broker's autoscaler (issue 22) with a real supervisor: a policy set with `slowlane
autoscale` through the gateway's admin API (or mmi.cluster.command {"op": "autoscale"}), a step load of builtin:sleep jobs that makes the
worker count rise within its max, one log line per decision, and the fall back to min one
worker per cooldown once the load is gone, with no request failing on the way down."""
import re
import subprocess
import threading
import time
import unittest

import autoscale_support
import harness
from broker_support import error_code
from cluster_support import TOKEN
from gateway_support import start_gateway

SERVICE = "auto"


def registered(endpoint):
    return autoscale_support.registered(endpoint, SERVICE)


def decisions(broker):
    return autoscale_support.decisions(broker, SERVICE)


class AutoscaleTest(unittest.TestCase):
    def setUp(self):
        self.broker = harness.start_broker()
        self.addCleanup(self.broker.stop)
        self.pool = harness.start_workers(self.broker.endpoint, SERVICE, "builtin:sleep", count=1)
        self.addCleanup(self.pool.stop)
        harness.wait_for(lambda: registered(self.broker.endpoint) == 1,
                         what="the first worker to register")
        # The agent is listed once its first STATUS is in
        harness.wait_for(lambda: harness.mmi_command(self.broker.endpoint, op="scale",
                                                     service=SERVICE, count=1)["ok"],
                         what="the supervisor's agent to be known")

    def test_bad_policies_are_refused_with_the_value_named(self):
        for fields, named in (({"min": 3, "max": 2}, "min must be 0..max"),
                              ({"min": 1, "max": 0}, "max must be 1..10000"),
                              ({"min": 1, "max": 2, "target_wait_ms": 0}, "target wait"),
                              ({"min": -1, "max": 2}, "min must be 0..max")):
            answer = harness.mmi_command(self.broker.endpoint, op="autoscale", service=SERVICE,
                                         **fields)
            self.assertEqual((answer["ok"], answer["status"]), (False, 400), fields)
            self.assertIn(named, answer["message"])
        self.assertEqual(decisions(self.broker), [])

    def test_slowlane_autoscale_sets_and_removes_a_policy_through_the_admin_api(self):
        gateway = start_gateway(self.broker.endpoint, ["/auto=auto"],
                                extra=("--admin-token", TOKEN))
        self.addCleanup(gateway.stop)

        def cli(*args):
            return subprocess.run([harness.binary("slowlane"), "autoscale", SERVICE, *args,
                                   "--gateway", f"http://127.0.0.1:{gateway.port}",
                                   "--admin-token", TOKEN],
                                  capture_output=True, text=True, timeout=30)

        result = cli("--min", "1", "--max", "3", "--cooldown-s", "5")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("autoscaling between 1 and 3 workers", result.stdout)
        harness.wait_for(lambda: f"event=autoscale_on service={SERVICE} min=1 max=3 "
                                 "target_wait_ms=500 cooldown_ms=5000" in self.broker.output(),
                         what="the broker to take the policy")
        status = subprocess.run([harness.binary("slowlane"), "status", "--gateway",
                                 f"http://127.0.0.1:{gateway.port}", "--admin-token", TOKEN],
                                capture_output=True, text=True, timeout=30)
        self.assertIn("  autoscale 1..3", status.stdout)
        result = cli("--min", "3", "--max", "2")
        self.assertEqual(result.returncode, 1)
        self.assertIn("min must be 0..max", result.stderr)
        self.assertEqual(cli("--min", "1").returncode, 2)  # --max missing: usage
        result = cli("--off")
        self.assertEqual(result.returncode, 0, result.stderr)
        harness.wait_for(lambda: f"event=autoscale_off service={SERVICE}" in self.broker.output(),
                         what="the broker to drop the policy")
        wrong = subprocess.run([harness.binary("slowlane"), "autoscale", SERVICE, "--off",
                                "--gateway", f"http://127.0.0.1:{gateway.port}",
                                "--admin-token", "wrong-token-0123456789abcdef"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(wrong.returncode, 1)
        self.assertEqual(self.broker.output().count("event=autoscale_off"), 1)

    def test_step_load_grows_within_max_then_falls_back_to_min(self):
        answer = harness.mmi_command(self.broker.endpoint, op="autoscale", service=SERVICE,
                                     min=1, max=4, target_wait_ms=200, cooldown_ms=2000)
        self.assertEqual((answer["ok"], answer["policy"]["max"]), (True, 4), answer)
        # From idle to 12 jobs of 1.5 s at once: one worker would need 18 s
        replies = []

        def job(n):
            client = harness.MdpClient(self.broker.endpoint)
            try:
                replies.append(client.request(SERVICE, *harness.envelope_request(
                    f"step-{n}", query="ms=1500", timeout_ms=30000), timeout_ms=30000))
            finally:
                client.close()

        started = time.monotonic()
        threads = [threading.Thread(target=job, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        harness.wait_for(lambda: registered(self.broker.endpoint) == 4, timeout=10,
                         what="the count to reach max")
        for thread in threads:
            thread.join(60)
        elapsed = time.monotonic() - started
        self.assertEqual(len(replies), 12)
        for reply in replies:
            self.assertIsNotNone(reply)
            self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        self.assertLess(elapsed, 12)  # far from the 18 s one worker would take
        grown = [d for d in decisions(self.broker) if d[1] > d[0]]
        self.assertTrue(grown)
        self.assertTrue(all(d[2] in ("queue_wait", "all_busy") for d in grown), grown)
        self.assertLessEqual(max(d[1] for d in decisions(self.broker)), 4)  # never past max
        # Idle now: back to min, one worker per cooldown, and requests keep being served
        failures = []
        while registered(self.broker.endpoint) > 1 and time.monotonic() - started < 60:
            reply = harness.MdpClient(self.broker.endpoint)
            try:
                answer = reply.request(SERVICE, *harness.envelope_request("fall", query="ms=1"))
            finally:
                reply.close()
            if not answer or answer[4:6] != [b"SLREP/1", b"200"]:
                failures.append(answer)
            time.sleep(0.25)  # a trickle of requests, not a wait for a condition
        self.assertEqual(registered(self.broker.endpoint), 1)
        self.assertEqual(failures, [])
        fallen = [d for d in decisions(self.broker) if d[1] < d[0]]
        self.assertEqual([d[0] - d[1] for d in fallen], [1] * len(fallen))  # one at a time
        self.assertTrue(all(d[2] == "idle" for d in fallen), fallen)
        self.assertEqual(fallen[-1][1], 1)  # down to min, never below
        # The cluster view (slowlane status) shows the policy and its last decision
        view = harness.mmi_json(self.broker.endpoint, "mmi.cluster", b"tag")
        policy = next(s for s in view["services"] if s["name"] == SERVICE)["autoscale"]
        self.assertEqual((policy["min"], policy["max"]), (1, 4))
        self.assertEqual((policy["last"]["to"], policy["last"]["reason"]), (1, "idle"))
        # Each logged decision is counted by reason in mmi.stats (and so in /metrics)
        stats = harness.mmi_json(self.broker.endpoint, "mmi.stats", b"")
        counted = next(s for s in stats["services"] if s["name"] == SERVICE)["autoscale"]
        logged = {}
        for reason in re.findall(rf"event=autoscale(?:_held)? service={SERVICE} .*? reason=(\w+)",
                                 self.broker.output()):
            logged[reason] = logged.get(reason, 0) + 1
        self.assertEqual(counted, logged)
        self.assertEqual(counted["idle"], len(fallen))


    def test_min_zero_scales_to_zero_and_a_request_waits_for_a_cold_start(self):
        answer = harness.mmi_command(self.broker.endpoint, op="autoscale", service=SERVICE,
                                     min=0, max=2, target_wait_ms=200, cooldown_ms=1000)
        self.assertTrue(answer["ok"], answer)
        harness.wait_for(lambda: registered(self.broker.endpoint) == 0, timeout=10,
                         what="the idle worker to be scaled away")
        self.assertIn((1, 0, "idle"), decisions(self.broker))
        # No worker now: the request waits in the queue (not 503 no_worker) while one starts
        client = harness.MdpClient(self.broker.endpoint)
        self.addCleanup(client.close)
        started = time.monotonic()
        reply = client.request(SERVICE, *harness.envelope_request("cold-1", query="ms=1",
                                                                  timeout_ms=20000),
                               timeout_ms=20000)
        cold_start = time.monotonic() - started
        self.assertIsNotNone(reply)
        self.assertEqual(reply[3:6], [b"cold-1", b"SLREP/1", b"200"])
        self.assertIn((0, 1, "cold_start"), decisions(self.broker))
        print(f"cold start: {cold_start * 1000:.0f} ms from the request to its answer "
              f"(broker tick {harness.HEARTBEAT_MS} ms)")
        self.assertLess(cold_start, 5 * harness.TIMEOUT_SCALE)
        # Policy off and no worker: requests fail fast again (no_worker, the gateway's 503)
        harness.mmi_command(self.broker.endpoint, op="autoscale", service=SERVICE, off=True)
        harness.mmi_command(self.broker.endpoint, op="scale", service=SERVICE, count=0)
        harness.wait_for(lambda: registered(self.broker.endpoint) == 0, what="no worker left")

        def no_worker():
            answer = client.request(SERVICE, *harness.envelope_request("off-1", query="ms=1"),
                                    timeout_ms=2000)
            return error_code(answer) == "no_worker"
        # (for heartbeat x liveness after the last worker left, requests still wait for it)
        harness.wait_for(no_worker, what="a request answered no_worker at once")


    def test_each_hosts_own_limits_bound_the_growth(self):
        # slowlane-worker --max on each host: the autoscaler gives a host no more than its
        # own max, and holds (no_room) once every host is full, below the policy's max
        small = harness.start_workers(self.broker.endpoint, SERVICE, "builtin:sleep", count=1,
                                      extra=["--host", "small", "--max", "2"])
        self.addCleanup(small.stop)
        harness.wait_for(lambda: registered(self.broker.endpoint) == 2, what="host small")
        # The first pool's host may grow to 1024: limit it too, through a scale it clamps
        self.pool.stop()
        self.pool = harness.start_workers(self.broker.endpoint, SERVICE, "builtin:sleep",
                                          count=1, extra=["--host", "big", "--max", "3"])
        self.addCleanup(self.pool.stop)
        harness.wait_for(lambda: registered(self.broker.endpoint) == 2, what="host big")
        harness.wait_for(lambda: len(self.agents()) == 2, what="both agents")
        answer = harness.mmi_command(self.broker.endpoint, op="autoscale", service=SERVICE,
                                     min=1, max=10, target_wait_ms=100, cooldown_ms=60000)
        self.assertTrue(answer["ok"], answer)
        clients = []
        for n in range(12):
            client = harness.MdpClient(self.broker.endpoint)
            self.addCleanup(client.close)
            client.send(SERVICE, *harness.envelope_request(f"full-{n}", query="ms=1500",
                                                           timeout_ms=30000))
            clients.append(client)
        harness.wait_for(lambda: registered(self.broker.endpoint) == 5, timeout=10,
                         what="both hosts full: 2 + 3")
        harness.wait_for(lambda: "reason=no_room" in self.broker.output(),
                         what="the autoscaler to say why it stops at 5")
        self.assertEqual(sorted(a["target"] for a in self.agents()), [2, 3])
        for client in clients:
            reply = client.recv(30000)
            self.assertIsNotNone(reply)
            self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        # A scale above a host's own max is clamped by that host
        harness.mmi_command(self.broker.endpoint, op="scale", service=SERVICE, host="small",
                            count=9)
        harness.wait_for(lambda: "event=scale_limited asked=9 to=2" in small.output(),
                         what="host small to clamp the scale")

    def test_a_handler_that_crashes_at_start_is_not_started_for_ever(self):
        # A broken handler: each worker exits at once. The supervisor's crash-loop rule stops
        # the slot; the autoscaler, with work waiting, holds and says why in its log
        broken = harness.start_workers(self.broker.endpoint, "broken", "program:exit 3",
                                       count=1, extra=["--crash-loop-restarts", "3",
                                                       "--host", "broken"])
        self.addCleanup(broken.stop)
        answer = harness.mmi_command(self.broker.endpoint, op="autoscale", service="broken",
                                     min=0, max=8, target_wait_ms=100, cooldown_ms=60000)
        self.assertTrue(answer["ok"], answer)
        clients = []
        for n in range(5):
            client = harness.MdpClient(self.broker.endpoint)
            self.addCleanup(client.close)
            client.send("broken", *harness.envelope_request(f"b-{n}", query="ms=1",
                                                            timeout_ms=3000))
            clients.append(client)
        harness.wait_for(lambda: "service=broken from=1 to=1 reason=crash_loop" in
                         self.broker.output(), what="the autoscaler to hold for the crash loop")
        self.assertIn("action=slot_stopped", broken.output())
        grown = re.findall(r"event=autoscale service=broken from=(\d+) to=(\d+)",
                           self.broker.output())
        self.assertEqual(grown, [])  # never a worker more than the one that crashes
        for client in clients:  # they waited for a worker until their deadline
            self.assertEqual(error_code(client.recv(10000)), "expired")

    def agents(self):
        view = harness.mmi_json(self.broker.endpoint, "mmi.cluster", b"tag") or {"hosts": []}
        return [agent for host in view["hosts"] for agent in host["agents"]]


if __name__ == "__main__":
    harness.main()
