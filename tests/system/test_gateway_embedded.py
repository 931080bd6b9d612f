"""The broker embedded in the gateway (`slowlane-gateway --embed-broker`, what `slowlane up` runs):
the gateway reaches it in-process, workers and other MDP clients reach it over TCP as they reach
slowlane-broker.

- HTTP is served end to end by workers that connect over TCP, /readyz and /metrics see the
  broker (mmi.service and mmi.stats over the in-process link), an outside MDP client is served
  by the same broker, and the broker's log lines say comp=broker;
- a SIGTERM stops both: the broker tells its workers DISCONNECT and the gateway exits 0; a new
  gateway on the same endpoint gets the same workers back without restarting them;
- a worker killed mid-GET: the request is re-delivered to another worker and answered 200;
- flags: --embed-broker with --broker (or the gateway's own CURVE client flags), a --broker-*
  setting without --embed-broker, a bad setting and an endpoint that cannot be bound each stop
  start-up with one line naming the flag or the endpoint."""
import ctypes
import os
import re
import signal
import socket
import subprocess
import threading
import unittest

import harness
import gateway_support as gs


def embedded_gateway(routes, extra=(), endpoint=None):
    endpoint = endpoint or f"tcp://127.0.0.1:{harness.free_port()}"
    return gs.start_gateway(endpoint, routes, extra=extra, embed=True)


class EmbeddedBrokerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gateway = embedded_gateway(["/fast=fast,methods=GET|POST", "/sleep=sleep"])
        cls.fast = harness.start_workers(cls.gateway.endpoint, "fast", "builtin:echo", count=2)
        cls.sleep = harness.start_workers(cls.gateway.endpoint, "sleep", "builtin:sleep", count=2,
                                          extra=["--log-level", "debug"])
        gs.wait_route_ready(cls.gateway.port, "/fast", "/sleep")

    @classmethod
    def tearDownClass(cls):
        for proc in (cls.gateway, cls.fast, cls.sleep):
            proc.stop()

    def test_serves_http_through_workers_on_tcp(self):
        status, headers, body = harness.http_request(self.gateway.port, "GET", "/fast?a=1")
        self.assertEqual((status, body), (200, b"a=1\n"))
        status, _, body = harness.http_request(self.gateway.port, "POST", "/fast", body=b"payload")
        self.assertEqual(status, 200)
        self.assertIn(b"payload", body)
        status, _, _ = harness.http_request(self.gateway.port, "GET", "/readyz")
        self.assertEqual(status, 200)

    def test_is_a_whole_broker_for_clients_outside_the_process(self):
        self.assertTrue(harness.mmi_service_ready(self.gateway.endpoint, "fast"))
        self.assertFalse(harness.mmi_service_ready(self.gateway.endpoint, "nobody"))
        client = harness.MdpClient(self.gateway.endpoint)
        try:
            reply = client.request("fast", *harness.envelope_request("outside-1", query="x=2"))
        finally:
            client.close()
        self.assertIsNotNone(reply, "no reply from the embedded broker over TCP")
        self.assertEqual(reply[2], b"fast")
        self.assertEqual(reply[-1], b"x=2\n")

    def test_metrics_carry_the_brokers_figures(self):
        def workers_listed():
            text = harness.http_request(self.gateway.port, "GET", "/metrics")[2].decode()
            return [line for line in text.splitlines()
                    if line.startswith("slowlane_broker_workers{") and 'service="fast"' in line]
        harness.wait_for(workers_listed, what="the broker's workers in /metrics (mmi.stats)")

    def test_logs_name_each_component(self):
        output = self.gateway.output()
        self.assertIn("comp=broker event=broker_started", output)
        self.assertIn("comp=broker event=worker_ready", output)
        self.assertRegex(output, r"comp=gateway event=gateway_started .*embedded=true")

    def test_futex_hash_is_sized_for_the_threads(self):
        # Linux 6.16+ sizes a threaded process's private futex hash by CPUs (16 buckets on
        # two): the gateway asks for four a thread (sl_futex_hash.h).
        libc = ctypes.CDLL(None, use_errno=True)
        supported = libc.prctl(78, 2, 0, 0, 0) >= 0  # PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS
        output = self.gateway.output()
        if not supported:
            self.assertNotIn("event=futex_hash_sized", output)
            return
        match = re.search(r"event=futex_hash_sized threads=(\d+) slots=(\d+)", output)
        self.assertIsNotNone(match, "no futex_hash_sized line in the gateway's log")
        threads, slots = int(match.group(1)), int(match.group(2))
        self.assertGreaterEqual(slots, 4 * threads)
        self.assertLess(slots, 8 * threads)
        self.assertEqual(slots & (slots - 1), 0, "not a power of two")

    def test_start_is_logged_once_every_http_thread_runs(self):
        # civetweb returns with its threads created, not running: the gateway waits for each
        # one's init before it says it listens (gateway_http.c, s_wait_threads_started).
        output = self.gateway.output()
        match = re.search(r"event=http_listening .*threads=(\d+) .*warmup_ms=(\d+)", output)
        self.assertIsNotNone(match, "no http_listening line with warmup_ms")
        self.assertNotIn("event=http_threads_missing", output)
        self.assertLess(output.index("event=http_listening"), output.index("event=gateway_started"))
        self.assertGreaterEqual(len(os.listdir(f"/proc/{self.gateway.pid}/task")),
                                int(match.group(1)))

    def test_worker_killed_mid_get_is_redelivered(self):
        result = {}

        def call():
            result["reply"] = harness.http_request(self.gateway.port, "GET", "/sleep?ms=3000",
                                                   headers={"X-Request-Id": "embedded-kill"},
                                                   timeout=30)

        thread = threading.Thread(target=call)
        thread.start()
        harness.wait_for(lambda: "event=job_started rid=embedded-kill" in self.sleep.output(),
                         what="the GET in a worker")
        victim = self._worker_holding("embedded-kill")
        self.assertIsNotNone(victim, self.sleep.output())
        os.kill(victim, signal.SIGKILL)
        thread.join(30)
        self.assertEqual(result["reply"][0], 200, result["reply"])
        # Answered by the second delivery, not by the killed worker's job running on.
        self.assertIn("comp=broker event=request_requeued rid=embedded-kill service=sleep",
                      self.gateway.output())
        gs.wait_route_ready(self.gateway.port, "/sleep")

    def _worker_holding(self, request_id):
        """The pid of the worker whose log line started request_id (comp=worker.N, pid from the
        supervisor's worker_started line for slot N)."""
        slot = None
        pids = {}
        for line in self.sleep.output().splitlines():
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            if fields.get("event") == "job_started" and fields.get("rid") == request_id:
                slot = fields.get("comp", "").rpartition(".")[2]
            if fields.get("event") == "worker_started" and "slot" in fields and "pid" in fields:
                pids[fields["slot"]] = int(fields["pid"])
        return pids.get(slot)


