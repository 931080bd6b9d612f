"""The image and the compose stack in a real Docker engine (issue 19; docs/deploy.md). Run by
scripts/containers.sh, which starts the engine, makes the base image and builds $SLOWLANE_IMAGE
from the checkout; not by ctest (the test phase has no engine). The one published port (the
gateway's) is on 127.0.0.1 only, every compose project is this run's own and is taken down, and the last check
is that nothing of it is left: no container, no network, no volume, no listening port."""
import json
import os
import re
import shutil
import ssl
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "system"))
import metrics_support as metrics  # noqa: E402
from containers_support import free_port, http, listening, sh, wait_for  # noqa: E402

IMAGE = os.environ.get("SLOWLANE_IMAGE", "slowlane:test")
# The TLS front's image: scripts/containers.sh builds it from tests/containers/nginx.Dockerfile.
NGINX_IMAGE = os.environ.get("SLOWLANE_NGINX_IMAGE", "slowlane-test-nginx:latest")
COMPOSE_DIR = os.path.join(SOURCE, "deploy", "compose")
COMPOSE_FILES = [os.path.join(COMPOSE_DIR, name) for name in ("docker-compose.yml", "tls.yml")]
FINAL_STATES = ("done", "failed", "cancelled", "expired")  # a job's (docs/jobs.md, "States")


