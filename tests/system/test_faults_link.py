"""Fault suite, a bad network (issue 7): broker and gateway on host A, the workers on host B,
each host a test network namespace (test_deploy_compose.Lan); tc netem adds delay, jitter and
loss to B's link both ways while clients load the gateway. Bounded (about 25 s). Needs root,
iproute2's tc and the sch_netem qdisc: without them the test is skipped with the reason, never
counted as passed.

Pass: as the other fault scenarios (fault_support.verify): every GET answered once with 2xx,
every POST with 2xx or 502, none past its deadline, no POST run twice, RSS flat."""
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_support as fs  # noqa: E402
import harness  # noqa: E402
from test_deploy_compose import Lan, need_root  # noqa: E402

HEARTBEAT_MS = 200
LIVENESS = 3
WORKERS = 6
NETEM = ["delay", "20ms", "5ms", "loss", "1%"]
FAULT_SECONDS = 15


def in_namespace(ns, function):
    """Runs function() on a thread that has entered network namespace ns; returns its value."""
    result = {}

    def run():
        try:
            fs.enter_netns(ns)
            result["value"] = function()
        except BaseException as error:  # handed to the caller
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


class NetemTest(unittest.TestCase):

    def setUp(self):
        need_root()
        if not shutil.which("tc"):
            raise unittest.SkipTest("needs tc (iproute2)")
        self.lan = Lan(["a", "b"], subnet="10.213.7")
        self.addCleanup(self.lan.destroy)
        # Probe netem on a throwaway qdisc before anything runs: a kernel without sch_netem
        # (CONFIG_NET_SCH_NETEM unset, or the module not loadable) skips the scenario.
        probe = self.lan.sh("b", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
        if probe.returncode != 0:
            if shutil.which("modprobe"):
                subprocess.run(["modprobe", "sch_netem"], capture_output=True, timeout=10)
            probe = self.lan.sh("b", "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                                "delay", "1ms")
        if probe.returncode != 0:
            raise unittest.SkipTest("tc netem unavailable (sch_netem not in this kernel and not "
                                    f"loadable): {probe.stderr.strip()}; delay/loss scenario "
                                    "NOT run")
        self.lan.sh("b", "tc", "qdisc", "del", "dev", "lo", "root")
        self.recorder = fs.Recorder()
        self.procs = []
        beat = ["--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS)]
        self.broker = self.start("a", "broker", harness.binary("slowlane-broker"),
                                 "--bind", "tcp://*:5555", *beat)
        self.gateway = self.start("a", "gateway", harness.binary("slowlane-gateway"),
                                  "--listen", "8080", "--broker", "tcp://127.0.0.1:5555",
                                  "--probe-ms", "100", "--route",
                                  f"/work=work,timeout-ms={fs.ROUTE_TIMEOUT_MS},methods=GET|POST")
        self.supervisor = self.start("b", "supervisor", harness.binary("slowlane-worker"),
                                     "--broker", "tcp://a:5555", "--service", "work",
                                     "--handler", self.recorder.handler, "--count", str(WORKERS),
                                     *beat)
        harness.wait_for(lambda: self.lan.http("a", "http://127.0.0.1:8080/readyz")[0] == 200,
                         timeout=15, what="gateway ready with B's workers")

    def start(self, host, name, *args):
        proc = harness.Process(self.lan.exec_args(host, *args), name=name)
        self.procs.append(proc)
        self.addCleanup(proc.stop)
        return proc

    def netem(self, action):
        """netem on both ends of B's link: eth0 in B (B to A) and B's bridge port (A to B)."""
        for args in (self.lan.exec_args("b", "tc", "qdisc", action, "dev", "eth0", "root"),
                     ["ip", "netns", "exec", self.lan.lan, "tc", "qdisc", action, "dev",
                      self.lan.port("b"), "root"]):
            subprocess.run(args + (NETEM if action == "add" else []), check=True,
                           capture_output=True, timeout=10)

    def test_delay_and_loss_on_the_worker_link(self):
        load = fs.Load(8080, "netem", netns=self.lan.ns("a")).start()
        self.addCleanup(load.stop_event.set)
        fs.wait_load(load, 200)
        # The supervisor runs under `ip netns exec`, which execs it: same pid.
        before = fs.snapshot({"broker": self.broker, "gateway": self.gateway,
                              "supervisor": self.supervisor})
        self.netem("add")
        netem_on = True
        try:
            time.sleep(FAULT_SECONDS)
            fs.wait_load(load, 100)
        finally:
            self.netem("del")
            netem_on = False
        time.sleep(2)
        fs.wait_load(load, 100)
        load.stop()
        after = fs.snapshot({"broker": self.broker, "gateway": self.gateway,
                             "supervisor": self.supervisor})
        self.assertFalse(netem_on)
        problems, figures = fs.verify(load, self.recorder, [self.gateway],
                                      f"netem {' '.join(NETEM)} for {FAULT_SECONDS}s",
                                      label="netem")
        rss_lines = []
        if not fs.under_tool():
            rss, rss_lines = fs.rss_problems(before, after)
            problems += rss
        fs.report(self, problems, figures, rss_lines, self.procs)


if __name__ == "__main__":
    harness.main()
