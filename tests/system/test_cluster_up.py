"""`slowlane up` and the admin CLI (issue 4): up turns the admin API on with a token it
writes (mode 0600) where the CLI finds it, so `slowlane scale fast 4` gives the local cluster
four fast workers with no token in sight; `slowlane status` shows them; a wrong token in
SLOWLANE_ADMIN_TOKEN is refused (401, exit status 1)."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class UpScaleTest(unittest.TestCase):
    def setUp(self):
        self.config = tempfile.mkdtemp(prefix="slowlane-up-")
        self.port = harness.free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("SLOWLANE_") or k in ("SLOWLANE_BIN", "SLOWLANE_SOURCE")}
        self.env.update(XDG_CONFIG_HOME=self.config,
                        SLOWLANE_GATEWAY=f"http://127.0.0.1:{self.port}")
        self.up = harness.Process(
            [harness.binary("slowlane"), "up", "--listen", str(self.port),
             "--bind", f"tcp://127.0.0.1:{harness.free_port()}", "--heartbeat-ms", "100"],
            env=self.env, name="up")
        self.addCleanup(self.up.stop)
        harness.wait_for(lambda: "slowlane up: ready" in self.up.output(), timeout=20,
                         what="slowlane up ready")

    def cli(self, *args, env=None, check=True):
        out = subprocess.run([harness.binary("slowlane"), *args], capture_output=True,
                             text=True, env=dict(self.env, **(env or {})), timeout=60)
        if check:
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return out

    def test_scale_fast_4_under_up(self):
        token_file = os.path.join(self.config, "slowlane", "admin-token")
        self.assertEqual(stat.S_IMODE(os.stat(token_file).st_mode), 0o600)
        self.assertIn(token_file, self.up.output())
        out = self.cli("scale", "fast", "4")
        self.assertIn("fast: 4 workers ready", out.stdout)
        view = json.loads(self.cli("status", "--json").stdout)
        fast = [w for w in view["workers"] if w["service"] == "fast" and w["pid"]]
        self.assertEqual(len(fast), 4)
        self.assertTrue(all(w["registered"] for w in fast))
        table = self.cli("status").stdout
        self.assertRegex(table, r"fast +0 +- +4 ")
        self.assertEqual(harness.http_request(self.port, "GET", "/fast?x=1")[0], 200)

    def test_wrong_token_is_refused(self):
        out = self.cli("status", env={"SLOWLANE_ADMIN_TOKEN": "not-the-token-0123456789"},
                       check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("401", out.stderr)


if __name__ == "__main__":
    harness.main()
