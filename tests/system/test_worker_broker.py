"""slowlane-worker behind the real slowlane-broker, seen by an MDP/0.2 client: every handler
answers right (echo, sleep, busy, exec:, stream), an opaque request gets its body back,
PARTIALs arrive before the FINAL, a worker keeps its registration through a job 60
heartbeats long, and workers re-register by themselves after the broker restarts."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (HEARTBEAT_MS, MdpClient, envelope_request, mmi_service_ready,  # noqa: E402
                     start_broker, start_workers, wait_for)

C_PARTIAL, C_FINAL = b"\x02", b"\x03"

CGI_SCRIPT = r"""
printf 'Status: 404 Not Found\r\n'
printf 'X-Method: %s\r\n' "$REQUEST_METHOD"
printf 'X-Path: %s\r\n' "$PATH_INFO"
printf 'X-Request-Id: %s\r\n' "$HTTP_X_REQUEST_ID"
printf 'X-Custom: %s\r\n' "$HTTP_X_CUSTOM"
printf 'X-Gateway: %s\r\n' "$GATEWAY_INTERFACE"
printf '\r\n'
printf '%s|%s|%s|' "$QUERY_STRING" "$CONTENT_LENGTH" "$CONTENT_TYPE"
cat
"""


def exchange(client, service, *body, timeout_ms=10000):
    """Sends one request; returns every reply message up to and including the FINAL."""
    client.send(service, *body)
    replies = []
    while not replies or replies[-1][1] != C_FINAL:
        reply = client.recv(timeout_ms)
        if reply is None:
            raise AssertionError(f"no reply from {service} within {timeout_ms} ms")
        replies.append(reply)
    return replies


class WorkerBehindBrokerTest(harness.BrokerTest):
    def serve(self, service, handler, count=1, extra=()):
        workers = start_workers(self.broker.endpoint, service, handler, count=count, extra=extra)
        self.processes.append(workers)
        wait_for(lambda: mmi_service_ready(self.broker.endpoint, service),
                 what=f"{service} registered")
        return workers

    def call(self, service, request_id, **fields):
        """One envelope request; returns (status, headers, body) from the single FINAL."""
        replies = exchange(self.client, service, *envelope_request(request_id, **fields))
        self.assertEqual(len(replies), 1)
        frames = replies[0]
        # docs/architecture.md: MDPC02 | 0x03 | service | request-id | reply body...
        self.assertEqual(frames[:4], [b"MDPC02", C_FINAL, service.encode(), request_id.encode()])
        self.assertEqual(frames[4], b"SLREP/1")
        return int(frames[5]), frames[6], frames[7]

    def test_echo_returns_query_and_body(self):
        self.serve("echo", "builtin:echo")
        status, headers, body = self.call("echo", "e1", method="POST", query="x=1&y=2",
                                          body=b"hello")
        self.assertEqual((status, body), (200, b"x=1&y=2\nhello"))
        self.assertIn(b"Content-Type: text/plain\r\n", headers)

    def test_opaque_request_gets_body_back(self):
        self.serve("echo", "builtin:echo")
        replies = exchange(self.client, "echo", b"plain ", b"mdp")
        # frame for frame, as the client sent them (protocol.md 6)
        self.assertEqual(replies, [[b"MDPC02", C_FINAL, b"echo", b"plain ", b"mdp"]])

    def test_sleep_and_busy_take_their_time(self):
        self.serve("sleep", "builtin:sleep")
        self.serve("busy", "builtin:busy")
        for service in ("sleep", "busy"):
            started = time.monotonic()
            status, _, body = self.call(service, f"{service}-1", query="ms=300")
            self.assertEqual(status, 200)
            self.assertIn(b"300 ms", body)
            self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_busy_rejects_bad_ms(self):
        self.serve("busy", "builtin:busy")
        status, _, _ = self.call("busy", "bad-ms", query="ms=-5")
        self.assertEqual(status, 400)

    def test_exec_runs_cgi(self):
        self.serve("cgi", "exec:" + CGI_SCRIPT)
        status, headers, body = self.call(
            "cgi", "cgi-1", method="PUT", path="/items/7", query="q=a",
            headers=b"Content-Type: text/x-test\r\nX-Custom: yes\r\n", body=b"the body")
        self.assertEqual(status, 404)
        for line in (b"X-Method: PUT", b"X-Path: /items/7", b"X-Request-Id: cgi-1",
                     b"X-Custom: yes", b"X-Gateway: CGI/1.1"):
            self.assertIn(line + b"\r\n", headers)
        self.assertEqual(body, b"q=a|8|text/x-test|the body")

    def test_exec_bad_output_is_502(self):
        self.serve("cgi", "exec:echo no header block here")
        status, _, body = self.call("cgi", "cgi-bad")
        self.assertEqual(status, 502)
        self.assertIn(b"bad CGI output", body)

    def test_exec_past_deadline_is_killed(self):
        self.serve("cgi", "exec:sleep 30")
        started = time.monotonic()
        # The broker may answer the expired request itself; either way nothing waits 30 s
        replies = exchange(self.client, "cgi", *envelope_request("cgi-slow", timeout_ms=500))
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn(replies[-1][4], (b"SLREP/1", b"SLERR/1"))
        wait_for(lambda: "event=cgi_killed rid=cgi-slow reason=deadline"
                 in self.processes[-1].output(), what="cgi_killed log")
        # The worker is free again: the killed script does not keep it busy. Its own 504 and
        # the broker's expiry race at the same deadline; either is a timely answer.
        started = time.monotonic()
        replies = exchange(self.client, "cgi", *envelope_request("cgi-again", timeout_ms=300))
        self.assertLess(time.monotonic() - started, 3)
        self.assertIn(replies[-1][4:6], ([b"SLREP/1", b"504"], [b"SLERR/1", b"expired"]))

    def test_stream_partials_before_final(self):
        self.serve("stream", "builtin:stream")
        replies = exchange(self.client, "stream", *envelope_request("s1", query="n=4"))
        self.assertEqual([r[1] for r in replies], [C_PARTIAL] * 3 + [C_FINAL])
        self.assertEqual(replies[0][3:8], [b"s1", b"SLREP/1", b"200",
                                           b"Content-Type: text/plain\r\n", b"chunk 0\n"])
        self.assertEqual([r[4:] for r in replies[1:]],
                         [[b"chunk 1\n"], [b"chunk 2\n"], [b"chunk 3\n"]])

    def test_registration_survives_a_job_60_heartbeats_long(self):
        self.serve("busy", "builtin:busy")
        job_ms = 60 * HEARTBEAT_MS
        self.client.send("busy", *envelope_request("long", query=f"ms={job_ms}",
                                                    timeout_ms=job_ms + 10000))
        # Halfway through, long past heartbeat x liveness, the broker still counts the worker.
        # Asked once a heartbeat on one connection: a new connection per question, as fast as
        # Python can open them, was a flood that starved the broker (seen in CI).
        probe = MdpClient(self.broker.endpoint)
        try:
            deadline = time.monotonic() + job_ms / 2000
            while time.monotonic() < deadline:
                reply = probe.request("mmi.service", b"busy", timeout_ms=1000)
                self.assertEqual(reply[-1] if reply else None, b"200")
                time.sleep(HEARTBEAT_MS / 1000)  # the sampling period, not a wait
        finally:
            probe.close()
        reply = self.client.recv(job_ms + 10000)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        self.assertIn(f"busy {job_ms} ms".encode(), reply[7])

    def test_broker_restart_workers_reregister(self):
        workers = self.serve("echo", "builtin:echo", count=2)
        port = self.broker.port
        self.broker.stop()
        self.assertFalse(mmi_service_ready_quick(self.broker.endpoint))
        self.broker = start_broker(port=port)
        self.processes.append(self.broker)
        wait_for(lambda: mmi_service_ready(self.broker.endpoint, "echo"),
                 timeout=10, what="re-registration")
        status, _, body = self.call("echo", "after", query="again")
        self.assertEqual((status, body), (200, b"again\n"))
        self.assertTrue(workers.alive())


def mmi_service_ready_quick(endpoint):
    """mmi.service against a broker that is down: None within a short timeout."""
    client = MdpClient(endpoint)
    try:
        return client.request("mmi.service", b"echo", timeout_ms=200)
    finally:
        client.close()


if __name__ == "__main__":
    harness.main()
