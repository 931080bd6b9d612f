"""Shared helpers for slowlane system tests: free ports, real binaries as child processes,
waiting on conditions (never fixed sleeps), and a minimal MDP/0.2 client for the tests.

Each test file is a unittest module run as its own process by ctest."""
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import unittest

import zmq

BIN = os.environ.get("SLOWLANE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("SLOWLANE_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")

# Short timers so tests run in milliseconds, not seconds.
HEARTBEAT_MS = 100
# Heartbeats a peer may miss before it counts as dead. scripts/valgrind.sh raises it: valgrind
# runs one thread at a time, so on a loaded machine a heartbeat can come several periods late.
LIVENESS = int(os.environ.get("SLOWLANE_TEST_LIVENESS") or 3)

# scripts/sanitize.sh and scripts/valgrind.sh run the binaries several times slower: they set
# this factor, which lengthens every wait on a condition (wait_for, Process.stop); never a
# sleep, and never a test's own assertion on elapsed time.
TIMEOUT_SCALE = float(os.environ.get("SLOWLANE_TIMEOUT_SCALE") or 1)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=10.0, interval=0.01, what="condition"):
    """Polls condition() until it returns a truthy value; returns it, or fails the test."""
    timeout *= TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wrapped(args):
    """args with $SLOWLANE_WRAPPER (e.g. "valgrind --error-exitcode=99 ...", see
    scripts/valgrind.sh) put before the first slowlane binary in them, if it is set."""
    wrapper = os.environ.get("SLOWLANE_WRAPPER")
    if not wrapper:
        return list(args)
    args = list(args)
    for i, arg in enumerate(args):
        if os.path.basename(str(arg)).startswith("slowlane") and \
                os.path.dirname(os.path.abspath(str(arg))) == os.path.abspath(BIN):
            return args[:i] + shlex.split(wrapper) + args[i:]
    return args


# Every process this test file started, so a failing file can show what they logged.
STARTED = []


class Process:
    """A real slowlane binary (or any command) as a child in its own process group."""

    def __init__(self, args, env=None, name=None, pass_fds=()):
        self.name = name or os.path.basename(args[0])
        full_env = dict(os.environ)
        full_env.update(env or {})
        args = wrapped(args)
        self.log_path = f"/tmp/slowlane-test-{os.getpid()}-{self.name}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "wb")
        # A process group, not a session: on Linux a session is a scheduling group
        # (autogroup), and a nearly idle one waited up to a second for a CPU behind a busy
        # one (bench/flood_bench.py): late heartbeats, workers expired mid-test.
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=full_env, process_group=0, pass_fds=pass_fds)
        STARTED.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, sig=None, timeout=10.0):
        """Signals the process (default SIGTERM) and waits; kills its whole group if it does
        not exit. (The default is resolved here: in the class body, `signal` is the method.)"""
        sig = signal.SIGTERM if sig is None else sig
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * TIMEOUT_SCALE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        else:
            self.proc.wait()
        # Reap anything left in the group (workers of a supervisor).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()
        return self.proc.returncode

    def output(self):
        if not self.log.closed:  # still running; after stop() the file is complete
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class EventsProcess(Process):
    """A worker program started the way the supervisor's program: handler starts one
    (docs/workers.md section 3): SLOWLANE_EVENTS_FD is the write end of a pipe the test reads."""

    def __init__(self, args, env=None, name=None):
        self.events_read, events_write = os.pipe()
        os.set_blocking(self.events_read, False)
        self.events = b""
        try:
            super().__init__(args, env={**(env or {}), "SLOWLANE_EVENTS_FD": str(events_write)},
                             name=name, pass_fds=(events_write,))
        finally:
            os.close(events_write)

    def read_events(self):
        try:
            self.events += os.read(self.events_read, 4096)
        except BlockingIOError:
            pass
        return self.events

    def wait_event(self, byte, count=1, timeout=10.0):
        wait_for(lambda: self.read_events().count(byte) >= count, timeout=timeout,
                 what=f"event {byte!r} x{count} from {self.name}")

    def stop(self, sig=None, timeout=10.0):
        code = super().stop(sig, timeout)
        if self.events_read is not None:
            self.read_events()
            os.close(self.events_read)
            self.events_read = None
        return code


