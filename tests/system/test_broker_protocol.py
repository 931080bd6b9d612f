"""slowlane-broker, protocol: MDP/0.1 and MDP/0.2 clients and workers on one socket, 8/MMI,
request-id correlation for envelope requests, and DISCONNECT for out-of-order worker
commands. The peers are raw python3-zmq sockets written against RFC 7, RFC 18 and RFC 8,
not slowlane code; they live in broker_support.py, which the other test_broker_* files
import too."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import envelope_request, wait_for  # noqa: E402
from broker_support import (C02_FINAL, C02_PARTIAL, W01, BrokerTest, echo,  # noqa: E402
                            error_code, mmi_service, reply_envelope, wait_registered)


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

    def test_mmi_request_says_whether_a_request_is_still_held(self):
        # protocol.md 2.6: "200" while the broker holds the client's envelope request of that
        # id, queued or at a worker, else "404"; the id comes back as the second frame.
        worker = self.worker("held")  # no handler: it keeps every request it gets
        wait_registered(self.endpoint, "held")
        client, other = self.client(), self.client()
        client.send("held", *envelope_request("job-1.1", body=b"a"))
        client.send("held", *envelope_request("job-2.1", body=b"b"))  # queued behind job-1
        address, body = worker.next_request()
        self.assertEqual(body[1], b"job-1.1")

        def held(asker, request_id):
            reply = asker.request("mmi.request", request_id)
            self.assertEqual(reply[:3], [b"MDPC02", C02_FINAL, b"mmi.request"])
            self.assertEqual(reply[4], request_id if b" " not in request_id else b"")
            return reply[3]

        self.assertEqual(held(client, b"job-1.1"), b"200")   # at the worker
        self.assertEqual(held(client, b"job-2.1"), b"200")   # in the queue
        self.assertEqual(held(other, b"job-1.1"), b"404")    # another client's id
        self.assertEqual(held(client, b"job-3.1"), b"404")
        self.assertEqual(held(client, b"bad id"), b"404")
        worker.send("FINAL", address, b"", *reply_envelope([b"done"]))
        self.assertEqual(client.recv()[3], b"job-1.1")
        self.assertEqual(held(client, b"job-1.1"), b"404")   # answered

    def _cancel(self, client, request_id, service):
        """Sends mmi.cancel for request_id; returns (code, the error code the request itself
        got, or None when the broker sent it nothing). protocol.md 3.8 answers the request
        before mmi.cancel, so the next message after the answer is not the request's."""
        client.send("mmi.cancel", request_id)
        replies = []
        while True:
            reply = client.recv()
            self.assertIsNotNone(reply, "mmi.cancel must be answered")
            if reply[2] == b"mmi.cancel":
                break
            replies.append(reply)
        self.assertEqual(reply[:3], [b"MDPC02", C02_FINAL, b"mmi.cancel"])
        self.assertEqual(reply[4], request_id)
        for other in replies:
            self.assertEqual(other[2:4], [service.encode(), request_id], other)
        self.assertLessEqual(len(replies), 1, replies)
        return reply[3], error_code(replies[0]) if replies else None

    def test_mmi_cancel_takes_a_queued_request_out_and_tells_the_worker_of_a_running_one(self):
        # protocol.md 3.8: 200 for a queued request (it never starts), 202 for one at a
        # worker (which is sent CANCEL with the job's address, since its READY said
        # `cancel`), 404 for another client's id or one no longer held; the request itself
        # is answered `cancelled` at once, and its worker's late FINAL is dropped.
        worker = self.worker("held", ready_frames=(b"cancel",))
        wait_registered(self.endpoint, "held")
        client, other = self.client(), self.client()
        client.send("held", *envelope_request("job-1.1", body=b"a"))
        client.send("held", *envelope_request("job-2.1", body=b"b"))  # queued behind job-1
        address, body = worker.next_request()
        self.assertEqual(body[1], b"job-1.1")

        self.assertEqual(self._cancel(other, b"job-2.1", "held"), (b"404", None))
        self.assertEqual(self._cancel(client, b"job-2.1", "held"), (b"200", "cancelled"))
        self.assertEqual(self._cancel(client, b"job-2.1", "held"), (b"404", None))
        self.assertEqual(self._cancel(client, b"job-1.1", "held"), (b"202", "cancelled"))
        self.assertEqual(worker.cancels.get(timeout=5), address)
        self.assertEqual(self._cancel(client, b"job-1.1", "held"), (b"404", None))
        self.assertEqual(client.request("mmi.request", b"job-1.1")[3], b"404")

        # The late FINAL frees the worker's slot and reaches nobody; job-2 never started.
        worker.final(address, *reply_envelope([b"late"]))
        client.send("held", *envelope_request("job-3.1", body=b"c"))
        address, body = worker.next_request()
        self.assertEqual(body[1], b"job-3.1")
        worker.final(address, *reply_envelope([b"three"]))
        reply = client.recv()
        self.assertEqual(reply[3], b"job-3.1")  # nothing of job-1 came first
        self.assertEqual(reply[-1], b"three")
        self.assertIsNone(worker.next_request(timeout=0.3))

    def test_mmi_cancel_at_a_worker_that_cannot_be_told_drops_its_reply(self):
        # A plain RFC 18 worker (no `cancel` frame in its READY) is never sent CANCEL: it
        # would not know it. The client is still answered at once and the reply dropped.
        worker = self.worker("plain")
        wait_registered(self.endpoint, "plain")
        client = self.client()
        client.send("plain", *envelope_request("job-1.1", body=b"a"))
        address, _ = worker.next_request()
        self.assertEqual(self._cancel(client, b"job-1.1", "plain"), (b"202", "cancelled"))
        worker.final(address, *reply_envelope([b"late"]))
        self.assertEqual(client.request("mmi.request", b"job-1.1")[3], b"404")
        self.assertIsNone(client.recv(timeout=0.3))
        self.assertTrue(worker.cancels.empty())
        client.send("plain", *envelope_request("job-2.1", body=b"b"))
        address, body = worker.next_request()
        self.assertEqual(body[1], b"job-2.1")

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

    def test_most_recently_freed_worker_first(self):
        # protocol.md 2.3: among idle workers of one slot, the one that finished (or
        # registered) most recently goes first: its process is warm
        first = self.worker("mru")
        wait_registered(self.endpoint, "mru")
        second = self.worker("mru")
        wait_for(lambda: second.heartbeats_seen > 0, what="second worker registered")
        client = self.client()
        # Line: second (registered last), first. x goes to second; once it has answered,
        # second is first in line again, so y goes to it too and first stays idle.
        for body in (b"x", b"y"):
            client.send("mru", body)
            address, got = second.next_request()
            self.assertEqual(got, [body])
            second.final(address, b"done-" + body)
            self.assertEqual(client.recv()[-1], b"done-" + body)
        self.assertIsNone(first.next_request(timeout=0.2))
        # Busy, the warm worker leaves the next job to the other one
        client.send("mru", b"z1")
        held, _ = second.next_request()
        client.send("mru", b"z2")
        self.assertEqual(first.next_request()[1], [b"z2"])
        second.final(held, b"done-z1")


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
