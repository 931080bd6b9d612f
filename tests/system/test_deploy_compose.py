"""deploy/compose and deploy/docker, tested without a Docker engine (issue 6).

- Debian's docker-compose validates the compose files (`config`): the main one alone and with each
  override (tls.yml, curve.yml), and remote-workers.yml.
- The compose file's shape: no fixed names or host ports on workers (so `--scale` works), restart
  policies for Compose and for Swarm, what Swarm needs (dnsrr endpoints, the gateway's port in host
  mode, no broker port published without CURVE, start-first worker updates), health checks, every
  SLOWLANE_* variable a real flag of the binary the service runs. The jobs service (slowlane-jobs):
  one replica, its data directory on a named volume, stop-first updates, pinned by a placement, a
  fixed identity at the brokers; curve.yml gives it the workers' key pair. (tests/containers runs
  the files in a real engine and swarm.)
- The Dockerfile's runtime stage installs the package of every shared library the binaries link,
  and makes the jobs volume's mount point owned by the image's user (uid 10001) before USER.
- Needs root (network namespaces): each compose service's command and environment runs in its own
  network namespace named like the service, on a bridge the test makes, with a hosts file so the
  service names resolve (a named volume's mount point mapped to a temporary directory); the health
  checks pass, /fast and /slow answer 200 through the gateway, and a `Prefer: respond-async`
  request gets 202 and its job reaches done with the synchronous answer as its result.

The test hosts (Lan) come from lan_support.py, which the other multi-host tests use too."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

import yaml  # noqa: E402  (Debian's python3-yaml)
from lan_support import Lan, flags_of, need_root, run, submit_async  # noqa: E402

COMPOSE_DIR = os.path.join(harness.SOURCE, "deploy", "compose")
COMPOSE_FILE = os.path.join(COMPOSE_DIR, "docker-compose.yml")
REMOTE_FILE = os.path.join(COMPOSE_DIR, "remote-workers.yml")
CURVE_FILE = os.path.join(COMPOSE_DIR, "curve.yml")
TLS_FILE = os.path.join(COMPOSE_DIR, "tls.yml")
DOCKERFILE = os.path.join(harness.SOURCE, "deploy", "docker", "Dockerfile")
SLOWLANE_SERVICES = ("broker-a", "broker-b", "gateway", "worker-fast", "worker-slow", "jobs")
BROKERS = ("broker-a", "broker-b")
IMAGE_UID = 10001  # the image's user, slowlane (deploy/docker/Dockerfile)


# ---- helpers shared by the deploy tests ---------------------------------------------------------

def interpolate(value, variables):
    """Compose's ${NAME}, ${NAME:-default}, ${NAME:?message} and $$, from variables (a dict)."""
    def one(match):
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = variables.get(name)
        if op == ":-" and not current:
            return arg
        if op == ":?" and not current:
            raise ValueError(f"{name}: {arg}")
        return current or ""
    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}", one, str(value))


def load_compose(path, variables=None):
    """The compose file as plain data, anchors merged, environment as a dict, values interpolated."""
    with open(path) as f:
        data = yaml.safe_load(f)
    variables = variables or {}
    for service in data["services"].values():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        service["environment"] = {k: interpolate(v, variables) for k, v in env.items()}
    return data


def named_volumes(data, name):
    """{mount point: volume name} of the service's named volumes (not bind mounts)."""
    mounts = {}
    for entry in data["services"][name].get("volumes", []):
        source, target = entry.split(":")[:2]
        if source in (data.get("volumes") or {}):
            mounts[target] = source
    return mounts


# ---- docker-compose config ----------------------------------------------------------------------

