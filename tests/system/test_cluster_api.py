"""The admin API (issue 4, docs/admin-api.md) against real binaries on loopback: the token
(401 without it or with a wrong one, 403 when the gateway has none), the cluster view (each
worker with its service and pid, the broker's queue figures), scale up and down on one host,
stop/start, a broadcast that every live worker handles exactly once, and the recycle reason
(max_requests) visible in the view. Multi-host scaling is test_cluster_multihost.py."""
import json
import os
import socket
import subprocess
import sys
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cluster_support import (TOKEN, Cluster, admin, broadcast_lines, ready,  # noqa: E402
                             view, wait_ready_count, workers)
from gateway_support import read_response, start_gateway  # noqa: E402


class AdminAuthTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(self)

    def test_without_token_is_401(self):
        status, body = admin(self.cluster.port, "GET", "/api/v1/cluster", token=None)
        self.assertEqual(status, 401)
        self.assertEqual(body["error"], "unauthorized")

    def test_wrong_token_is_401_on_every_path(self):
        for method, path in (("GET", "/api/v1/cluster"),
                             ("POST", "/api/v1/services/fast/scale"),
                             ("POST", "/api/v1/services/fast/broadcast"),
                             ("GET", "/api/v1/nonexistent")):
            status, _ = admin(self.cluster.port, method, path, body={"count": 1},
                              token=TOKEN[:-1] + "X")
            self.assertEqual(status, 401, (method, path))
        status, _ = admin(self.cluster.port, "GET", "/api/v1/cluster", token=TOKEN + "X")
        self.assertEqual(status, 401)

    def test_gateway_without_token_disables_the_api(self):
        gateway = start_gateway(self.cluster.broker.endpoint, ["/fast=fast"])
        self.addCleanup(gateway.stop)
        status, body = admin(gateway.port, "GET", "/api/v1/cluster")
        self.assertEqual(status, 403)
        self.assertEqual(body["error"], "admin_disabled")

    def test_short_token_refused_at_start(self):
        out = harness.Process([harness.binary("slowlane-gateway"), "--admin-token", "short",
                               "--route", "/fast=fast", "--listen", str(harness.free_port())],
                              name="gateway-bad")
        self.assertEqual(out.proc.wait(10), 2)
        output = out.output()
        out.stop()
        self.assertIn("--admin-token: shorter than 16", output)


class ClusterApiTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(self)
        self.port = self.cluster.port
        self.supervisor = self.cluster.workers(self, "fast", "builtin:echo", 2, "hosta")
        wait_ready_count(self.port, "fast", 2)

    def tearDown(self):
        if sys.exc_info()[0]:
            sys.stderr.write(self.cluster.dump())

    def test_view_lists_workers_with_service_and_pid(self):
        body = view(self.port)
        fast = [w for w in body["workers"] if w["service"] == "fast"]
        self.assertEqual(len(fast), 2)
        for worker in fast:
            self.assertEqual(worker["host"], "hosta")
            self.assertGreater(worker["pid"], 0)
            self.assertTrue(os.path.exists(f"/proc/{worker['pid']}"))
            self.assertEqual(worker["supervisor_pid"], self.supervisor.pid)
            for key in ("state", "job_age_ms", "jobs", "restarts", "rss_kb", "last_heartbeat_ms",
                        "last_exit"):
                self.assertIn(key, worker)
        service = [s for s in body["services"] if s["name"] == "fast"][0]
        self.assertEqual((service["registered"], service["target"], service["queue"]), (2, 2, 0))
        self.assertIn("oldest_wait_ms", service)
        self.assertEqual(body["hosts"][0]["host"], "hosta")

    def test_scale_up_and_down(self):
        status, body = admin(self.port, "POST", "/api/v1/services/fast/scale", {"count": 4})
        self.assertEqual(status, 202, body)
        wait_ready_count(self.port, "fast", 4)
        status, _ = admin(self.port, "POST", "/api/v1/services/fast/scale", {"count": 1})
        self.assertEqual(status, 202)
        wait_ready_count(self.port, "fast", 1)
        self.assertEqual(harness.http_request(self.port, "GET", "/fast?a=1")[0], 200)

    def test_scale_errors(self):
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/fast/scale",
                               {"count": -1})[0], 400)
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/nope/scale",
                               {"count": 1})[0], 404)
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/fast/scale",
                               {"count": 1, "host": "elsewhere"})[0], 404)
        self.assertEqual(admin(self.port, "GET", "/api/v1/services/fast/scale")[0], 405)
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/fast/explode")[0], 404)
        # A command's body comes with its length (RFC 9110 section 15.5.12, 411 Length
        # Required): a chunked one used to read as none and run the command without arguments.
        body = b'{"count": 3}'
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(b"POST /api/v1/services/fast/scale HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body +
                         b"\r\n0\r\n\r\n")
            status, _, answer, _ = read_response(sock)
        self.assertEqual((status, json.loads(answer)["error"]), (411, "length_required"))

    def test_stop_then_start(self):
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/fast/stop", {})[0], 202)
        harness.wait_for(lambda: not [w for w in workers(self.port, "fast") if w["pid"]],
                         what="workers stopped")
        self.assertTrue(all(w["state"] == "stopped" for w in workers(self.port, "fast")))
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/fast/start", {})[0], 202)
        wait_ready_count(self.port, "fast", 2)

    def test_broadcast_reaches_every_worker_exactly_once(self):
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/fast/scale",
                               {"count": 3})[0], 202)
        wait_ready_count(self.port, "fast", 3)
        pids = sorted(w["pid"] for w in ready(self.port, "fast"))
        status, body = admin(self.port, "POST", "/api/v1/services/fast/broadcast",
                             {"message": "config=v2"})
        self.assertEqual(status, 202, body)
        self.assertEqual(body["workers"], 3)
        broadcast_id = body["id"]
        harness.wait_for(lambda: sorted(w["pid"] for w in workers(self.port, "fast")
                                        if w["last_broadcast"] == broadcast_id
                                        and w["broadcasts"] == 1) == pids,
                         what="every worker handled the broadcast")
        # The same command again (an operator's retry) is not delivered twice.
        self.assertEqual(admin(self.port, "POST", "/api/v1/services/fast/broadcast",
                               {"message": "config=v2", "id": broadcast_id})[0], 202)
        harness.wait_for(lambda: "event=broadcast_repeated" in self.supervisor.output(),
                         what="repeat ignored")
        self.assertEqual(sorted(broadcast_lines(self.supervisor, broadcast_id)), pids)
        self.assertTrue(all(w["broadcasts"] == 1 for w in workers(self.port, "fast")))
        # builtin:echo shows the last broadcast it handled.
        _, headers, _ = harness.http_request(self.port, "GET", "/fast")
        self.assertEqual(headers.get("x-slowlane-broadcast"), broadcast_id)


class RecycleReasonTest(unittest.TestCase):
    def test_max_requests_recycle_is_visible(self):
        cluster = Cluster(self)
        supervisor = cluster.workers(self, "fast", "builtin:echo", 1, "hosta",
                                     extra=("--max-requests", "2"))
        wait_ready_count(cluster.port, "fast", 1)
        for i in range(2):  # the second job is the worker's last
            self.assertEqual(harness.http_request(cluster.port, "GET", f"/fast?i={i}")[0], 200)

        def recycled():
            slot = workers(cluster.port, "fast")[0]
            return slot["last_exit"] and slot["last_exit"]["reason"] == "max_requests"
        harness.wait_for(recycled, what="max_requests recycle in the view")
        agent = view(cluster.port)["hosts"][0]["agents"][0]
        self.assertGreaterEqual(agent["recycled"]["max_requests"], 1)
        self.assertEqual(agent["pid"], supervisor.pid)
        # Its replacement serves. (A request sent before it registered may get no_worker once
        # heartbeat x liveness has passed: a slow restart, under ASan, took 400 ms.)
        wait_ready_count(cluster.port, "fast", 1)
        self.assertEqual(harness.http_request(cluster.port, "GET", "/fast?i=2")[0], 200)


