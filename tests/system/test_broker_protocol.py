"""slowlane-broker, protocol: MDP/0.1 and MDP/0.2 clients and workers on one socket, 8/MMI,
request-id correlation for envelope requests, and DISCONNECT for out-of-order worker
commands. The peers here are raw python3-zmq sockets written against RFC 7, RFC 18 and
RFC 8, not slowlane code; the other test_broker_* files import them."""
import os
import queue
import sys
import threading
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import envelope_request, start_broker, wait_for  # noqa: E402

# RFC 18 command bytes (worker sub-protocol) and RFC 7 (MDP/0.1) ones.
W02 = {"READY": 1, "REQUEST": 2, "PARTIAL": 3, "FINAL": 4, "HEARTBEAT": 5, "DISCONNECT": 6}
W01 = {"READY": 1, "REQUEST": 2, "FINAL": 3, "HEARTBEAT": 4, "DISCONNECT": 5}
C02_REQUEST, C02_PARTIAL, C02_FINAL = b"\x01", b"\x02", b"\x03"


class RawWorker:
    """An MDP worker (0.1 or 0.2) on its own thread: heartbeats every HEARTBEAT_MS while
    `heartbeating`, records every REQUEST in `requests` (address, body frames) and every
    DISCONNECT in `disconnects`. With handler set, answers each request with
    FINAL handler(body). Commands are queued to the thread, which owns the socket."""

    def __init__(self, endpoint, service, version=2, identity=None, handler=None, ready=True):
        self.endpoint = endpoint
        self.service = service
        self.version = version
        self.identity = identity
        self.handler = handler
        self.heartbeating = True
        self.requests = queue.Queue()
        self.disconnects = queue.Queue()
        self.heartbeats_seen = 0
        self._outbox = queue.Queue()
        self._stop = threading.Event()
        self._vanish = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        if ready:
            self.send("READY", service.encode())

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


class MmiTest(BrokerTest):
    def test_mmi_service_found_and_not_found(self):
        # RFC 8: "responds with "200" (Found) if there is at least one worker registered
        # for the service, or "404" (Not found) if there are no workers registered"
        self.assertEqual(mmi_service(self.endpoint, "echo"), b"404")
        worker = self.worker("echo", handler=echo)
        wait_registered(self.endpoint, "echo")
        client = self.client()
        reply = client.request("mmi.service", b"echo")
        self.assertEqual(reply[:3], [b"MDPC02", C02_FINAL, b"mmi.service"])
        self.assertEqual(reply[3:], [b"200"])
        worker.stop()  # sends DISCONNECT
        wait_registered(self.endpoint, "echo", present=False)

    def test_mmi_unimplemented_is_501(self):
        # RFC 8: "Any unimplemented services in the "mmi." namespace MUST result in a
        # reply "501" (Not implemented)."
        client = self.client()
        reply = client.request("mmi.frobnicate", b"x")
        self.assertEqual(reply, [b"MDPC02", C02_FINAL, b"mmi.frobnicate", b"501"])

    def test_mmi_over_mdp01(self):
        client = self.client(version=1)
        reply = client.request("mmi.service", b"echo")
        self.assertEqual(reply, [b"MDPC01", b"mmi.service", b"404"])

    def test_worker_may_not_register_mmi(self):
        # RFC 8: "It MUST disconnect any workers that attempt to register services in
        # this namespace."
        worker = self.worker("mmi.service")
        self.assertIsNotNone(worker.disconnects.get(timeout=5))
        client = self.client()
        reply = client.request("mmi.service", b"mmi.service")
        self.assertEqual(reply[-1], b"404")