class ComposeConfigTest(unittest.TestCase):
    """Debian's docker-compose parses and validates the files against the compose spec."""

    def setUp(self):
        self.compose = shutil.which("docker-compose")
        if not self.compose:
            raise unittest.SkipTest("docker-compose not installed (scripts/install-deps.sh)")

    def config(self, path, *extra, env=None, command=("config",)):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOY_")}
        full_env.update(env or {})
        return subprocess.run([self.compose, "-f", path, *extra, *command], capture_output=True,
                              text=True, env=full_env, timeout=60)

    def test_main_file_is_valid(self):
        out = self.config(COMPOSE_FILE)
        self.assertEqual(out.returncode, 0, out.stderr)
        services = yaml.safe_load(out.stdout)["services"]
        self.assertEqual(set(services), set(SLOWLANE_SERVICES))

    def test_tls_override_is_valid(self):
        out = self.config(COMPOSE_FILE, "-f", TLS_FILE)
        self.assertEqual(out.returncode, 0, out.stderr)
        config = yaml.safe_load(out.stdout)
        self.assertEqual(set(config["services"]), {*SLOWLANE_SERVICES, "tls"})
        # The key is a secret (Swarm keeps it in its encrypted store; Compose bind-mounts it).
        self.assertEqual(set(config["secrets"]), {"tls-fullchain", "tls-privkey", "tls-nginx-conf"})

    def test_remote_workers_file_is_valid(self):
        brokers = "tcp://a.example:5555 tcp://b.example:5555"
        out = self.config(REMOTE_FILE, env={"DEPLOY_BROKERS": brokers})
        self.assertEqual(out.returncode, 0, out.stderr)
        services = yaml.safe_load(out.stdout)["services"]
        self.assertEqual(sorted(services), ["worker-fast", "worker-slow"])
        for service in services.values():
            self.assertEqual(service["environment"]["SLOWLANE_BROKER"], brokers)
            # one public key per broker, in the same order
            self.assertEqual(len(service["environment"]["SLOWLANE_CURVE_SERVER"].split()), 2)

    def test_curve_override_is_valid_and_covers_every_service(self):
        out = self.config(COMPOSE_FILE, "-f", CURVE_FILE)
        self.assertEqual(out.returncode, 0, out.stderr)
        services = yaml.safe_load(out.stdout)["services"]
        for name in SLOWLANE_SERVICES:
            self.assertIn("SLOWLANE_CURVE_SECRET", services[name]["environment"], name)
        for name in BROKERS:
            self.assertIn("SLOWLANE_CURVE_CLIENTS", services[name]["environment"])
        # slowlane-jobs is a worker of slowlane.jobs: the workers' key pair, each broker's
        # public key paired with its broker in order, and the data volume kept beside the keys.
        jobs = services["jobs"]
        self.assertEqual(jobs["environment"]["SLOWLANE_CURVE_SECRET"],
                         services["worker-fast"]["environment"]["SLOWLANE_CURVE_SECRET"])
        servers = jobs["environment"]["SLOWLANE_CURVE_SERVER"].split()
        brokers = jobs["environment"]["SLOWLANE_BROKER"].split()
        self.assertEqual(len(brokers), 2)
        self.assertEqual(len(servers), len(brokers))
        for broker, server in zip(brokers, servers):  # tcp://broker-a:5555: broker_a
            host = broker.split("//")[1].split(":")[0]
            self.assertEqual(os.path.basename(server), host.replace("-", "_"))
            self.assertTrue(any(v.split(":")[1] == server for v in jobs["volumes"]), server)
        self.assertTrue(any(v.endswith(":/var/lib/slowlane/jobs:rw") for v in jobs["volumes"]),
                        jobs["volumes"])

    def test_remote_workers_file_says_the_broker_host_is_missing(self):
        out = self.config(REMOTE_FILE)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("DEPLOY_BROKERS", out.stderr)


# ---- the compose file's shape -------------------------------------------------------------------

