"""slowlane-broker, robustness and lifecycle: a burst of malformed messages neither crashes
nor wedges it, SIGTERM/SIGINT send DISCONNECT to every worker and exit 0 (waiting clients
hear shutting_down), and a bind to a port in use stops start-up with one clear line."""
import os
import random
import signal
import socket
import sys
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import envelope_request, start_broker, wait_for  # noqa: E402
from broker_support import (BrokerTest, RawClient, RawWorker, echo, error_code,  # noqa: E402
                            mmi_service, wait_registered)


def malformed_messages(rng):
    """Messages a broker must survive: every one is wrong in some way."""
    long_name = b"s" * 300
    yield []  # nothing but the routing id
    yield [b""]
    yield [b"", b""]
    yield [b"MDPC03", b"\x01", b"svc", b"x"]  # unknown version
    yield [b"MDPW09", b"\x01", b"svc"]
    yield [b"MDPC02"]  # no command
    yield [b"MDPC02", b"\x01"]  # no service
    yield [b"MDPC02", b"\x01\x01", b"svc"]  # two-byte command
    yield [b"MDPC02", b"\x09", b"svc"]  # unknown command
    yield [b"MDPC02", b"\x03", b"svc", b"final from a client"]
    yield [b"MDPC02", b"\x01", long_name, b"x"]  # service name over 255 bytes
    yield [b"MDPC02", b"\x01", b"bad name", b"x"]  # not a printable token
    yield [b"MDPC02", b"\x01", b"", b"x"]
    yield [b"MDPC01", b"svc", b"x"]  # MDP/0.1 without its empty frame
    yield [b"", b"MDPC02", b"\x01", b"svc"]  # MDP/0.2 with one
    yield [b"MDPW02", b"\x01"]  # READY without service
    yield [b"MDPW02", b"\x01", long_name]
    yield [b"MDPW02", b"\x01", b"svc", b"extra"]
    yield [b"MDPW02", b"\x02", b"addr", b"", b"REQUEST from a worker"]
    yield [b"MDPW02", b"\x04", b"addr"]  # FINAL without delimiter
    yield [b"MDPW02", b"\x04", b"", b"", b"x"]  # FINAL with empty address
    yield [b"MDPW02", b"\x05", b"junk"]  # HEARTBEAT with a body
    yield [b"", b"MDPW01", b"\x07"]
    yield [b"MDPC02", b"\x01", b"svc", b"SLREQ/1", b"short envelope"]
    yield [b"MDPC02", b"\x01", b"svc", *envelope_request("bad id with spaces")]
    yield [b"MDPC02", b"\x01", b"svc", b"SLREQ/1", b"id", b"-5", b"1", b"GET", b"/", b"",
           b"", b""]  # negative timeout
    for _ in range(300):
        frames = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 12)))
                  for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.5:  # plausible header, random rest
            frames[0] = rng.choice([b"MDPC02", b"MDPW02", b"MDPC01", b"MDPW01", b""])
        yield frames


class MalformedTest(BrokerTest):
    def test_burst_of_malformed_messages_does_not_crash(self):
        worker = self.worker("svc", handler=echo)
        wait_registered(self.endpoint, "svc")
        rng = random.Random(20261124)
        context = zmq.Context.instance()
        sent = 0
        for round_ in range(3):
            # Fresh connections each round: some messages make the broker DISCONNECT or
            # forget a peer, and a peer using the service's name must not disturb it.
            for kind in (zmq.DEALER, zmq.DEALER):
                sock = context.socket(kind)
                sock.linger = 0
                sock.connect(self.endpoint)
                for frames in malformed_messages(rng):
                    if frames:
                        sock.send_multipart(frames)
                    else:
                        sock.send(b"")
                    sent += 1
                # One connection is delivered in order: once MMI answers on it, the broker
                # has handled every malformed message before.
                sock.send_multipart([b"MDPC02", b"\x01", b"mmi.service", b"svc"])
                reply = None
                while sock.poll(5000, zmq.POLLIN):
                    reply = sock.recv_multipart()
                    if reply[:3] == [b"MDPC02", b"\x03", b"mmi.service"]:
                        break
                self.assertEqual(reply, [b"MDPC02", b"\x03", b"mmi.service", b"200"])
                sock.close()
        self.assertGreater(sent, 1000)
        self.assertTrue(self.broker.alive(), self.broker.output()[-2000:])
        # Still serving: the registered worker answers, MMI answers.
        client = self.client()
        reply = client.request("svc", b"still", b"alive")
        self.assertEqual(reply[-2:], [b"still", b"alive"])
        self.assertEqual(mmi_service(self.endpoint, "svc"), b"200")
        # Malformed input is logged, but rate-limited, not a line per message.
        output = self.broker.output()
        self.assertIn("malformed", output)
        self.assertLess(output.count("malformed_message"), 200)


