"""Rolling restart through the admin API (issue 4) under a bounded load: while clients keep
sending GET /fast (retryable) from several threads, POST /api/v1/services/fast/restart
replaces every worker on two supervisors one at a time (the broker rolls one agent after
the other, each agent one slot after the other), and not one request gets a non-2xx answer."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cluster_support import Cluster, admin, view, wait_ready_count, workers  # noqa: E402

CLIENTS = 4
REQUESTS_PER_CLIENT = 400  # the bound on the load: the test never runs open-ended


class RollingRestartTest(unittest.TestCase):
    def test_rolling_restart_under_load_has_no_failed_request(self):
        cluster = Cluster(self, routes=("/fast=fast,timeout-ms=10000",))
        # Two hosts' worth of supervisors on loopback, two workers each; jobs take a few ms
        # so that some are always in hand when a worker is told to drain.
        for host in ("hosta", "hostb"):
            cluster.workers(self, "fast", "builtin:sleep", 2, host)
        wait_ready_count(cluster.port, "fast", 4)
        before = {w["pid"] for w in workers(cluster.port, "fast")}
        statuses, lock = [], threading.Lock()
        started = threading.Event()

        def client(number):
            for i in range(REQUESTS_PER_CLIENT):
                status = harness.http_request(cluster.port, "GET", f"/fast?ms=5&c={number}&i={i}",
                                              timeout=15)[0]
                with lock:
                    statuses.append(status)
                    if len(statuses) >= 20:
                        started.set()
                if done.is_set() and i > 20:
                    return

        done = threading.Event()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            self.assertTrue(started.wait(10), "traffic did not start")
            status, body = admin(cluster.port, "POST", "/api/v1/services/fast/restart", {})
            self.assertEqual(status, 202, body)
            self.assertEqual(len(body["agents"]), 2)
            # A second restart while one rolls is refused, not stacked.
            self.assertEqual(admin(cluster.port, "POST", "/api/v1/services/fast/restart",
                                   {})[0], 409)

            def rolled():
                fast = [s for s in view(cluster.port)["services"] if s["name"] == "fast"][0]
                now = {w["pid"] for w in workers(cluster.port, "fast")}
                return not fast["rolling"] and not (now & before)
            harness.wait_for(rolled, timeout=30, what="every worker replaced")
            wait_ready_count(cluster.port, "fast", 4)
            for worker in workers(cluster.port, "fast"):
                self.assertEqual(worker["last_exit"]["reason"], "rolling_restart")
                self.assertEqual(worker["restarts"], 1)
        except AssertionError:
            sys.stderr.write(cluster.dump())
            raise
        finally:
            done.set()
            for thread in threads:
                thread.join()
        self.assertGreater(len(statuses), 40)
        failed = [s for s in statuses if not 200 <= s < 300]
        self.assertEqual(failed, [], f"{len(failed)} of {len(statuses)} requests failed")


if __name__ == "__main__":
    harness.main()