class ComposeShapeTest(unittest.TestCase):

    def setUp(self):
        self.data = load_compose(COMPOSE_FILE)
        self.services = self.data["services"]

    def test_compose_spec_without_version_key(self):
        self.assertNotIn("version", self.data)

    def test_workers_scale_by_count(self):
        # `docker compose up --scale worker-fast=N` needs no fixed container name and no host port.
        for name in ("worker-fast", "worker-slow"):
            service = self.services[name]
            self.assertNotIn("container_name", service, name)
            self.assertNotIn("ports", service, name)
        for name, service in self.services.items():
            self.assertNotIn("container_name", service, name)

    def test_every_service_has_a_restart_policy(self):
        for name, service in self.services.items():
            self.assertIn(service.get("restart"), ("always", "unless-stopped", "on-failure"), name)
            # Swarm ignores `restart:` and reads deploy.restart_policy.
            self.assertEqual(service["deploy"]["restart_policy"]["condition"], "any", name)

    def test_gateway_health_check_is_liveness_only(self):
        # Swarm replaces an unhealthy task: /readyz (a worker for every route) would restart the
        # gateway whenever workers are missing, which does not bring them back.
        test = " ".join(self.services["gateway"]["healthcheck"]["test"])
        self.assertIn("/healthz", test)
        self.assertNotIn("/readyz", test)

    def test_swarm_needs_no_ipvs_and_publishes_no_plaintext_broker_port(self):
        for name, service in self.services.items():
            # Virtual IPs and the routing mesh need IPVS; names resolve to the tasks instead.
            self.assertEqual(service["deploy"]["endpoint_mode"], "dnsrr", name)
            for port in service.get("ports", []):
                self.assertIsInstance(port, dict, f"{name}: long syntax, so the mode can be host")
                self.assertEqual(port["mode"], "host", name)
        for name in BROKERS:
            self.assertNotIn("ports", self.services[name], name)
            self.assertEqual(self.services[name]["deploy"]["replicas"], 1, name)
            self.assertTrue(self.services[name]["deploy"]["placement"]["constraints"], name)

    def test_worker_updates_start_the_new_replica_first(self):
        for name in ("worker-fast", "worker-slow"):
            deploy = self.services[name]["deploy"]
            self.assertEqual(deploy["update_config"]["order"], "start-first", name)
            self.assertEqual(deploy["update_config"]["failure_action"], "rollback", name)
            self.assertIn("memory", deploy["resources"]["limits"], name)

    def test_tls_front_is_an_override_that_resolves_the_gateway_per_request(self):
        tls = load_compose(TLS_FILE)["services"]
        self.assertEqual(list(tls), ["tls"])
        conf = os.path.join(COMPOSE_DIR, "nginx", "slowlane.conf")
        with open(conf) as f:
            text = f.read()
        self.assertIn("gateway:8080", text)
        self.assertIn("resolver 127.0.0.11", text)  # Docker's DNS, asked per request
        # An upstream block is resolved once, at start, by nginx before 1.27.3.
        self.assertIsNone(re.search(r"(?m)^\s*upstream\s", text))

    def test_jobs_runs_once_on_a_volume_pinned_to_its_node(self):
        jobs = self.services["jobs"]
        self.assertEqual(jobs["command"], ["slowlane-jobs"])
        deploy = jobs["deploy"]
        # One process per store (a single writer): a fixed count, not a DEPLOY_ variable.
        self.assertEqual(deploy["replicas"], 1)
        # The old task is gone before the new one opens the store.
        self.assertEqual(deploy["update_config"]["order"], "stop-first")
        self.assertTrue(deploy["placement"]["constraints"])
        self.assertIn("DEPLOY_JOBS_PLACEMENT", " ".join(deploy["placement"]["constraints"]))
        self.assertIn("memory", deploy["resources"]["limits"])
        self.assertNotIn("ports", jobs)
        # The data directory is a named volume declared at the top level.
        data_dir = jobs["environment"]["SLOWLANE_DATA_DIR"]
        self.assertIn(data_dir, named_volumes(self.data, "jobs"))
        # Replies find the process that replaces it: a name that is not the container's host name.
        self.assertTrue(jobs["environment"].get("SLOWLANE_IDENTITY"))
        self.assertEqual(set(jobs["environment"]["SLOWLANE_BROKER"].split()),
                         {f"tcp://{name}:5555" for name in BROKERS})
        self.assertGreaterEqual(int(jobs["stop_grace_period"].rstrip("s")), 10)

    def test_stop_grace_covers_the_worker_drain(self):
        for name in ("worker-fast", "worker-slow"):
            service = self.services[name]
            drain_s = int(service["environment"]["SLOWLANE_DRAIN_TIMEOUT_MS"]) / 1000
            self.assertGreater(int(service["stop_grace_period"].rstrip("s")), drain_s, name)

    def test_every_variable_is_a_flag_of_the_binary(self):
        # Catches a flag renamed in a component but not here: an unknown SLOWLANE_* is ignored
        # silently by the binary, so only this test would notice.
        for path, variables in ((COMPOSE_FILE, {}), (REMOTE_FILE, {"DEPLOY_BROKERS": "tcp://a:5555"})):
            for name, service in load_compose(path, variables)["services"].items():
                if name == "tls":
                    continue
                flags = flags_of(harness.binary(service["command"][0]))
                self.assertTrue(flags, f"{service['command'][0]} --help lists no variables")
                unknown = set(service["environment"]) - flags
                self.assertFalse(unknown, f"{os.path.basename(path)} {name}: not flags: {unknown}")


    def test_curve_override_variables_are_flags_and_files_are_mounted(self):
        curve = load_compose(CURVE_FILE)["services"]
        self.assertEqual(set(curve), set(SLOWLANE_SERVICES))
        for name, service in curve.items():
            flags = flags_of(harness.binary(self.services[name]["command"][0]))
            unknown = set(service["environment"]) - flags
            self.assertFalse(unknown, f"curve.yml {name}: not flags: {unknown}")
            # Every key file a variable names is mounted, read-only, and nothing else is.
            mounted = {interpolate(v, {}).split(":")[1] for v in service["volumes"]
                       if v.endswith(":ro")}
            named = {path for key, value in service["environment"].items()
                     if key.startswith("SLOWLANE_CURVE_") for path in value.split()}
            self.assertEqual(mounted, named, name)


