"""CURVE between the broker and its clients (issue 6), on loopback: `slowlane keygen`, the broker's
--curve-secret/--curve-clients (ZAP through zauth: only listed client keys are admitted), and the
--curve-secret/--curve-server of workers and gateways.

- keygen writes NAME (0644) and NAME_secret (0600) in czmq's certificate format, never prints the
  secret and never overwrites a key;
- a listed worker and a listed gateway serve HTTP end to end (200 through gateway -> broker ->
  worker); no secret key appears in any log;
- a worker with an unlisted key never registers: mmi.service says 404 for its service and requests
  for it are answered no_worker, never served;
- a plaintext client (MDP over a plain DEALER) and a plaintext worker get nothing from a CURVE broker;
- a bad or missing key file stops each binary at start-up with one line naming the flag and file."""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

import zmq
import zmq.auth

import harness
import gateway_support as gs

KEYS = {}        # name -> (public file, secret file)
KEY_DIR = None


def keygen(name, out=None):
    return subprocess.run([harness.binary("slowlane"), "keygen", "--out", out or KEY_DIR,
                           "--name", name], capture_output=True, text=True, timeout=10)


def setUpModule():
    global KEY_DIR
    KEY_DIR = tempfile.mkdtemp(prefix="slowlane-curve-")
    os.makedirs(os.path.join(KEY_DIR, "clients"))
    for name in ("broker", "gateway", "worker", "probe", "rogue"):
        out = keygen(name)
        assert out.returncode == 0, out.stderr
        KEYS[name] = (os.path.join(KEY_DIR, name), os.path.join(KEY_DIR, name + "_secret"))
    # The broker admits the gateway, the worker and the test's own probe client; not rogue.
    for name in ("gateway", "worker", "probe"):
        shutil.copy(KEYS[name][0], os.path.join(KEY_DIR, "clients", name))


def tearDownModule():
    shutil.rmtree(KEY_DIR, ignore_errors=True)


def secrets_text():
    """The Z85 text of every secret key made here: none may ever appear in a log."""
    return [zmq.auth.load_certificate(secret)[1].decode() for _, secret in KEYS.values()]


def client_flags(name):
    return ["--curve-secret", KEYS[name][1], "--curve-server", KEYS["broker"][0]]


def broker_flags():
    return ["--curve-secret", KEYS["broker"][1], "--curve-clients", os.path.join(KEY_DIR, "clients")]


class CurveClient(harness.MdpClient):
    """harness.MdpClient with CURVE keys (pyzmq reads czmq certificate files)."""

    def __init__(self, endpoint, name, server_public=None):
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.linger = 0
        public, secret = zmq.auth.load_certificate(KEYS[name][1])
        self.socket.curve_publickey, self.socket.curve_secretkey = public, secret
        self.socket.curve_serverkey = server_public or zmq.auth.load_certificate(KEYS["broker"][0])[0]
        self.socket.connect(endpoint)


def mmi_service(endpoint, service, name="probe", timeout_ms=1000):
    """The broker's mmi.service answer for service ("200"/"404"), asked as a CURVE client, or None."""
    client = CurveClient(endpoint, name)
    try:
        reply = client.request("mmi.service", service.encode(), timeout_ms=timeout_ms)
        return reply[-1].decode() if reply else None
    finally:
        client.close()


class KeygenTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="slowlane-keygen-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_writes_a_pair_with_the_right_modes_and_never_prints_the_secret(self):
        out = keygen("node-b", self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        public, secret = os.path.join(self.dir, "node-b"), os.path.join(self.dir, "node-b_secret")
        self.assertEqual(stat.S_IMODE(os.stat(secret).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(public).st_mode), 0o644)
        public_key, secret_key = zmq.auth.load_certificate(secret)
        self.assertEqual(zmq.auth.load_certificate(public), (public_key, None))
        self.assertEqual(zmq.curve_public(secret_key), public_key)   # the halves belong together
        self.assertNotIn(secret_key.decode(), out.stdout + out.stderr)
        with open(public) as f:
            self.assertNotIn("secret-key", f.read())

    def test_never_overwrites_a_key(self):
        self.assertEqual(keygen("k", self.dir).returncode, 0)
        with open(os.path.join(self.dir, "k_secret")) as f:
            before = f.read()
        out = keygen("k", self.dir)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("already exists", out.stderr)
        with open(os.path.join(self.dir, "k_secret")) as f:
            self.assertEqual(f.read(), before)

    def test_refuses_a_name_that_is_a_path(self):
        out = keygen("../escape", self.dir)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--name", out.stderr)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1)


class ClusterTestCase(unittest.TestCase):
    """Processes started once per class (start() appends them to cls.procs) and stopped in
    reverse order; if starting fails, what did start is stopped."""

    @classmethod
    def setUpClass(cls):
        cls.procs = []
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for proc in reversed(cls.procs):
            proc.stop()


class CurveClusterTest(ClusterTestCase):

    @classmethod
    def start(cls):
        cls.broker = harness.start_broker(extra=broker_flags())
        cls.procs.append(cls.broker)
        harness.wait_for(lambda: "event=curve_on" in cls.broker.output(), what="broker up")
        cls.worker = harness.start_workers(cls.broker.endpoint, "fast", "builtin:echo",
                                           extra=client_flags("worker"))
        cls.rogue = harness.start_workers(cls.broker.endpoint, "stolen", "builtin:echo",
                                          extra=client_flags("rogue"))
        cls.plain = harness.start_workers(cls.broker.endpoint, "plain", "builtin:echo")
        cls.procs += [cls.worker, cls.rogue, cls.plain]
        cls.gateway = gs.start_gateway(
            cls.broker.endpoint,
            ["/fast=fast", "/stolen=stolen,timeout-ms=1000", "/plain=plain,timeout-ms=1000"],
            extra=client_flags("gateway") + ["--admin-token", "curve-admin-token"])
        cls.procs.append(cls.gateway)
        gs.wait_route_ready(cls.gateway.port, "/fast")

    def test_listed_worker_and_gateway_serve_end_to_end(self):
        status, _, body = harness.http_request(self.gateway.port, "GET", "/fast?hello=curve")
        self.assertEqual(status, 200, body)
        self.assertIn(b"hello=curve", body)
        self.assertEqual(mmi_service(self.broker.endpoint, "fast"), "200")

    def test_cluster_view_sees_the_listed_supervisor_through_curve(self):
        """The supervisor's agent socket is one more CURVE client: the admin view must list
        the listed host's fast workers, and never the unlisted or plaintext supervisors."""
        import json

        def view():
            status, _, body = harness.http_request(
                self.gateway.port, "GET", "/api/v1/cluster",
                headers={"Authorization": "Bearer curve-admin-token"})
            self.assertEqual(status, 200, body)
            cluster = json.loads(body)
            managed = [w for w in cluster.get("workers", []) if w.get("managed")]
            return cluster if managed else None

        cluster = harness.wait_for(view, 10, what="a managed worker in the cluster view")
        self.assertEqual(cluster["broker"]["agents"], 1)
        managed = [w for w in cluster["workers"] if w.get("managed")]
        self.assertEqual({w["service"] for w in managed}, {"fast"})
        self.assertTrue(all(w["pid"] for w in managed))

    def test_unlisted_worker_never_registers_nor_gets_a_request(self):
        # The rogue supervisor's workers keep trying (they are alive and connecting)...
        harness.wait_for(lambda: "child_started" in self.rogue.output(), what="rogue workers up")
        time.sleep(harness.HEARTBEAT_MS * harness.LIVENESS * 3 / 1000)  # several reconnect rounds
        self.assertTrue(self.rogue.alive())
        # ...but the broker never admits them: no READY reached it, the service has no worker.
        self.assertEqual(mmi_service(self.broker.endpoint, "stolen"), "404")
        # ...and the workers say why: the handshake failed, not a silent broker
        self.assertIn("reason=handshake_failed", self.rogue.output())
        self.assertNotIn("reason=heartbeat_timeout", self.rogue.output())
        self.assertNotRegex(self.broker.output(), r"event=worker_ready [^\n]*service=stolen")
        for i in range(5):
            status, _, body = harness.http_request(self.gateway.port, "GET", f"/stolen?n={i}")
            self.assertEqual(status, 503, body)
            self.assertIn(b"no_worker", body)

    def test_plaintext_worker_is_not_admitted(self):
        harness.wait_for(lambda: "child_started" in self.plain.output(), what="plain workers up")
        time.sleep(harness.HEARTBEAT_MS * harness.LIVENESS * 3 / 1000)
        self.assertEqual(mmi_service(self.broker.endpoint, "plain"), "404")
        self.assertIn("reason=handshake_failed", self.plain.output())
        self.assertNotRegex(self.broker.output(), r"event=worker_ready [^\n]*service=plain")

    def test_plaintext_client_gets_nothing(self):
        client = harness.MdpClient(self.broker.endpoint)
        try:
            self.assertIsNone(client.request("mmi.service", b"fast", timeout_ms=1000))
        finally:
            client.close()

    def test_unlisted_client_and_wrong_server_key_get_nothing(self):
        rogue = CurveClient(self.broker.endpoint, "rogue")
        # A listed key that expects another server: the handshake fails on the client's side.
        impostor = CurveClient(self.broker.endpoint, "probe",
                               server_public=zmq.auth.load_certificate(KEYS["rogue"][0])[0])
        try:
            self.assertIsNone(rogue.request("mmi.service", b"fast", timeout_ms=1000))
            self.assertIsNone(impostor.request("mmi.service", b"fast", timeout_ms=1000))
        finally:
            rogue.close()
            impostor.close()

    def test_unlisted_gateway_stays_disconnected_and_answers_503(self):
        gateway = gs.start_gateway(self.broker.endpoint, ["/fast=fast"], wait_connected=False,
                                   extra=client_flags("rogue"))
        try:
            time.sleep(harness.HEARTBEAT_MS * harness.LIVENESS * 3 / 1000)
            status, _, body = harness.http_request(gateway.port, "GET", "/readyz")
            self.assertEqual(status, 503, body)
            self.assertIn(b'"broker":"disconnected"', body)
            self.assertEqual(harness.http_request(gateway.port, "GET", "/fast")[0], 503)
        finally:
            gateway.stop()

    def test_no_secret_key_in_any_log(self):
        harness.http_request(self.gateway.port, "GET", "/fast")
        for proc in self.procs:
            output = proc.output()
            for secret in secrets_text():
                self.assertNotIn(secret, output, proc.name)


class EmbeddedCurveTest(ClusterTestCase):
    """The broker embedded in the gateway (--embed-broker) encrypts its TCP binds with
    --broker-curve-secret and admits the keys in --broker-curve-clients, as slowlane-broker
    does; the gateway's own requests take the in-process link, which never leaves it."""

    @classmethod
    def start(cls):
        endpoint = f"tcp://127.0.0.1:{harness.free_port()}"
        cls.gateway = gs.start_gateway(
            endpoint, ["/fast=fast", "/plain=plain,timeout-ms=1000"], embed=True,
            extra=["--broker-curve-secret", KEYS["broker"][1],
                   "--broker-curve-clients", os.path.join(KEY_DIR, "clients")])
        cls.procs.append(cls.gateway)
        cls.worker = harness.start_workers(endpoint, "fast", "builtin:echo",
                                           extra=client_flags("worker"))
        cls.plain = harness.start_workers(endpoint, "plain", "builtin:echo")
        cls.procs += [cls.worker, cls.plain]
        gs.wait_route_ready(cls.gateway.port, "/fast")

    def test_listed_worker_serves_and_plaintext_gets_nothing(self):
        self.assertIn("comp=broker event=curve_on clients_listed=3", self.gateway.output())
        status, _, body = harness.http_request(self.gateway.port, "GET", "/fast?embedded=curve")
        self.assertEqual((status, body), (200, b"embedded=curve\n"))
        self.assertEqual(mmi_service(self.gateway.endpoint, "fast"), "200")
        client = harness.MdpClient(self.gateway.endpoint)
        try:
            self.assertIsNone(client.request("mmi.service", b"fast", timeout_ms=1000))
        finally:
            client.close()
        harness.wait_for(lambda: "child_started" in self.plain.output(), what="plain workers up")
        time.sleep(harness.HEARTBEAT_MS * harness.LIVENESS * 3 / 1000)  # reconnect rounds
        self.assertEqual(mmi_service(self.gateway.endpoint, "plain"), "404")
        self.assertEqual(harness.http_request(self.gateway.port, "GET", "/plain")[0], 503)
        for proc in self.procs:
            for secret in secrets_text():
                self.assertNotIn(secret, proc.output(), proc.name)


class BadKeyFilesTest(unittest.TestCase):
    """Each refusal is exit code 2 and exactly one line naming the flag (and the file)."""

    def refuse(self, program, *args, flag, path=None):
        out = subprocess.run([harness.binary(program), *args], capture_output=True, text=True,
                             timeout=10)
        lines = out.stderr.strip().splitlines()
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertEqual(len(lines), 1, out.stderr)
        self.assertIn(flag, lines[0])
        if path:
            self.assertIn(path, lines[0])
        for secret in secrets_text():
            self.assertNotIn(secret, out.stdout + out.stderr)
        return lines[0]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="slowlane-badkeys-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.missing = os.path.join(self.dir, "missing_secret")
        self.garbage = os.path.join(self.dir, "garbage")
        with open(self.garbage, "w") as f:
            f.write("curve\n    public-key = \"not-z85\"\n")
        # A secret file whose halves do not belong together (another pair's secret key).
        self.mixed = os.path.join(self.dir, "mixed_secret")
        with open(KEYS["worker"][1]) as f:
            text = f.read()
        other_secret = zmq.auth.load_certificate(KEYS["rogue"][1])[1].decode()
        with open(self.mixed, "w") as f:
            f.write(re.sub(r'secret-key = "[^"]*"', f'secret-key = "{other_secret}"', text))
        self.port = f"tcp://127.0.0.1:{harness.free_port()}"

    def test_broker(self):
        clients = os.path.join(KEY_DIR, "clients")
        self.refuse("slowlane-broker", "--bind", self.port, "--curve-secret", self.missing,
                    "--curve-clients", clients, flag="--curve-secret", path=self.missing)
        self.refuse("slowlane-broker", "--bind", self.port, "--curve-secret", KEYS["broker"][0],
                    "--curve-clients", clients, flag="--curve-secret", path=KEYS["broker"][0])
        self.refuse("slowlane-broker", "--bind", self.port, "--curve-secret", self.mixed,
                    "--curve-clients", clients, flag="--curve-secret", path=self.mixed)
        self.refuse("slowlane-broker", "--bind", self.port, "--curve-secret", KEYS["broker"][1],
                    flag="--curve-clients")
        self.refuse("slowlane-broker", "--bind", self.port, "--curve-secret", KEYS["broker"][1],
                    "--curve-clients", os.path.join(self.dir, "nope"), flag="--curve-clients",
                    path=os.path.join(self.dir, "nope"))
        self.refuse("slowlane-broker", "--bind", self.port, "--curve-clients", clients,
                    flag="--curve-clients")

    def test_worker(self):
        base = ["--broker", self.port, "--service", "x", "--handler", "builtin:echo"]
        self.refuse("slowlane-worker", *base, "--curve-secret", self.missing, "--curve-server",
                    KEYS["broker"][0], flag="--curve-secret", path=self.missing)
        self.refuse("slowlane-worker", *base, "--curve-secret", KEYS["worker"][1],
                    "--curve-server", self.garbage, flag="--curve-server", path=self.garbage)
        self.refuse("slowlane-worker", *base, "--curve-secret", KEYS["worker"][1],
                    flag="--curve-server")
        # The environment variable is the same flag (sl_flags).
        out = subprocess.run([harness.binary("slowlane-worker"), *base], capture_output=True,
                             text=True, timeout=10,
                             env={**os.environ, "SLOWLANE_CURVE_SECRET": self.mixed,
                                  "SLOWLANE_CURVE_SERVER": KEYS["broker"][0]})
        self.assertEqual(out.returncode, 2)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
        self.assertIn(f"--curve-secret {self.mixed}", out.stderr)

    def test_gateway(self):
        base = ["--listen", str(harness.free_port()), "--broker", self.port, "--route", "/x=x"]
        self.refuse("slowlane-gateway", *base, "--curve-secret", KEYS["gateway"][0],
                    "--curve-server", KEYS["broker"][0], flag="--curve-secret",
                    path=KEYS["gateway"][0])
        self.refuse("slowlane-gateway", *base, "--curve-secret", KEYS["gateway"][1],
                    "--curve-server", self.missing, flag="--curve-server", path=self.missing)
        self.refuse("slowlane-gateway", *base, "--curve-server", KEYS["broker"][0],
                    flag="--curve-secret")


if __name__ == "__main__":
    harness.main()
