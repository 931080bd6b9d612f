"""Support for the gateway system tests (tests/system/test_gateway_*.py): starting
slowlane-gateway on a free port, a scripted MDP/0.2 worker written in Python (so a test can make
a worker answer anything: envelopes, PARTIALs, garbage, or die mid-job), and raw-socket HTTP
helpers for what http.client hides (connection reuse, chunked framing, unread bodies).

Not a test module itself: the test_gateway_*.py files import it."""
import json
import os
import socket
import threading
import time

import zmq

import harness

W_READY, W_REQUEST, W_PARTIAL, W_FINAL, W_HEARTBEAT, W_DISCONNECT = (
    b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06")


def start_gateway(endpoint, routes, extra=(), port=None, wait_connected=True, embed=False):
    """Starts slowlane-gateway with short timers; waits until it serves /healthz and, if asked,
    until its bridge is connected to the broker. With embed, the gateway runs the broker
    itself, bound to endpoint (--embed-broker), with the tests' heartbeat."""
    port = port or harness.free_port()
    broker = (["--embed-broker", endpoint, "--broker-heartbeat-ms", str(harness.HEARTBEAT_MS),
               "--broker-liveness", str(harness.LIVENESS)] if embed else ["--broker", endpoint])
    args = [harness.binary("slowlane-gateway"), "--listen", str(port), *broker,
            "--probe-ms", "50", "--drain-ms", "1000"]
    for route in routes:
        args += ["--route", route]
    proc = harness.Process(args + list(extra), name="gateway")
    proc.port = port
    proc.endpoint = endpoint

    def healthy():
        if not proc.alive():
            raise AssertionError("gateway exited:\n" + proc.output())
        try:
            return harness.http_request(port, "GET", "/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    harness.wait_for(healthy, what="gateway /healthz")
    if wait_connected:
        def connected():
            document = json.loads(harness.http_request(port, "GET", "/readyz")[2])
            return document["http"] == "started" and document["broker"] != "disconnected"

        harness.wait_for(connected, what="gateway threads started and connected to the broker")
    return proc


def wait_ready(port, timeout=10.0):
    """Waits until /readyz says 200 (broker connected, every route's service has a worker)."""
    def ready():
        try:
            return harness.http_request(port, "GET", "/readyz", timeout=1)[0] == 200
        except OSError:
            return False   # not listening yet

    harness.wait_for(ready, timeout=timeout, what="/readyz 200")


def route_ready(port, prefix):
    """True if /readyz reports the route with this prefix as having a worker."""
    import json
    document = json.loads(harness.http_request(port, "GET", "/readyz")[2])
    return any(route["prefix"] == prefix and route["ready"] for route in document["routes"])


def wait_route_ready(port, *prefixes, timeout=10.0):
    for prefix in prefixes:
        harness.wait_for(lambda: route_ready(port, prefix), timeout=timeout,
                         what=f"a worker for {prefix}")


def parse_request(frames):
    """The 9 frames of a request envelope as a dict (docs/protocol.md section 4.1)."""
    assert len(frames) == 9 and frames[0] == b"SLREQ/1", frames[:2]
    headers = {}
    for line in frames[7].split(b"\r\n"):
        if line:
            name, _, value = line.partition(b":")
            headers[name.decode().lower()] = value.strip().decode()
    return {"id": frames[1].decode(), "timeout_ms": int(frames[2]), "retry": frames[3] == b"1",
            "method": frames[4].decode(), "path": frames[5].decode(), "query": frames[6].decode(),
            "headers": headers, "body": frames[8]}


def reply(status=200, headers=b"", body=b""):
    """The 4 frames of a reply envelope."""
    if isinstance(body, str):
        body = body.encode()
    return [b"SLREP/1", str(status).encode(), headers, body]


class FakeWorker:
    """An MDP/0.2 worker in a thread. handler(frames) returns the steps for one request:
    ("final", frames), ("partial", frames), ("sleep", seconds), ("die",) (go silent and close
    the socket, like a crash), or ("disconnect",). Heartbeats keep going during sleeps. After a
    broker silence or DISCONNECT it reconnects and sends READY again, like a real worker."""

    def __init__(self, endpoint, service, handler, identity=None):
        self.endpoint = endpoint
        self.service = service.encode()
        self.handler = handler
        self.identity = identity
        self.requests = []          # every request body received (list of frames)
        self.stop_event = threading.Event()
        self.dead = threading.Event()
        self.context = zmq.Context.instance()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _connect(self):
        sock = self.context.socket(zmq.DEALER)
        sock.linger = 0
        if self.identity:
            sock.setsockopt(zmq.IDENTITY, self.identity.encode())
        sock.connect(self.endpoint)
        sock.send_multipart([b"MDPW02", W_READY, self.service])
        return sock

    def _run(self):
        heartbeat = harness.HEARTBEAT_MS / 1000.0
        sock = self._connect()
        # Silence counts from the first message of this connection: a broker still starting
        # (seconds under valgrind) has not gone away, and reconnecting would leave a ghost
        # worker behind, holding the next request until it expires.
        last_heard = None
        next_heartbeat = time.monotonic() + heartbeat
        steps, address, step_at = [], None, None
        while not self.stop_event.is_set():
            now = time.monotonic()
            wake = next_heartbeat
            if step_at is not None:
                wake = min(wake, step_at)
            if sock.poll(max(0, int((wake - now) * 1000)), zmq.POLLIN):
                frames = sock.recv_multipart()
                last_heard = time.monotonic()
                if frames[:2] == [b"MDPW02", W_REQUEST]:
                    address, body = frames[2], frames[4:]
                    self.requests.append(body)
                    steps = list(self.handler(body))
                    step_at = time.monotonic()
                elif frames[:2] == [b"MDPW02", W_DISCONNECT]:
                    sock.close()
                    sock = self._connect()
                    last_heard = None
            now = time.monotonic()
            if last_heard is not None and now - last_heard > heartbeat * harness.LIVENESS * 2:
                sock.close()      # the broker looks dead: start over, as RFC 18 workers do
                sock = self._connect()
                last_heard = None
            if now >= next_heartbeat:
                sock.send_multipart([b"MDPW02", W_HEARTBEAT])
                next_heartbeat = now + heartbeat
            while step_at is not None and time.monotonic() >= step_at:
                if not steps:
                    step_at = None
                    break
                step = steps.pop(0)
                if step[0] == "sleep":
                    step_at = time.monotonic() + step[1]
                elif step[0] in ("partial", "final"):
                    command = W_PARTIAL if step[0] == "partial" else W_FINAL
                    sock.send_multipart([b"MDPW02", command, address, b""] + list(step[1]))
                elif step[0] == "disconnect":
                    sock.send_multipart([b"MDPW02", W_DISCONNECT])
                    sock.close()
                    self.dead.set()
                    return
                elif step[0] == "die":
                    sock.close()
                    self.dead.set()
                    return
        sock.close()

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)


def raw_connection(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock):
    """Reads one HTTP/1.1 response from sock: (status, headers dict lower-case, body bytes,
    chunked bool). Handles Content-Length and chunked bodies; None if the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            return None
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()

    def need(count):
        nonlocal rest
        while len(rest) < count:
            more = sock.recv(65536)
            if not more:
                raise ConnectionError("closed mid-body")
            rest += more

    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                more = sock.recv(65536)
                if not more:
                    raise ConnectionError("closed mid-chunk")
                rest += more
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            need(size + 2)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return status, headers, body, True
    length = int(headers.get("content-length", "0"))
    need(length)
    return status, headers, rest[:length], False


def send_request(sock, method, path, headers=None, body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def closed_by_peer(sock, timeout=2.0):
    """True if the peer closes the connection within timeout."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def log_has(proc, text):
    return text in proc.output()


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
