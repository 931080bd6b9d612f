"""deploy/systemd, tested without a running systemd (issue 6).

- `systemd-analyze verify` accepts the four units (ExecStart pointed at the built binaries) and
  prints nothing: no unknown directive, no bad value.
- The hardening the units promise is there, and TimeoutStopSec covers each component's drain.
- Every SLOWLANE_* line of the example environment files, and of the units' Environment=, is a
  real flag of the unit's binary.
- slowlane-jobs keeps its store in its StateDirectory (the one place the unit may write, kept
  across restarts), and the example file does not move it elsewhere.
- Needs root (a network namespace, so the units' default ports 5555 and 8080 are free): the units'
  ExecStart lines with their Environment= and EnvironmentFile= values (the examples, %i expanded;
  a StateDirectory's path mapped to a temporary directory, as systemd is not there to make it)
  make a working one-host cluster: /fast and /slow answer, and a `Prefer: respond-async` request
  gets 202 and its job reaches done through GET /jobs/ID with the synchronous answer as its
  result. Each stops on its KillSignal within TimeoutStopSec."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from lan_support import Lan, flags_of, need_root, submit_async  # noqa: E402

UNIT_DIR = os.path.join(harness.SOURCE, "deploy", "systemd")
ENV_DIR = os.path.join(UNIT_DIR, "env")
UNITS = ("slowlane-broker.service", "slowlane-gateway.service", "slowlane-worker@.service",
         "slowlane-jobs.service")
BINARIES = ("slowlane-broker", "slowlane-gateway", "slowlane-worker", "slowlane-jobs")
# What systemd makes a StateDirectory= of a system unit under (the unit sees it at this path).
STATE_ROOT = "/var/lib"
HARDENING = ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
             "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
             "LockPersonality=yes", "RestrictNamespaces=yes", "CapabilityBoundingSet=",
             "KillSignal=SIGTERM")


def read_unit(name, instance=None):
    """The [Service] section as {key: [values]}, with %i expanded for a template's instance."""
    values = {}
    section = None
    with open(os.path.join(UNIT_DIR, name)) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]":
                key, _, value = line.partition("=")
                if instance is not None:
                    value = value.replace("%i", instance)
                values.setdefault(key, []).append(value)
    return values


