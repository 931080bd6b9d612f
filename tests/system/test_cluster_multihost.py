"""Scaling across hosts (issue 4): broker and gateway on host A, a supervisor of `fast` on
hosts B and C, each host a network namespace (test_deploy_compose.Lan). Needs root.

`slowlane scale fast 6` (the CLI, run on A) spreads six workers 3 + 3; `--host b` scales one
host alone; `slowlane scale fast 2` brings both down to one each, and the view lists every
worker with its host, service and pid throughout."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cluster_support import TOKEN  # noqa: E402
from lan_support import Lan, need_root  # noqa: E402

HEARTBEAT_MS = 100
LIVENESS = 3


class MultiHostScaleTest(unittest.TestCase):
    def setUp(self):
        need_root()
        self.lan = Lan(["a", "b", "c"], subnet="10.213.4")
        self.addCleanup(self.lan.destroy)
        self.procs = []
        beat = ["--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS)]
        self.start("a", "broker", harness.binary("slowlane-broker"), "--bind", "tcp://*:5555",
                   *beat)
        self.start("a", "gateway", harness.binary("slowlane-gateway"), "--listen", "8080",
                   "--broker", "tcp://127.0.0.1:5555", "--route", "/fast=fast",
                   "--admin-token", TOKEN)
        for host in ("b", "c"):
            # Namespaces share the UTS host name: --host names each host for the view.
            self.start(host, f"workers-{host}", harness.binary("slowlane-worker"),
                       "--broker", "tcp://a:5555", "--service", "fast", "--host", host,
                       "--handler", "builtin:echo", "--count", "1", *beat)

    def start(self, host, name, *args):
        proc = harness.Process(self.lan.exec_args(host, *args), name=name)
        self.procs.append(proc)
        self.addCleanup(proc.stop)
        return proc

    def cli(self, *args):
        """Runs the slowlane CLI on host A against the gateway there."""
        env = dict(os.environ, SLOWLANE_GATEWAY="http://127.0.0.1:8080",
                   SLOWLANE_ADMIN_TOKEN=TOKEN)
        env.pop("SLOWLANE_HOST", None)
        import subprocess
        out = subprocess.run(self.lan.exec_args("a", harness.binary("slowlane"), *args),
                             capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return out.stdout

    def per_host(self):
        """{host: live registered workers} from `slowlane status --json`."""
        counts = {}
        for worker in json.loads(self.cli("status", "--json"))["workers"]:
            self.assertEqual(worker["service"], "fast")
            self.assertIn("pid", worker)
            if worker["pid"] and worker["registered"] and worker["state"] in ("idle", "busy"):
                counts[worker["host"]] = counts.get(worker["host"], 0) + 1
        return counts

    def test_scale_up_and_down_across_two_hosts(self):
        try:
            harness.wait_for(lambda: self.lan.http("a", "http://127.0.0.1:8080/readyz")[0] == 200,
                             timeout=10, what="gateway ready")
            harness.wait_for(lambda: self.per_host() == {"b": 1, "c": 1}, timeout=10,
                             what="one worker on each of B and C")
            self.assertIn("6 workers ready", self.cli("scale", "fast", "6"))
            self.assertEqual(self.per_host(), {"b": 3, "c": 3})
            self.assertIn("5 workers ready on b", self.cli("scale", "fast", "5", "--host", "b"))
            self.assertEqual(self.per_host(), {"b": 5, "c": 3})
            self.assertIn("2 workers ready", self.cli("scale", "fast", "2"))
            self.assertEqual(self.per_host(), {"b": 1, "c": 1})
            status = self.cli("status")
            self.assertIn("HOST", status)
            self.assertRegex(status, r"\nb +fast +\d+ +0 +idle")
            self.assertEqual(self.lan.http("a", "http://127.0.0.1:8080/fast?x=1")[0], 200)
        except AssertionError:
            for proc in self.procs:
                sys.stderr.write(f"---- {proc.name}\n{proc.output()[-3000:]}\n")
            raise


if __name__ == "__main__":
    harness.main()