def child_pids(pid):
    """Live pids whose parent is pid (a supervisor's workers), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def binary(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        raise unittest.SkipTest(f"{path} not built")  # reported as skipped, never as passed
    return path


def start_broker(port=None, extra=()):
    port = port or free_port()
    proc = Process([binary("slowlane-broker"), "--bind", f"tcp://127.0.0.1:{port}",
                    "--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS), *extra],
                   name="broker")
    proc.endpoint = f"tcp://127.0.0.1:{port}"
    proc.port = port
    return proc


def start_workers(endpoint, service, handler, count=1, extra=()):
    return Process([binary("slowlane-worker"), "--broker", endpoint, "--service", service,
                    "--count", str(count), "--handler", handler,
                    "--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS), *extra],
                   name=f"worker-{service}")


class MdpClient:
    """A minimal MDP/0.2 client on a DEALER (the shape the gateway uses)."""

    def __init__(self, endpoint, context=None):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(endpoint)

    def send(self, service, *body):
        self.socket.send_multipart([b"MDPC02", b"\x01", service.encode(), *body])

    def recv(self, timeout_ms=5000):
        """Returns the reply frames [MDPC02, command, service, body...] or None on timeout."""
        if self.socket.poll(timeout_ms, zmq.POLLIN):
            return self.socket.recv_multipart()
        return None

    def request(self, service, *body, timeout_ms=5000):
        self.send(service, *body)
        return self.recv(timeout_ms)

    def close(self):
        self.socket.close()


class BrokerTest(unittest.TestCase):
    """A broker and an MDP client per test; every process added to self.processes is
    stopped after the test, newest first (workers before their broker)."""

    def setUp(self):
        self.broker = start_broker()
        self.processes = [self.broker]
        self.client = MdpClient(self.broker.endpoint)

    def tearDown(self):
        self.client.close()
        for process in reversed(self.processes):
            process.stop()


def envelope_request(request_id, method="GET", path="/", query="", headers=b"", body=b"",
                     timeout_ms=5000, retry=True):
    """The 9 body frames of a request envelope (docs/protocol.md)."""
    return [b"SLREQ/1", request_id.encode(), str(timeout_ms).encode(), b"1" if retry else b"0",
            method.encode(), path.encode(), query.encode(), headers, body]


def curve_keys(names, clients):
    """`slowlane keygen` key pairs in a new directory (removed by the caller): NAME and
    NAME_secret for each name, and a clients/ directory with the public keys of `clients`
    (a broker's --curve-clients). Returns the directory."""
    import shutil
    import tempfile
    keygen = binary("slowlane")
    keys = tempfile.mkdtemp(prefix="slowlane-curve-")
    os.makedirs(os.path.join(keys, "clients"))
    for name in names:
        subprocess.run([keygen, "keygen", "--out", keys, "--name", name], check=True,
                       capture_output=True, timeout=10)
    for name in clients:
        shutil.copy(os.path.join(keys, name), os.path.join(keys, "clients", name))
    return keys


def curve_client(endpoint, keys, name, server):
    """An MdpClient whose DEALER speaks CURVE with key pair `name` to broker key `server`."""
    import zmq.auth
    client = MdpClient.__new__(MdpClient)
    client.context = zmq.Context.instance()
    client.socket = client.context.socket(zmq.DEALER)
    client.socket.linger = 0
    public, secret = zmq.auth.load_certificate(os.path.join(keys, f"{name}_secret"))
    client.socket.curve_publickey, client.socket.curve_secretkey = public, secret
    client.socket.curve_serverkey = zmq.auth.load_certificate(os.path.join(keys, server))[0]
    client.socket.connect(endpoint)
    return client


def http_call(port, method, path, body=None, headers=(), timeout=30.0):
    """One request with headers given as a list of pairs, so that a name may repeat; returns
    (status, [(name, value)], body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def header_values(headers, name):
    """Every value of a field in http_call's header list, case-insensitively."""
    return [v for k, v in headers if k.lower() == name.lower()]


def mmi_json(endpoint, service, *body, timeout_ms=2000):
    """One mmi.stats, mmi.cluster or mmi.cluster.command call (protocol.md 2.5, 7.4): its
    answer's JSON (the last frame, after the tag when there is one), or None."""
    client = MdpClient(endpoint)
    try:
        reply = client.request(service, *body, timeout_ms=timeout_ms)
    finally:
        client.close()
    return json.loads(reply[-1]) if reply else None


def mmi_command(endpoint, **fields):
    """One mmi.cluster.command with a tag: its answer's JSON."""
    return mmi_json(endpoint, "mmi.cluster.command", b"tag", json.dumps(fields).encode())


def mmi_service_ready(endpoint, service):
    """True if the broker at endpoint reports service as having a worker (8/MMI)."""
    client = MdpClient(endpoint)
    try:
        reply = client.request("mmi.service", service.encode(), timeout_ms=1000)
        return reply is not None and reply[-1] == b"200"
    finally:
        client.close()


def http_request(port, method, path, body=None, headers=None, timeout=10.0):
    """One HTTP/1.1 request to 127.0.0.1:port; returns (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


SKIPPED_EXIT_CODE = 77  # ctest's SKIP_RETURN_CODE for system tests (tests/system/CMakeLists.txt)


LOG_TAIL_LINES = 60
LOG_PROCESSES = 16  # a test with hundreds of workers shows the first ones, not a flood


class SpanResult(unittest.TextTestResult):
    """Remembers which processes each test started (indexes into STARTED), so a failure
    shows its own processes' logs and not those of the tests that ran before it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spans = {}

    def startTest(self, test):
        self.spans[test.id()] = [len(STARTED), None]
        super().startTest(test)

    def stopTest(self, test):
        self.spans[test.id()][1] = len(STARTED)
        super().stopTest(test)


def failed_test_processes(result):
    """The processes the failed tests started, plus the ones started outside any test
    (setUpClass: shared by the whole class); all of them if no test ran."""
    failed = {test.id() for test, _ in result.failures + result.errors if hasattr(test, "id")}
    spans = getattr(result, "spans", {})
    inside = set()
    chosen = set()
    for name, (start, end) in spans.items():
        indexes = range(start, end if end is not None else len(STARTED))
        inside.update(indexes)
        if name in failed:
            chosen.update(indexes)
    chosen.update(i for i in range(len(STARTED)) if i not in inside)
    return [STARTED[i] for i in sorted(chosen)]


def print_process_logs(processes):
    """The last lines each given process logged: a failure seen once in CI (a 502, a
    time-out) is then explained by the broker's or gateway's own account of it."""
    for process in processes[:LOG_PROCESSES]:
        try:
            with open(process.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            continue
        print(f"----- {process.name} (pid {process.pid}): last {LOG_TAIL_LINES} of "
              f"{len(lines)} lines")
        for line in lines[-LOG_TAIL_LINES:]:
            print(line)
    if len(processes) > LOG_PROCESSES:
        print(f"----- {len(processes) - LOG_PROCESSES} more processes; their logs are in /tmp")


def stop_leftovers():
    """Stops what a test file left running: a setUpClass that failed half-way never reaches
    its tearDownClass, and its broker or gateway must not outlive the file (ctest runs the
    next one on the same machine)."""
    for process in STARTED:
        if process.alive():
            print(f"harness: stopping {process.name} (pid {process.pid}), left running")
            process.stop()


def main():
    """Runs the module's tests. Exit 1 on any failure, after printing the processes' logs;
    77 when every test was skipped, so ctest reports the file as skipped instead of passed;
    0 otherwise. A file where only some tests skipped says how many in its closing line."""
    try:
        runner = unittest.TextTestRunner(verbosity=2, resultclass=SpanResult)
        program = unittest.main(testRunner=runner, exit=False)
    finally:
        stop_leftovers()
    result = program.result
    skipped = len(result.skipped)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = max(0, result.testsRun - skipped - failed)  # a failed setUpClass runs no test
    if not result.wasSuccessful():
        print_process_logs(failed_test_processes(result))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun > 0 and skipped == result.testsRun:
        sys.exit(SKIPPED_EXIT_CODE)
    sys.exit(0)
