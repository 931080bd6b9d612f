"""slowlane-worker against a fake broker: the worker side of MDP/0.2 (RFC 18) as the library
speaks it, checked frame by frame. The fake broker is a python3-zmq ROUTER that records what
the worker sends and answers heartbeats; each check quotes the RFC clause it holds the
worker to. No slowlane broker is involved, so a broker bug cannot hide a worker bug."""
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HEARTBEAT_MS, LIVENESS, envelope_request, wait_for  # noqa: E402

READY, REQUEST, PARTIAL, FINAL, HEARTBEAT, DISCONNECT = (bytes([n]) for n in range(1, 7))
CANCEL = b"\x13"  # protocol.md 3.8


class FakeBroker:
    """A ROUTER on its own thread. Records every non-heartbeat message in `messages`
    (identity, frames) and the time of every worker HEARTBEAT in `heartbeats`; sends a
    HEARTBEAT to every worker it knows each HEARTBEAT_MS while `heartbeating`."""

    def __init__(self, port=None):
        self.port = port or harness.free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.messages = queue.Queue()
        self.heartbeats = []
        self.heartbeating = True
        self.workers = set()
        self._outbox = queue.Queue()
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._bound.wait(5)

    def _run(self):
        socket = zmq.Context.instance().socket(zmq.ROUTER)
        socket.linger = 0
        socket.bind(self.endpoint)
        self._bound.set()
        next_beat = time.monotonic()
        while not self._stop.is_set():
            while not self._outbox.empty():
                socket.send_multipart(self._outbox.get())
            if self.heartbeating and time.monotonic() >= next_beat:
                for identity in list(self.workers):
                    socket.send_multipart([identity, b"MDPW02", HEARTBEAT])
                next_beat = time.monotonic() + HEARTBEAT_MS / 1000
            if socket.poll(10, zmq.POLLIN):
                frames = socket.recv_multipart()
                identity, rest = frames[0], frames[1:]
                if rest[:1] == [b"SLAGENT1"]:
                    continue  # the supervisor's own agent (docs/protocol.md section 7), not MDP
                if rest[:2] == [b"MDPW02", HEARTBEAT]:
                    self.heartbeats.append(time.monotonic())
                    continue
                if rest[:2] == [b"MDPW02", READY]:
                    self.workers.add(identity)
                self.messages.put((identity, rest))
        socket.close()

    def send(self, identity, *frames):
        self._outbox.put([identity, *frames])

    def request(self, identity, *body, client=b"client-1"):
        self.send(identity, b"MDPW02", REQUEST, client, b"", *body)

    def next(self, timeout=5.0):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message from the worker within {timeout}s")

    def close(self):
        self._stop.set()
        self._thread.join(5)


