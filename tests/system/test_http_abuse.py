"""HTTP abuse against the gateway (issue 7): slow-loris connections, oversized headers and
bodies, invalid chunked framing, path tricks, and thousands of idle connections. Each gets the
right answer or is closed, and /fast keeps answering meanwhile: a probe thread measures /fast's
latency during every abuse and the test asserts it loosely (p99 under 500 ms on a shared
machine; under 100 ms with 2,000 idle connections, which the gateway's thread per connection,
--max-connections 2048, must absorb). Also 1,000 concurrent keep-alive clients on /fast (issue
8): no errors, gateway RSS at most 100 MB. Loopback only; the gateway runs with a 2 s request
read timeout and a /fast budget of 1024 so that 1,000 clients in flight at once fit it."""
import asyncio
import math
import os
import resource
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_support as fs  # noqa: E402
import gateway_support as gs  # noqa: E402
import harness  # noqa: E402

# This test is about the gateway's default pool (a thread per allowed connection): a pool size
# that scripts/sanitize.sh sets for the other tests must not reach its gateway.
os.environ.pop("SLOWLANE_THREADS", None)
READ_TIMEOUT_MS = 2000
BODY_LIMIT = 4096
# Under a sanitizer or valgrind each request costs several times the CPU: the latency bounds
# still hold /fast to answering, only looser by this factor.
TOOL_SLOWDOWN = 5 if fs.under_tool() else 1
P99_LIMIT_S = 0.5 * TOOL_SLOWDOWN
IDLE_P99_LIMIT_S = 0.1 * TOOL_SLOWDOWN
BUDGET = 1024
RSS_LIMIT_KB = 100 * 1024


class Probe:
    """GET /fast every 20 ms on a fresh connection; latencies and failures."""

    def __init__(self, port):
        self.port = port
        self.latencies, self.failures = [], []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        n = 0
        while not self.stop_event.is_set():
            n += 1
            started = time.monotonic()
            try:
                status, _, body = harness.http_request(self.port, "GET", f"/fast?probe={n}",
                                                       timeout=10)
                if status != 200 or body.strip() != f"probe={n}".encode():
                    self.failures.append((status, body[:80]))
            except OSError as error:
                self.failures.append(repr(error))
            self.latencies.append(time.monotonic() - started)
            time.sleep(0.02)

    def stop(self):
        self.stop_event.set()
        self.thread.join(15)
        ordered = sorted(self.latencies)
        p = (lambda q: ordered[min(len(ordered) - 1, int(len(ordered) * q))]) if ordered else None
        return {"count": len(ordered), "p50": p(0.5) if p else None,
                "p99": p(0.99) if p else None, "max": ordered[-1] if ordered else None,
                "failures": self.failures, "latencies": ordered}


class HttpAbuseTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 8192)
        if want < 4500:
            raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit {hard} < 4500")
        # Raised here, so the gateway (our child) inherits room for the sockets too.
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cls.broker = harness.start_broker()
        cls.workers = harness.start_workers(cls.broker.endpoint, "fast", "builtin:echo", count=2)
        cls.gateway = gs.start_gateway(
            cls.broker.endpoint, [f"/fast=fast,body-limit={BODY_LIMIT},timeout-ms=5000,budget={BUDGET}"],
            extra=["--read-timeout-ms", str(READ_TIMEOUT_MS)])
        gs.wait_route_ready(cls.gateway.port, "/fast")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.workers.stop()
        cls.broker.stop()

    def setUp(self):
        self.probe = Probe(self.gateway.port)
        harness.wait_for(lambda: len(self.probe.latencies) >= 5, what="probe running")
        self.sockets = []
        self.addCleanup(self.close_all)

    def close_all(self):
        for sock in self.sockets:
            sock.close()
        self.sockets = []

    def assert_fast_kept_answering(self, what, p99_limit=P99_LIMIT_S):
        stats = self.probe.stop()
        print(f"abuse {what}: /fast n={stats['count']} p50={stats['p50']:.4f}s "
              f"p99={stats['p99']:.4f}s max={stats['max']:.4f}s failures={len(stats['failures'])}",
              flush=True)
        self.assertEqual(stats["failures"], [], what)
        # A p99 of fewer than 100 probes is their maximum: allow what p99 allows, 1% of them
        # (rounded up: one of 49) over the limit, and none queued for seconds.
        over = [latency for latency in stats["latencies"] if latency >= p99_limit]
        self.assertLessEqual(len(over), math.ceil(stats["count"] * 0.01),
                             f"/fast p99 during {what}: {over}")
        self.assertLess(stats["max"], 4 * p99_limit, f"/fast max during {what}")
        self.assertTrue(self.gateway.alive(), self.gateway.output()[-3000:])

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=10)
        self.sockets.append(sock)
        return sock

    def exchange(self, raw):
        """Sends raw bytes on a new connection; the response (status, headers, body) or None."""
        sock = self.connect()
        sock.sendall(raw)
        sock.settimeout(5)
        try:
            return gs.read_response(sock)
        except (ConnectionError, socket.timeout):
            return None

    def test_slow_loris_is_closed_by_the_read_timeout(self):
        count = 100
        started = time.monotonic()
        for _ in range(count):
            sock = self.connect()
            sock.sendall(b"GET /fast HTTP/1.1\r\n")
        closed = set()
        until = started + READ_TIMEOUT_MS / 1000 + 3.0
        while len(closed) < count and time.monotonic() < until:
            for index, sock in enumerate(self.sockets):
                if index in closed:
                    continue
                try:
                    sock.send(b"X")   # one byte at a time: never ends the header
                except OSError:
                    closed.add(index)
                    continue
                sock.setblocking(False)
                try:
                    if sock.recv(65536) == b"":
                        closed.add(index)
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(index)
                finally:
                    sock.setblocking(True)
            time.sleep(0.1)
        print(f"abuse slow-loris: {len(closed)}/{count} closed within "
              f"{time.monotonic() - started:.1f}s (read timeout {READ_TIMEOUT_MS} ms)", flush=True)
        self.assertEqual(len(closed), count, "slow-loris sockets still open past the read timeout")
        self.assert_fast_kept_answering("slow-loris (100 sockets)")

    def test_four_hundred_slow_loris_sockets(self):
        for _ in range(400):
            self.connect().sendall(b"GET /fast HTTP/1.1\r\nX-Slow: ")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for sock in self.sockets:
                try:
                    sock.send(b"a")
                except OSError:
                    pass
            time.sleep(0.2)
        self.assert_fast_kept_answering("slow-loris (400 sockets > threads)")

    def test_oversized_headers_are_431(self):
        big = b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"
        response = self.exchange(big)
        self.assertIsNotNone(response, "closed without an answer")
        self.assertEqual(response[0], 431)
        many = b"GET /fast HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + \
            b"\r\n"
        self.assertEqual(self.exchange(many)[0], 431)
        for _ in range(50):
            self.assertEqual(self.exchange(many)[0], 431)
        self.assert_fast_kept_answering("oversized headers")

    def test_oversized_body_is_413(self):
        head = (f"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY_LIMIT + 1}\r\n\r\n"
                ).encode()
        self.assertEqual(self.exchange(head + b"a" * (BODY_LIMIT + 1))[0], 413)
        chunked = b"POST /fast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"1000\r\n" + b"a" * 4096 + b"\r\n"
        self.assertEqual(self.exchange(chunked + chunk * 3 + b"0\r\n\r\n")[0], 413)
        self.assert_fast_kept_answering("oversized bodies")

    def test_invalid_chunked_encoding_is_400(self):
        base = b"POST /fast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for bad in (b"zz\r\nabc\r\n0\r\n\r\n", b"-5\r\nabc\r\n0\r\n\r\n",
                    b"3\r\nabcdef\r\n0\r\n\r\n", b"ffffffffffffffffff\r\nab\r\n0\r\n\r\n"):
            response = self.exchange(base + bad)
            # A framing error may also just close the connection; never a 2xx.
            if response is not None:
                self.assertEqual(response[0], 400, bad)
        self.assert_fast_kept_answering("invalid chunked encoding")

    def test_path_tricks_never_serve_a_file(self):
        tricks = ["/dashboard/../../../../etc/passwd", "/dashboard/%2e%2e/%2e%2e/etc/passwd",
                  "/dashboard/..%2f..%2fetc%2fpasswd", "//etc/passwd", "/dashboard//../etc/passwd",
                  "/dashboard/%00", "/dashboard/index.html%00.txt", "/%2e%2e/%2e%2e/etc/passwd",
                  "/dashboard/....//....//etc/passwd", "/fast/../../../etc/passwd",
                  "/dashboard/%252e%252e/etc/passwd", "/dashboard\\..\\..\\etc\\passwd",
                  "/../CMakeLists.txt", "/dashboard/../gateway/gateway_http.c"]
        for path in tricks:
            response = self.exchange(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            if response is None:
                continue   # closed: acceptable for a malformed target
            status, _, body, _ = response
            self.assertNotIn(b"root:", body, path)
            self.assertNotIn(b"cmake_minimum_required", body, path)
            if path.startswith("/fast/") and status == 200:
                continue   # dot-segments removed: /fast/../ stays at or above /fast, never a file
            self.assertIn(status, (400, 404), f"{path}: {status} {body[:100]!r}")
        self.assert_fast_kept_answering("path tricks")

    def gateway_rss_kb(self):
        return None if fs.under_tool() else fs.rss_kb(self.gateway.pid)

    def assert_rss(self, what, rss):
        print(f"abuse {what}: gateway rss {rss} kB (limit {RSS_LIMIT_KB})", flush=True)
        if rss is not None:
            self.assertLessEqual(rss, RSS_LIMIT_KB, f"gateway RSS during {what}")

    def test_two_thousand_idle_connections(self):
        # Each civetweb thread serves one connection from accept to close: 2,000 idle sockets
        # hold 2,000 of the gateway's 2,048 threads and /fast must still get one at once.
        count = 2000
        started = time.monotonic()
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect(("127.0.0.1", self.gateway.port))
            except BlockingIOError:
                pass
            self.sockets.append(sock)
        time.sleep(1)   # idle, no byte sent, shorter than the read timeout
        rss = self.gateway_rss_kb()
        # /fast measured while they are all idle (the burst of requests below is load, not
        # idleness, and the probe shares this process's interpreter with it).
        self.assert_fast_kept_answering(f"{count} idle connections", IDLE_P99_LIMIT_S)
        # Half of them now send a request: each gets its own answer or is closed, never a
        # wrong one. The other half stay silent and must be closed by the read timeout.
        asking, silent = self.sockets[::2], self.sockets[1::2]
        for n, sock in enumerate(asking):
            sock.setblocking(True)
            sock.settimeout(10)
            try:
                sock.sendall(f"GET /fast?idle={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            except OSError:
                pass
        answered = closed = 0
        for n, sock in enumerate(asking):
            try:
                response = gs.read_response(sock)
            except (OSError, ConnectionError):
                response = None
            if response is None:
                closed += 1
                continue
            self.assertEqual((response[0], response[2].strip()),
                             (200, f"idle={n}".encode()), f"idle connection {n}")
            answered += 1
        until = started + READ_TIMEOUT_MS / 1000 + 5.0
        open_silent = set(range(len(silent)))
        while open_silent and time.monotonic() < until:
            for index in list(open_silent):
                sock = silent[index]
                try:
                    if sock.recv(1) == b"":
                        open_silent.discard(index)
                except BlockingIOError:
                    pass
                except OSError:
                    open_silent.discard(index)
            time.sleep(0.1)
        print(f"abuse {count} idle connections: {answered} answered, {closed} closed after "
              f"asking, {len(silent) - len(open_silent)}/{len(silent)} silent ones closed "
              f"within {time.monotonic() - started:.1f}s", flush=True)
        self.assertEqual(answered + closed, len(asking))
        self.assertEqual(open_silent, set(), "silent connections still open past the timeout")
        self.assert_rss(f"{count} idle connections", rss)
        self.assertTrue(self.gateway.alive())

    def test_thousand_keep_alive_clients(self):
        clients, per_client = 1000, 10
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], self.gateway_rss_kb() or 0)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            errors, latencies = asyncio.run(
                keep_alive_clients(self.gateway.port, clients, per_client))
        finally:
            done.set()
            sampler.join()
        elapsed = time.monotonic() - started
        latencies.sort()
        print(f"abuse {clients} keep-alive clients x {per_client} GET /fast: "
              f"{len(latencies)} answered in {elapsed:.1f}s "
              f"({len(latencies) / elapsed:.0f}/s) p50={latencies[len(latencies) // 2]:.4f}s "
              f"p99={latencies[int(len(latencies) * 0.99)]:.4f}s errors={len(errors)}",
              flush=True)
        self.assertEqual(errors[:10], [])
        self.assertEqual(len(latencies), clients * per_client)
        self.assert_rss(f"{clients} keep-alive clients (peak)", peak[0] or None)
        # The probe is one client more among 1,001 that always have a request in flight: by
        # Little's law it waits about what they wait (1,000 / the rate: 0.5 s at 2,000/s on
        # CI's machine), and it shares this process's GIL with them. Kept answering means
        # not much worse than the flood's own median, and never below the usual bound.
        flood_p50 = latencies[len(latencies) // 2]
        self.assert_fast_kept_answering(f"{clients} keep-alive clients",
                                        p99_limit=max(P99_LIMIT_S, 2 * flood_p50))


async def keep_alive_clients(port, clients, per_client):
    """clients connections at once, each sending per_client GET /fast one after the other on
    the same keep-alive connection. Returns (errors, latencies of the 200s)."""
    errors, latencies = [], []
    gate = asyncio.Event()
    settled = [0]

    def settle():
        settled[0] += 1
        if settled[0] == clients:
            gate.set()

    async def client(index):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), 10)
        except (OSError, asyncio.TimeoutError) as error:
            errors.append(f"client {index} connect: {error!r}")
            settle()
            return
        settle()
        try:
            await gate.wait()   # every connection is open before the first request
            for n in range(per_client):
                query = f"c={index}&n={n}"
                began = time.monotonic()
                writer.write(f"GET /fast?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                lines = head.decode("latin-1").split("\r\n")
                fields = {k.strip().lower(): v.strip() for k, _, v in
                          (line.partition(":") for line in lines[1:] if line)}
                body = await asyncio.wait_for(
                    reader.readexactly(int(fields.get("content-length", 0))), 10)
                status = int(lines[0].split()[1])
                if status != 200 or body.strip() != query.encode():
                    errors.append(f"client {index} #{n}: {status} {body[:80]!r}")
                    return
                if fields.get("connection", "").lower() == "close":
                    errors.append(f"client {index} #{n}: gateway closed the keep-alive")
                    return
                latencies.append(time.monotonic() - began)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
            errors.append(f"client {index}: {error!r}")
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return errors, latencies


if __name__ == "__main__":
    harness.main()
