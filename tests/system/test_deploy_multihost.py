"""Three hosts (issue 6): broker + gateway on host A, fast workers on hosts B and C, each host a network
namespace on one bridge (test_deploy_compose.Lan). Needs root.

Cut C's link: its workers expire at the broker within heartbeat x liveness (plus one timer tick),
and traffic goes on through B with no failed request (GET is retryable: a job lost with C is
re-queued). Restore the link: C's workers reconnect and register again.
CURVE between hosts (a worker with an unlisted key never gets a request) is test_curve_multihost.py."""
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from lan_support import Lan, need_root  # noqa: E402

HEARTBEAT_MS = 100
LIVENESS = 3


class MultiHostTest(unittest.TestCase):

    def setUp(self):
        need_root()
        self.lan = Lan(["a", "b", "c"], subnet="10.213.2")
        self.addCleanup(self.lan.destroy)
        self.procs = []
        beat = ["--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS)]
        self.broker = self.start("a", "broker", harness.binary("slowlane-broker"),
                                 "--bind", "tcp://*:5555", *beat)
        self.gateway = self.start("a", "gateway", harness.binary("slowlane-gateway"),
                                  "--listen", "8080", "--broker", "tcp://127.0.0.1:5555",
                                  "--route", "/fast=fast,timeout-ms=10000")
        self.workers = {
            host: self.start(host, f"workers-{host}", harness.binary("slowlane-worker"),
                             "--broker", "tcp://a:5555", "--service", "fast",
                             "--handler", "builtin:echo", "--count", "2", *beat)
            for host in ("b", "c")}

    def start(self, host, name, *args):
        proc = harness.Process(self.lan.exec_args(host, *args), name=name)
        self.procs.append(proc)
        self.addCleanup(proc.stop)
        return proc

    def events(self, event, host):
        """Broker log lines `event` about the workers of host (identity host/supervisor-pid/slot)."""
        pid = self.workers[host].pid
        return re.findall(rf"event={event} [^\n]*?worker=[^ /]*/{pid}/\d+[^\n]*", self.broker.output())

    def traffic(self, statuses, stop):
        i = 0
        while not stop.is_set():
            i += 1
            statuses.append(self.lan.http("a", f"http://127.0.0.1:8080/fast?n={i}")[0])

    def test_cut_host_expires_traffic_continues_and_host_rejoins(self):
        statuses, stop = [], threading.Event()
        try:
            harness.wait_for(lambda: len(self.events("worker_ready", "b")) == 2
                             and len(self.events("worker_ready", "c")) == 2,
                             timeout=10, what="2 workers each from B and C registered")
            harness.wait_for(lambda: self.lan.http("a", "http://127.0.0.1:8080/readyz")[0] == 200,
                             timeout=10, what="gateway ready")
            thread = threading.Thread(target=self.traffic, args=(statuses, stop))
            thread.start()
            self.addCleanup(thread.join)
            self.addCleanup(stop.set)
            harness.wait_for(lambda: len(statuses) >= 10, timeout=10, what="traffic flowing")

            # What happened to B before the cut (a slow start-up may re-register a worker) is
            # not the cut's doing: only what follows it counts.
            b_removed_before_cut = self.events("worker_removed", "b")
            self.lan.cut("c")
            cut_at = time.monotonic()
            harness.wait_for(lambda: len([e for e in self.events("worker_removed", "c")
                                          if "reason=expired" in e]) == 2,
                             timeout=5, what="C's workers expired")
            # heartbeat x liveness, plus one timer tick and scheduling slack.
            self.assertLess(time.monotonic() - cut_at,
                            HEARTBEAT_MS * (LIVENESS + 2) / 1000 + 1.0)
            served = len(statuses)
            harness.wait_for(lambda: len(statuses) >= served + 20, timeout=10,
                             what="traffic served by B alone")
            self.assertEqual(self.events("worker_removed", "b"), b_removed_before_cut,
                             "B's workers must stay while C is cut")

            self.lan.restore("c")
            harness.wait_for(lambda: len(self.events("worker_ready", "c")) == 4, timeout=15,
                             what="C's workers registered again")
            served = len(statuses)
            harness.wait_for(lambda: len(statuses) >= served + 10, timeout=10,
                             what="traffic after C rejoined")
            stop.set()
            thread.join()
            self.assertTrue(statuses)
            self.assertEqual([s for s in statuses if s != 200], [],
                             f"{len(statuses)} requests, failures above")
        except AssertionError:
            for proc in self.procs:
                sys.stderr.write(f"---- {proc.name}\n{proc.output()[-3000:]}\n")
            raise
        finally:
            stop.set()


if __name__ == "__main__":
    harness.main()
