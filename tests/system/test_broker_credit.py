"""Workers of several brokers, the broker's side (docs/protocol.md section 3.7): the limit a
READY's credit frame or a CREDIT sets, HANDBACK (back to the head of the queue, not counted
as a delivery, counted in mmi.stats), DEMAND 1 once when work waits that a paused worker
could take, DEMAND 0 when the broker holds unused limit and nothing waits, and DISCONNECT
for each violation. Raw MDP/0.2 peers from broker_support talk to a real slowlane-broker;
plain workers alongside show that nothing changes for them."""
import json
import os
import queue
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import envelope_request, wait_for  # noqa: E402
from broker_support import (C02_FINAL, BrokerTest, RawClient, RawWorker,  # noqa: E402
                            error_code, reply_envelope, wait_registered)


class CreditWorker(RawWorker):
    """A raw MDP/0.2 worker of several brokers: READY with `capacity=K` (left out for 1)
    and `credit=N`."""

    def __init__(self, endpoint, service, capacity, credit, **kwargs):
        super().__init__(endpoint, service, ready=False, **kwargs)
        extra = [] if capacity == 1 else [f"capacity={capacity}".encode()]
        self.send("READY", service.encode(), *extra, f"credit={credit}".encode())

    def credit(self, limit):
        self.send("CREDIT", str(limit).encode())

    def handback(self, address):
        self.send("HANDBACK", address, b"")


def take(worker, count, timeout=5.0):
    """The next count REQUESTs of worker as (address, body) pairs; fails if they do not come."""
    got = []
    for _ in range(count):
        request = worker.next_request(timeout)
        if request is None:
            raise AssertionError(f"only {len(got)} of {count} requests reached the worker")
        got.append(request)
    return got


def drained(q):
    """Everything queued in q now, without waiting."""
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


class CreditTestBase(BrokerTest):
    """Helpers: credit workers and the broker's mmi.stats."""

    def credit_worker(self, service, capacity, credit, **kwargs):
        worker = CreditWorker(self.endpoint, service, capacity, credit, **kwargs)
        self.peers.append(worker)
        return worker

    def stats(self):
        client = RawClient(self.endpoint)
        try:
            reply = client.request("mmi.stats", timeout=2.0)
            return json.loads(reply[-1]) if reply else None
        finally:
            client.close()

    def service_stats(self, name):
        """The services[] entry of name, or None while the broker has not seen it."""
        stats = self.stats()
        return next((s for s in stats["services"] if s["name"] == name), None) if stats else None

    def wait_queued(self, service, count):
        wait_for(lambda: (self.service_stats(service) or {}).get("queued") == count,
                 what=f"{count} requests queued for {service}")


class CreditTest(CreditTestBase):
    def test_credit_zero_gets_demand_once_then_credit_gets_the_job_at_once(self):
        worker = self.credit_worker("svc", 1, 0)
        wait_registered(self.endpoint, "svc")
        client = self.client()
        client.send("svc", *envelope_request("first"))
        # "A broker sends DEMAND 1 to a worker that spoke this section ... when it has a
        # request of the worker's service waiting that no worker can take now, and that
        # worker's limit at this broker is below its capacity"
        self.assertEqual(worker.demands.get(timeout=5), b"1")
        # "It dispatches to the worker only while its jobs in flight there are fewer than
        # the limit."
        self.assertIsNone(worker.next_request(timeout=0.3), "a job despite credit=0")
        client.send("svc", *envelope_request("second"))
        self.wait_queued("svc", 2)
        # "A CREDIT replaces it": the waiting job goes out at once. Anything the broker sent
        # for the second request travels ahead of this REQUEST on the same connection.
        worker.credit(1)
        (address, body), = take(worker, 1)
        self.assertEqual(body[1], b"first")
        # "at most once until it sends DEMAND 0"
        self.assertEqual(drained(worker.demands), [], "a second DEMAND 1 for a second request")
        # "A FINAL does not change the limit": the next waiting job follows.
        worker.final(address, *reply_envelope([b"one"]))
        (address, body), = take(worker, 1)
        self.assertEqual(body[1], b"second")
        worker.final(address, *reply_envelope([b"two"]))
        self.assertEqual(sorted(client.recv()[3] for _ in range(2)), [b"first", b"second"])
        # "It sends DEMAND 0 when it holds unused limit at that worker (jobs in flight below
        # the limit) and nothing of the service is waiting"
        self.assertEqual(worker.demands.get(timeout=5), b"0")

    def test_credit_raise_with_nothing_waiting_answers_demand_0(self):
        plain = self.worker("svc")
        wait_registered(self.endpoint, "svc")
        client = self.client()
        client.send("svc", *envelope_request("held"))
        (held, _), = take(plain, 1)
        paused = self.credit_worker("svc", 1, 0)
        wait_for(lambda: self.service_stats("svc")["workers"] == 2, what="two workers")
        client.send("svc", *envelope_request("waits"))
        self.assertEqual(paused.demands.get(timeout=5), b"1")
        # The plain worker frees and takes the waiting job: nothing waits any more, but the
        # paused worker holds no unused limit, so it is told nothing yet.
        plain.final(held, *reply_envelope([b"ok"]))
        (address, body), = take(plain, 1)
        self.assertEqual(body[1], b"waits")
        # Its slot comes to this broker, which has no use for it now: DEMAND 0 at once.
        paused.credit(1)
        self.assertEqual(paused.demands.get(timeout=5), b"0")
        self.assertIsNone(paused.next_request(timeout=0.2))
        plain.final(address, *reply_envelope([b"ok"]))
        self.assertEqual(len([client.recv(), client.recv()]), 2)
        # The plain worker never hears of DEMAND (rule 6 of issue 18).
        self.assertEqual(drained(plain.demands), [])

    def test_capacity_4_credit_2_holds_at_most_2(self):
        worker = self.credit_worker("cap", 4, 2)
        wait_registered(self.endpoint, "cap")
        client = self.client()
        for i in range(6):
            client.send("cap", *envelope_request(f"req-{i}"))
        jobs = take(worker, 2)
        self.assertIsNone(worker.next_request(timeout=0.3), "a third job despite credit=2")
        self.assertEqual(worker.demands.get(timeout=5), b"1")
        # A FINAL frees one of the broker's jobs: exactly one more comes.
        worker.final(jobs[0][0], *reply_envelope([b"ok"]))
        jobs = jobs[1:] + take(worker, 1)
        self.assertIsNone(worker.next_request(timeout=0.3), "a third job in flight")
        # A lower limit holds back the next job even after a FINAL.
        worker.credit(1)
        worker.final(jobs[0][0], *reply_envelope([b"ok"]))
        self.assertIsNone(worker.next_request(timeout=0.3), "a job over the lowered limit")
        # A raise to its capacity lets the waiting jobs out at once, up to four in flight.
        worker.credit(4)
        jobs = jobs[1:] + take(worker, 3)
        self.assertEqual(sorted(body[1] for _, body in jobs),
                         [b"req-2", b"req-3", b"req-4", b"req-5"])
        self.assertEqual(self.service_stats("cap")["queued"], 0)

    def test_credit_violations_disconnect(self):
        wide = self.credit_worker("cap", 2, 1)
        plain = self.worker("cap")
        wait_for(lambda: (self.service_stats("cap") or {}).get("workers") == 2, what="two workers")
        # "a limit above the worker's capacity is a protocol violation (DISCONNECT)"
        wide.credit(3)
        wide.disconnects.get(timeout=5)
        # A plain worker (no credit frame in its READY) has no limit to change.
        plain.send("CREDIT", b"1")
        plain.disconnects.get(timeout=5)
        wait_for(lambda: self.service_stats("cap")["exits"]["protocol_error"] == 2,
                 what="two protocol errors counted")

    def test_handback_of_unknown_job_disconnects(self):
        single = self.credit_worker("one", 1, 1)
        wide = self.credit_worker("two", 2, 2)
        wait_registered(self.endpoint, "one")
        wait_registered(self.endpoint, "two")
        client = self.client()
        client.send("two", *envelope_request("wide"))
        (address, _), = take(wide, 1)
        # "A HANDBACK whose address is not a job in flight at that worker is a protocol
        # violation."
        wide.handback(bytes([address[0] ^ 0xFF]) + address[1:])
        wide.disconnects.get(timeout=5)
        single.handback(b"nobody")  # holds no job at all
        single.disconnects.get(timeout=5)
        for name in ("one", "two"):
            wait_for(lambda: self.service_stats(name)["exits"]["protocol_error"] == 1,
                     what=f"a protocol error counted for {name}")
        self.assertEqual(self.service_stats("two")["handbacks"], 0)