class EmbeddedLifecycleTest(unittest.TestCase):
    def test_sigterm_disconnects_workers_and_a_new_gateway_gets_them_back(self):
        endpoint = f"tcp://127.0.0.1:{harness.free_port()}"
        first = embedded_gateway(["/fast=fast"], endpoint=endpoint)
        workers = harness.start_workers(endpoint, "fast", "builtin:echo", count=2)
        self.addCleanup(workers.stop)
        self.addCleanup(first.stop)
        gs.wait_route_ready(first.port, "/fast")
        self.assertEqual(first.stop(), 0, first.output())
        self.assertIn("comp=broker event=workers_disconnected workers=2", first.output())
        self.assertIn("comp=gateway event=gateway_stopped", first.output())
        harness.wait_for(lambda: len(re.findall(r"event=broker_lost endpoint=\S+ reason=disconnect",
                                                        workers.output())) >= 2,
                         what="both workers told DISCONNECT")
        # The workers were never restarted: the same supervisor serves the new gateway.
        second = embedded_gateway(["/fast=fast"], endpoint=endpoint)
        self.addCleanup(second.stop)
        gs.wait_route_ready(second.port, "/fast")
        status, _, body = harness.http_request(second.port, "GET", "/fast?back=1")
        self.assertEqual((status, body), (200, b"back=1\n"))
        self.assertTrue(workers.alive())


class EmbeddedFlagsTest(unittest.TestCase):
    """Each refusal: one line on stderr naming the flag or endpoint, and the exit code."""

    def refuse(self, *args, code=2, naming):
        out = subprocess.run([harness.binary("slowlane-gateway"), "--listen",
                              str(harness.free_port()), "--route", "/a=a", *args],
                             capture_output=True, text=True, timeout=20)
        lines = out.stderr.strip().splitlines()
        self.assertEqual(out.returncode, code, out.stderr)
        self.assertEqual(len(lines), 1, out.stderr)
        self.assertIn(naming, lines[0])
        return lines[0]

    def setUp(self):
        self.endpoint = f"tcp://127.0.0.1:{harness.free_port()}"

    def test_embed_curve_only_for_brokers_elsewhere(self):
        # The embedded broker is reached in-process: the gateway's CURVE flags are for the
        # brokers given with --broker (test_gateway_brokers runs the two together).
        line = self.refuse("--embed-broker", self.endpoint, "--curve-server", "/nonexistent",
                           naming="--curve-server")
        self.assertIn("--broker", line)

    def test_broker_settings_need_embed(self):
        line = self.refuse("--broker-liveness", "5", naming="--broker-liveness")
        self.assertIn("--embed-broker", line)
        self.refuse("--broker-curve-secret", "/nonexistent", naming="--broker-curve-secret")

    def test_bad_broker_setting_is_named(self):
        self.refuse("--embed-broker", self.endpoint, "--broker-heartbeat-ms", "0",
                    naming="--broker-heartbeat-ms")
        self.refuse("--embed-broker", self.endpoint, "--broker-curve-secret", "/nonexistent",
                    "--broker-curve-clients", "/nonexistent", naming="--broker-curve-secret")
        self.refuse("--embed-broker", self.endpoint, "--broker-curve-clients", "/nonexistent",
                    naming="--broker-curve-clients")

    def test_endpoint_that_cannot_be_bound_is_named(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        busy = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        self.refuse("--embed-broker", busy, code=1, naming=busy)
        self.refuse("--embed-broker", "nonsense://x", code=1, naming="nonsense://x")


if __name__ == "__main__":
    harness.main()
