"""slowlane-worker --handler 'program:COMMAND' (docs/workers.md): the supervisor runs any
worker program, here examples/python_worker.py against the real broker, and gives it what C
workers get: registration under the host/pid/slot identity, restart after kill -9 under the
same identity, job timeout kill, max-requests recycling (from the 'S'/'E' events the program
writes), the SIGTERM drain, the crash-loop stop, the agent's view (idle, busy, jobs) and
broadcasts; a bad spec stops start-up. The environment and descriptors a program receives
(CURVE's keys too) are checked against the documented contract with a program that records
them."""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (MdpClient, envelope_request, mmi_service_ready, start_workers,  # noqa: E402
                     wait_for)

EXAMPLE = os.path.join(harness.SOURCE, "examples", "python_worker.py")
PROGRAM = f"program:{sys.executable} {EXAMPLE}"
C_FINAL = b"\x03"
HOST = "testhost"

# The contract's names (docs/workers.md), CURVE's only when it is on
CONTRACT = {"SLOWLANE_BROKER", "SLOWLANE_SERVICE", "SLOWLANE_IDENTITY", "SLOWLANE_HEARTBEAT_MS",
            "SLOWLANE_LIVENESS", "SLOWLANE_CAPACITY", "SLOWLANE_LOG_LEVEL", "SLOWLANE_EVENTS_FD",
            "SLOWLANE_BROADCAST_FD"}

# A program that records what it was given, then waits to be stopped
DUMP = r"""
import json, os, signal, stat, sys
fds = {}
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        continue  # listdir's own descriptor, closed by now
    fds[fd] = {"fifo": stat.S_ISFIFO(mode), "target": os.readlink(f"/proc/self/fd/{fd}"),
               "access": open(f"/proc/self/fdinfo/{fd}").read().split("flags:")[1].split()[0]}
env = {k: v for k, v in os.environ.items() if k.startswith("SLOWLANE_") or k == "KEEP_ME"}
record = {"env": env,
          "fds": fds, "pid": os.getpid(), "pgid": os.getpgid(0),
          "sighup_ignored": signal.getsignal(signal.SIGHUP) == signal.SIG_IGN}
path = sys.argv[1] + f".{os.getpid()}"
with open(path + ".tmp", "w") as f:
    json.dump(record, f)
os.rename(path + ".tmp", path)
signal.pause()
"""


def slot_pids(workers):
    """{slot: pid} of the latest worker_started line per slot."""
    pids = {}
    for slot, pid in re.findall(r"event=worker_started slot=(\d+) pid=(\d+)", workers.output()):
        pids[int(slot)] = int(pid)
    return pids


def registered(broker):
    """Worker names the broker logged as registered, in order."""
    return re.findall(r"event=worker_ready worker=(\S+) service=svc", broker.output())


