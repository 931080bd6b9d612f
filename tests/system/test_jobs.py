"""Jobs that outlive the connection (docs/jobs.md), end to end through the real binaries: a
broker, a gateway, workers and slowlane-jobs. A request with Prefer: respond-async is answered
202 with a Location; GET /jobs/ID follows it; GET /jobs/ID/result returns the worker's reply
byte for byte as a synchronous caller gets it; DELETE cancels a queued job before it starts.
Routes choose: async=always makes every request a job, async=off ignores the preference.
A client cannot forge the fields that make a job. A store that is not ours, or corrupt, or
on a read-only file system stops start-up with one line; a full one answers 503 and keeps
every job it had accepted."""
import json
import os
import socket
import subprocess
import tempfile
import unittest

import gateway_support
import harness
import jobs_support

CGI_ENV = "printf 'Content-Type: text/plain\\r\\n\\r\\n'; env"
TOKEN = "jobs-test-admin-token-0123456789"


class JobsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = harness.start_broker()
        cls.workers = [
            harness.start_workers(cls.broker.endpoint, "echo", "builtin:echo"),
            harness.start_workers(cls.broker.endpoint, "slow", "builtin:sleep",
                                  extra=("--log-level", "debug")),
            harness.start_workers(cls.broker.endpoint, "stream", "builtin:stream"),
            harness.start_workers(cls.broker.endpoint, "env", "exec:" + CGI_ENV),
        ]
        cls.gateway = gateway_support.start_gateway(
            cls.broker.endpoint,
            ["/echo=echo", "/slow=slow", "/stream=stream", "/env=env",
             "/always=echo,async=always", "/never=echo,async=off", "/short=echo,result-ttl-s=1"],
            extra=["--admin-token", TOKEN])
        cls.directory = jobs_support.data_dir()
        # One attempt out per service: a second job waits in the store, where DELETE can
        # still stop it before it starts.
        cls.jobs = jobs_support.start_jobs([cls.broker.endpoint], cls.directory,
                                           extra=["--max-in-flight", "1"])
        gateway_support.wait_ready(cls.gateway.port)
        jobs_support.wait_reachable(cls.gateway.port)
        cls.port = cls.gateway.port

    @classmethod
    def tearDownClass(cls):
        for proc in [cls.jobs, cls.gateway, *cls.workers, cls.broker]:
            proc.stop()

    def test_result_is_the_synchronous_reply_byte_for_byte(self):
        body = bytes(range(256)) * 64 + b"\r\n\x00end"
        status, headers, document = jobs_support.submit(self.port, "POST", "/echo/x?a=1&b=%20",
                                                        body=body)
        self.assertEqual(status, 202)
        self.assertEqual(headers["location"], f"/jobs/{document['id']}")
        self.assertEqual(headers["preference-applied"], "respond-async")
        self.assertIn(document["status"], ("queued", "running"))
        self.assertEqual(document["links"]["result"], f"/jobs/{document['id']}/result")
        done = jobs_support.wait_state(self.port, document["id"])
        self.assertEqual(done["status"], "done")
        self.assertEqual(done["attempts"], 1)
        sync_status, sync_headers, sync_body = harness.http_request(
            self.port, "POST", "/echo/x?a=1&b=%20", body=body)
        job_status, job_headers, job_body = jobs_support.result(self.port, document["id"])
        self.assertEqual((job_status, job_body), (sync_status, sync_body))
        self.assertEqual(job_headers["content-type"], sync_headers["content-type"])
        self.assertEqual(done["result"], {"status": 200, "bytes": len(sync_body)})

    def test_large_result_streams_from_the_store(self):
        body = os.urandom(3 * 1024 * 1024 + 17)
        status, _, document = jobs_support.submit(self.port, "PUT", "/echo/big", body=body)
        self.assertEqual(status, 202)
        self.assertEqual(jobs_support.wait_state(self.port, document["id"])["status"], "done")
        job_status, job_headers, job_body = jobs_support.result(self.port, document["id"])
        self.assertEqual(job_status, 200)
        self.assertEqual(job_body, b"\n" + body)
        # Read from the store in pieces, sent as a stream: no whole copy in memory.
        self.assertEqual(job_headers.get("transfer-encoding"), "chunked")

    def test_streamed_reply_is_kept_whole(self):
        status, _, document = jobs_support.submit(self.port, "GET", "/stream?n=40&ms=1")
        self.assertEqual(status, 202)
        self.assertEqual(jobs_support.wait_state(self.port, document["id"])["status"], "done")
        _, _, job_body = jobs_support.result(self.port, document["id"])
        _, _, sync_body = harness.http_request(self.port, "GET", "/stream?n=40&ms=1")
        self.assertEqual(job_body, sync_body)
        self.assertEqual(job_body.count(b"chunk "), 40)

    def test_unknown_running_done_deleted(self):
        status, document = jobs_support.job(self.port, "0123456789abcdef0123456789abcdef")
        self.assertEqual((status, document["error"]), (404, "unknown_job"))
        status, _, _ = harness.http_request(self.port, "GET", "/jobs/bad%20id")
        self.assertEqual(status, 404)
        status, _, document = jobs_support.submit(self.port, "GET", "/slow?ms=400")
        job_id = document["id"]
        running = jobs_support.wait_state(self.port, job_id, ("running",))
        self.assertIsNotNone(running["started_at"])
        status, headers, data = jobs_support.result(self.port, job_id)
        self.assertEqual(status, 409)
        self.assertEqual(json.loads(data)["status"], "running")
        done = jobs_support.wait_state(self.port, job_id)
        self.assertEqual(done["status"], "done")
        self.assertEqual(jobs_support.result(self.port, job_id)[2], b"slept 400 ms\n")
        status, _, _ = harness.http_request(self.port, "DELETE", f"/jobs/{job_id}")
        self.assertEqual(status, 204)
        self.assertEqual(jobs_support.job(self.port, job_id)[0], 404)
        status, _, _ = harness.http_request(self.port, "POST", f"/jobs/{job_id}")
        self.assertEqual(status, 405)

    def test_cancel_a_queued_job_it_never_starts(self):
        _, _, first = jobs_support.submit(self.port, "GET", "/slow?ms=600")
        jobs_support.wait_state(self.port, first["id"], ("running",))
        _, _, second = jobs_support.submit(self.port, "GET", "/slow?ms=1")
        self.assertEqual(jobs_support.job(self.port, second["id"])[1]["status"], "queued")
        status, _, data = harness.http_request(self.port, "DELETE", f"/jobs/{second['id']}")
        self.assertEqual((status, json.loads(data)["status"]), (200, "cancelled"))
        self.assertEqual(jobs_support.wait_state(self.port, first["id"])["status"], "done")
        # The first job's end freed the slot; the cancelled one stays as it was.
        third_status, _, third = jobs_support.submit(self.port, "GET", "/slow?ms=1")
        self.assertEqual(jobs_support.wait_state(self.port, third["id"])["status"], "done")
        cancelled = jobs_support.job(self.port, second["id"])[1]
        self.assertEqual((cancelled["status"], cancelled["attempts"]), ("cancelled", 0))
        self.assertNotIn(f"rid={second['id']} attempt=", self.jobs.output())
        self.assertEqual(jobs_support.result(self.port, second["id"])[0], 409)

    def test_status_names_the_worker_and_its_progress(self):
        _, _, document = jobs_support.submit(self.port, "GET", "/slow?ms=2500")
        job_id = document["id"]
        self.assertIsNone(document.get("worker"))
        # builtin:sleep notes "slept X of Y ms" each second (protocol.md 4.6): seen while
        # it runs, with the worker (the supervisor's identity host/pid/slot) that runs it.
        seen = harness.wait_for(
            lambda: (lambda d: d if d.get("progress", "").startswith("slept 1") else None)(
                jobs_support.job(self.port, job_id)[1]), what="a progress note")
        self.assertEqual(seen["status"], "running")
        self.assertRegex(seen["progress"], r"^slept 1\d{3} of 2500 ms$")
        self.assertEqual(seen["worker"], f"{socket.gethostname()}/{self.workers[1].pid}/0")
        done = jobs_support.wait_state(self.port, job_id)
        self.assertEqual((done["status"], done["worker"]), ("done", seen["worker"]))
        # The notes never reach the result: it is the reply a synchronous caller gets.
        self.assertEqual(jobs_support.result(self.port, job_id)[2], b"slept 2500 ms\n")
        # The handler saw the job's id, as a synchronous request never does.
        _, _, env_job = jobs_support.submit(self.port, "GET", "/env")
        jobs_support.wait_state(self.port, env_job["id"])
        self.assertIn(f"HTTP_SLOWLANE_JOB_RUN={env_job['id']}".encode(),
                      jobs_support.result(self.port, env_job["id"])[2])
        self.assertNotIn(b"SLOWLANE_JOB", harness.http_request(self.port, "GET", "/env")[2])

    def test_cancel_a_running_job_its_worker_is_told_and_stops(self):
        _, _, document = jobs_support.submit(self.port, "GET", "/slow?ms=60000")
        job_id = document["id"]
        slow = self.workers[1]
        # At the worker, not only handed to the broker: the CANCEL path (protocol.md 3.8)
        harness.wait_for(lambda: f"event=job_started rid={job_id}.1" in slow.output(),
                         what="the worker to start the job")
        status, _, data = harness.http_request(self.port, "DELETE", f"/jobs/{job_id}")
        self.assertEqual((status, json.loads(data)["status"]), (202, "running"))
        self.assertTrue(json.loads(data)["cancel_requested"])
        cancelled = jobs_support.wait_state(self.port, job_id)
        self.assertEqual(cancelled["status"], "cancelled")
        self.assertEqual(jobs_support.result(self.port, job_id)[0], 409)
        harness.wait_for(lambda: "event=job_cancelled" in slow.output() and "started=true"
                         in slow.output(), what="the worker to be told")
        # The one slow worker is free long before the 60 s job would have ended.
        status, _, body = harness.http_request(self.port, "GET", "/slow?ms=10", timeout=10)
        self.assertEqual((status, body), (200, b"slept 10 ms\n"))

    def test_routes_choose_always_or_off(self):
        status, headers, document = harness.http_request(self.port, "GET", "/always?x=1")
        self.assertEqual(status, 202)
        job_id = json.loads(document)["id"]
        self.assertEqual(jobs_support.wait_state(self.port, job_id)["status"], "done")
        self.assertEqual(jobs_support.result(self.port, job_id)[2], b"x=1\n")
        status, headers, body = harness.http_request(self.port, "GET", "/never?y=2",
                                                     headers={"Prefer": "respond-async"})
        self.assertEqual((status, body), (200, b"y=2\n"))
        self.assertNotIn("preference-applied", headers)
        # RFC 7240: the preference among others, any case, with parameters.
        status, _, _ = harness.http_request(
            self.port, "GET", "/echo", headers={"Prefer": "handling=lenient, Respond-Async; x=1"})
        self.assertEqual(status, 202)
        status, _, _ = harness.http_request(
            self.port, "GET", "/echo", headers={"Prefer": "respond-asyncx, wait=5"})
        self.assertEqual(status, 200)

    def test_result_expires_after_its_time_to_live(self):
        _, _, document = jobs_support.submit(self.port, "GET", "/short?z=3")
        done = jobs_support.wait_state(self.port, document["id"])
        self.assertEqual(done["status"], "done")
        self.assertIsNotNone(done["expires_at"])
        expired = jobs_support.wait_state(self.port, document["id"], ("expired",), timeout=10)
        self.assertNotIn("result", expired)
        self.assertEqual(jobs_support.result(self.port, document["id"])[0], 410)

    def test_operators_list_count_and_cancel(self):
        ids = [jobs_support.submit(self.port, "GET", f"/echo?n={i}")[2]["id"] for i in range(3)]
        for job_id in ids:
            jobs_support.wait_state(self.port, job_id)
        status, _, _ = harness.http_request(self.port, "GET", "/api/v1/jobs")
        self.assertEqual(status, 401)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, _, data = harness.http_request(
            self.port, "GET", "/api/v1/jobs?state=done&service=echo&limit=2", headers=auth)
        self.assertEqual(status, 200, data)
        listing = json.loads(data)
        self.assertGreaterEqual(listing["counts"]["done"], 3)
        self.assertEqual(len(listing["jobs"]), 2)
        self.assertEqual({job["status"] for job in listing["jobs"]}, {"done"})
        self.assertEqual(listing["jobs"][0]["id"], ids[-1])  # newest first
        status, _, data = harness.http_request(self.port, "GET", "/api/v1/jobs?state=bogus",
                                               headers=auth)
        self.assertEqual((status, json.loads(data)["error"]), (400, "bad_query"))
        # The jobs API's own path is not a listing for HTTP clients.
        self.assertEqual(harness.http_request(self.port, "GET", "/jobs",
                                              headers={"Slowlane-Job-Admin": "list"})[0], 404)
        metrics = harness.http_request(self.port, "GET", "/metrics")[2].decode()
        self.assertIn("slowlane_jobs_up 1\n", metrics)
        done = [line for line in metrics.splitlines() if line.startswith('slowlane_jobs{state="done"}')]
        self.assertEqual(len(done), 1)
        self.assertGreaterEqual(int(done[0].split()[1]), 3)
        status, _, data = harness.http_request(self.port, "GET", "/dashboard/data.json",
                                               headers=auth)
        self.assertEqual(status, 200)
        self.assertGreaterEqual(json.loads(data)["jobs"]["done"], 3)
        # The CLI: the listing (token), one job, and a cancel of a final job (deleted).
        cli = [harness.binary("slowlane"), "jobs", "--gateway", f"http://127.0.0.1:{self.port}",
               "--admin-token", TOKEN]
        listed = subprocess.run(cli + ["--state", "done", "--service", "echo"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        row = [line for line in listed.stdout.splitlines() if line.startswith(ids[0])]
        self.assertEqual(len(row), 1, listed.stdout)
        # Each job's row names the worker that ran it (the echo pool's only worker)
        self.assertIn("WORKER", listed.stdout)
        self.assertIn(f" {socket.gethostname()}/{self.workers[0].pid}/0 ", row[0])
        shown = subprocess.run(cli[:4] + ["show", ids[0]], capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn(f"{ids[0]}: done", shown.stdout)
        cancelled = subprocess.run(cli[:4] + ["cancel", ids[0]], capture_output=True, text=True,
                                   timeout=30)
        self.assertEqual((cancelled.returncode, cancelled.stdout), (0, f"{ids[0]}: deleted\n"))
        missing = subprocess.run(cli[:4] + ["show", ids[0]], capture_output=True, text=True,
                                 timeout=30)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("unknown_job (404)", missing.stderr)

    def test_clients_cannot_forge_job_fields(self):
        forged = {"Slowlane-Job-Id": "chosen-by-client", "Slowlane-Job-Service": "slow",
                  "slowlane-job-retry": "1", "Slowlane-Job-Run": "forged"}
        status, _, body = harness.http_request(self.port, "GET", "/env", headers=forged)
        self.assertEqual(status, 200)
        self.assertNotIn(b"SLOWLANE_JOB", body)
        status, _, document = jobs_support.submit(self.port, "GET", "/env", headers=forged)
        self.assertEqual(status, 202)
        self.assertNotEqual(document["id"], "chosen-by-client")
        self.assertEqual(document["service"], "env")
        self.assertEqual(jobs_support.wait_state(self.port, document["id"])["status"], "done")
        _, _, body = jobs_support.result(self.port, document["id"])
        # Only the job's own id, set by slowlane-jobs, reaches the worker
        self.assertEqual([line for line in body.split(b"\n") if b"SLOWLANE_JOB" in line],
                         [f"HTTP_SLOWLANE_JOB_RUN={document['id']}".encode()])
        self.assertIn(b"HTTP_PREFER=respond-async", body)


class StreamBrokenTest(unittest.TestCase):
    """A worker that dies in the middle of a streamed reply: the broker ends the stream with
    an error envelope in the FINAL (protocol.md 4.3, 5). That is a failed attempt, retried;
    never a result made of the first chunks and the error's bytes."""

    def test_a_stream_cut_by_a_dead_worker_is_retried(self):
        broker = harness.start_broker()
        self.addCleanup(broker.stop)
        gateway = gateway_support.start_gateway(broker.endpoint, ["/s=s"])
        self.addCleanup(gateway.stop)
        jobs = jobs_support.start_jobs([broker.endpoint], jobs_support.data_dir())
        self.addCleanup(jobs.stop)
        jobs_support.wait_reachable(gateway.port)
        dying = gateway_support.FakeWorker(
            broker.endpoint, "s",
            lambda body: [("partial", gateway_support.reply(200, b"", b"first chunk")), ("die",)])
        self.addCleanup(dying.stop)
        status, _, document = jobs_support.submit(gateway.port, "GET", "/s")
        self.assertEqual(status, 202)
        harness.wait_for(dying.dead.is_set, what="the worker dying mid-stream")
        whole = gateway_support.FakeWorker(
            broker.endpoint, "s",
            lambda body: [("final", gateway_support.reply(200, b"X-Whole: 1\r\n", b"whole"))])
        self.addCleanup(whole.stop)
        done = jobs_support.wait_state(gateway.port, document["id"])
        self.assertEqual((done["status"], done["attempts"]), ("done", 2), done)
        status, headers, body = jobs_support.result(gateway.port, document["id"])
        self.assertEqual((status, body, headers.get("x-whole")), (200, b"whole", "1"))


def _start_failure(directory):
    """Runs slowlane-jobs on directory until it exits; returns (exit code, output)."""
    proc = subprocess.run([harness.binary("slowlane-jobs"), "--data-dir", directory,
                           "--broker", f"tcp://127.0.0.1:{harness.free_port()}"],
                          capture_output=True, timeout=30 * harness.TIMEOUT_SCALE)
    return proc.returncode, proc.stderr.decode()


class StoreStartTest(unittest.TestCase):
    def test_foreign_or_corrupt_store_stops_start_up_with_one_line(self):
        directory = jobs_support.data_dir()
        os.makedirs(directory)
        path = os.path.join(directory, "jobs.sqlite3")
        with open(path, "wb") as file:
            file.write(b"this is not a database" * 500)
        code, output = _start_failure(directory)
        self.assertEqual(code, 1)
        lines = output.strip().splitlines()
        self.assertEqual(len(lines), 1, output)
        self.assertIn(path, lines[0])
        self.assertIn("is not a slowlane jobs store", lines[0])

    @unittest.skipUnless(os.geteuid() == 0, "mounts a read-only file system: needs root")
    def test_read_only_data_directory_stops_start_up(self):
        mount = tempfile.mkdtemp(prefix="slowlane-jobs-ro-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", mount], check=True)
        try:
            code, output = _start_failure(mount)
        finally:
            subprocess.run(["umount", mount], check=True)
            os.rmdir(mount)
        self.assertEqual(code, 1)
        self.assertEqual(len(output.strip().splitlines()), 1, output)
        self.assertIn(f"data directory {mount} is not writable", output)


@unittest.skipUnless(os.geteuid() == 0, "mounts a small file system to fill: needs root")
class FullStoreTest(unittest.TestCase):
    """A store whose file system fills: submissions get 503 with the reason, and every job
    accepted before is kept and runs once there is room and a worker."""

    def setUp(self):
        self.mount = tempfile.mkdtemp(prefix="slowlane-jobs-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.mount], check=True)
        self.addCleanup(os.rmdir, self.mount)
        self.addCleanup(subprocess.run, ["umount", self.mount], check=True)
        self.broker = harness.start_broker()
        self.addCleanup(self.broker.stop)
        self.gateway = gateway_support.start_gateway(self.broker.endpoint, ["/later=later"])
        self.addCleanup(self.gateway.stop)
        self.jobs = jobs_support.start_jobs([self.broker.endpoint], self.mount)
        self.addCleanup(self.jobs.stop)
        jobs_support.wait_reachable(self.gateway.port)

    def test_full_disk_answers_503_and_keeps_accepted_jobs(self):
        accepted, refused = [], None
        for i in range(100):
            status, _, document = jobs_support.submit(self.gateway.port, "POST", f"/later?i={i}",
                                                      body=os.urandom(100 * 1024))
            if status != 202:
                refused = (status, document)
                break
            accepted.append(document["id"])
        self.assertIsNotNone(refused, "the 2 MiB store never filled")
        self.assertEqual(refused[0], 503)
        self.assertEqual(refused[1]["error"], "jobs_store_full")
        self.assertGreater(len(accepted), 3)
        self.assertIn("jobs_store_refused", self.jobs.output())
        for job_id in accepted:
            # Tried now and then (no worker yet: not counted as an attempt), never lost.
            document = jobs_support.job(self.gateway.port, job_id)[1]
            self.assertIn(document["status"], ("queued", "running"))
            if document["status"] == "queued":
                self.assertEqual(document["attempts"], 0)
        # Room again, and a worker: every accepted job runs.
        subprocess.run(["mount", "-o", "remount,size=64m", self.mount], check=True)
        workers = harness.start_workers(self.broker.endpoint, "later", "builtin:echo")
        self.addCleanup(workers.stop)
        for job_id in accepted:
            self.assertEqual(jobs_support.wait_state(self.gateway.port, job_id)["status"], "done")


if __name__ == "__main__":
    harness.main()
