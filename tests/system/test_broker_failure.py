"""slowlane-broker, worker failure: silent workers (idle or busy) expire within
heartbeat x liveness, a dead worker's retryable job goes to another worker, a non-retryable
or streamed one is answered worker_died, identity takeover fails a job over at once, and
max-deliveries is respected."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import envelope_request, wait_for  # noqa: E402
from broker_support import BrokerTest, error_code, mmi_service, wait_registered  # noqa: E402

EXPIRY = harness.HEARTBEAT_MS * harness.LIVENESS / 1000  # seconds of silence that kill
SLACK = 0.35  # polling and scheduling on a loaded test machine


class OwnStallTest(BrokerTest):
    def test_a_stopped_broker_does_not_expire_workers_whose_heartbeats_wait_in_its_socket(self):
        # A raw worker heartbeats on and never gives up on the broker (it checks no liveness).
        worker = self.worker("steady")
        wait_registered(self.endpoint, "steady")
        self.broker.signal(signal.SIGSTOP)
        # The stall is the fault under test: three expiry windows long, nothing to wait on.
        time.sleep(EXPIRY * 3)
        self.broker.signal(signal.SIGCONT)
        wait_for(lambda: "event=broker_stalled" in self.broker.output(), what="the stall logged")
        self.assertEqual(mmi_service(self.endpoint, "steady"), b"200")
        output = self.broker.output()
        self.assertNotIn("reason=expired", output)
        self.assertEqual(output.count("event=worker_ready"), 1, output)
        self.assertTrue(worker.disconnects.empty(), "the worker was told DISCONNECT")
        # It still expires a worker that really went silent, after the stall.
        worker.silence()
        wait_registered(self.endpoint, "steady", present=False)


class ExpiryTest(BrokerTest):
    def test_idle_worker_that_stops_heartbeating_expires(self):
        worker = self.worker("idle")
        wait_registered(self.endpoint, "idle")
        worker.silence()
        silent_since = time.monotonic()
        wait_registered(self.endpoint, "idle", present=False)
        elapsed = time.monotonic() - silent_since
        # Last heartbeat was at most one interval before silence_since.
        self.assertLess(elapsed, EXPIRY + SLACK)
        self.assertGreater(elapsed, EXPIRY - harness.HEARTBEAT_MS / 1000 - 0.05)

    def test_busy_worker_that_stops_heartbeating_expires(self):
        worker = self.worker("busy")
        wait_registered(self.endpoint, "busy")
        client = self.client()
        client.send("busy", *envelope_request("job", retry=False, timeout_ms=10000))
        self.assertIsNotNone(worker.next_request())
        worker.silence()
        silent_since = time.monotonic()
        reply = client.recv(timeout=5)
        elapsed = time.monotonic() - silent_since
        self.assertEqual(error_code(reply), "worker_died", reply)
        self.assertEqual(reply[3], b"job")
        self.assertLess(elapsed, EXPIRY + SLACK)
        self.assertEqual(mmi_service(self.endpoint, "busy"), b"404")

    def test_busy_silent_worker_job_goes_to_another_worker(self):
        hung = self.worker("svc")
        wait_registered(self.endpoint, "svc")
        client = self.client()
        client.send("svc", *envelope_request("moved", retry=True, timeout_ms=10000))
        self.assertIsNotNone(hung.next_request())
        healthy = self.worker("svc", handler=lambda body: [b"SLREP/1", b"200", b"", b"ok"])
        wait_for(lambda: healthy.heartbeats_seen > 0, what="healthy worker registered")
        hung.silence()
        reply = client.recv(timeout=5)
        self.assertEqual(reply[3:], [b"moved", b"SLREP/1", b"200", b"", b"ok"])
        address, body = healthy.next_request(timeout=0)
        self.assertEqual(body[1], b"moved")


class DeadWorkerJobTest(BrokerTest):
    def test_vanished_worker_retryable_job_is_redispatched(self):
        first = self.worker("r", identity=b"host/1/0")
        wait_registered(self.endpoint, "r")
        client = self.client()
        client.send("r", *envelope_request("again", retry=True, timeout_ms=10000))
        self.assertIsNotNone(first.next_request())
        second = self.worker("r", identity=b"host/1/1", handler=lambda body: [b"second"])
        wait_for(lambda: second.heartbeats_seen > 0, what="second worker registered")
        first.vanish()
        reply = client.recv(timeout=5)
        self.assertEqual(reply[3:], [b"again", b"second"])

    def test_vanished_worker_non_retryable_job_gets_worker_died(self):
        first = self.worker("n")
        wait_registered(self.endpoint, "n")
        client = self.client()
        client.send("n", *envelope_request("once", retry=False, timeout_ms=10000))
        self.assertIsNotNone(first.next_request())
        second = self.worker("n")
        wait_for(lambda: second.heartbeats_seen > 0, what="second worker registered")
        first.vanish()
        reply = client.recv(timeout=5)
        self.assertEqual(error_code(reply), "worker_died", reply)
        self.assertEqual(reply[3], b"once")
        self.assertIsNone(second.next_request(timeout=0.2))

    def test_streamed_job_is_not_redispatched(self):
        first = self.worker("s")
        wait_registered(self.endpoint, "s")
        client = self.client()
        client.send("s", *envelope_request("stream", retry=True, timeout_ms=10000))
        address, body = first.next_request()
        first.partial(address, b"SLREP/1", b"200", b"", b"half")
        self.assertEqual(client.recv()[-1], b"half")
        second = self.worker("s")
        wait_for(lambda: second.heartbeats_seen > 0, what="second worker registered")
        first.send("DISCONNECT")
        first.silence()
        reply = client.recv(timeout=5)
        self.assertEqual(error_code(reply), "worker_died", reply)
        self.assertIsNone(second.next_request(timeout=0.2))


class TakeoverTest(BrokerTest):
    # 1 s expiry, so a failover "at once" is clearly not a heartbeat expiry.
    broker_args = ("--liveness", "10")

    def test_identity_takeover_redispatches_at_once(self):
        old = self.worker("t", identity=b"host/42/0")
        wait_registered(self.endpoint, "t")
        client = self.client()
        client.send("t", *envelope_request("take", retry=True, timeout_ms=10000))
        self.assertIsNotNone(old.next_request())
        # The old process hangs with its connection still open; its replacement connects
        # under the same identity (ZMQ_ROUTER_HANDOVER gives it the routing id).
        old.silence()
        started = time.monotonic()
        new = self.worker("t", identity=b"host/42/0")
        got = new.next_request(timeout=5)
        elapsed = time.monotonic() - started
        self.assertIsNotNone(got, "the job was not re-dispatched to the replacement")
        self.assertEqual(got[1][1], b"take")
        # Well before heartbeat expiry (1 s here).
        self.assertLess(elapsed, 0.3)
        new.final(got[0], b"done")
        self.assertEqual(client.recv()[3:], [b"take", b"done"])

    def test_takeover_of_non_retryable_job_answers_worker_died_at_once(self):
        old = self.worker("u", identity=b"host/43/0")
        wait_registered(self.endpoint, "u")
        client = self.client()
        client.send("u", *envelope_request("nr", retry=False, timeout_ms=10000))
        self.assertIsNotNone(old.next_request())
        old.vanish()
        started = time.monotonic()
        new = self.worker("u", identity=b"host/43/0")
        reply = client.recv(timeout=5)
        self.assertLess(time.monotonic() - started, 0.3)
        self.assertEqual(error_code(reply), "worker_died", reply)
        self.assertIsNone(new.next_request(timeout=0.2))


class MaxDeliveriesTest(BrokerTest):
    broker_args = ("--max-deliveries", "2")

    def _die(self, worker):
        """Dies with the job: silent from now on, expired after heartbeat x liveness."""
        worker.silence()

    def test_job_is_delivered_at_most_max_deliveries_times(self):
        client = self.client()
        first = self.worker("m")
        wait_registered(self.endpoint, "m")
        client.send("m", *envelope_request("md", retry=True, timeout_ms=10000))
        self.assertIsNotNone(first.next_request())
        second = self.worker("m")
        wait_for(lambda: second.heartbeats_seen > 0, what="second worker registered")
        self._die(first)
        got = second.next_request()
        self.assertIsNotNone(got, "second delivery expected")
        self.assertEqual(got[1][1], b"md")
        third = self.worker("m")
        wait_for(lambda: third.heartbeats_seen > 0, what="third worker registered")
        self._die(second)
        reply = client.recv(timeout=5)
        self.assertEqual(error_code(reply), "worker_died", reply)
        self.assertIsNone(third.next_request(timeout=0.2), "a third delivery happened")

    def test_a_job_held_at_disconnect_does_not_use_up_a_delivery(self):
        """docs/protocol.md 3.5: a worker finishes what it started before DISCONNECT, so a job
        it still holds then never started. Two such drains in a row with max-deliveries 2
        must still reach a third worker instead of answering worker_died."""
        client = self.client()
        workers = [self.worker("d")]
        wait_registered(self.endpoint, "d")
        client.send("d", *envelope_request("dd", retry=True, timeout_ms=10000))
        for round_ in range(2):
            self.assertIsNotNone(workers[-1].next_request(), f"delivery {round_ + 1}")
            workers.append(self.worker("d"))
            wait_for(lambda: workers[-1].heartbeats_seen > 0, what="next worker registered")
            workers[-2].send("DISCONNECT")
            workers[-2].silence()
        got = workers[-1].next_request()
        self.assertIsNotNone(got, "a third delivery was expected: drains must not count")
        self.assertEqual(got[1][1], b"dd")
        workers[-1].final(got[0], b"SLREP/1", b"200", b"", b"done")
        reply = client.recv(timeout=5)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[-1], b"done")


if __name__ == "__main__":
    harness.main()
