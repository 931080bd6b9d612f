"""Fault suite, a bad network (issue 7): delay and loss on a namespace link. Broker and gateway
on host A, the workers on host B, each host a test network namespace (test_deploy_compose.Lan);
while clients load the gateway, for FAULT_SECONDS B's link drops packets both ways and every byte
between the workers and the broker is delayed. Bounded (about 25 s). Needs root, `ip` and `nft`
(Debian's nftables); without them the test is skipped with the reason, never counted as passed.

The kernels CI runs on have no sch_netem, so the faults are made from what they do have:
- loss: an nftables table in B, `numgen random mod 100 < LOSS_PERCENT drop` on eth0 in and out
  (TCP retransmits, so the workers' connections see loss as stalls, as with netem);
- delay: the workers reach the broker through DelayRelay, a TCP relay in A that holds every
  chunk DELAY_MS ± JITTER_MS before passing it on, in order, both ways (set to 0 outside the
  fault window).

Pass: as the other fault scenarios (fault_support.verify): every GET answered once with 2xx,
every POST with 2xx or 502, none past its deadline, no POST run twice, RSS flat."""
import collections
import os
import random
import shutil
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_support as fs  # noqa: E402
import harness  # noqa: E402
from lan_support import Lan, need_root  # noqa: E402

HEARTBEAT_MS = 200
LIVENESS = 3
WORKERS = 6
DELAY_MS, JITTER_MS, LOSS_PERCENT = 20, 5, 1
# Under a sanitizer or valgrind the point is every fault path run under the tool, not the
# ledger's statistics: a shorter window keeps that phase of CI within its time.
FAULT_SECONDS = 8 if fs.under_tool() else 15
BROKER_PORT, RELAY_PORT = 5555, 5556


class DelayRelay:
    """TCP relay listening on (address, port) inside network namespace ns, forwarding every
    connection to target there. Each direction has a reader that stamps chunks with a due time
    (now + delay ± jitter, never earlier than the chunk before, so order holds) and a writer
    that sends them when due. delay_ms 0 forwards at once."""

    def __init__(self, ns, address, port, target):
        self.target = target
        self.delay_ms = self.jitter_ms = 0
        self.chunks = 0
        self.stopping = threading.Event()
        self.sockets = []
        self.lock = threading.Lock()
        ready = threading.Event()
        errors = []

        def listen():
            try:
                fs.enter_netns(ns)   # this thread and the ones it starts: sockets live in ns
                self.listener = socket.create_server((address, port))
                self.listener.settimeout(0.2)
            except OSError as error:
                errors.append(error)
                return
            finally:
                ready.set()
            self._accept_loop()

        threading.Thread(target=listen, daemon=True).start()
        ready.wait(10)
        if errors:
            raise errors[0]

    def set_delay(self, delay_ms, jitter_ms):
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                self._pipe(source, sink)

    def _pipe(self, source, sink):
        queue, ready = collections.deque(), threading.Condition()
        rng = random.Random()

        def read():
            last_due = 0.0
            while True:
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                delay = self.delay_ms + rng.uniform(-self.jitter_ms, self.jitter_ms)
                due = max(time.monotonic() + max(delay, 0) / 1000, last_due)
                last_due = due
                with ready:
                    queue.append((due, data))
                    ready.notify()
                if not data:
                    return

        def write():
            while True:
                with ready:
                    while not queue:
                        ready.wait()
                    due, data = queue.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not data:
                    break
                try:
                    sink.sendall(data)
                    self.chunks += 1
                except OSError:
                    break
            for sock in (sink, source):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


LOSS_RULESET = """table inet slowlane_loss {{
    chain input {{ type filter hook input priority 0; iifname "eth0" numgen random mod 100 < {p} counter drop; }}
    chain output {{ type filter hook output priority 0; oifname "eth0" numgen random mod 100 < {p} counter drop; }}
}}
"""