class ImageAloneTest(unittest.TestCase):
    def test_runs_the_seed_demo_as_a_user_with_a_home_and_no_compiler(self):
        port = free_port()
        name = f"slowlane-image-{os.getpid()}"
        # The command docs/deploy.md gives, published on loopback only.
        sh("docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", IMAGE)
        self.addCleanup(lambda: sh("docker", "rm", "-f", name, check=False))
        wait_for(lambda: http(port, "/readyz")[0] == 200, 60, "the demo ready")
        self.assertEqual(http(port, "/fast?i=1"), (200, b"i=1\n"))
        status, body = http(port, "/slow?ms=200")
        self.assertEqual(status, 200, body)
        # The admin token `slowlane up` made is in the user's home, readable by docker exec.
        token = sh("docker", "exec", name, "cat",
                   "/home/slowlane/.config/slowlane/admin-token").stdout.strip()
        self.assertGreaterEqual(len(token), 32)
        self.assertEqual(sh("docker", "exec", name, "id", "-u").stdout.strip(), "10001")
        compilers = sh("docker", "exec", name, "sh", "-c", "command -v cc gcc c++ cmake make",
                       check=False)
        self.assertEqual(compilers.stdout.strip(), "", "a compiler in the runtime image")
        # SIGTERM (docker stop) drains and exits 0 well within the grace period.
        started = time.monotonic()
        sh("docker", "stop", "-t", "30", name)
        self.assertLess(time.monotonic() - started, 25)
        self.assertEqual(sh("docker", "inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip(),
                         "0")
        size = int(sh("docker", "image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
        print(f"image {IMAGE}: {size / 1e6:.1f} MB", flush=True)


def request(port, path, headers, timeout=10.0):
    """(status, headers, body) of a GET with extra header fields."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class ComposeStackTest(unittest.TestCase):
    """deploy/compose/docker-compose.yml with tls.yml: two brokers, a gateway, its TLS front,
    worker-fast x3 and worker-slow x2 (each a supervisor of 2 workers) and slowlane-jobs on its
    volume, as docs/deploy.md runs it."""

    @classmethod
    def setUpClass(cls):
        cls.project = f"sltest{os.getpid()}"
        cls.http_port = free_port()
        # The gateway's port is published on the engine's default address: 127.0.0.1 for the
        # engine scripts/docker-engine.sh configures ("ip" in daemon.json).
        cls.https_port = free_port()
        cls.tls_dir = tempfile.mkdtemp(prefix="slowlane-tls-")
        # A self-signed certificate for 127.0.0.1, readable by the front (the key is a secret).
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
           "-keyout", os.path.join(cls.tls_dir, "privkey.pem"),
           "-out", os.path.join(cls.tls_dir, "fullchain.pem"))
        cls.env = {**os.environ, "DEPLOY_IMAGE": IMAGE, "DEPLOY_HTTP_PORT": str(cls.http_port),
                   "DEPLOY_NGINX_IMAGE": NGINX_IMAGE, "DEPLOY_HTTPS_PORT": str(cls.https_port),
                   "DEPLOY_TLS_DIR": cls.tls_dir}
        try:
            cls.compose("up", "-d", "--no-build", "--scale", "worker-fast=3",
                        "--scale", "worker-slow=2")
            wait_for(cls.all_healthy, 120, "every container running, every healthcheck healthy",
                     interval=1.0)
            wait_for(lambda: cls.workers("fast") == [6, 6] and cls.workers("slow") == [4, 4],
                     60, "6 fast and 4 slow workers at both brokers")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        print(cls.compose("logs", "--no-color", "--tail", "20", check=False).stdout[-6000:])
        cls.compose("down", "--volumes", "--remove-orphans", "--timeout", "45", check=False)
        shutil.rmtree(cls.tls_dir, ignore_errors=True)

    @classmethod
    def compose(cls, *args, check=True, timeout=240):
        files = [arg for name in COMPOSE_FILES for arg in ("-f", name)]
        return sh("docker-compose", "-p", cls.project, *files, *args, check=check,
                  timeout=timeout, env=cls.env)

    @classmethod
    def containers(cls, service=None):
        label = f"com.docker.compose.project={cls.project}"
        args = ["docker", "ps", "-a", "-q", "--filter", f"label={label}"]
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        return sh(*args).stdout.split()

    @classmethod
    def all_healthy(cls):
        ids = cls.containers()
        if len(ids) != 10:  # 2 brokers, gateway, TLS front, 3 + 2 workers, jobs
            return False
        states = sh("docker", "inspect", "-f",
                    "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                    *ids).stdout.split("\n")
        return all(s.split()[:1] == ["running"] and "starting" not in s and "unhealthy" not in s
                   for s in states if s.strip())

    @classmethod
    def workers(cls, service):
        """Registered workers of service at broker-a and broker-b, as the gateway's /metrics says."""
        status, body = http(cls.http_port, "/metrics")
        if status != 200:
            return None
        text = body.decode()
        return [int(metrics.value(text, "slowlane_broker_workers", service=service,
                                  broker=f"tcp://broker-{b}:5555")) for b in "ab"]

    def fast_latencies(self, count=20):
        latencies = []
        for i in range(count):
            started = time.monotonic()
            self.assertEqual(http(self.http_port, f"/fast?i={i}"), (200, f"i={i}\n".encode()))
            latencies.append(time.monotonic() - started)
        return sorted(latencies)

    def test_1_serves_fast_and_slow_and_fast_stays_fast_under_slow(self):
        self.assertEqual(http(self.http_port, "/fast?i=1"), (200, b"i=1\n"))
        status, body = http(self.http_port, "/slow?ms=100")
        self.assertEqual(status, 200, body)
        # 4 slow workers, 8 three-second /slow requests: the slow lane is saturated.
        results = []
        flood = [threading.Thread(target=lambda: results.append(
            http(self.http_port, "/slow?ms=3000", timeout=30)[0])) for _ in range(8)]
        for thread in flood:
            thread.start()
        wait_for(lambda: sum(self.busy("slow")) >= 4, 10, "every slow worker busy")
        latencies = self.fast_latencies()
        for thread in flood:
            thread.join(30)
        self.assertEqual(results, [200] * 8)
        print(f"/fast under a saturated /slow: median {latencies[10] * 1000:.1f} ms, "
              f"max {latencies[-1] * 1000:.1f} ms", flush=True)
        # Not queued behind /slow (that would cost seconds); one scheduling hiccup allowed.
        self.assertLess(latencies[10], 0.05, latencies)
        self.assertLess(latencies[-2], 0.5, latencies)

    def test_5_tls_front_serves_https_and_hides_metrics(self):
        context = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "fullchain.pem"))
        base = f"https://127.0.0.1:{self.https_port}"
        with urllib.request.urlopen(f"{base}/fast?i=7", timeout=10, context=context) as reply:
            self.assertEqual((reply.status, reply.read()), (200, b"i=7\n"))
        with urllib.request.urlopen(f"{base}/slow?ms=100", timeout=10, context=context) as reply:
            self.assertEqual(reply.status, 200)
        # Prometheus scrapes the gateway on the private network, never through the public front.
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/metrics", timeout=10, context=context)
        self.assertEqual(refused.exception.code, 404)

    def busy(self, service):
        status, body = http(self.http_port, "/metrics")
        text = body.decode() if status == 200 else ""
        return [int(metrics.value(text, "slowlane_broker_workers", service=service, state="busy",
                                  broker=f"tcp://broker-{b}:5555")) for b in "ab"]

    def test_2_scaling_down_while_jobs_run_loses_none_and_scaling_changes_the_count(self):
        results = []
        jobs = [threading.Thread(target=lambda: results.append(
            http(self.http_port, "/slow?ms=3000", timeout=40)[0])) for _ in range(4)]
        for thread in jobs:
            thread.start()
        wait_for(lambda: sum(self.busy("slow")) >= 4, 10, "the four jobs running")
        # One replica stops: its supervisor drains (the job in hand finishes) before it exits.
        self.compose("up", "-d", "--no-build", "--scale", "worker-fast=3", "--scale",
                     "worker-slow=1")
        for thread in jobs:
            thread.join(40)
        self.assertEqual(results, [200] * 4)
        wait_for(lambda: self.workers("slow") == [2, 2], 30, "2 slow workers at each broker")
        self.compose("up", "-d", "--no-build", "--scale", "worker-fast=3", "--scale",
                     "worker-slow=2")
        wait_for(lambda: self.workers("slow") == [4, 4], 60, "4 slow workers at each broker")

    def test_3_a_killed_worker_process_is_restarted_by_its_supervisor(self):
        container = self.containers("worker-fast")[0]
        # The supervisor's children are the workers; kill one by the pid its log gave.
        def child_pids():
            log = sh("docker", "logs", container).stderr
            return [line.split(" pid=")[1].split()[0] for line in log.splitlines()
                    if "event=child_started" in line]
        pids = child_pids()
        self.assertTrue(pids)
        sh("docker", "exec", container, "sh", "-c", f"kill -9 {pids[-1]}")
        wait_for(lambda: len(child_pids()) > len(pids), 30, "a worker started in its place")
        wait_for(lambda: self.workers("fast") == [6, 6], 30, "6 fast workers at each broker again")
        self.assertEqual(http(self.http_port, "/fast?i=1"), (200, b"i=1\n"))

    def test_4_killing_one_broker_container_under_load_fails_no_get(self):
        failures, answered, stop = [], [0], threading.Event()

        def load():
            while not stop.is_set():
                status, body = http(self.http_port, "/fast", timeout=15)
                if status != 200:
                    failures.append((status, body[:200]))
                answered[0] += 1
        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: answered[0] >= 200, 30, "load flowing")
            sh("docker", "kill", self.containers("broker-a")[0])
            before = answered[0]
            wait_for(lambda: answered[0] >= before + 500, 60, "500 answers after the kill")
            # Back, and every worker registers with it again.
            self.compose("up", "-d", "--no-build", "--scale", "worker-fast=3", "--scale",
                         "worker-slow=2")
            wait_for(lambda: self.workers("fast") == [6, 6], 60, "broker-a has its workers back")
            before = answered[0]
            wait_for(lambda: answered[0] >= before + 200, 60, "200 more answers")
        finally:
            stop.set()
            for thread in threads:
                thread.join(20)
        self.assertEqual(failures, [])

    def job(self, location):
        """The job's status document from GET /jobs/ID, or None."""
        status, body = http(self.http_port, location)
        return json.loads(body) if status == 200 else None

    def test_6_a_job_survives_its_jobs_container_recreated(self):
        def reachable():  # an unknown id is the jobs service's 404
            status, body = http(self.http_port, "/jobs/0")
            return status == 404 and b"unknown_job" in body
        wait_for(reachable, 60, "the gateway reaching the jobs service")
        status, headers, body = request(self.http_port, "/slow?ms=2000",
                                        {"Prefer": "respond-async"})
        self.assertEqual(status, 202, body)
        location = headers["Location"]
        self.assertRegex(location, r"^/jobs/[0-9a-f]{32}$")
        # The same request, synchronously, meanwhile: what the job's result must be.
        synchronous = []
        thread = threading.Thread(target=lambda: synchronous.append(
            http(self.http_port, "/slow?ms=2000", timeout=30)))
        thread.start()
        self.addCleanup(thread.join, 30)
        # The container goes, its volume stays; a new container opens the same store.
        old = self.containers("jobs")
        self.assertEqual(len(old), 1)
        # A fresh volume took the owner and mode of the image's directory: the image's user's.
        self.assertEqual(sh("docker", "exec", old[0], "stat", "-c", "%u %a",
                            "/var/lib/slowlane/jobs").stdout.split(), ["10001", "700"])
        self.compose("rm", "-sf", "jobs")
        self.assertEqual(self.containers("jobs"), [])
        self.compose("up", "-d", "--no-build", "jobs")
        new = self.containers("jobs")
        self.assertEqual(len(new), 1)
        self.assertNotEqual(new, old)
        # Only the new container can answer now: the job goes on to done, and its result is
        # the synchronous answer.
        def final():
            document = self.job(location)
            return document if document and document["status"] in FINAL_STATES else None
        document = wait_for(final, 60, f"{location} in a final state")
        self.assertEqual(document["status"], "done", document)
        thread.join(30)
        self.assertEqual(synchronous, [(200, b"busy 2000 ms\n")])
        self.assertEqual(http(self.http_port, f"{location}/result"), synchronous[0])
        # The new process started on the store the old one left: the job was in it.
        started = [line for line in sh("docker", "logs", new[0]).stderr.splitlines()
                   if "event=jobs_started" in line]
        self.assertEqual(len(started), 1, started)
        counts = dict(re.findall(r"(queued|running)=(\d+)", started[0]))
        self.assertGreaterEqual(int(counts["queued"]) + int(counts["running"]), 1, started[0])
        print(f"job across a recreated jobs container: {document['attempts']} attempt(s)",
              flush=True)

    def test_9_down_leaves_no_container_network_or_port(self):
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "45")
        self.assertEqual(self.containers(), [])
        networks = sh("docker", "network", "ls", "-q", "--filter",
                      f"label=com.docker.compose.project={self.project}").stdout.split()
        self.assertEqual(networks, [])
        # --volumes deletes the jobs store with the stack.
        volumes = sh("docker", "volume", "ls", "-q", "--filter",
                     f"name={self.project}_").stdout.split()
        self.assertEqual(volumes, [])
        for port in (self.http_port, self.https_port):
            self.assertFalse(listening(port), f"port {port} still listening")


if __name__ == "__main__":
    unittest.main(verbosity=2)