class ProgramWorkerTest(harness.BrokerTest):
    def serve(self, handler=PROGRAM, count=1, extra=(), ready=True):
        workers = start_workers(self.broker.endpoint, "svc", handler, count=count,
                                extra=("--log-level", "debug", "--host", HOST, *extra))
        self.processes.append(workers)
        if ready:
            wait_for(lambda: len(harness.child_pids(workers.pid)) == count, what="children")
            wait_for(lambda: len(set(registered(self.broker))) >= count, what="registered")
            wait_for(lambda: mmi_service_ready(self.broker.endpoint, "svc"), what="mmi.service")
        return workers

    def call(self, request_id, query="", timeout_ms=5000, retry=True):
        self.client.send("svc", *envelope_request(request_id, query=query, retry=retry,
                                                  timeout_ms=timeout_ms))
        return self.final(timeout_ms + 2000)

    def final(self, timeout_ms=10000):
        reply = self.client.recv(timeout_ms)
        self.assertIsNotNone(reply, "no reply")
        self.assertEqual(reply[1], C_FINAL)
        return reply

    def job_in_hand(self, workers):
        """Waits until a program worker told the supervisor 'S'; returns its (slot, pid)."""
        pattern = r"event=program_job_started slot=(\d+) pid=(\d+)"
        wait_for(lambda: re.search(pattern, workers.output()), what="a job started")
        slot, pid = re.search(pattern, workers.output()).groups()
        return int(slot), int(pid)

    def test_two_programs_register_under_host_pid_slot_and_answer(self):
        workers = self.serve(count=2)
        self.assertEqual(sorted(set(registered(self.broker))),
                         [f"{HOST}/{workers.pid}/0", f"{HOST}/{workers.pid}/1"])
        # The worker pid is the program's own (sh -c 'exec ...'), not a shell's
        for pid in slot_pids(workers).values():
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                self.assertIn(EXAMPLE.encode(), f.read())
        answered_by = set()
        for n in range(6):
            reply = self.call(f"p{n}", query="name=ann")
            self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
            body = json.loads(reply[7])
            self.assertEqual(body["greeting"], "hello, ann")
            answered_by.add(body["pid"])
        self.assertTrue(answered_by <= set(slot_pids(workers).values()))

    def cluster(self, service="mmi.cluster", *body):
        """One mmi.cluster or mmi.cluster.command call (protocol.md 7.4); its JSON."""
        client = MdpClient(self.broker.endpoint)
        try:
            reply = client.request(service, b"tag", *body, timeout_ms=2000)
        finally:
            client.close()
        return json.loads(reply[4]) if reply else None

    def view_worker(self):
        view = self.cluster() or {"workers": []}
        found = [w for w in view["workers"] if w.get("service") == "svc" and w.get("pid")]
        return found[0] if found else {}

    def test_agent_view_and_broadcasts_follow_the_programs_events(self):
        workers = self.serve(count=1)
        pid = slot_pids(workers)[0]
        # 'R' made it registered: idle, and a broadcast goes to it
        wait_for(lambda: self.view_worker().get("state") == "idle", what="idle in the view")
        self.assertEqual(self.view_worker()["identity"], f"{HOST}/{workers.pid}/0")
        answer = self.cluster("mmi.cluster.command", json.dumps(
            {"op": "broadcast", "service": "svc", "message": "hi", "id": "b1"}).encode())
        self.assertEqual((answer["status"], answer["workers"]), (202, 1), answer)
        # 'S': busy with a job whose age grows; 'E': idle again, one job done
        self.client.send("svc", *envelope_request("v1", query="sleep_ms=1500", timeout_ms=5000))
        wait_for(lambda: self.view_worker().get("state") == "busy", what="busy in the view")
        wait_for(lambda: self.view_worker().get("job_age_ms", 0) > 0, what="job age")
        self.assertEqual(self.final()[4:6], [b"SLREP/1", b"200"])
        wait_for(lambda: self.view_worker().get("jobs") == 1
                 and self.view_worker().get("state") == "idle", what="one job done, idle")
        self.assertEqual(self.view_worker()["pid"], pid)

    def test_kill9_restarts_under_the_same_identity(self):
        workers = self.serve(count=1)
        pid = slot_pids(workers)[0]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: slot_pids(workers)[0] != pid, what="restart")
        self.assertIn(f"slot=0 pid={pid} reason=signal signal=9", workers.output())
        # The broker took the same identity over (2 READYs from one name)
        wait_for(lambda: len(registered(self.broker)) == 2, what="registered again")
        self.assertEqual(set(registered(self.broker)), {f"{HOST}/{workers.pid}/0"})
        self.assertEqual(self.call("after")[4:6], [b"SLREP/1", b"200"])

    def test_job_timeout_kills_the_program_and_the_slot_restarts(self):
        workers = self.serve(extra=("--job-timeout-ms", "300"))
        self.client.send("svc", *envelope_request("t1", query="sleep_ms=5000", retry=False,
                                                  timeout_ms=10000))
        slot, pid = self.job_in_hand(workers)
        self.assertEqual(self.final()[4:6], [b"SLERR/1", b"worker_died"])
        self.assertRegex(workers.output(), rf"event=job_timeout slot={slot} pid={pid} ")
        self.assertIn(f"pid={pid} reason=job_timeout", workers.output())
        wait_for(lambda: slot_pids(workers)[slot] != pid, what="restart")
        wait_for(lambda: len(registered(self.broker)) == 2, what="registered again")
        self.assertEqual(self.call("t2")[4:6], [b"SLREP/1", b"200"])

    def test_max_requests_recycles_after_two_jobs(self):
        workers = self.serve(extra=("--max-requests", "2"))
        first = slot_pids(workers)[0]
        for n in range(2):
            self.assertEqual(self.call(f"m{n}")[4:6], [b"SLREP/1", b"200"])
        wait_for(lambda: f"pid={first} reason=max_requests code=0" in workers.output(),
                 what="recycle")
        wait_for(lambda: slot_pids(workers)[0] != first, what="replacement")
        self.assertEqual(self.call("m2")[4:6], [b"SLREP/1", b"200"])

    def test_sigterm_drains_the_job_in_hand_then_exits_0(self):
        workers = self.serve(count=1)
        self.client.send("svc", *envelope_request("d1", query="sleep_ms=800", retry=False,
                                                  timeout_ms=10000))
        _, pid = self.job_in_hand(workers)
        workers.signal(signal.SIGTERM)
        reply = self.final()
        self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        self.assertEqual(json.loads(reply[7])["pid"], pid)
        self.assertEqual(workers.proc.wait(10), 0)
        self.assertIn(f"event=worker_exited slot=0 pid={pid} code=0", workers.output())
        self.assertFalse(os.path.exists(f"/proc/{pid}/cmdline")
                         and open(f"/proc/{pid}/cmdline", "rb").read())

    def test_program_that_exits_at_once_hits_the_crash_loop_stop(self):
        workers = self.serve("program:false", extra=("--crash-loop-restarts", "3"), ready=False)
        wait_for(lambda: "event=crash_loop" in workers.output(), what="crash_loop line")
        lines = [l for l in workers.output().splitlines() if "event=crash_loop" in l]
        self.assertEqual(len(lines), 1)
        self.assertIn("slot=0", lines[0])
        self.assertIn("code=1", lines[0])
        self.assertIn("action=slot_stopped", lines[0])
        self.assertEqual(len(re.findall(r"event=worker_started slot=0", workers.output())), 3)
        wait_for(lambda: harness.child_pids(workers.pid) == [], what="no child")
        self.assertTrue(workers.alive())

    def test_bad_program_specs_stop_start_up_with_one_line(self):
        for spec in ("program:", "program:   "):
            workers = start_workers(self.broker.endpoint, "svc", spec)
            self.processes.append(workers)
            self.assertEqual(workers.proc.wait(10), 2)
            lines = workers.output().strip().splitlines()
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("--handler", lines[0])
            self.assertIn("program:", lines[0])

    def dump(self, brokers, count, extra=(), env=None):
        """Runs DUMP as the program of count slots; returns (supervisor, {slot: record})."""
        directory = tempfile.mkdtemp(prefix="slowlane-program-")
        self.addCleanup(shutil.rmtree, directory, True)
        script = os.path.join(directory, "dump.py")
        with open(script, "w") as f:
            f.write(DUMP)
        out = os.path.join(directory, "record")
        spec = f"program:{sys.executable} {shlex.quote(script)} {shlex.quote(out)}"
        workers = harness.Process(
            [harness.binary("slowlane-worker"), *[a for b in brokers for a in ("--broker", b)],
             "--service", "svc", "--count", str(count), "--handler", spec, "--host", HOST,
             "--log-level", "debug", *extra], env=env, name="worker-dump")
        self.processes.append(workers)
        records = lambda: [f for f in os.listdir(directory) if re.fullmatch(r"record\.\d+", f)]
        wait_for(lambda: len(records()) == count, what="every program recorded")
        by_slot = {}
        for name in records():
            with open(os.path.join(directory, name)) as f:
                record = json.load(f)
            by_slot[int(record["env"]["SLOWLANE_IDENTITY"].rsplit("/", 1)[1])] = record
        self.assertEqual(sorted(by_slot), list(range(count)))
        return workers, by_slot

    def test_environment_and_descriptors_are_the_documented_ones(self):
        second = "tcp://127.0.0.1:%d" % harness.free_port()  # no broker there: never answers
        workers, by_slot = self.dump(
            [self.broker.endpoint, second], 2,
            extra=("--heartbeat-ms", "150", "--liveness", "4", "--capacity", "3"),
            # A supervisor flag from the environment is not the program's; the rest is
            env={"SLOWLANE_DRAIN_TIMEOUT_MS": "2000", "KEEP_ME": "1"})
        pids = slot_pids(workers)
        for slot, record in by_slot.items():
            env = record["env"]
            # No CURVE given: no CURVE variables, nothing beyond the contract
            self.assertEqual(set(env) - {"KEEP_ME"}, CONTRACT)
            self.assertEqual(env["KEEP_ME"], "1")
            self.assertEqual(env["SLOWLANE_BROKER"], f"{self.broker.endpoint} {second}")
            self.assertEqual(env["SLOWLANE_SERVICE"], "svc")
            self.assertEqual(env["SLOWLANE_IDENTITY"], f"{HOST}/{workers.pid}/{slot}")
            self.assertEqual((env["SLOWLANE_HEARTBEAT_MS"], env["SLOWLANE_LIVENESS"]),
                             ("150", "4"))
            self.assertEqual(env["SLOWLANE_CAPACITY"], "3")
            self.assertEqual(env["SLOWLANE_LOG_LEVEL"], "debug")
            # The pid is the program's (exec), in a process group of its own, SIGHUP ignored
            self.assertEqual(record["pid"], pids[slot])
            self.assertEqual(record["pgid"], record["pid"])
            self.assertTrue(record["sighup_ignored"])
            # Exactly stdin/out/err and the two pipes: nothing else of the supervisor's
            events, broadcasts = int(env["SLOWLANE_EVENTS_FD"]), int(env["SLOWLANE_BROADCAST_FD"])
            fds = {int(fd): info for fd, info in record["fds"].items()}
            self.assertEqual(set(fds) - {0, 1, 2}, {events, broadcasts}, fds)
            self.assertTrue(fds[events]["fifo"] and fds[broadcasts]["fifo"])
            self.assertEqual(int(fds[events]["access"], 8) & 3, os.O_WRONLY)
            self.assertEqual(int(fds[broadcasts]["access"], 8) & 3, os.O_RDONLY)
        # It writes no event: the supervisor never hears 'R' and shows it starting (workers.md)
        states = lambda: sorted(w["state"] for w in (self.cluster() or {"workers": []})["workers"]
                                if w.get("service") == "svc" and w.get("pid"))
        wait_for(lambda: len(states()) == 2, what="both in the view")
        self.assertEqual(states(), ["starting", "starting"])
        self.assertEqual(workers.stop(), 0)

    def test_curve_keys_are_passed_one_per_broker_in_order(self):
        keys = tempfile.mkdtemp(prefix="slowlane-program-keys-")
        self.addCleanup(shutil.rmtree, keys, True)
        for name in ("one", "two", "worker"):
            subprocess.run([harness.binary("slowlane"), "keygen", "--out", keys, "--name", name],
                           check=True, capture_output=True, timeout=10)
        brokers = ["tcp://127.0.0.1:%d" % harness.free_port() for _ in range(2)]
        secret, one, two = (os.path.join(keys, n) for n in ("worker_secret", "one", "two"))
        for servers, expected in (([one, two], f"{one} {two}"), ([one], f"{one} {one}")):
            workers, by_slot = self.dump(brokers, 1, extra=(
                "--curve-secret", secret, *[a for k in servers for a in ("--curve-server", k)]))
            env = by_slot[0]["env"]
            self.assertEqual(set(env), CONTRACT | {"SLOWLANE_CURVE_SECRET",
                                                   "SLOWLANE_CURVE_SERVER"})
            self.assertEqual(env["SLOWLANE_CURVE_SECRET"], secret)
            self.assertEqual(env["SLOWLANE_CURVE_SERVER"], expected)
            workers.stop()

if __name__ == "__main__":
    harness.main()