# ---- the Dockerfile -----------------------------------------------------------------------------

class DockerfileTest(unittest.TestCase):

    def setUp(self):
        with open(DOCKERFILE) as f:
            self.text = f.read()
        text = self.text.replace("\\\n", " ")
        self.stages = re.split(r"(?m)^FROM ", text)[1:]

    @staticmethod
    def installed(stage):
        packages = set()
        for match in re.finditer(r"apt-get install ([^&]*)", stage):
            packages.update(w for w in match.group(1).split() if not w.startswith("-"))
        return packages

    def test_multi_stage_on_bookworm_slim(self):
        self.assertEqual(len(self.stages), 2)
        self.assertIn("ARG DEBIAN_TAG=bookworm-slim", self.text)
        self.assertIn("COPY --from=build", self.stages[1])

    def test_runtime_stage_runs_as_non_root(self):
        users = re.findall(r"(?m)^USER (\S+)", self.stages[1])
        self.assertTrue(users)
        self.assertNotIn(users[-1].split(":")[0], ("root", "0"))

    def test_runtime_stage_has_the_libraries_the_binaries_link(self):
        runtime = self.installed(self.stages[1])
        self.assertFalse({p for p in runtime if p.endswith("-dev")}, "no -dev package at run time")
        for name in ("slowlane-broker", "slowlane-gateway", "slowlane-worker", "slowlane-jobs",
                     "slowlane"):
            elf = run("readelf", "-d", harness.binary(name)).stdout
            for lib in re.findall(r"NEEDED.*\[(.+)\]", elf):
                owner = run("dpkg", "-S", f"*/{lib}", check=False).stdout.split(":")[0]
                if owner in ("libc6", "libgcc-s1", ""):
                    continue  # in every Debian base image
                if re.match(r"lib(asan|ubsan|lsan|tsan)\d", owner):
                    continue  # a sanitizer build's runtime (scripts/sanitize.sh); the image's build has none
                self.assertIn(owner, runtime, f"{name} links {lib} from {owner}")

    def test_image_holds_every_binary_compose_runs(self):
        built = set(re.findall(r"/build/bin/(\S+)", self.stages[0]))
        for service in load_compose(COMPOSE_FILE)["services"].values():
            if "command" in service:
                self.assertIn(service["command"][0], built)
        self.assertIn("tini", self.installed(self.stages[1]))
        self.assertIn("curl", self.installed(self.stages[1]))  # the health checks use it

    def test_runtime_stage_makes_the_jobs_volume_owned_by_its_user(self):
        # A fresh named volume copies the owner and mode of the image's directory at its mount
        # point: without it the volume is root's and slowlane-jobs (uid 10001) cannot write.
        runtime = self.stages[1]
        self.assertRegex(runtime, rf"useradd [^\n]*--uid {IMAGE_UID} [^\n]*slowlane")
        user_at = re.search(r"(?m)^USER ", runtime).start()
        for mount in named_volumes(load_compose(COMPOSE_FILE), "jobs"):
            made = re.search(rf"(?m)^RUN .*install -d (-o (\S+) -g (\S+) -m (\d+)) {mount}\s*$",
                             runtime)
            self.assertTrue(made, f"no `install -d -o -g -m ... {mount}` in the runtime stage")
            self.assertLess(made.start(), user_at, "made before USER (the user cannot)")
            self.assertIn(made.group(2), ("slowlane", str(IMAGE_UID)))
            self.assertIn(made.group(3), ("slowlane", str(IMAGE_UID)))
            self.assertEqual(made.group(4), "0700")


