"""slowlane-worker's supervisor with the real broker: kill -9 of a busy worker (restart with a
new pid; a retryable job completes elsewhere, a non-retryable one gets worker_died),
--job-timeout-ms, SIGTERM drain, crash-loop stop, max-requests and max-RSS recycling and
the SIGHUP rolling restart. Worker pids are read from the supervisor's log lines
(event=worker_started slot=N pid=P) and checked against /proc."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import envelope_request, mmi_service_ready, start_workers, wait_for  # noqa: E402

C_FINAL = b"\x03"




def slot_pids(workers):
    """{slot: pid} of the latest worker_started line per slot."""
    pids = {}
    for slot, pid in re.findall(r"event=worker_started slot=(\d+) pid=(\d+)", workers.output()):
        pids[int(slot)] = int(pid)
    return pids


def slot_of_job(workers, request_id):
    match = re.search(rf"comp=worker\.(\d+) event=job_started rid={re.escape(request_id)}\b",
                      workers.output())
    return int(match.group(1)) if match else None


class SupervisorTest(harness.BrokerTest):
    def serve(self, handler, count=2, extra=(), ready=True):
        workers = start_workers(self.broker.endpoint, "svc", handler, count=count,
                                extra=("--log-level", "debug", *extra))
        self.processes.append(workers)
        if ready:
            wait_for(lambda: len(harness.child_pids(workers.pid)) == count, what="children")
            wait_for(lambda: mmi_service_ready(self.broker.endpoint, "svc"), what="registered")
        return workers

    def job_in_hand(self, workers, request_id):
        """Waits until a worker's handler has request_id; returns (slot, pid)."""
        wait_for(lambda: slot_of_job(workers, request_id) is not None,
                 what=f"{request_id} started")
        slot = slot_of_job(workers, request_id)
        return slot, slot_pids(workers)[slot]

    def final(self, timeout_ms=10000):
        reply = self.client.recv(timeout_ms)
        self.assertIsNotNone(reply, "no reply")
        self.assertEqual(reply[1], C_FINAL)
        return reply

    def kill_busy_worker(self, retry):
        workers = self.serve("builtin:sleep")
        self.client.send("svc", *envelope_request("k1", query="ms=800", retry=retry,
                                                  timeout_ms=10000))
        slot, pid = self.job_in_hand(workers, "k1")
        os.kill(pid, signal.SIGKILL)
        reply = self.final()
        # The supervisor restarts the slot with a new process
        wait_for(lambda: slot_pids(workers)[slot] != pid, what="restart")
        new_pid = slot_pids(workers)[slot]
        wait_for(lambda: new_pid in harness.child_pids(workers.pid), what="new child alive")
        self.assertIn(f"slot={slot} pid={pid} reason=signal signal=9", workers.output())
        return reply

    def test_kill9_retryable_job_is_redelivered_and_completes(self):
        reply = self.kill_busy_worker(retry=True)
        self.assertEqual(reply[3:6], [b"k1", b"SLREP/1", b"200"])
        self.assertEqual(reply[7], b"slept 800 ms\n")
        self.assertEqual(len(re.findall(r"event=job_started rid=k1\b",
                                        self.processes[-1].output())), 2)

    def test_kill9_non_retryable_job_gets_worker_died(self):
        reply = self.kill_busy_worker(retry=False)
        self.assertEqual(reply[3:6], [b"k1", b"SLERR/1", b"worker_died"])

    def test_job_timeout_kills_and_restarts(self):
        workers = self.serve("builtin:sleep", count=1, extra=("--job-timeout-ms", "300"))
        self.client.send("svc", *envelope_request("t1", query="ms=5000", retry=False,
                                                  timeout_ms=10000))
        slot, pid = self.job_in_hand(workers, "t1")
        started = time.monotonic()
        reply = self.final()
        self.assertLess(time.monotonic() - started, 3)
        self.assertEqual(reply[4:6], [b"SLERR/1", b"worker_died"])
        self.assertRegex(workers.output(), rf"event=job_timeout slot={slot} pid={pid} ")
        self.assertIn(f"pid={pid} reason=job_timeout", workers.output())
        wait_for(lambda: slot_pids(workers)[slot] != pid, what="restart")
        wait_for(lambda: mmi_service_ready(self.broker.endpoint, "svc"), what="back")

    def test_job_timeout_also_kills_the_cgi_script(self):
        marker = "31.25"  # a sleep nobody else runs: finds the script among all processes
        workers = self.serve(f"exec:sleep {marker}", count=1, extra=("--job-timeout-ms", "300"))
        self.client.send("svc", *envelope_request("t2", retry=False, timeout_ms=20000))
        wait_for(lambda: scripts(marker), what="script running")
        self.assertEqual(self.final()[4:6], [b"SLERR/1", b"worker_died"])
        self.assertIn("reason=job_timeout", workers.output())
        wait_for(lambda: not scripts(marker), timeout=3, what="script gone with its worker")

    def test_job_timeout_kills_what_the_script_started_even_in_a_new_session(self):
        # A script's background job that left its process group and session (setsid) is
        # still found: it is an orphan of the dead worker, so the supervisor reaps it.
        escaped, stayed = "31.75", "31.5"
        workers = self.serve(f"exec:setsid sleep {escaped} & sleep {stayed}", count=1,
                             extra=("--job-timeout-ms", "300"))
        self.client.send("svc", *envelope_request("t3", retry=False, timeout_ms=20000))
        wait_for(lambda: scripts(escaped) and scripts(stayed), what="both sleeps running")
        escaped_pid = scripts(escaped)[0]
        self.assertNotEqual(session_of(escaped_pid), session_of(workers.pid))
        self.assertEqual(self.final()[4:6], [b"SLERR/1", b"worker_died"])
        wait_for(lambda: not scripts(escaped) and not scripts(stayed), timeout=3,
                 what="every process the script started gone with its worker")
        self.assertIn("event=strays_killed", workers.output())

    def test_workers_share_the_supervisors_session_and_scheduling_group(self):
        # A session per worker is an autogroup per worker on Linux: --nice would not count
        # against other sessions, and a worker alone in its group waited up to a second for
        # a CPU behind a busy session (late heartbeats, expired workers).
        workers = self.serve("builtin:echo", count=2)
        children = harness.child_pids(workers.pid)
        self.assertEqual(len(children), 2)
        for pid in children:
            self.assertEqual(session_of(pid), session_of(workers.pid))
            self.assertEqual(os.getpgid(pid), pid)  # its own group: no terminal Ctrl-C
            if os.path.exists(f"/proc/{pid}/autogroup"):
                self.assertEqual(autogroup_of(pid), autogroup_of(workers.pid))

    def test_sigterm_drains_job_in_hand_and_leaves_no_child(self):
        workers = self.serve("builtin:sleep")
        self.client.send("svc", *envelope_request("d1", query="ms=600", retry=False))
        self.job_in_hand(workers, "d1")
        pids = harness.child_pids(workers.pid)
        workers.signal(signal.SIGTERM)
        reply = self.final()
        self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        self.assertEqual(reply[7], b"slept 600 ms\n")
        self.assertEqual(workers.proc.wait(10), 0)
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}") and children_state(pid) != "Z")
        self.assertIn("event=supervisor_stopped", workers.output())

    def test_crash_loop_stops_slot_and_says_so(self):
        workers = self.serve("builtin:echo", count=1, extra=("--crash-loop-restarts", "3"))
        # A worker that dies as soon as it is up, three times within the window
        killed = set()
        for _ in range(3):
            pid = wait_for(lambda: slot_pids(workers).get(0) not in killed
                           and slot_pids(workers)[0], what="a new worker")
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        wait_for(lambda: "event=crash_loop" in workers.output(), what="crash_loop line")
        lines = [l for l in workers.output().splitlines() if "event=crash_loop" in l]
        self.assertEqual(len(lines), 1)
        self.assertIn("slot=0", lines[0])
        self.assertIn("action=slot_stopped", lines[0])
        self.assertEqual(len(re.findall(r"event=worker_started slot=0", workers.output())), 3)
        wait_for(lambda: harness.child_pids(workers.pid) == [], what="no child")
        self.assertTrue(workers.alive())  # the supervisor stays up and says so, it does not exit
        # SIGHUP is the operator's "try again": the stopped slot comes back
        workers.signal(signal.SIGHUP)
        wait_for(lambda: len(harness.child_pids(workers.pid)) == 1, what="slot revived")

    def test_max_requests_recycles(self):
        workers = self.serve("builtin:echo", count=1, extra=("--max-requests", "3"))
        first = slot_pids(workers)[0]
        for n in range(3):
            self.client.send("svc", *envelope_request(f"m{n}"))
            self.assertEqual(self.final()[4:6], [b"SLREP/1", b"200"])
        wait_for(lambda: f"pid={first} reason=max_requests" in workers.output(), what="recycle")
        wait_for(lambda: slot_pids(workers)[0] != first, what="replacement")
        self.client.send("svc", *envelope_request("m3"))
        self.assertEqual(self.final()[4:6], [b"SLREP/1", b"200"])

    def test_max_rss_recycles(self):
        workers = self.serve("builtin:echo", count=1, extra=("--max-rss-mb", "1"), ready=False)
        wait_for(lambda: "reason=max_rss" in workers.output(), timeout=10, what="max_rss")
        self.assertIn("event=max_rss slot=0", workers.output())

    def test_nice_applies_to_workers_not_supervisor(self):
        workers = self.serve("builtin:echo", count=2, extra=("--nice", "7"))
        # --nice is absolute (setpriority); below the inherited value (a suite run under
        # `nice -n 19`) only root may go, else the workers keep it.
        inherited = nice_of(os.getpid())
        expected = 7 if os.geteuid() == 0 or inherited <= 7 else inherited
        for pid in harness.child_pids(workers.pid):
            self.assertEqual(nice_of(pid), expected)
        self.assertEqual(nice_of(workers.pid), nice_of(os.getpid()))

    def test_own_session_refused_to_a_process_group_leader_with_one_line(self):
        # The harness starts each process as a group leader, as a shell's job control does:
        # setsid() is refused to it, and start-up stops saying how to start it instead
        workers = start_workers(self.broker.endpoint, "svc", "builtin:echo",
                                extra=("--own-session", "--nice", "5"))
        self.processes.append(workers)
        self.assertEqual(workers.proc.wait(timeout=10), 2)
        self.assertIn("--own-session: this process leads a process group", workers.output())
        self.assertFalse(mmi_service_ready(self.broker.endpoint, "svc"))

    def test_sighup_rolls_every_worker(self):
        workers = self.serve("builtin:echo", count=3)
        before = slot_pids(workers)
        workers.signal(signal.SIGHUP)
        wait_for(lambda: "event=rolling_restart_done" in workers.output(), what="roll done")
        after = slot_pids(workers)
        self.assertEqual(sorted(after), [0, 1, 2])
        self.assertTrue(all(after[s] != before[s] for s in after))
        # One at a time: each slot's restart is logged before the next slot's
        order = [int(s) for s in re.findall(r"event=worker_restart slot=(\d+) \S+ reason=sighup",
                                            workers.output())]
        self.assertEqual(order, [0, 1, 2])
        self.assertEqual(sorted(harness.child_pids(workers.pid)), sorted(after.values()))
        self.client.send("svc", *envelope_request("h1"))
        self.assertEqual(self.final()[4:6], [b"SLREP/1", b"200"])


def scripts(marker):
    """Pids of live `sleep MARKER` processes."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:2] == [b"sleep", marker.encode()] \
                        and children_state(int(entry)) != "Z":
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def nice_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def session_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


def autogroup_of(pid):
    """The scheduling group, without its nice value: "/autogroup-N", or "" for a process in
    no autogroup (the kernel prints nothing for the root group: a process whose ancestors
    never started a session, or one in a cgroup of its own, as on the CI machine)."""
    with open(f"/proc/{pid}/autogroup") as f:
        words = f.read().split()
    return words[0] if words else ""


def children_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


if __name__ == "__main__":
    harness.main()