class DelayAndLossTest(unittest.TestCase):

    def setUp(self):
        need_root()
        if not shutil.which("nft"):
            raise unittest.SkipTest("needs nft (Debian package nftables): loss scenario NOT run")
        self.lan = Lan(["a", "b"], subnet="10.213.7")
        self.addCleanup(self.lan.destroy)
        # Probe nftables' numgen in a namespace before anything runs.
        probe = self.nft("b", "-c", "-f", "-", stdin=LOSS_RULESET.format(p=LOSS_PERCENT))
        if probe.returncode != 0:
            raise unittest.SkipTest(f"nftables unusable here: {probe.stderr.strip()}; "
                                    "delay/loss scenario NOT run")
        self.recorder = fs.Recorder()
        self.procs = []
        beat = ["--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS)]
        self.broker = self.start("a", "broker", harness.binary("slowlane-broker"),
                                 "--bind", f"tcp://*:{BROKER_PORT}", *beat)
        self.relay = DelayRelay(self.lan.ns("a"), self.lan.address["a"], RELAY_PORT,
                                ("127.0.0.1", BROKER_PORT))
        self.addCleanup(self.relay.stop)
        self.gateway = self.start("a", "gateway", harness.binary("slowlane-gateway"),
                                  "--listen", "8080", "--broker",
                                  f"tcp://127.0.0.1:{BROKER_PORT}", "--probe-ms", "100",
                                  *fs.GATEWAY_LIMITS, "--route",
                                  f"/work=work,timeout-ms={fs.ROUTE_TIMEOUT_MS},methods=GET|POST")
        self.supervisor = self.start("b", "supervisor", harness.binary("slowlane-worker"),
                                     "--broker", f"tcp://a:{RELAY_PORT}", "--service", "work",
                                     "--handler", self.recorder.handler, "--count", str(WORKERS),
                                     *beat)
        harness.wait_for(lambda: self.lan.http("a", "http://127.0.0.1:8080/readyz")[0] == 200,
                         timeout=15, what="gateway ready with B's workers")

    def nft(self, host, *args, stdin=None):
        return subprocess.run(self.lan.exec_args(host, "nft", *args), input=stdin,
                              capture_output=True, text=True, timeout=10)

    def start(self, host, name, *args):
        proc = harness.Process(self.lan.exec_args(host, *args), name=name)
        self.procs.append(proc)
        self.addCleanup(proc.stop)
        return proc

    def faults(self, on):
        if on:
            result = self.nft("b", "-f", "-", stdin=LOSS_RULESET.format(p=LOSS_PERCENT))
            self.relay.set_delay(DELAY_MS, JITTER_MS)
        else:
            self.relay.set_delay(0, 0)
            listing = self.nft("b", "list", "table", "inet", "slowlane_loss").stdout
            self.dropped = sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))
            result = self.nft("b", "delete", "table", "inet", "slowlane_loss")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_delay_and_loss_on_the_worker_link(self):
        load = fs.Load(8080, "link", netns=self.lan.ns("a")).start()
        self.addCleanup(load.stop_event.set)
        fs.wait_load(load, 200)
        # The supervisor runs under `ip netns exec`, which execs it: same pid.
        before = fs.snapshot({"broker": self.broker, "gateway": self.gateway,
                              "supervisor": self.supervisor})
        sent_before, chunks_before = load.sent(), self.relay.chunks
        self.faults(True)
        faults_on = True
        try:
            time.sleep(FAULT_SECONDS)
            fs.wait_load(load, 100)
        finally:
            self.faults(False)
            faults_on = False
        during = load.sent() - sent_before
        chunks = self.relay.chunks - chunks_before
        time.sleep(2)
        fs.wait_load(load, 100)
        load.stop()
        after = fs.snapshot({"broker": self.broker, "gateway": self.gateway,
                             "supervisor": self.supervisor})
        self.assertFalse(faults_on)
        problems, figures = fs.verify(
            load, self.recorder, [self.gateway],
            f"delay {DELAY_MS}±{JITTER_MS}ms (relay, {chunks} chunks) and loss {LOSS_PERCENT}% "
            f"(nftables, {self.dropped} packets dropped) for {FAULT_SECONDS}s, {during} requests meanwhile", label="link")
        rss_lines = []
        if not fs.under_tool():
            rss, rss_lines = fs.rss_problems(before, after)
            problems += rss
        fs.report(self, problems, figures, rss_lines, self.procs)


if __name__ == "__main__":
    harness.main()
