"""One request id through the three components (docs/observability.md, Logs): with
--log-level debug, the gateway's access line, the broker's request_delivered and
request_completed and the worker's job_started and job_finished all carry rid=<id>, so one
grep follows the request; bodies never reach a log. And X-Request-Id comes back on every
answer: taken from the client when valid, made otherwise, errors included."""
import re
import unittest

import gateway_support
import harness

DEBUG = ("--log-level", "debug")


class RequestTracingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker(extra=DEBUG)
        cls.workers = harness.start_workers(cls.broker.endpoint, "echo", "builtin:echo",
                                            count=1, extra=DEBUG)
        cls.gateway = gateway_support.start_gateway(
            cls.broker.endpoint, ["/echo=echo,methods=GET|POST,body-limit=32", "/ghost=ghost"],
            extra=DEBUG)
        gateway_support.wait_route_ready(cls.gateway.port, "/echo")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.workers.stop()
        cls.broker.stop()

    def test_one_grep_follows_a_request(self):
        rid = "trace-4f1c2e9a"
        secret = "body-must-not-be-logged"
        status, headers, body = harness.http_request(
            self.gateway.port, "POST", "/echo?q=1", body=secret.encode(),
            headers={"X-Request-Id": rid})
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-request-id"], rid)

        def lines(proc):
            return [line for line in proc.output().splitlines() if f"rid={rid}" in line]

        expected = {
            "gateway": (self.gateway, ["event=access"]),
            "broker": (self.broker, ["event=request_delivered", "event=request_completed"]),
            "worker": (self.workers, ["event=job_started", "event=job_finished"]),
        }
        for component, (proc, events) in expected.items():
            found = harness.wait_for(
                lambda: (got := lines(proc)) and all(any(e in l for l in got) for e in events)
                and got, what=f"{component} lines with rid={rid}")
            print(f"{component}:", *found, sep="\n  ")
        for proc in (self.gateway, self.broker, self.workers):
            self.assertNotIn(secret, proc.output())

    def test_request_id_on_every_answer(self):
        port = self.gateway.port
        cases = [("GET", "/echo", None, 200), ("GET", "/nowhere", None, 404),
                 ("DELETE", "/echo", None, 405), ("POST", "/echo", b"x" * 64, 413),
                 ("GET", "/ghost", None, 503), ("GET", "/metrics", None, 200),
                 ("GET", "/dashboard", None, 200), ("GET", "/dashboard/nothing", None, 404),
                 ("GET", "/healthz", None, 200)]
        for method, path, body, expected in cases:
            with self.subTest(path=path, method=method):
                given = f"client-{expected}-{method.lower()}"
                status, headers, _ = harness.http_request(port, method, path, body=body,
                                                          headers={"X-Request-Id": given})
                self.assertEqual(status, expected)
                self.assertEqual(headers.get("x-request-id"), given)
                status, headers, _ = harness.http_request(port, method, path, body=body)
                self.assertRegex(headers.get("x-request-id", ""), r"^[0-9a-f]{32}$")
        # An id the envelope cannot carry is replaced, not echoed.
        status, headers, _ = harness.http_request(port, "GET", "/echo",
                                                  headers={"X-Request-Id": "bad id!"})
        self.assertRegex(headers["x-request-id"], r"^[0-9a-f]{32}$")


if __name__ == "__main__":
    harness.main()