class HandbackTest(CreditTestBase):
    """With --max-deliveries 2 a job has one spare delivery: after a hand-back and one real
    delivery to a worker that is then replaced, it is delivered again only if the hand-back
    did not count (else the client would get worker_died)."""
    broker_args = ("--max-deliveries", "2")

    def test_handback_goes_to_the_head_and_counts_no_delivery(self):
        plain = self.worker("svc", identity=b"plain-1")
        wait_registered(self.endpoint, "svc")
        client = self.client()
        client.send("svc", *envelope_request("r0"))
        (held, _), = take(plain, 1)
        racer = self.credit_worker("svc", 1, 1)
        wait_for(lambda: self.service_stats("svc")["idle"] == 1, what="the credit worker idle")
        client.send("svc", *envelope_request("r1"))
        (r1_address, body), = take(racer, 1)
        self.assertEqual(body[1], b"r1")
        client.send("svc", *envelope_request("r2"))
        client.send("svc", *envelope_request("r3"))
        self.wait_queued("svc", 2)
        # "The broker puts the job back at the head of its service's queue"
        racer.handback(r1_address)
        self.wait_queued("svc", 3)
        plain.final(held, *reply_envelope([b"r0"]))
        (address, body), = take(plain, 1)
        self.assertEqual(body[1], b"r1", "the handed-back job did not go first")
        # "and treats the worker as sending nothing more until its next CREDIT"
        self.assertIsNone(racer.next_request(timeout=0.3), "a job after a HANDBACK")
        stats = self.service_stats("svc")
        self.assertEqual(stats["handbacks"], 1)
        self.assertEqual(stats["requeues"], 0)
        # The plain worker's process is replaced with r1 in hand (protocol.md 3.3): with
        # --max-deliveries 2, r1 is delivered again only if the hand-back did not count.
        successor = self.worker("svc", identity=b"plain-1")
        (address, body), = take(successor, 1)
        self.assertEqual(body[1], b"r1", "the hand-back was counted as a delivery")
        successor.final(address, *reply_envelope([b"r1"]))
        replies = [client.recv() for _ in range(2)]
        self.assertEqual(sorted(r[3] for r in replies), [b"r0", b"r1"])
        self.assertTrue(all(r[1] == C02_FINAL and error_code(r) is None for r in replies))
        # Exactly one reply for r1: the next one is r2's, not a second r1.
        (address, body), = take(successor, 1)
        self.assertEqual(body[1], b"r2")
        successor.final(address, *reply_envelope([b"r2"]))
        self.assertEqual(client.recv()[3], b"r2")
        self.assertEqual(self.service_stats("svc")["replies"], 3)


if __name__ == "__main__":
    unittest.main()