class WorkerProtocolTest(unittest.TestCase):
    def start(self, handler="builtin:echo", extra=()):
        self.broker = FakeBroker()
        self.workers = harness.start_workers(self.broker.endpoint, "svc", handler, count=1,
                                             extra=extra)
        identity, frames = self.broker.next()
        # RFC 18: "A READY command consists of a multipart message of 3 frames ...
        # Frame 0: "MDPW02" ... Frame 1: 0x01 ... Frame 2: Service name", and protocol.md 3.8's
        # `cancel` frame: it takes CANCEL.
        self.assertEqual(frames, [b"MDPW02", READY, b"svc", b"cancel"])
        return identity

    def tearDown(self):
        if hasattr(self, "workers"):
            self.workers.stop()
        if hasattr(self, "broker"):
            self.broker.close()

    def test_ready_identity_is_stable_host_pid_slot(self):
        identity = self.start()
        self.assertRegex(identity.decode(), rf"^[^/]+/{self.workers.pid}/0$")

    def test_envelope_request_gets_reply_envelope_as_final(self):
        identity = self.start()
        self.broker.request(identity, *envelope_request("rid-1", "POST", "/fast", "a=1",
                                                        b"X-A: b\r\n", b"payload"))
        _, frames = self.broker.next()
        # RFC 18: "FINAL ... Frame 2: Client address (envelope stack) Frame 3: Empty"
        self.assertEqual(frames[:4], [b"MDPW02", FINAL, b"client-1", b""])
        self.assertEqual(frames[4:7], [b"SLREP/1", b"200", b"Content-Type: text/plain\r\n"])
        self.assertEqual(frames[7], b"a=1\npayload")

    def test_opaque_request_gets_its_frames_back_one_for_one(self):
        identity = self.start()
        self.broker.request(identity, b"hello ", b"world")
        _, frames = self.broker.next()
        self.assertEqual(frames, [b"MDPW02", FINAL, b"client-1", b"", b"hello ", b"world"])

    def test_stream_sends_partials_then_final(self):
        identity = self.start("builtin:stream")
        self.broker.request(identity, *envelope_request("rid-2", query="n=3"))
        # RFC 18: "The worker SHALL send zero or more PARTIAL commands for a single REQUEST,
        # followed by exactly one FINAL command."
        commands = []
        while not commands or commands[-1][1] != FINAL:
            commands.append(self.broker.next()[1])
        self.assertEqual([c[1] for c in commands], [PARTIAL, PARTIAL, FINAL])
        self.assertEqual(commands[0][4:], [b"SLREP/1", b"200", b"Content-Type: text/plain\r\n",
                                           b"chunk 0\n"])
        self.assertEqual(commands[1][4:], [b"chunk 1\n"])
        self.assertEqual(commands[2][4:], [b"chunk 2\n"])

    def test_heartbeats_continue_while_handler_runs(self):
        identity = self.start("builtin:sleep")
        job_ms = 20 * HEARTBEAT_MS
        self.broker.request(identity, *envelope_request("rid-3", query=f"ms={job_ms}"))
        started = time.monotonic()
        _, frames = self.broker.next(timeout=job_ms / 1000 + 5)
        self.assertEqual(frames[1], FINAL)
        self.assertEqual(frames[7], f"slept {job_ms} ms\n".encode())
        # RFC 18: "Both broker and worker MUST send heartbeats at regular and agreed-upon
        # intervals." The handler sleeps on another thread; the I/O thread keeps beating.
        during = [t for t in self.broker.heartbeats if t > started]
        self.assertGreaterEqual(len(during), 20 - 5)

    def test_disconnect_from_broker_reregisters_on_new_socket(self):
        identity = self.start()
        self.broker.send(identity, b"MDPW02", DISCONNECT)
        # RFC 18: "When the worker receives DISCONNECT ... it MUST close its socket, and
        # reconnect to the broker on a new socket."
        again, frames = self.broker.next()
        self.assertEqual(frames, [b"MDPW02", READY, b"svc", b"cancel"])
        self.assertEqual(again, identity)  # the stable identity survives the reconnect

    def test_silent_broker_is_presumed_dead_and_worker_reconnects(self):
        identity = self.start()
        self.broker.heartbeating = False
        # RFC 18: "A peer MUST consider the other peer "disconnected" if no heartbeat
        # arrives within some multiple of that interval"
        started = time.monotonic()
        _, frames = self.broker.next(timeout=5)
        self.assertEqual(frames, [b"MDPW02", READY, b"svc", b"cancel"])
        self.assertGreaterEqual(time.monotonic() - started, (LIVENESS - 1) * HEARTBEAT_MS / 1000)

    def test_sigterm_finishes_job_then_disconnects(self):
        identity = self.start("builtin:sleep", extra=("--log-level", "debug"))
        self.broker.request(identity, *envelope_request("rid-4", query="ms=500"))
        child = wait_for(lambda: harness.child_pids(self.workers.pid), what="worker child")[0]
        # The point is a job in hand: wait until the handler has it
        wait_for(lambda: "event=job_started rid=rid-4" in self.workers.output()
                 or "rid=rid-4 event=job_started" in self.workers.output(), what="job start")
        os.kill(child, signal.SIGTERM)
        _, frames = self.broker.next()
        self.assertEqual(frames[1], FINAL)
        self.assertEqual(frames[7], b"slept 500 ms\n")
        # RFC 18: "The worker MAY send DISCONNECT at any time"; we send it after the reply
        _, frames = self.broker.next()
        self.assertEqual(frames, [b"MDPW02", DISCONNECT])

    def test_max_requests_recycles_after_n_jobs(self):
        identity = self.start(extra=("--max-requests", "2"))
        first_child = wait_for(lambda: harness.child_pids(self.workers.pid))[0]
        for n in range(2):
            self.broker.request(identity, b"job", str(n).encode())
            self.assertEqual(self.broker.next()[1][1], FINAL)
        self.assertEqual(self.broker.next()[1], [b"MDPW02", DISCONNECT])
        # The replacement registers again under the same identity
        again, frames = self.broker.next()
        self.assertEqual((again, frames), (identity, [b"MDPW02", READY, b"svc", b"cancel"]))
        wait_for(lambda: harness.child_pids(self.workers.pid) not in ([], [first_child]))
        wait_for(lambda: "reason=max_requests" in self.workers.output(), what="restart log")



