"""Worker capacity (docs/protocol.md section 3.6): a worker that says `capacity=K` in READY
holds up to K jobs at once, each named by a job tag in the address frame; every one of them
is re-dispatched when it dies; plain MDP workers, MMI and the client side are unchanged.
The broker-side peers are the raw RFC 18 sockets of broker_support; the last tests run
slowlane-worker --capacity, the library side."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import envelope_request, wait_for  # noqa: E402
from broker_support import (C02_FINAL, BrokerTest, RawWorker, mmi_service,  # noqa: E402
                            reply_envelope, wait_registered)


class CapacityWorker(RawWorker):
    """A raw MDP/0.2 worker whose READY declares capacity (None: a plain READY)."""

    def __init__(self, endpoint, service, capacity, **kwargs):
        super().__init__(endpoint, service, ready=False, **kwargs)
        extra = [] if capacity is None else [f"capacity={capacity}".encode()]
        self.send("READY", service.encode(), *extra)


def take(worker, count, timeout=5.0):
    """The next count REQUESTs of worker as (address, body) pairs; fails if they do not come."""
    got = []
    for _ in range(count):
        request = worker.next_request(timeout)
        if request is None:
            raise AssertionError(f"only {len(got)} of {count} requests reached the worker")
        got.append(request)
    return got


class CapacityBrokerTest(BrokerTest):
    def capacity_worker(self, service, capacity, **kwargs):
        worker = CapacityWorker(self.endpoint, service, capacity, **kwargs)
        self.peers.append(worker)
        return worker

    def test_k_jobs_in_flight_and_no_more(self):
        worker = self.capacity_worker("cap", 4)
        wait_registered(self.endpoint, "cap")
        client = self.client()
        for i in range(6):
            client.send("cap", *envelope_request(f"req-{i}"))
        # 3.6: "The broker MUST NOT hold more than K jobs for the worker at once"
        jobs = take(worker, 4)
        self.assertIsNone(worker.next_request(timeout=0.3), "a fifth job despite capacity=4")
        # "the broker SHALL put a job tag instead of the client address in the address frame
        # of each REQUEST: 8 opaque bytes, unique among the worker's jobs in flight"
        addresses = [address for address, _ in jobs]
        self.assertEqual(len(set(addresses)), 4)
        self.assertTrue(all(len(address) == 8 for address in addresses))
        ids = [body[1] for _, body in jobs]
        self.assertEqual(ids, [f"req-{i}".encode() for i in range(4)])
        # Answers in any order go to the right requests; each frees one slot.
        worker.final(addresses[2], *reply_envelope([b"two"]))
        reply = client.recv()
        self.assertEqual(reply[:4], [b"MDPC02", C02_FINAL, b"cap", b"req-2"])
        self.assertEqual(reply[-1], b"two")
        (address, body), = take(worker, 1)
        self.assertEqual(body[1], b"req-4")
        self.assertNotIn(address, addresses[:2] + addresses[3:], "a tag still in use was reused")
        for address in addresses[:2] + addresses[3:] + [address]:
            worker.final(address, *reply_envelope([b"ok"]))
        (address, body), = take(worker, 1)
        self.assertEqual(body[1], b"req-5")
        worker.final(address, *reply_envelope([b"ok"]))
        ids = sorted(client.recv()[3] for _ in range(5))
        self.assertEqual(ids, sorted(f"req-{i}".encode() for i in (0, 1, 3, 4, 5)))

    def test_partial_goes_to_the_tagged_job(self):
        worker = self.capacity_worker("cap", 2)
        wait_registered(self.endpoint, "cap")
        client = self.client()
        client.send("cap", *envelope_request("first"))
        client.send("cap", *envelope_request("second"))
        (first, _), (second, _) = take(worker, 2)
        worker.partial(second, *reply_envelope([b"part"]))
        reply = client.recv()
        self.assertEqual(reply[:4], [b"MDPC02", b"\x02", b"cap", b"second"])
        worker.final(second, b"rest")
        worker.final(first, *reply_envelope([b"one"]))
        replies = {tuple(client.recv()[1:4]) for _ in range(2)}
        self.assertEqual(replies, {(C02_FINAL, b"cap", b"second"), (C02_FINAL, b"cap", b"first")})

    def test_every_job_of_a_dead_worker_is_redispatched(self):
        # 3.6: "When such a worker dies (section 3.5), each of its jobs is handled as a dead
        # worker's job: re-queued at the head of the queue, oldest first, or answered
        # `worker_died`."
        doomed = self.capacity_worker("cap", 3)
        wait_registered(self.endpoint, "cap")
        client = self.client()
        for i in range(3):
            client.send("cap", *envelope_request(f"job-{i}"))
        take(doomed, 3)
        survivor = self.capacity_worker("cap", 3, handler=reply_envelope)
        doomed.vanish()  # no DISCONNECT: the broker finds out by heartbeat expiry
        replies = [client.recv(timeout=10) for _ in range(3)]
        self.assertNotIn(None, replies, "a job of the dead worker was never answered")
        self.assertEqual(sorted(reply[3] for reply in replies), [b"job-0", b"job-1", b"job-2"])
        self.assertTrue(all(reply[4] == b"SLREP/1" for reply in replies),
                        f"not answered by the survivor: {replies}")
        self.assertEqual(survivor.requests.qsize(), 3)

    def test_non_retryable_jobs_of_a_dead_worker_get_worker_died(self):
        doomed = self.capacity_worker("cap", 2)
        wait_registered(self.endpoint, "cap")
        client = self.client()
        client.send("cap", *envelope_request("post-1", method="POST", retry=False))
        client.send("cap", *envelope_request("post-2", method="POST", retry=False))
        take(doomed, 2)
        doomed.stop()  # DISCONNECT with both jobs in hand
        replies = [client.recv() for _ in range(2)]
        self.assertEqual(sorted(reply[3] for reply in replies), [b"post-1", b"post-2"])
        self.assertTrue(all(reply[4:6] == [b"SLERR/1", b"worker_died"] for reply in replies))

    def test_reply_with_an_unknown_tag_is_a_protocol_error(self):
        worker = self.capacity_worker("cap", 2)
        wait_registered(self.endpoint, "cap")
        client = self.client()
        client.send("cap", *envelope_request("one"))
        take(worker, 1)
        # RFC 18: "respond to any valid but unexpected command by sending DISCONNECT"
        worker.final(b"\x09\x00\x00\x00\x01\x00\x00\x00", b"forged")
        self.assertIsNotNone(worker.disconnects.get(timeout=5))

    def test_bad_capacity_frame_is_malformed_and_not_registered(self):
        for frame in (b"capacity=0", b"capacity=2000", b"capacity=two", b"slots=4"):
            worker = self.worker("bad", ready=False)
            worker.send("READY", b"bad", frame)
        time.sleep(0.3)
        self.assertEqual(mmi_service(self.endpoint, "bad"), b"404")

    def test_plain_workers_keep_the_client_address_and_mmi_is_unchanged(self):
        plain = self.capacity_worker("plain", None)
        wide = self.capacity_worker("wide", 8, handler=lambda body: [b"pong"])
        wait_registered(self.endpoint, "plain")
        wait_registered(self.endpoint, "wide")
        client = self.client()
        client.send("plain", b"ping")
        address, body = plain.next_request()
        self.assertEqual(body, [b"ping"])
        self.assertNotEqual(len(address), 0)
        plain.final(address, b"pong")
        self.assertEqual(client.recv(), [b"MDPC02", C02_FINAL, b"plain", b"pong"])
        # An opaque request to a capacity worker is answered untouched, no id frame.
        self.assertEqual(client.request("wide", b"ping"), [b"MDPC02", C02_FINAL, b"wide", b"pong"])
        self.assertEqual(client.request("mmi.service", b"wide"),
                         [b"MDPC02", C02_FINAL, b"mmi.service", b"200"])


class CapacityLibraryTest(unittest.TestCase):
    """slowlane-worker --capacity K: the library queues the K jobs and runs them in turn."""

    def setUp(self):
        self.broker = harness.start_broker()
        self.addCleanup(self.broker.stop)

    def start(self, handler, capacity):
        workers = harness.start_workers(self.broker.endpoint, "lib", handler, count=1,
                                        extra=("--capacity", str(capacity)))
        self.addCleanup(workers.stop)
        wait_for(lambda: harness.mmi_service_ready(self.broker.endpoint, "lib"),
                 what="worker registered")
        return workers

    def test_queued_jobs_run_one_at_a_time(self):
        self.start("builtin:sleep", 4)
        client = harness.MdpClient(self.broker.endpoint)
        self.addCleanup(client.close)
        started = time.monotonic()
        for i in range(4):
            client.send("lib", *envelope_request(f"sleep-{i}", query="ms=150"))
        replies = [client.recv(timeout_ms=5000) for _ in range(4)]
        elapsed = time.monotonic() - started
        self.assertNotIn(None, replies)
        self.assertEqual([reply[3] for reply in replies], [f"sleep-{i}".encode() for i in range(4)])
        self.assertTrue(all(reply[5] == b"200" for reply in replies))
        # One handler thread: the four sleeps follow each other, the queue only hides the
        # round trips between them.
        self.assertGreaterEqual(elapsed, 0.55)
        self.assertIn("capacity=4", self.broker.output())

    def test_inline_echo_with_capacity(self):
        self.start("builtin:echo", 16)
        client = harness.MdpClient(self.broker.endpoint)
        self.addCleanup(client.close)
        for i in range(200):
            client.send("lib", *envelope_request(f"echo-{i}", query=f"n={i}"))
        replies = [client.recv(timeout_ms=5000) for _ in range(200)]
        self.assertNotIn(None, replies)
        by_id = {reply[3]: reply for reply in replies}
        self.assertEqual(len(by_id), 200)
        for i in range(200):
            reply = by_id[f"echo-{i}".encode()]
            self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
            self.assertEqual(reply[7], f"n={i}\n".encode())
        # An opaque body from a plain MDP client comes back as it went.
        self.assertEqual(client.request("lib", b"raw")[3:], [b"raw"])


if __name__ == "__main__":
    harness.main()
