"""Interoperability: the real slowlane-broker against third-party-style MDP/0.1 and MDP/0.2
clients and workers (tests/system/mdp_peers.py, written from RFC 7, 18 and 8 alone).
Each check quotes the RFC clause it holds the broker to. Short heartbeats (harness) keep the
timer tests in the hundreds of milliseconds; every wait polls a condition."""
import os
import signal
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from mdp_peers import MDPW01, W01, Mdp01Broker, Mdp01Client, Mdp02Client, MdpWorker  # noqa: E402

HB = harness.HEARTBEAT_MS / 1000
LIVENESS = harness.LIVENESS


def mmi_service(endpoint, name, version=2, timeout_ms=500):
    """Asks mmi.service about name; returns the status frame (b"200"/b"404") or None."""
    client = Mdp01Client(endpoint) if version == 1 else Mdp02Client(endpoint)
    try:
        if version == 1:
            body = client.request("mmi.service", name.encode(), timeout_ms=timeout_ms)
        else:
            reply = client.request("mmi.service", name.encode(), timeout_ms=timeout_ms)
            body = None if reply is None else reply[1]
        return None if body is None else body[-1]
    finally:
        client.close()


class InteropTest(unittest.TestCase):
    def setUp(self):
        self.broker = harness.start_broker()
        self.addCleanup(self.broker.stop)
        self.endpoint = self.broker.endpoint
        harness.wait_for(lambda: mmi_service(self.endpoint, "nobody", timeout_ms=200),
                         what="the broker to answer mmi.service")

    def start_worker(self, service, version, handler=None, wait=True):
        worker = MdpWorker(self.endpoint, service, version, handler,
                           heartbeat_ms=harness.HEARTBEAT_MS, liveness=LIVENESS).start()
        self.addCleanup(worker.stop)
        if wait:
            harness.wait_for(lambda: mmi_service(self.endpoint, service) == b"200",
                             what=f"{service} to register")
        return worker

    def client(self, version, **kwargs):
        client = Mdp01Client(self.endpoint, **kwargs) if version == 1 else Mdp02Client(self.endpoint)
        self.addCleanup(client.close)
        return client

    # -- request / reply across versions -------------------------------------------------------
    def test_v01_client_and_v01_worker(self):
        worker = self.start_worker("v1echo", 1)
        body = [b"hello", b"\x00\xff\x01 binary", b"", b"last"]
        for use_req in (False, True):
            # RFC 7: "C: REQUEST / B: REPLY" and "Frames 3+: Reply body (opaque binary)"
            reply = self.client(1, use_req_socket=use_req).request("v1echo", *body)
            self.assertEqual(reply, body)
        self.assertEqual(worker.requests, [body, body])
        self.assertEqual(worker.errors, [])

    def test_v02_client_and_v02_worker_with_partials(self):
        def streamer(body):
            return [[b"part-1"], [b"part-2", b"\x00"], [b"final"] + body]
        worker = self.start_worker("v2stream", 2, streamer)
        client = self.client(2)
        # RFC 18: "The worker SHALL send zero or more PARTIAL commands for a single REQUEST,
        # followed by exactly one FINAL command." / "The client MUST be prepared to handle
        # zero or more PARTIAL commands from the broker."
        partials, final = client.request("v2stream", b"payload")
        self.assertEqual(partials, [[b"part-1"], [b"part-2", b"\x00"]])
        self.assertEqual(final, [b"final", b"payload"])
        # RFC 18: "After a FINAL command, the broker SHALL not send any further commands to
        # the client."
        self.assertIsNone(client.recv(timeout_ms=int(HB * 2000)))
        self.assertEqual(worker.errors, [])

    def test_v01_client_and_v02_worker(self):
        self.start_worker("v2echo", 2)
        body = [b"opaque", b"\xde\xad\xbe\xef", b""]
        self.assertEqual(self.client(1).request("v2echo", *body), body)

    def test_v02_client_and_v01_worker(self):
        self.start_worker("v1echo", 1)
        body = [b"\x00", b"frames", b"untouched"]
        self.assertEqual(self.client(2).request("v1echo", *body), ([], body))

    def test_many_requests_spread_over_workers(self):
        # RFC 7: "Allow the broker to implement a "least recently used" pattern for task
        # distribution to workers for a given service." Two idle workers both get work.
        first = self.start_worker("pool", 2)
        second = self.start_worker("pool", 1)
        harness.wait_for(lambda: first.registrations and second.registrations)
        client = self.client(2)
        for i in range(20):
            client.send("pool", str(i).encode())
        replies = sorted(int(client.recv()[2][0]) for _ in range(20))
        self.assertEqual(replies, list(range(20)))
        self.assertGreater(len(first.requests), 0)
        self.assertGreater(len(second.requests), 0)

    # -- 8/MMI -------------------------------------------------------------------------------
    def test_mmi_service(self):
        self.start_worker("present", 2)
        for version in (1, 2):
            # RFC 8: "mmi.service - ... responds with "200" (Found) if there is at least one
            # worker registered for the service, or "404" (Not found) if there are no workers"
            self.assertEqual(mmi_service(self.endpoint, "present", version), b"200")
            self.assertEqual(mmi_service(self.endpoint, "absent", version), b"404")

    def test_mmi_unimplemented_is_501(self):
        # RFC 8: "Any unimplemented services in the "mmi." namespace MUST result in a reply
        # "501" (Not implemented)."
        reply = self.client(1).request("mmi.other", b"x")
        self.assertEqual(reply, [b"501"])
        partials, final = self.client(2).request("mmi.discovery", b"x")
        self.assertEqual((partials, final), ([], [b"501"]))

    def test_worker_may_not_register_mmi(self):
        for version in (1, 2):
            worker = MdpWorker(self.endpoint, "mmi.foo", version,
                               heartbeat_ms=harness.HEARTBEAT_MS).open()
            self.addCleanup(worker.close)
            # RFC 8: "An MMI broker implementation ... MUST disconnect any workers that
            # attempt to register servics in this namespace."
            reply = worker.receive(timeout_ms=2000)
            while reply is not None and reply[0] == "HEARTBEAT":
                reply = worker.receive(timeout_ms=2000)
            self.assertIsNotNone(reply, f"no DISCONNECT for MDP/0.{version} READY mmi.foo")
            self.assertEqual(reply[0], "DISCONNECT")
        self.assertNotEqual(mmi_service(self.endpoint, "mmi.foo"), b"200")

    def test_unexpected_final_gets_disconnect(self):
        worker = MdpWorker(self.endpoint, "rogue", 2, heartbeat_ms=harness.HEARTBEAT_MS).open()
        self.addCleanup(worker.close)
        harness.wait_for(lambda: mmi_service(self.endpoint, "rogue") == b"200")
        # RFC 18: "The broker MUST respond to any valid but unexpected command by sending
        # DISCONNECT and then no further commands to that worker." A FINAL with no REQUEST
        # outstanding is such a command.
        worker.command("FINAL", b"no-such-client", b"", b"unasked")
        reply = worker.receive(timeout_ms=2000)
        while reply is not None and reply[0] == "HEARTBEAT":
            reply = worker.receive(timeout_ms=2000)
        self.assertEqual(reply and reply[0], "DISCONNECT")
        harness.wait_for(lambda: mmi_service(self.endpoint, "rogue") == b"404",
                         what="the disconnected worker to be forgotten")

    # -- heartbeating ------------------------------------------------------------------------
    def test_broker_heartbeats_idle_worker(self):
        for version in (1, 2):
            worker = self.start_worker(f"beat{version}", version)
            # RFC 7/18: "Both broker and worker MUST send heartbeats at regular and agreed-upon
            # intervals."
            harness.wait_for(lambda: len(worker.heartbeats) >= 8, timeout=20 * HB + 2,
                             what=f"8 broker HEARTBEATs to an MDP/0.{version} worker")
            beats = worker.heartbeats[-8:]
            gaps = [b - a for a, b in zip(beats, beats[1:])]
            median = statistics.median(gaps)
            self.assertGreater(median, 0.5 * HB, f"heartbeats too fast: {gaps}")
            self.assertLess(median, 2.0 * HB, f"heartbeats too slow: {gaps}")
            self.assertEqual(worker.disconnects, [])
            self.assertEqual(worker.registrations, 1)

    def test_ready_without_work_is_answered_by_a_heartbeat_at_once(self):
        # Beyond the RFCs (docs/protocol.md 2.3): the broker answers a READY that gets no job
        # with a HEARTBEAT straight away, not at its next tick. With a 30 s interval that tick
        # is up to 30 s away, so only the immediate answer arrives within 2 s.
        broker = harness.start_broker(extra=("--heartbeat-ms", "30000"))
        self.addCleanup(broker.stop)
        harness.wait_for(lambda: "heartbeat_ms=30000" in broker.output(),
                         what="the broker to start with a 30 s heartbeat")
        for version in (1, 2):
            worker = MdpWorker(broker.endpoint, f"prompt{version}", version,
                               heartbeat_ms=30000).open()
            self.addCleanup(worker.close)
            reply = worker.receive(timeout_ms=2000)
            self.assertIsNotNone(reply, f"no answer to an MDP/0.{version} READY within 2 s")
            self.assertEqual(reply[0], "HEARTBEAT")

    def test_silent_worker_is_dropped(self):
        for version in (1, 2):
            service = f"silent{version}"
            worker = self.start_worker(service, version)
            # Two beats: the broker knows its interval (until then a plain peer gets the
            # longest one honoured, --max-peer-heartbeat-ms, protocol.md 2.3)
            harness.wait_for(lambda: worker.beats_sent >= 2, what="two heartbeats sent")
            worker.frozen.set()
            stopped = time.monotonic()
            # RFC 7/18: "A peer MUST consider the other peer "disconnected" if no heartbeat
            # arrives within some multiple of that interval"; docs: heartbeat x liveness.
            harness.wait_for(lambda: mmi_service(self.endpoint, service) == b"404",
                             timeout=(LIVENESS + 2) * HB + 2, interval=0.005,
                             what=f"silent MDP/0.{version} worker to expire")
            elapsed = time.monotonic() - stopped
            # The last heartbeat went out at most one interval before the freeze, and the
            # broker checks once per interval: expiry falls in ((liveness-1), liveness+1] x HB.
            self.assertGreaterEqual(elapsed, (LIVENESS - 1) * HB * 0.9, "expired too early")
            self.assertLessEqual(elapsed, (LIVENESS + 1) * HB + 0.25, "expired too late")

    def test_worker_reconnects_after_broker_restart(self):
        worker = self.start_worker("phoenix", 2)
        port = self.broker.port
        self.broker.stop(signal.SIGTERM)
        # architecture.md: "The broker sends DISCONNECT to every worker on SIGTERM"; RFC 18:
        # the worker "MUST close its socket, and reconnect to the broker on a new socket."
        harness.wait_for(lambda: worker.disconnects, what="DISCONNECT from a stopping broker")
        self.broker = harness.start_broker(port=port)
        self.addCleanup(self.broker.stop)
        harness.wait_for(lambda: mmi_service(self.endpoint, "phoenix") == b"200",
                         what="worker to register with the new broker")
        self.assertGreaterEqual(worker.registrations, 2)
        self.assertEqual(self.client(2).request("phoenix", b"again"), ([], [b"again"]))

    # -- a peer with its own, longer heartbeat interval ---------------------------------------
    def test_worker_with_a_longer_heartbeat_stays_registered(self):
        # RFC 7 leaves the interval to the deployment; 2.5 s against the broker's 1 s is
        # common, and a peer's loop often sends it late (at the broker's next heartbeat:
        # ~3 s, the broker's whole expiry). Scaled: beats every 3.5 broker intervals, past
        # liveness (3) x the broker's interval. The broker learns its interval and keeps it
        # for 60 intervals idle, one READY, no DISCONNECT; then it still serves.
        workers = [MdpWorker(self.endpoint, f"slowbeat{v}", v, heartbeat_ms=int(3.5 * HB * 1000),
                             liveness=LIVENESS).start() for v in (1, 2)]
        for worker in workers:
            self.addCleanup(worker.stop)
            # Expired once at the broker's own expiry, and taken back at its next beat with
            # the gap as its interval; it never hears of it
            harness.wait_for(lambda: f"service={worker.service} interval_ms="
                             in self.broker.output(), what="the broker to learn the slow interval")
        deadline = time.monotonic() + 60 * HB
        while time.monotonic() < deadline:
            for worker in workers:
                self.assertEqual(mmi_service(self.endpoint, worker.service), b"200")
            time.sleep(HB)  # sampling once per broker interval, not waiting for a condition
        for worker in workers:
            self.assertEqual((worker.registrations, worker.disconnects), (1, []))
        self.assertEqual(self.client(1).request("slowbeat1", b"still"), [b"still"])
        removed = [line for line in self.broker.output().splitlines()
                   if "event=worker_removed" in line and "service=slowbeat" in line]
        self.assertEqual(len(removed), 2, removed)  # once each, before its interval was known

    def test_learning_is_bounded_by_max_peer_heartbeat(self):
        # The bound is the operator's: at the broker's own interval, the same worker is
        # expired between its beats and told DISCONNECT, as it was before learning
        broker = harness.start_broker(extra=("--max-peer-heartbeat-ms", str(harness.HEARTBEAT_MS)))
        self.addCleanup(broker.stop)
        worker = MdpWorker(broker.endpoint, "bounded", 2, heartbeat_ms=int(3.5 * HB * 1000),
                           liveness=LIVENESS).start()
        self.addCleanup(worker.stop)
        harness.wait_for(lambda: worker.disconnects, timeout=5,
                         what="the worker to be expired and told DISCONNECT")

    # -- a request sent a moment before its worker registers ----------------------------------
    def test_plain_request_waits_for_a_worker_that_registers_a_moment_later(self):
        # MDP has no error reply: a plain request for a service with no worker yet is held
        # (2,500 ms by default) and served by the worker that registers meanwhile, not dropped
        for version, service in ((1, "late1"), (2, "late2")):
            client = self.client(version)
            client.send(service, b"early")
            self.assertEqual(client.socket.poll(300), 0)  # waiting, not answered
            self.start_worker(service, version)
            reply = client.recv(service, 2000) if version == 1 else client.recv(2000)
            self.assertIsNotNone(reply, f"MDP/0.{version} request held for the late worker")
            self.assertEqual(reply if version == 1 else reply[2], [b"early"])

    def test_held_plain_request_is_dropped_after_the_hold_and_envelopes_still_fail_fast(self):
        client = self.client(2)
        began = time.monotonic()
        client.send("nobody-comes", b"lost")
        harness.wait_for(lambda: "event=request_dropped service=nobody-comes reason=expired"
                         in self.broker.output(), timeout=5, what="the held request to expire")
        self.assertEqual(client.socket.poll(0), 0)  # MDP has no error reply: nothing came
        self.assertGreaterEqual(time.monotonic() - began, 2.4)  # held the whole 2,500 ms
        # An HTTP envelope for a service with no worker still gets no_worker at once
        envelope = harness.MdpClient(self.endpoint)
        self.addCleanup(envelope.close)
        began = time.monotonic()
        reply = envelope.request("nobody-comes", *harness.envelope_request("fast-fail"))
        self.assertLess(time.monotonic() - began, 1.0)
        self.assertIn(b"no_worker", b"".join(reply))

    # -- the real C worker, as a plain MDP peer sees it --------------------------------------
    def test_c_worker_echoes_opaque_body(self):
        workers = harness.start_workers(self.endpoint, "cecho", "builtin:echo")
        self.addCleanup(workers.stop)
        harness.wait_for(lambda: mmi_service(self.endpoint, "cecho") == b"200",
                         what="slowlane-worker builtin:echo to register")
        body = b"opaque \x00\xff bytes, no envelope"
        # brief.md: "A request that is not an envelope (a plain MDP client's opaque frames)
        # reaches the handler as a body with no HTTP metadata; builtin:echo returns it."
        self.assertEqual(self.client(1).request("cecho", body), [body])
        self.assertEqual(self.client(2).request("cecho", body), ([], [body]))
        # Several frames come back one for one, an empty one included (not joined as "ab")
        frames = [b"a", b"", b"b\x00"]
        self.assertEqual(self.client(1).request("cecho", *frames), frames)
        self.assertEqual(self.client(2).request("cecho", *frames), ([], frames))
        # A plain body that starts with the envelope's magic but is no envelope is served as
        # the opaque body it is (protocol.md 6), not dropped
        lookalike = [b"SLREQ/1", b"not an envelope"]
        self.assertEqual(self.client(1).request("cecho", *lookalike), lookalike)


