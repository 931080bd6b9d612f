"""Jobs survive kill -9 of every component (docs/jobs.md "Durability"). 1,000 jobs are accepted
(half GET, retryable; half POST, not retryable) and run by exec: workers that record every run.
While they are queued, running and done, slowlane-jobs, then the broker, then the gateway are
killed with SIGKILL and started again. Afterwards every accepted job is known and final, no
job that is not retryable ran twice, every retryable one is done, and every result is the
worker's reply byte for byte."""
import collections
import concurrent.futures
import os
import signal
import tempfile
import unittest

import gateway_support
import harness
import jobs_support

JOBS = 1000
WORKERS = 4


class JobsFaultsTest(unittest.TestCase):
    def setUp(self):
        self.runs = tempfile.NamedTemporaryFile(prefix="slowlane-jobs-runs-", delete=False).name
        self.addCleanup(os.unlink, self.runs)
        # Every run appends "i attempt-request-id"; the reply says which job it was.
        script = (f"echo \"$QUERY_STRING $HTTP_X_REQUEST_ID\" >> {self.runs}; sleep 0.02; "
                  "printf 'Content-Type: text/plain\\r\\n\\r\\n'; echo \"result $QUERY_STRING\"")
        self.broker_port = harness.free_port()
        self.broker = harness.start_broker(self.broker_port)
        self.workers = harness.start_workers(self.broker.endpoint, "work", "exec:" + script,
                                             count=WORKERS)
        self.routes = ["/work=work,async=always,async-timeout-ms=4000,attempts=5"]
        self.gateway = gateway_support.start_gateway(self.broker.endpoint, self.routes)
        self.directory = jobs_support.data_dir()
        self.jobs = jobs_support.start_jobs([self.broker.endpoint], self.directory)
        gateway_support.wait_ready(self.gateway.port)
        jobs_support.wait_reachable(self.gateway.port)

    def tearDown(self):
        for proc in [self.jobs, self.gateway, self.workers, self.broker]:
            proc.stop()

    def _runs(self):
        with open(self.runs) as file:
            return [line.split() for line in file if line.strip()]

    def _submit(self, i):
        method = "GET" if i % 2 == 0 else "POST"
        status, _, document = jobs_support.submit(self.gateway.port, method, f"/work?i={i}",
                                                  body=None if method == "GET" else b"x")
        self.assertEqual(status, 202, document)
        return i, document["id"]

    def _restart_gateway(self):
        self.gateway.stop(signal.SIGKILL)
        self.gateway = gateway_support.start_gateway(self.broker.endpoint, self.routes,
                                                     port=self.gateway.port)

    def test_kill_9_of_jobs_broker_and_gateway_loses_nothing(self):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            accepted = dict(pool.map(self._submit, range(JOBS)))
        self.assertEqual(len(accepted), JOBS)
        runs = lambda: len(self._runs())
        # Some done, some running, most queued: the store's owner dies.
        harness.wait_for(lambda: runs() >= 100, timeout=30, what="100 runs")
        self.jobs.stop(signal.SIGKILL)
        self.jobs = jobs_support.start_jobs([self.broker.endpoint], self.directory)
        # Then the broker, with attempts queued in it and running on the workers.
        harness.wait_for(lambda: runs() >= 300, timeout=30, what="300 runs")
        self.broker.stop(signal.SIGKILL)
        self.broker = harness.start_broker(self.broker_port)
        # Then the gateway: it holds no job, and a new one answers for all of them.
        harness.wait_for(lambda: runs() >= 500, timeout=30, what="500 runs")
        self._restart_gateway()
        jobs_support.wait_reachable(self.gateway.port)

        final = {}

        def all_final():
            for i, job_id in accepted.items():
                if i in final:
                    continue
                status, document = jobs_support.job(self.gateway.port, job_id)
                self.assertEqual(status, 200, f"job {i} ({job_id}) unknown after the kills")
                if document["status"] not in jobs_support.FINAL_STATES:
                    return False
                final[i] = document
            return True

        harness.wait_for(all_final, timeout=90, interval=0.2, what="every job final")
        ran = collections.Counter(int(fields[0].split("=")[1]) for fields in self._runs())
        states = collections.Counter(document["status"] for document in final.values())
        print(f"states: {dict(states)}; runs: {sum(ran.values())} for {JOBS} jobs")
        for i, document in final.items():
            retryable = i % 2 == 0
            self.assertEqual(document["retryable"], retryable)
            if not retryable:
                self.assertLessEqual(ran[i], 1, f"job {i} is not retryable and ran {ran[i]} times")
            if retryable:
                self.assertEqual(document["status"], "done", f"job {i}: {document}")
            if document["status"] == "done":
                status, _, body = jobs_support.result(self.gateway.port, accepted[i])
                self.assertEqual((status, body), (200, f"result i={i}\n".encode()))
            else:
                self.assertEqual(document["status"], "failed", f"job {i}: {document}")
                self.assertIn(document["error"], ("broker_lost", "reply_lost", "timeout", "worker_died"))
        self.assertGreater(states["done"], JOBS // 2)


def broker_log_replies(broker):
    """Replies of service "later" the broker forwarded (at debug level it logs each)."""
    return sum(1 for line in broker.output().splitlines()
               if "event=request_completed" in line and "service=later " in line)


class JobsRecoveryTest(unittest.TestCase):
    """Attempts out when slowlane-jobs died whose replies went to the dead process. The new
    process asks the broker (mmi.request, protocol.md 2.6), learns they will never be
    answered, and ends them at once: the retryable one runs again, the other fails with
    reply_lost (it may have run). Before, they waited for their deadline (async-timeout-ms)
    and held their service's slots meanwhile, so every other job of it waited too."""

    def test_replies_lost_with_a_killed_process_end_at_once(self):
        broker = harness.start_broker(extra=["--log-level", "debug"])
        self.addCleanup(broker.stop)
        workers = harness.start_workers(broker.endpoint, "later", "builtin:sleep")
        self.addCleanup(workers.stop)
        gateway = gateway_support.start_gateway(
            broker.endpoint, ["/later=later,async=always,async-timeout-ms=120000"])
        self.addCleanup(gateway.stop)
        directory = jobs_support.data_dir()
        extra = ["--max-in-flight", "2"]
        jobs = jobs_support.start_jobs([broker.endpoint], directory, extra=extra)
        jobs_support.wait_reachable(gateway.port)
        ids = [jobs_support.submit(gateway.port, method, "/later?ms=200",
                                   body=b"x" if method == "POST" else None)[2]["id"]
               for method in ["GET", "POST"] + ["GET"] * 6]
        harness.wait_for(lambda: jobs.output().count("job_dispatched") >= 2,
                         what="two attempts out")
        out = {line.split("rid=")[1].split()[0] for line in jobs.output().splitlines()
               if "event=job_dispatched" in line}
        self.assertEqual(out, set(ids[:2]))
        # Stopped, the process cannot read the two replies; killed, it never will.
        jobs.signal(signal.SIGSTOP)
        harness.wait_for(lambda: broker_log_replies(broker) >= 2, timeout=10,
                         what="the broker answering both attempts")
        jobs.stop(signal.SIGKILL)
        jobs = jobs_support.start_jobs([broker.endpoint], directory, extra=extra)
        self.addCleanup(jobs.stop)
        harness.wait_for(lambda: "jobs_recovered attempts_out=2" in jobs.output(),
                         what="the two attempts taken up again")
        # Well within the 120 s deadline of the two whose replies were lost.
        retried = jobs_support.wait_state(gateway.port, ids[0], timeout=30)
        self.assertEqual((retried["status"], retried["attempts"]), ("done", 2), retried)
        lost = jobs_support.wait_state(gateway.port, ids[1], timeout=30)
        self.assertEqual((lost["status"], lost["error"]), ("failed", "reply_lost"), lost)
        for job_id in ids[2:]:
            document = jobs_support.wait_state(gateway.port, job_id, timeout=30)
            self.assertEqual(document["status"], "done", document)


if __name__ == "__main__":
    harness.main()