class AgentAliveTest(unittest.TestCase):
    """protocol.md 7.1: an idle agent sends ALIVE, not its whole STATUS, on most heartbeats;
    news (a job) comes in the next heartbeat's STATUS; an ALIVE the broker cannot place is
    answered with COMMAND status."""

    def test_idle_agent_stays_listed_on_alive_and_reports_jobs_at_once(self):
        cluster = Cluster(self)
        cluster.workers(self, "fast", "builtin:echo", 1, "hosta")
        wait_ready_count(cluster.port, "fast", 1)

        def agent():
            hosts = view(cluster.port)["hosts"]
            return hosts[0]["agents"][0] if hosts else None
        # Sent a STATUS every heartbeat, the figure would stay near one heartbeat; the agent
        # must also stay listed although its last STATUS is older than some heartbeats.
        quiet = 5 * harness.HEARTBEAT_MS
        harness.wait_for(lambda: (agent() or {}).get("last_status_ms", 0) > quiet,
                         timeout=10, what=f"no STATUS for {quiet} ms while idle")
        self.assertEqual(workers(cluster.port, "fast")[0]["jobs"], 0)
        self.assertEqual(harness.http_request(cluster.port, "GET", "/fast")[0], 200)
        harness.wait_for(lambda: workers(cluster.port, "fast")[0]["jobs"] == 1, timeout=10,
                         what="the job in the next STATUS")
        self.assertLess(agent()["last_status_ms"], quiet)

    def test_unknown_alive_is_asked_for_a_status(self):
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.linger = 0
        self.addCleanup(sock.close)
        sock.connect(broker.endpoint)
        sock.send_multipart([b"SLAGENT1", b"ALIVE"])
        self.assertTrue(sock.poll(int(5000 * harness.TIMEOUT_SCALE), zmq.POLLIN))
        protocol, command, body = sock.recv_multipart()
        self.assertEqual((protocol, command), (b"SLAGENT1", b"COMMAND"))
        self.assertEqual(json.loads(body), {"op": "status"})


class CliWaitsForAgentTest(unittest.TestCase):
    def test_scale_waits_for_a_supervisor_that_is_starting(self):
        # Right after `slowlane up` says ready, a supervisor may not have sent its first
        # STATUS yet: `slowlane scale` asks again for a few seconds instead of failing.
        cluster = Cluster(self)
        env = dict(os.environ, SLOWLANE_GATEWAY=f"http://127.0.0.1:{cluster.port}",
                   SLOWLANE_ADMIN_TOKEN=TOKEN)
        # The supervisor starts after the CLI's first ask: under valgrind on a busy machine that
        # takes longer than the default 3 s the CLI waits for an agent.
        agent_wait_ms = str(int(10000 * harness.TIMEOUT_SCALE))
        cli = subprocess.Popen([harness.binary("slowlane"), "scale", "fast", "2",
                                "--agent-wait-ms", agent_wait_ms], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: cli.poll() is None and cli.kill())
        harness.wait_for(lambda: "error=no_agent" in cluster.gateway.output(),
                         what="the CLI's first ask refused: no supervisor yet")
        cluster.workers(self, "fast", "builtin:echo", 1, "hosta")
        out, err = cli.communicate(timeout=60 * harness.TIMEOUT_SCALE)
        self.assertEqual(cli.returncode, 0, out + err)
        self.assertIn("fast: 2 workers ready", out)


class SupervisorGoneTest(unittest.TestCase):
    def test_agent_forgotten_after_kill(self):
        cluster = Cluster(self)
        supervisor = cluster.workers(self, "fast", "builtin:echo", 1, "hosta")
        wait_ready_count(cluster.port, "fast", 1)
        supervisor.stop(sig=9)  # no BYE: the broker forgets it at heartbeat x liveness
        harness.wait_for(lambda: not view(cluster.port)["hosts"], timeout=5,
                         what="agent expired")


if __name__ == "__main__":
    harness.main()
