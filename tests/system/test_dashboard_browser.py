"""The dashboard in headless Chromium (tests/browser/dashboard.test.mjs, playwright-core):
against a real broker, two supervisors and a gateway with an admin token, the page loads,
refuses a wrong token, says the cluster is healthy in its first screen, charts the last
minutes and moves under load, shows a killed worker going away, its replacement arriving
and its death as a mark, scales a service from its Actions (and refuses that with a wrong
token), and fits a phone's width. Skipped only when node, Chromium or the npm packages are
missing (CI runs `npm ci --prefix tests/browser`). SLOWLANE_SCREENSHOTS=DIR keeps the
idle, load and phone screenshots there (docs/img/ has the ones docs/observability.md
shows)."""
import os
import re
import shutil
import socket
import subprocess
import unittest

import gateway_support
import harness

BROWSER_DIR = os.path.join(harness.SOURCE, "tests", "browser")
CHROMIUM = "/usr/bin/chromium"
TOKEN = "dashboard-test-token"


def child_pid(supervisor, slot):
    """The pid of the supervisor's current child in slot, from its worker_started lines."""
    found = re.findall(rf"event=worker_started slot={slot} pid=(\d+)", supervisor.output())
    return int(found[-1]) if found else None


def start_gateway_with_token(endpoint, routes):
    """A gateway with SLOWLANE_ADMIN_TOKEN set (harness.Process passes our environment)."""
    os.environ["SLOWLANE_ADMIN_TOKEN"] = TOKEN
    try:
        return gateway_support.start_gateway(endpoint, routes)
    finally:
        del os.environ["SLOWLANE_ADMIN_TOKEN"]


class DashboardBrowserTest(unittest.TestCase):
    def setUp(self):
        node = shutil.which("node")
        if not node or not os.access(CHROMIUM, os.X_OK):
            raise unittest.SkipTest("node or /usr/bin/chromium not installed")
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
            raise unittest.SkipTest("run `npm ci --prefix tests/browser` first")
        self.node = node
        # A policy the page must show, whose cooldown keeps it from undoing the page's scale
        self.broker = harness.start_broker(extra=("--autoscale", "fast=1..4,cooldown-s=3600"))
        self.workers = harness.start_workers(self.broker.endpoint, "fast", "builtin:echo", count=2)
        self.slow = harness.start_workers(self.broker.endpoint, "slow", "builtin:sleep", count=2)
        self.gateway = start_gateway_with_token(self.broker.endpoint, ["/fast=fast", "/slow=slow"])
        gateway_support.wait_ready(self.gateway.port)

    def tearDown(self):
        for proc in ("gateway", "workers", "slow", "broker"):
            if hasattr(self, proc):
                getattr(self, proc).stop()

    def test_dashboard_shows_workers_and_a_restart(self):
        harness.wait_for(lambda: child_pid(self.workers, 0) and child_pid(self.workers, 1),
                         what="both workers started")
        pid = child_pid(self.workers, 0)
        identity = f"{socket.gethostname()}/{self.workers.pid}/0"
        screenshot = os.path.join(harness.BIN, "..", "dashboard.png")
        shots = os.environ.get("SLOWLANE_SCREENSHOTS") or os.path.join(harness.BIN, "..")
        env = dict(os.environ, DASHBOARD_URL=f"http://127.0.0.1:{self.gateway.port}/dashboard",
                   EXPECT_WORKERS="4", KILL_PID=str(pid), KILL_IDENTITY=identity,
                   ADMIN_TOKEN=TOKEN, TRAFFIC_PATH="/fast?from=browser-test,/slow?ms=80",
                   AUTOSCALE="fast=1..4", SCALE="fast=3", SCREENSHOTS=os.path.abspath(shots),
                   SCREENSHOT=os.path.abspath(screenshot), CHROMIUM=CHROMIUM)
        result = subprocess.run([self.node, os.path.join(BROWSER_DIR, "dashboard.test.mjs")],
                                cwd=BROWSER_DIR, env=env, capture_output=True, text=True,
                                timeout=120)
        print(result.stdout + result.stderr)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertTrue(os.path.getsize(screenshot) > 10000)
        # The replacement is a new process in the same slot.
        self.assertNotEqual(child_pid(self.workers, 0), pid)
        # The page's scale reached the supervisor, through the admin API the CLI uses
        self.assertTrue(re.search(r"event=admin_command rid=\S+ op=scale service=fast host=- "
                                  r"status=202", self.gateway.output()),
                        "no admin_command line for the page's scale in the gateway's log")
        harness.wait_for(lambda: child_pid(self.workers, 2), what="a third fast worker")


if __name__ == "__main__":
    harness.main()
