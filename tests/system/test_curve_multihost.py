"""CURVE between hosts (issue 6): broker + gateway on host A with CURVE on, workers of the same
service on hosts B and C, each host a network namespace on one bridge (test_deploy_compose.Lan).
Needs root.

B's key is in the broker's --curve-clients directory, C's is not. C can reach A's port 5555 and
its workers keep trying, but the broker never admits them: every request goes to B (200), C's
workers never register and never receive a request. Then C's key is listed (copied into the
directory, no broker restart: zauth re-reads it when it changes) and C's workers join."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from lan_support import Lan, need_root  # noqa: E402

HEARTBEAT_MS = 100
LIVENESS = 3


class CurveMultiHostTest(unittest.TestCase):

    def setUp(self):
        need_root()
        self.keys = tempfile.mkdtemp(prefix="slowlane-curve-hosts-")
        self.addCleanup(shutil.rmtree, self.keys, True)
        self.clients = os.path.join(self.keys, "clients")
        os.makedirs(self.clients)
        for name in ("broker", "gateway", "host-b", "host-c"):
            out = subprocess.run([harness.binary("slowlane"), "keygen", "--out", self.keys,
                                  "--name", name], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)
        for name in ("gateway", "host-b"):   # host-c is not listed
            shutil.copy(self.key(name), self.clients)

        self.lan = Lan(["a", "b", "c"], subnet="10.213.3")
        self.addCleanup(self.lan.destroy)
        self.procs = []
        beat = ["--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS)]
        self.broker = self.start("a", "broker", harness.binary("slowlane-broker"),
                                 "--bind", "tcp://*:5555", *beat,
                                 "--curve-secret", self.key("broker", secret=True),
                                 "--curve-clients", self.clients)
        self.gateway = self.start("a", "gateway", harness.binary("slowlane-gateway"),
                                  "--listen", "8080", "--broker", "tcp://127.0.0.1:5555",
                                  "--route", "/fast=fast,timeout-ms=10000",
                                  *self.client_keys("gateway"))
        self.workers = {
            host: self.start(host, f"workers-{host}", harness.binary("slowlane-worker"),
                             "--broker", "tcp://a:5555", "--service", "fast",
                             "--handler", "builtin:echo", "--count", "2", *beat,
                             *self.client_keys(f"host-{host}"))
            for host in ("b", "c")}

    def key(self, name, secret=False):
        return os.path.join(self.keys, name + ("_secret" if secret else ""))

    def client_keys(self, name):
        return ["--curve-secret", self.key(name, secret=True), "--curve-server", self.key("broker")]

    def start(self, host, name, *args):
        proc = harness.Process(self.lan.exec_args(host, *args), name=name)
        self.procs.append(proc)
        self.addCleanup(proc.stop)
        return proc

    def events(self, event, host):
        """Broker log lines `event` about the workers of host (identity host/supervisor-pid/slot)."""
        pid = self.workers[host].pid
        return re.findall(rf"event={event} [^\n]*?worker=[^ /]*/{pid}/\d+[^\n]*", self.broker.output())

    def test_unlisted_host_never_gets_a_request_until_listed(self):
        try:
            harness.wait_for(lambda: len(self.events("worker_ready", "b")) == 2, timeout=10,
                             what="B's 2 workers registered")
            harness.wait_for(lambda: self.lan.http("a", "http://127.0.0.1:8080/readyz")[0] == 200,
                             timeout=10, what="gateway ready")
            # C reaches A's broker port: only its key keeps it out.
            reach = self.lan.sh("c", "bash", "-c", "exec 3<>/dev/tcp/a/5555")
            self.assertEqual(reach.returncode, 0, reach.stderr)
            harness.wait_for(lambda: self.workers["c"].output().count("child_started") >= 2,
                             what="C's workers running")

            statuses = [self.lan.http("a", f"http://127.0.0.1:8080/fast?n={i}")[0]
                        for i in range(30)]
            self.assertEqual([s for s in statuses if s != 200], [], statuses)
            self.assertTrue(self.workers["c"].alive())
            self.assertEqual(self.events("worker_ready", "c"), [])
            self.assertNotIn(f"/{self.workers['c'].pid}/", self.broker.output())

            # Listing C's key admits it without a broker restart.
            shutil.copy(self.key("host-c"), self.clients)
            harness.wait_for(lambda: len(self.events("worker_ready", "c")) == 2, timeout=15,
                             what="C's workers registered once listed")
            status, body = self.lan.http("a", "http://127.0.0.1:8080/fast?after=listed")
            self.assertEqual(status, 200, body)
        except AssertionError:
            for proc in self.procs:
                sys.stderr.write(f"---- {proc.name}\n{proc.output()[-3000:]}\n")
            raise


if __name__ == "__main__":
    harness.main()
