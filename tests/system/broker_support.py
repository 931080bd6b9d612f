"""Support for the broker system tests (tests/system/test_broker_*.py and
test_worker_capacity.py): raw python3-zmq MDP peers written against RFC 7, RFC 18 and RFC 8,
not slowlane code (a worker on its own thread, a client on a DEALER or REQ socket), MMI
lookups, the error-envelope reader, and a TestCase that starts a broker per test.

Not a test module itself: those files import it."""
import queue
import threading
import time
import unittest

import zmq

import harness
from harness import start_broker, wait_for

# RFC 18 command bytes (worker sub-protocol) and RFC 7 (MDP/0.1) ones.
W02 = {"READY": 1, "REQUEST": 2, "PARTIAL": 3, "FINAL": 4, "HEARTBEAT": 5, "DISCONNECT": 6,
       # protocol.md 3.7, workers of several brokers
       "CREDIT": 0x10, "HANDBACK": 0x11, "DEMAND": 0x12,
       # protocol.md 3.8, cancellation
       "CANCEL": 0x13}
W01 = {"READY": 1, "REQUEST": 2, "FINAL": 3, "HEARTBEAT": 4, "DISCONNECT": 5}
C02_REQUEST, C02_PARTIAL, C02_FINAL = b"\x01", b"\x02", b"\x03"


class RawWorker:
    """An MDP worker (0.1 or 0.2) on its own thread: heartbeats every HEARTBEAT_MS while
    `heartbeating`, records every REQUEST in `requests` (address, body frames) and every
    DISCONNECT in `disconnects`, the value of every DEMAND (b"1"/b"0", protocol.md 3.7) in
    `demands` and the address of every CANCEL (3.8) in `cancels`, each in the order it
    arrived. READY carries ready_frames after the service name. With handler set, answers
    each request with FINAL handler(body). Commands are queued to the thread, which owns the
    socket."""

    def __init__(self, endpoint, service, version=2, identity=None, handler=None, ready=True,
                 ready_frames=()):
        self.endpoint = endpoint
        self.service = service
        self.version = version
        self.identity = identity
        self.handler = handler
        self.heartbeating = True
        self.requests = queue.Queue()
        self.disconnects = queue.Queue()
        self.demands = queue.Queue()
        self.cancels = queue.Queue()
        self.heartbeats_seen = 0
        self._outbox = queue.Queue()
        self._stop = threading.Event()
        self._vanish = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        if ready:
            self.send("READY", service.encode(), *ready_frames)

    # Frames of one command in this worker's version.
    def frames(self, command, *rest):
        if self.version == 1:
            return [b"", b"MDPW01", bytes([W01[command]]), *rest]
        return [b"MDPW02", bytes([W02[command]]), *rest]

    def send(self, command, *rest):
        self._outbox.put(self.frames(command, *rest))

    def send_raw(self, frames):
        self._outbox.put(list(frames))

    def final(self, address, *body):
        self.send("FINAL", address, b"", *body)

    def partial(self, address, *body):
        self.send("PARTIAL", address, b"", *body)

    def next_request(self, timeout=5.0):
        """(address, body frames) of the next REQUEST, or None after timeout seconds."""
        try:
            return self.requests.get(timeout=timeout)
        except queue.Empty:
            return None

    def silence(self):
        """Stops heartbeating but keeps the connection: to the broker it looks hung."""
        self.heartbeating = False

    def vanish(self):
        """Closes the socket at once without DISCONNECT, as a killed process would."""
        self._vanish = True
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def _parse(self, frames):
        if self.version == 1:
            if len(frames) < 3 or frames[0] != b"" or frames[1] != b"MDPW01":
                return None, []
            table = W01
            command, rest = frames[2], frames[3:]
        else:
            if len(frames) < 2 or frames[0] != b"MDPW02":
                return None, []
            table = W02
            command, rest = frames[1], frames[2:]
        for name, value in table.items():
            if command == bytes([value]):
                return name, rest
        return None, rest

    def _run(self):
        context = zmq.Context.instance()
        sock = context.socket(zmq.DEALER)
        sock.linger = 0
        if self.identity is not None:
            sock.setsockopt(zmq.IDENTITY, self.identity)
        sock.connect(self.endpoint)
        self._ready.set()
        next_heartbeat = time.monotonic() + harness.HEARTBEAT_MS / 1000
        try:
            while not self._stop.is_set():
                while True:
                    try:
                        sock.send_multipart(self._outbox.get_nowait())
                    except queue.Empty:
                        break
                if sock.poll(5, zmq.POLLIN):
                    command, rest = self._parse(sock.recv_multipart())
                    if command == "REQUEST" and len(rest) >= 2:
                        address, body = rest[0], rest[2:]
                        self.requests.put((address, body))
                        if self.handler:
                            sock.send_multipart(self.frames("FINAL", address, b"",
                                                            *self.handler(body)))
                    elif command == "DEMAND" and len(rest) == 1:
                        self.demands.put(rest[0])
                    elif command == "CANCEL" and len(rest) == 2:
                        self.cancels.put(rest[0])
                    elif command == "DISCONNECT":
                        self.disconnects.put(time.monotonic())
                    elif command == "HEARTBEAT":
                        self.heartbeats_seen += 1
                now = time.monotonic()
                if now >= next_heartbeat:
                    if self.heartbeating:
                        sock.send_multipart(self.frames("HEARTBEAT"))
                    next_heartbeat = now + harness.HEARTBEAT_MS / 1000
            if not self._vanish and self.heartbeating:
                sock.send_multipart(self.frames("DISCONNECT"))
        finally:
            sock.close(0)