class RoundTripTest(BrokerTest):
    def test_envelope_request_gets_id_frame_and_time_left(self):
        worker = self.worker("env", handler=reply_envelope)
        wait_registered(self.endpoint, "env")
        client = self.client()
        client.send("env", *envelope_request("rid-1", body=b"hello", timeout_ms=5000))
        reply = client.recv()
        # architecture.md: "MDPC02 | 0x03 | service | request-id | reply body..."
        self.assertEqual(reply[:4], [b"MDPC02", C02_FINAL, b"env", b"rid-1"])
        self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        self.assertEqual(reply[-1], b"hello")
        address, body = worker.next_request()
        self.assertEqual(body[0], b"SLREQ/1")
        self.assertEqual(body[1], b"rid-1")
        # The timeout frame carries the time left at dispatch: positive, at most the original.
        self.assertTrue(0 < int(body[2]) <= 5000, body[2])

    def test_partials_are_forwarded_with_id_frame(self):
        worker = self.worker("stream")
        wait_registered(self.endpoint, "stream")
        client = self.client()
        client.send("stream", *envelope_request("rid-s"))
        address, body = worker.next_request()
        worker.partial(address, b"SLREP/1", b"200", b"", b"part1")
        worker.partial(address, b"part2")
        worker.final(address, b"part3")
        got = [client.recv() for _ in range(3)]
        self.assertEqual([g[1] for g in got], [C02_PARTIAL, C02_PARTIAL, C02_FINAL])
        self.assertTrue(all(g[3] == b"rid-s" for g in got), got)
        self.assertEqual([g[-1] for g in got], [b"part1", b"part2", b"part3"])

    def _round_trip(self, client_version, worker_version):
        service = f"plain{client_version}{worker_version}"
        worker = self.worker(service, version=worker_version, handler=echo)
        wait_registered(self.endpoint, service)
        client = self.client(version=client_version)
        reply = client.request(service, b"opaque", b"\x00\xffbinary")
        if client_version == 2:
            # Plain requests get plain replies: no request-id frame inserted.
            self.assertEqual(reply, [b"MDPC02", C02_FINAL, service.encode(), b"opaque",
                                     b"\x00\xffbinary"])
        else:
            self.assertEqual(reply, [b"MDPC01", service.encode(), b"opaque", b"\x00\xffbinary"])
        address, body = worker.next_request()
        self.assertEqual(body, [b"opaque", b"\x00\xffbinary"])

    def test_plain_mdp02_client_and_worker(self):
        self._round_trip(2, 2)

    def test_plain_mdp01_client_and_worker(self):
        self._round_trip(1, 1)

    def test_mixed_versions(self):
        self._round_trip(1, 2)
        self._round_trip(2, 1)

    def test_least_recently_used_worker_first(self):
        first = self.worker("lru")
        wait_registered(self.endpoint, "lru")
        second = self.worker("lru")
        wait_for(lambda: second.heartbeats_seen > 0, what="second worker registered")
        client = self.client()
        # Idle list: first (older), second. x goes to first, which then becomes the most
        # recently used: y must go to second although first is idle again.
        client.send("lru", b"x")
        address, body = first.next_request()
        self.assertEqual(body, [b"x"])
        first.final(address, b"done-x")
        self.assertEqual(client.recv()[-1], b"done-x")
        client.send("lru", b"y")
        self.assertEqual(second.next_request()[1], [b"y"])
        self.assertIsNone(first.next_request(timeout=0.2))


class OutOfOrderTest(BrokerTest):
    def test_final_from_idle_worker_gets_disconnect(self):
        # RFC 18: "The broker MUST respond to any valid but unexpected command by sending
        # DISCONNECT and then no further commands to that worker."
        worker = self.worker("ooo")
        wait_registered(self.endpoint, "ooo")
        worker.final(b"nobody", b"bogus")
        self.assertIsNotNone(worker.disconnects.get(timeout=5))
        wait_registered(self.endpoint, "ooo", present=False)

    def test_heartbeat_before_ready_gets_disconnect(self):
        worker = self.worker("early", ready=False)
        self.assertIsNotNone(worker.disconnects.get(timeout=5))
        self.assertEqual(mmi_service(self.endpoint, "early"), b"404")

    def test_second_ready_on_same_connection_gets_disconnect(self):
        # No chosen identity: the ROUTER's own identity names this one connection, so a
        # second READY is a protocol error, not a restart.
        worker = self.worker("twice")
        wait_registered(self.endpoint, "twice")
        worker.send("READY", b"twice")
        self.assertIsNotNone(worker.disconnects.get(timeout=5))
        wait_registered(self.endpoint, "twice", present=False)

    def test_version_switch_gets_disconnect(self):
        worker = self.worker("switch")
        wait_registered(self.endpoint, "switch")
        worker.send_raw([b"", b"MDPW01", bytes([W01["HEARTBEAT"]])])
        self.assertIsNotNone(worker.disconnects.get(timeout=5))
        wait_registered(self.endpoint, "switch", present=False)

    def test_broker_heartbeats_workers(self):
        worker = self.worker("hb")
        wait_for(lambda: worker.heartbeats_seen >= 3, timeout=5, what="three broker heartbeats")


if __name__ == "__main__":
    harness.main()