# ---- the compose services, run in network namespaces named like them ------------------------------

class ComposeInNamespacesTest(unittest.TestCase):
    """Each compose service's command and environment, unchanged, in a namespace named like the
    service; the binaries come from SLOWLANE_BIN instead of the image's /usr/local/bin."""

    def setUp(self):
        need_root()
        self.compose = load_compose(COMPOSE_FILE)
        self.lan = Lan([*SLOWLANE_SERVICES, "client"])
        self.addCleanup(self.lan.destroy)
        self.procs = {}
        for name in SLOWLANE_SERVICES:
            service = self.compose["services"][name]
            command = [harness.binary(service["command"][0]), *service["command"][1:]]
            proc = harness.Process(self.lan.exec_args(name, *command),
                                   env=self.with_volumes(name, service["environment"]), name=name)
            self.procs[name] = proc
            self.addCleanup(proc.stop)

    def with_volumes(self, name, env):
        """env with each named volume's mount point replaced by a temporary directory (the
        volume's stand-in; the image makes the mount point, so it exists, mode 0700)."""
        env = dict(env)
        for mount, volume in named_volumes(self.compose, name).items():
            root = tempfile.mkdtemp(prefix=f"slowlane-compose-{volume}-")
            self.addCleanup(shutil.rmtree, root, True)
            here = os.path.join(root, volume)
            os.mkdir(here, 0o700)
            env = {k: v.replace(mount, here) for k, v in env.items()}
        return env

    def health(self, name):
        """Runs the service's compose health check in its namespace; True if it passes."""
        # (ComposeCurveInNamespacesTest reuses this and the test below with curve.yml added.)
        test = self.compose["services"][name]["healthcheck"]["test"]
        args = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
        return self.lan.sh(name, *args).returncode == 0

    def test_names_ports_and_environment_work_across_namespaces(self):
        try:
            for name in BROKERS:
                harness.wait_for(lambda: self.health(name), timeout=10, what=f"{name} healthy")
            harness.wait_for(lambda: self.health("gateway"), timeout=15, what="gateway healthy")
            harness.wait_for(lambda: self.lan.http("client", "http://gateway:8080/readyz")[0] == 200,
                             timeout=15, what="gateway ready (a worker for every route)")
            status, body = self.lan.http("client", "http://gateway:8080/fast?hello=compose")
            self.assertEqual(status, 200, body)
            self.assertIn("hello=compose", body)
            synchronous = self.lan.http("client", "http://gateway:8080/slow?ms=20")
            self.assertEqual(synchronous[0], 200, synchronous[1])
            # An asynchronous request: stored by the jobs service, run by worker-slow.
            def jobs_reached():
                status, body = self.lan.http("client", "http://gateway:8080/jobs/0")
                return status == 404 and "unknown_job" in body
            harness.wait_for(jobs_reached, timeout=15, what="the gateway reaching the jobs service")
            status, location = submit_async(self.lan, "client", "http://gateway:8080/slow?ms=20")
            self.assertEqual(status, 202)
            self.assertRegex(location or "", r"^/jobs/[0-9a-f]{32}$")

            def done():
                status, body = self.lan.http("client", f"http://gateway:8080{location}")
                return status == 200 and json.loads(body)["status"] == "done"
            harness.wait_for(done, timeout=15, what=f"{location} done")
            self.assertEqual(self.lan.http("client", f"http://gateway:8080{location}/result"),
                             synchronous)
            for name, proc in self.procs.items():
                self.assertTrue(proc.alive(), f"{name} exited:\n{proc.output()}")
        except AssertionError:
            for name, proc in self.procs.items():
                sys.stderr.write(f"---- {name}\n{proc.output()[-3000:]}\n")
            raise