def read_env_file(path):
    """A systemd EnvironmentFile: KEY=VALUE lines, '#' comments, optional double quotes."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            env[key] = value
    return env


def seconds(text):
    match = re.fullmatch(r"(\d+)(ms|s|min)?", text)
    number, unit = int(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * 60 if unit == "min" else number


def env_file_for(unit, instance=None):
    """The example file that EnvironmentFile= names, from deploy/systemd/env/."""
    path = read_unit(unit, instance)["EnvironmentFile"][0].lstrip("-")
    return os.path.join(ENV_DIR, os.path.basename(path))


class UnitFileTest(unittest.TestCase):

    def test_systemd_analyze_verify_is_silent(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            raise unittest.SkipTest("systemd-analyze not installed")
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for unit in UNITS:
                with open(os.path.join(UNIT_DIR, unit)) as f:
                    text = f.read()
                for name in BINARIES:
                    # verify wants an absolute path (SLOWLANE_BIN may be relative)
                    text = text.replace(f"/usr/local/bin/{name}",
                                        os.path.abspath(harness.binary(name)))
                # A template is verified through an instance of it.
                path = os.path.join(tmp, unit.replace("@.", "@fast."))
                with open(path, "w") as f:
                    f.write(text)
                paths.append(path)
            out = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertEqual(out.stdout + out.stderr, "", "verify reported problems")

    def test_units_are_hardened(self):
        for unit in UNITS:
            with open(os.path.join(UNIT_DIR, unit)) as f:
                lines = set(line.strip() for line in f)
            for option in HARDENING:
                self.assertIn(option, lines, unit)
            self.assertTrue({"DynamicUser=yes"} & lines or any(l.startswith("User=") for l in lines))

    def test_stop_timeout_covers_the_drain(self):
        drains = {"slowlane-gateway.service": ("SLOWLANE_DRAIN_MS", 5000),
                  "slowlane-worker@.service": ("SLOWLANE_DRAIN_TIMEOUT_MS", 30000)}
        for unit, (variable, default_ms) in drains.items():
            for instance in ("fast", "slow") if "@" in unit else (None,):
                env = read_env_file(env_file_for(unit, instance))
                drain_s = int(env.get(variable, default_ms)) / 1000
                stop_s = seconds(read_unit(unit, instance)["TimeoutStopSec"][0])
                self.assertGreater(stop_s, drain_s, f"{unit} {instance}")
        self.assertEqual(read_unit("slowlane-worker@.service")["KillMode"], ["mixed"])
        # slowlane-jobs drains the job API requests in hand, each with the gateway's 10 s
        # deadline (docs/jobs.md, "Routes"), then closes its store.
        self.assertGreater(seconds(read_unit("slowlane-jobs.service")["TimeoutStopSec"][0]), 10)

    def test_jobs_store_is_the_units_state_directory(self):
        service = read_unit("slowlane-jobs.service")
        self.assertEqual(service["StateDirectory"], ["slowlane/jobs"])
        self.assertEqual(service.get("StateDirectoryMode"), ["0700"])
        environment = dict(v.split("=", 1) for v in service["Environment"])
        self.assertEqual(environment["SLOWLANE_DATA_DIR"], f"{STATE_ROOT}/slowlane/jobs")
        # The example file must not point the store somewhere ProtectSystem=strict keeps
        # read-only (it would win over Environment=).
        self.assertNotIn("SLOWLANE_DATA_DIR", read_env_file(env_file_for("slowlane-jobs.service")))
        self.assertNotIn("ReadWritePaths", service)

    def test_worker_template_reads_its_instance_file(self):
        service = read_unit("slowlane-worker@.service", "slow")
        self.assertEqual(service["EnvironmentFile"], ["/etc/slowlane/worker-slow.env"])
        self.assertIn("SLOWLANE_SERVICE=slow", service["Environment"])

    def test_every_variable_is_a_flag_of_the_binary(self):
        for unit in UNITS:
            binary = harness.binary(os.path.basename(read_unit(unit)["ExecStart"][0].split()[0]))
            flags = flags_of(binary)
            set_by_unit = {v.split("=", 1)[0] for v in read_unit(unit).get("Environment", [])}
            self.assertFalse(set_by_unit - flags, f"{unit} Environment=: not flags of {binary}")
            for path in ([env_file_for(unit, i) for i in ("fast", "slow")] if "@" in unit
                         else [env_file_for(unit)]):
                unknown = set(read_env_file(path)) - flags
                self.assertFalse(unknown, f"{os.path.basename(path)}: not flags of {binary}")
                # Settings shown commented out (CURVE, off by default) must be real flags too.
                with open(path) as f:
                    shown = set(re.findall(r"(?m)^#(SLOWLANE_[A-Z0-9_]+)=", f.read()))
                self.assertFalse(shown - flags, f"{os.path.basename(path)}: not flags of {binary}")


class UnitsOnOneHostTest(unittest.TestCase):
    """The units' command lines and environment, on one (namespaced) host with default ports."""

    def setUp(self):
        need_root()
        self.lan = Lan(["host"], subnet="10.213.3")
        self.addCleanup(self.lan.destroy)
        self.procs = []
        # Stands for /var/lib: systemd would make each StateDirectory= there before ExecStart.
        self.state_root = tempfile.mkdtemp(prefix="slowlane-systemd-state-")
        self.addCleanup(shutil.rmtree, self.state_root, True)

    def start(self, unit, instance=None):
        service = read_unit(unit, instance)
        env = dict(v.split("=", 1) for v in service.get("Environment", []))
        env.update(read_env_file(env_file_for(unit, instance)))  # the file wins, as in systemd
        for directory in " ".join(service.get("StateDirectory", [])).split():
            here = os.path.join(self.state_root, directory)
            os.makedirs(here, mode=int(service.get("StateDirectoryMode", ["0755"])[0], 8))
            env = {k: v.replace(f"{STATE_ROOT}/{directory}", here) for k, v in env.items()}
        command = service["ExecStart"][0].split()
        command[0] = harness.binary(os.path.basename(command[0]))
        proc = harness.Process(self.lan.exec_args("host", *command), env=env,
                               name=f"{unit}-{instance}")
        proc.unit = read_unit(unit, instance)
        self.procs.append(proc)
        self.addCleanup(proc.stop)
        return proc

    def job_status(self, location):
        status, body = self.lan.http("host", f"http://127.0.0.1:8080{location}")
        return json.loads(body)["status"] if status == 200 else None

    def test_units_make_a_cluster_and_stop_on_their_signal(self):
        self.start("slowlane-broker.service")
        self.start("slowlane-worker@.service", "fast")
        self.start("slowlane-worker@.service", "slow")
        jobs = self.start("slowlane-jobs.service")
        self.start("slowlane-gateway.service")
        try:
            harness.wait_for(lambda: self.lan.http("host", "http://127.0.0.1:8080/readyz")[0] == 200,
                             timeout=15, what="/readyz 200")
            status, body = self.lan.http("host", "http://127.0.0.1:8080/fast?unit=1")
            self.assertEqual((status, "unit=1" in body), (200, True), body)
            synchronous = self.lan.http("host", "http://127.0.0.1:8080/slow?ms=20")
            self.assertEqual(synchronous[0], 200)
            # An asynchronous request: stored by the jobs unit, run by the slow workers. The
            # gateway reaches slowlane.jobs once it has registered (unknown ids are then 404).
            def reached():
                status, body = self.lan.http("host", "http://127.0.0.1:8080/jobs/0")
                return status == 404 and "unknown_job" in body
            harness.wait_for(reached, timeout=15, what="the gateway reaching the jobs unit")
            status, location = submit_async(self.lan, "host", "http://127.0.0.1:8080/slow?ms=20")
            self.assertEqual(status, 202)
            self.assertRegex(location or "", r"^/jobs/[0-9a-f]{32}$")
            harness.wait_for(lambda: self.job_status(location) == "done", timeout=15,
                             what=f"{location} done")
            self.assertEqual(self.lan.http("host", f"http://127.0.0.1:8080{location}/result"),
                             synchronous)
            # The store is in the unit's StateDirectory (here a temporary stand-in for /var/lib).
            store = os.path.join(self.state_root, "slowlane", "jobs", "jobs.sqlite3")
            self.assertTrue(os.path.exists(store), jobs.output()[-2000:])
            self.assertEqual(os.stat(os.path.dirname(store)).st_mode & 0o777, 0o700)
            # Stop as systemd would, the reverse of After=: gateway first, then jobs, then the
            # workers, then the broker.
            for proc in reversed(self.procs):
                sig = getattr(signal, proc.unit["KillSignal"][0])
                limit = seconds(proc.unit["TimeoutStopSec"][0])
                started = time.monotonic()
                proc.signal(sig)
                harness.wait_for(lambda: not proc.alive(), timeout=limit, what=f"{proc.name} stop")
                self.assertEqual(proc.proc.returncode, 0, proc.output()[-2000:])
                self.assertLess(time.monotonic() - started, limit)
        except AssertionError:
            for proc in self.procs:
                sys.stderr.write(f"---- {proc.name}\n{proc.output()[-3000:]}\n")
            raise


if __name__ == "__main__":
    harness.main()