class ForeignBrokerTest(unittest.TestCase):
    """slowlane's own workers against a broker that is not slowlane's: an RFC 7 broker
    (mdp_peers.Mdp01Broker), and no broker at all (protocol.md 6)."""

    def mdp01_broker(self, **kwargs):
        broker = Mdp01Broker(heartbeat_s=HB, **kwargs)
        self.addCleanup(broker.close)
        return broker

    def workers(self, endpoint, service, handler, extra=()):
        workers = harness.start_workers(endpoint, service, handler, extra=extra)
        self.addCleanup(workers.stop)
        return workers

    def test_mdp_0_1_worker_serves_an_rfc7_broker(self):
        broker = self.mdp01_broker()
        workers = self.workers(broker.endpoint, "old", "builtin:echo", extra=["--mdp", "0.1"])
        harness.wait_for(lambda: broker.readies, what="an MDP/0.1 READY")
        # RFC 7 READY: "Frame 0: Empty frame, Frame 1: "MDPW01", Frame 2: 0x01 (one byte,
        # representing READY), Frame 3: Service name (printable string)": nothing after it
        self.assertEqual(broker.readies[0], [b"", MDPW01, W01["READY"], b"old"])
        client = Mdp01Client(broker.endpoint)
        self.addCleanup(client.close)
        frames = [b"a", b"", b"b\x00"]
        self.assertEqual(client.request("old", *frames), frames)
        # It beats in MDP/0.1 and stays registered: one READY for a dozen beats, no loss
        harness.wait_for(lambda: broker.beats >= 12, what="a dozen MDPW01 HEARTBEATs")
        self.assertEqual(len(broker.readies), 1)
        self.assertEqual(broker.invalid, 0)
        self.assertEqual(client.request("old", b"again"), [b"again"])
        self.assertNotIn("broker_lost", workers.output())
        self.assertIn("mdp=0.1", workers.output())
        self.assertIn("event=agent_off reason=mdp_0.1", workers.output())

    def test_mdp_0_1_joins_partials_into_the_one_reply(self):
        broker = self.mdp01_broker()
        self.workers(broker.endpoint, "chunks", "builtin:stream", extra=["--mdp", "0.1"])
        harness.wait_for(lambda: broker.readies, what="an MDP/0.1 READY")
        client = Mdp01Client(broker.endpoint)
        self.addCleanup(client.close)
        # builtin:stream flushes two chunks as PARTIALs and ends with the third: RFC 7 has
        # one REPLY, which carries all three in order
        self.assertEqual(client.request("chunks", b"x"), [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"])

    def test_mdp_0_2_worker_says_why_an_rfc7_broker_never_answers(self):
        broker = self.mdp01_broker()
        workers = self.workers(broker.endpoint, "new", "builtin:echo")
        harness.wait_for(lambda: f"event=broker_lost endpoint={broker.endpoint} "
                         "reason=no_answer_to_ready mdp=0.2" in workers.output(),
                         what="the worker naming a READY nobody answered")
        self.assertGreater(broker.invalid, 0)  # it dropped our MDPW02 as invalid, as RFC 7 says
        self.assertNotIn("reason=heartbeat_timeout", workers.output())

    def test_mdp_0_2_worker_says_why_an_answer_is_foreign(self):
        broker = self.mdp01_broker(on_invalid="disconnect")
        workers = self.workers(broker.endpoint, "new", "builtin:echo")
        harness.wait_for(lambda: f"event=broker_unexpected_answer endpoint={broker.endpoint} "
                         "mdp=0.2 got=mdp_0.1 try=--mdp=0.1" in workers.output(),
                         what="the worker naming an MDP/0.1 answer")
        self.assertIn("reason=unexpected_answer mdp=0.2", workers.output())

    def test_no_broker_is_unreachable(self):
        endpoint = f"tcp://127.0.0.1:{harness.free_port()}"
        workers = self.workers(endpoint, "lonely", "builtin:echo")
        harness.wait_for(lambda: f"event=broker_lost endpoint={endpoint} reason=unreachable"
                         in workers.output(), what="the worker naming a broker it never reached")

    def test_mdp_0_1_refuses_what_rfc7_cannot_carry(self):
        for extra, line in ((["--mdp", "0.3"], "--mdp: '0.3' is not 0.1 or 0.2"),
                            (["--mdp", "0.1", "--capacity", "2"], "--mdp 0.1: one --broker"),
                            (["--mdp", "0.1", "--broker", "tcp://127.0.0.1:1"],
                             "--mdp 0.1: one --broker")):
            workers = harness.start_workers("tcp://127.0.0.1:2", "x", "builtin:echo", extra=extra)
            code = workers.proc.wait(10 * harness.TIMEOUT_SCALE)
            self.assertEqual(code, 2, extra)
            self.assertIn(line, workers.output(), extra)
            self.assertEqual(len(workers.output().strip().splitlines()), 1, workers.output())


if __name__ == "__main__":
    harness.main()