class ComposeCurveInNamespacesTest(ComposeInNamespacesTest):
    """The same with curve.yml added: keys made by `slowlane keygen` in the layout curve.yml
    expects, each mounted path mapped back to its file on this machine."""

    def setUp(self):
        need_root()
        keys = tempfile.mkdtemp(prefix="slowlane-compose-curve-")
        self.addCleanup(shutil.rmtree, keys, True)
        os.makedirs(os.path.join(keys, "clients"))
        for name in ("broker_a", "broker_b", "gateway", "worker"):
            out = run(harness.binary("slowlane"), "keygen", "--out", keys, "--name", name)
            self.assertEqual(out.returncode, 0, out.stderr)
        for name in ("gateway", "worker"):
            shutil.copy(os.path.join(keys, name), os.path.join(keys, "clients"))
        variables = {"DEPLOY_CURVE_DIR": keys}
        self.compose = load_compose(COMPOSE_FILE, variables)
        curve = load_compose(CURVE_FILE, variables)["services"]
        self.lan = Lan([*SLOWLANE_SERVICES, "client"])
        self.addCleanup(self.lan.destroy)
        self.procs = {}
        for name in SLOWLANE_SERVICES:
            service = self.compose["services"][name]
            mounts = dict(interpolate(v, variables).split(":")[:2] for v in curve[name]["volumes"])
            inside = {path: host for host, path in mounts.items()}
            env = dict(service["environment"])
            # a value may be a list (SLOWLANE_CURVE_SERVER: one key per broker): map each path;
            # what is not a mounted file (the jobs service's SLOWLANE_BROKER) stays as it is
            env.update({k: " ".join(inside.get(word, word) for word in v.split())
                        for k, v in curve[name]["environment"].items()})
            command = [harness.binary(service["command"][0]), *service["command"][1:]]
            proc = harness.Process(self.lan.exec_args(name, *command),
                                   env=self.with_volumes(name, env), name=name)
            self.procs[name] = proc
            self.addCleanup(proc.stop)

    def test_names_ports_and_environment_work_across_namespaces(self):
        super().test_names_ports_and_environment_work_across_namespaces()
        for name in BROKERS:
            self.assertIn("event=curve_on", self.procs[name].output())


if __name__ == "__main__":
    harness.main()