class WorkerCancelTest(unittest.TestCase):
    """protocol.md 3.8: a CANCEL for the job in hand tells its handler (sl_job_cancelled);
    the worker still ends the job with a FINAL, which frees its slot at the broker."""
    start = WorkerProtocolTest.start
    tearDown = WorkerProtocolTest.tearDown

    def _cancel_after_start(self, identity, rid, query="", ready=None):
        self.broker.request(identity, *envelope_request(rid, query=query))
        wait_for(ready or (lambda: f"rid={rid} event=job_started" in self.workers.output()
                           or f"event=job_started rid={rid}" in self.workers.output()),
                 what="job start")
        sent = time.monotonic()
        self.broker.send(identity, b"MDPW02", CANCEL, b"client-1", b"")
        _, frames = self.broker.next(timeout=15)
        self.assertEqual(frames[:4], [b"MDPW02", FINAL, b"client-1", b""])
        return frames, time.monotonic() - sent

    def test_builtin_sleep_stops_when_cancelled(self):
        identity = self.start("builtin:sleep", extra=("--log-level", "debug"))
        frames, took = self._cancel_after_start(identity, "rid-c1", "ms=20000")
        self.assertEqual(frames[5], b"499")
        self.assertLess(took, 2.0, "the cancelled sleep went on")
        # The next job runs in full: the flag was for the one before
        self.broker.request(identity, *envelope_request("rid-c2", query="ms=50"))
        _, frames = self.broker.next()
        self.assertEqual(frames[5:8:2], [b"200", b"slept 50 ms\n"])

    def test_cancel_for_a_finished_job_is_ignored(self):
        identity = self.start("builtin:sleep", extra=("--log-level", "debug"))
        self.broker.request(identity, *envelope_request("rid-c3", query="ms=10"))
        self.assertEqual(self.broker.next()[1][1], FINAL)
        # It crossed the FINAL on the wire: nothing to cancel, and nothing is sent back
        self.broker.send(identity, b"MDPW02", CANCEL, b"client-1", b"")
        self.broker.request(identity, *envelope_request("rid-c4", query="ms=300"))
        _, frames = self.broker.next()
        self.assertEqual(frames[7], b"slept 300 ms\n")

    def _exec_script(self, body):
        directory = tempfile.mkdtemp(prefix="slowlane-cancel-")
        self.addCleanup(shutil.rmtree, directory, True)
        script = os.path.join(directory, "job.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(script, 0o755)
        return directory, script

    def test_exec_child_gets_sigterm_when_cancelled(self):
        directory, script = self._exec_script(
            'trap \'echo term > "$(dirname "$0")/got-term"; exit 0\' TERM\n'
            'touch "$(dirname "$0")/trapped"\nsleep 30 & wait\n')
        identity = self.start(f"exec:{script}", extra=("--log-level", "debug"))
        # The trap must be set before the TERM comes, or the shell dies of it at once
        frames, took = self._cancel_after_start(
            identity, "rid-e1", ready=lambda: os.path.exists(os.path.join(directory, "trapped")))
        self.assertEqual(frames[5], b"499")
        self.assertLess(took, 3.0)
        wait_for(lambda: os.path.exists(os.path.join(directory, "got-term")), what="the trap")
        self.assertIn("stopped_by=sigterm", self.workers.output())

    def test_exec_child_that_ignores_sigterm_is_killed_after_the_grace(self):
        directory, script = self._exec_script(
            'trap "" TERM\ntouch "$(dirname "$0")/trapped"\nwhile :; do sleep 0.1; done\n')
        identity = self.start(f"exec:{script}", extra=("--log-level", "debug"))
        frames, took = self._cancel_after_start(
            identity, "rid-e2", ready=lambda: os.path.exists(os.path.join(directory, "trapped")))
        self.assertEqual(frames[5], b"499")
        # SL_CANCEL_GRACE_MS is 5 s: not before it, and not much after
        self.assertGreaterEqual(took, 4.5)
        self.assertLess(took, 10.0)
        self.assertIn("stopped_by=sigkill", self.workers.output())


if __name__ == "__main__":
    harness.main()