class ShutdownTest(unittest.TestCase):
    def _shutdown(self, sig):
        broker = start_broker()
        try:
            wait_for(lambda: mmi_service(broker.endpoint, "x") == b"404", what="broker up")
            idle = RawWorker(broker.endpoint, "down", version=1)
            busy = RawWorker(broker.endpoint, "down")
            wait_for(lambda: idle.heartbeats_seen > 0 and busy.heartbeats_seen > 0,
                     what="workers registered")
            client = RawClient(broker.endpoint)
            client.send("down", *envelope_request("held", timeout_ms=10000))
            wait_for(lambda: idle.requests.qsize() + busy.requests.qsize() == 1,
                     what="job delivered")
            broker.signal(sig)
            # Both workers, idle and busy, are told DISCONNECT.
            self.assertIsNotNone(idle.disconnects.get(timeout=5))
            self.assertIsNotNone(busy.disconnects.get(timeout=5))
            reply = client.recv(timeout=5)
            self.assertEqual(error_code(reply), "shutting_down", reply)
            self.assertEqual(reply[3], b"held")
            wait_for(lambda: not broker.alive(), timeout=5, what="broker exit")
            self.assertEqual(broker.proc.returncode, 0, broker.output())
            for peer in (idle, busy):
                peer.silence()
                peer.stop()
            client.close()
        finally:
            broker.stop()

    def test_sigterm_disconnects_workers_and_exits_zero(self):
        self._shutdown(signal.SIGTERM)

    def test_sigint_disconnects_workers_and_exits_zero(self):
        self._shutdown(signal.SIGINT)


class BindTest(unittest.TestCase):
    def test_port_in_use_exits_non_zero_with_one_line(self):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            broker = start_broker(port=port)
            try:
                wait_for(lambda: not broker.alive(), timeout=5, what="broker to give up")
                self.assertNotEqual(broker.proc.returncode, 0)
                lines = broker.output().strip().splitlines()
                self.assertEqual(len(lines), 1, lines)
                self.assertIn(f"tcp://127.0.0.1:{port}", lines[0])
                self.assertIn("bind", lines[0])
            finally:
                broker.stop()

    def test_bad_flag_exits_non_zero(self):
        broker = start_broker(extra=("--liveness", "zero"))
        try:
            wait_for(lambda: not broker.alive(), timeout=5, what="broker to give up")
            self.assertNotEqual(broker.proc.returncode, 0)
            self.assertIn("--liveness", broker.output())
        finally:
            broker.stop()

    def test_several_binds_and_environment(self):
        second = harness.free_port()
        broker = start_broker(extra=("--bind", f"tcp://127.0.0.1:{second}"))
        try:
            for endpoint in (broker.endpoint, f"tcp://127.0.0.1:{second}"):
                wait_for(lambda: mmi_service(endpoint, "x") == b"404", what=f"{endpoint} up")
        finally:
            self.assertEqual(broker.stop(), 0)
        port = harness.free_port()
        env_broker = harness.Process([harness.binary("slowlane-broker")],
                                     env={"SLOWLANE_BIND": f"tcp://127.0.0.1:{port}",
                                          "SLOWLANE_HEARTBEAT_MS": "100"}, name="broker-env")
        try:
            wait_for(lambda: mmi_service(f"tcp://127.0.0.1:{port}", "x") == b"404",
                     what="broker bound from SLOWLANE_BIND")
            self.assertIn("heartbeat_ms=100", env_broker.output())
        finally:
            self.assertEqual(env_broker.stop(), 0)


if __name__ == "__main__":
    harness.main()