class RawClient:
    """An MDP client: 0.2 on a DEALER (many requests in flight) or 0.1 on a REQ socket, as
    the ZeroMQ guide's clients are written."""

    def __init__(self, endpoint, version=2):
        self.version = version
        self.socket = zmq.Context.instance().socket(zmq.DEALER if version == 2 else zmq.REQ)
        self.socket.linger = 0
        self.socket.connect(endpoint)

    def send(self, service, *body):
        if self.version == 2:
            self.socket.send_multipart([b"MDPC02", C02_REQUEST, service.encode(), *body])
        else:  # RFC 7: the REQ socket adds the empty frame that precedes "MDPC01"
            self.socket.send_multipart([b"MDPC01", service.encode(), *body])

    def recv(self, timeout=5.0):
        """The reply frames, or None after timeout seconds."""
        if self.socket.poll(int(timeout * 1000), zmq.POLLIN):
            return self.socket.recv_multipart()
        return None

    def request(self, service, *body, timeout=5.0):
        self.send(service, *body)
        return self.recv(timeout)

    def close(self):
        self.socket.close(0)


def mmi_service(endpoint, name):
    """The MMI answer for name: b"200" or b"404" (or None if the broker does not answer)."""
    client = RawClient(endpoint)
    try:
        reply = client.request("mmi.service", name.encode(), timeout=2.0)
        return reply[-1] if reply else None
    finally:
        client.close()


def wait_registered(endpoint, service, present=True, timeout=5.0):
    code = b"200" if present else b"404"
    wait_for(lambda: mmi_service(endpoint, service) == code, timeout=timeout,
             what=f"mmi.service {service} -> {code.decode()}")


def echo(body):
    return body


def reply_envelope(body):
    return [b"SLREP/1", b"200", b"Content-Type: text/plain\r\n", b"".join(body[-1:])]


class BrokerTest(unittest.TestCase):
    """Starts a broker per test and stops every peer afterwards."""
    broker_args = ()

    def setUp(self):
        self.broker = start_broker(extra=self.broker_args)
        self.endpoint = self.broker.endpoint
        self.peers = []
        # The broker is up once it answers MMI.
        wait_for(lambda: mmi_service(self.endpoint, "nothing") == b"404", what="broker up")

    def tearDown(self):
        for peer in self.peers:
            peer.stop() if isinstance(peer, RawWorker) else peer.close()
        code = self.broker.stop()
        if code != 0:
            print(self.broker.output())
        self.assertEqual(code, 0, "broker must exit 0 on SIGTERM")

    def worker(self, service, **kwargs):
        worker = RawWorker(self.endpoint, service, **kwargs)
        self.peers.append(worker)
        return worker

    def client(self, version=2):
        client = RawClient(self.endpoint, version)
        self.peers.append(client)
        return client


def error_code(reply):
    """The code of an error envelope FINAL [MDPC02, 0x03, service, rid, SLERR/1, code, msg]."""
    if reply and len(reply) == 7 and reply[1] == C02_FINAL and reply[4] == b"SLERR/1":
        return reply[5].decode()
    return None
