"""Docker Swarm across three hosts on this machine (issue 19; docs/deploy.md, "Several hosts:
Docker Swarm"). scripts/swarm-nodes.sh makes the hosts: each node a dockerd in a network namespace
of its own, with its own address on a bridge only these namespaces share. The test's clients run
in the bridge's namespace, so nothing here is reachable from the machine's interfaces.

One node first: `docker stack deploy -c deploy/compose/docker-compose.yml slowlane` serves /fast
and /slow, `docker service scale` shows in the brokers' view, and a rolling `docker service update`
of the worker image under a steady GET load fails no request; the TLS front (tls.yml) serves
and follows a replaced gateway. Then two more nodes join: workers
spread over them, and draining a node moves its workers and fails no GET.
Run by scripts/containers.sh (after test_containers.py), as root."""
import ctypes
import os
import shutil
import ssl
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "system"))
import metrics_support as metrics  # noqa: E402
from containers_support import http, sh, wait_for  # noqa: E402

IMAGE = os.environ.get("SLOWLANE_IMAGE", "slowlane:test")
NGINX_IMAGE = os.environ.get("SLOWLANE_NGINX_IMAGE", "slowlane-test-nginx:latest")
NEXT_IMAGE = "slowlane:swarm-next"  # the same image under another tag: what an upgrade deploys
COMPOSE_DIR = os.path.join(SOURCE, "deploy", "compose")
NODES_SCRIPT = os.path.join(SOURCE, "scripts", "swarm-nodes.sh")
NODES = (1, 2, 3)
CLONE_NEWNET = 0x40000000


def node_address(node):
    return f"10.213.120.1{node}"


def docker(node, *args, **kwargs):
    return sh("docker", "-H", f"unix:///run/slowlane-swarm/node{node}/docker.sock", *args,
              **kwargs)


def make_certificate(directory):
    """A self-signed certificate for the nodes' addresses, as tls.yml reads it."""
    names = ",".join(f"IP:{node_address(node)}" for node in NODES)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
       "-subj", "/CN=slowlane-test", "-addext", f"subjectAltName={names}",
       "-keyout", os.path.join(directory, "privkey.pem"),
       "-out", os.path.join(directory, "fullchain.pem"))


def enter_network_namespace(name):
    """Moves this process (its main thread, and the threads and children it starts after) into
    the named network namespace: the clients then reach the nodes' addresses."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
    finally:
        os.close(fd)


class Load:
    """GETs in a loop from a few threads: /fast, and a short /slow; every answer not 200 kept."""

    def __init__(self, address, fast_threads=3, slow_threads=1):
        self.address, self.failures, self.answered = address, [], 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=("/fast?i=1",))
                        for _ in range(fast_threads)]
        self.threads += [threading.Thread(target=self.run, args=("/slow?ms=300",))
                         for _ in range(slow_threads)]

    def run(self, path):
        while not self.stopping.is_set():
            status, body = http(8080, path, timeout=30, host=self.address)
            with self.lock:
                self.answered += 1
                if status != 200:
                    self.failures.append((time.strftime("%H:%M:%S"), path, status, body[:200]))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        wait_for(lambda: self.answered >= 50, 30, "the load flowing")
        return self

    def wait_answers(self, count, what):
        target = self.answered + count
        wait_for(lambda: self.answered >= target, 60, what)

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(40)


class SwarmTest(unittest.TestCase):
    maxDiff = None
    @classmethod
    def setUpClass(cls):
        sh(NODES_SCRIPT, "up", IMAGE, NGINX_IMAGE, timeout=300)
        cls.tls_dir = tempfile.mkdtemp(prefix="slowlane-tls-")
        try:
            make_certificate(cls.tls_dir)
            enter_network_namespace("slsw")
            # The swarm's overlay networks on a range of our own (10.213.112.0/21), as docs say.
            docker(1, "swarm", "init", "--advertise-addr", node_address(1),
                   "--default-addr-pool", "10.213.112.0/21",
                   "--default-addr-pool-mask-length", "24")
            cls.deploy()
            wait_for(lambda: cls.gateway_address() and cls.workers("fast") == [4, 4]
                     and cls.workers("slow") == [4, 4], 120,
                     "the stack up: 2 replicas of 2 workers per service, at both brokers",
                     interval=1.0)
            # `docker service ls`: every service at its replica count (the worker services at 2).
            wait_for(cls.every_service_at_its_count, 60, "every service at its replica count")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for service in ("broker-a", "gateway", "worker-fast"):
            logs = docker(1, "service", "logs", "--tail", "8", f"slowlane_{service}", check=False)
            print(logs.stdout[-3000:], logs.stderr[-3000:], flush=True)
        sh(NODES_SCRIPT, "down", check=False, timeout=300)
        shutil.rmtree(cls.tls_dir, ignore_errors=True)

    @classmethod
    def every_service_at_its_count(cls):
        """Each line of `docker service ls` says n/n replicas running."""
        out = docker(1, "service", "ls", "--format", "{{.Replicas}}").stdout
        counts = [line.split()[0].split("/") for line in out.splitlines() if line.strip()]
        return bool(counts) and all(running == wanted for running, wanted in counts)

    @classmethod
    def wait_workers(cls, per_broker, what):
        """Until each broker has per_broker fast and per_broker slow workers."""
        wait_for(lambda: cls.workers("fast") == [per_broker] * 2
                 and cls.workers("slow") == [per_broker] * 2, 90, what)

    @classmethod
    def tasks(cls, service):
        """(node, image) of each running task of the stack's service."""
        out = docker(1, "service", "ps", f"slowlane_{service}", "--filter",
                     "desired-state=running", "--format", "{{.Node}} {{.Image}} {{.CurrentState}}",
                     check=False).stdout
        return [tuple(line.split()[:2]) for line in out.splitlines()
                if line.split()[2:3] == ["Running"]]

    def https(self, path):
        """(status, body) of a GET through the TLS front, on the node that runs it."""
        nodes = [node for node, _ in self.tasks("tls")]
        if len(nodes) != 1:
            return 0, b"no TLS front running"
        context = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "fullchain.pem"))
        url = f"https://{node_address(int(nodes[0].removeprefix('slnode')))}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10, context=context) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (OSError, urllib.error.URLError) as error:
            return 0, str(error).encode()

    @classmethod
    def gateway_address(cls):
        """The gateway publishes in host mode: it answers on the address of its node (the
        first node's, when it runs on several)."""
        nodes = sorted(node for node, _ in cls.tasks("gateway"))
        if not nodes:
            return None
        address = node_address(int(nodes[0].removeprefix("slnode")))
        return address if http(8080, "/readyz", host=address)[0] == 200 else None

    @classmethod
    def deploy(cls, **variables):
        """docker stack deploy as docs/deploy.md gives it, with the TLS front (its key a secret)."""
        docker(1, "stack", "deploy", "-c", os.path.join(COMPOSE_DIR, "docker-compose.yml"),
               "-c", os.path.join(COMPOSE_DIR, "tls.yml"), "slowlane",
               env={**os.environ, "DEPLOY_IMAGE": IMAGE, "DEPLOY_NGINX_IMAGE": NGINX_IMAGE,
                    "DEPLOY_TLS_DIR": cls.tls_dir, **variables})

    @classmethod
    def workers(cls, service, state=None):
        """Workers of service registered at broker-a and broker-b, from the gateway's /metrics."""
        address = cls.gateway_address()
        status, body = http(8080, "/metrics", host=address) if address else (0, b"")
        if status != 200:
            return None
        labels = {"state": state} if state else {}
        return [int(metrics.value(body.decode(), "slowlane_broker_workers", service=service,
                                  broker=f"tcp://broker-{b}:5555", **labels)) for b in "ab"]

    def test_1_one_node_serves_scales_and_rolls_an_update_without_failing_a_get(self):
        address = self.gateway_address()
        self.assertEqual(http(8080, "/fast?i=1", host=address), (200, b"i=1\n"))
        self.assertEqual(http(8080, "/slow?ms=100", host=address)[0], 200)

        docker(1, "service", "scale", "--detach", "slowlane_worker-slow=4")
        wait_for(lambda: self.workers("slow") == [8, 8], 60, "8 slow workers at each broker")
        docker(1, "service", "scale", "--detach", "slowlane_worker-slow=2")
        wait_for(lambda: self.workers("slow") == [4, 4], 60, "4 slow workers at each broker")

        # A new image for the fast workers, rolled out one replica at a time (start-first).
        docker(1, "tag", IMAGE, NEXT_IMAGE)
        with Load(address) as load:
            docker(1, "service", "update", "--detach=false", "--image", NEXT_IMAGE,
                   "slowlane_worker-fast", timeout=240)
            wait_for(lambda: self.workers("fast") == [4, 4], 60, "4 fast workers again")
            load.wait_answers(100, "100 answers after the update")
        images = [image for _, image in self.tasks("worker-fast")]
        self.assertEqual(images, [NEXT_IMAGE] * 2)
        print(f"rolling update under load: {load.answered} GETs, {len(load.failures)} failed",
              flush=True)
        self.assertEqual(load.failures, [])
        update = docker(1, "service", "inspect", "-f",
                        "{{.Spec.UpdateConfig.Order}} {{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}",
                        "slowlane_worker-fast").stdout.split()
        self.assertEqual(update, ["start-first", str(1 << 30)])
        # Back to the stack's image, as `docker service rollback` does, while the next test runs
        # (so the next `docker stack deploy`, which names that image, has no update to roll).
        docker(1, "service", "rollback", "--detach", "slowlane_worker-fast")

    def test_2_the_tls_front_serves_and_follows_a_replaced_gateway(self):
        wait_for(lambda: self.https("/fast?i=5") == (200, b"i=5\n"), 60, "/fast through TLS")
        self.assertEqual(self.https("/metrics")[0], 404)
        # A new gateway task comes back at another address; the front finds it by name.
        docker(1, "service", "update", "--detach=false", "--force", "slowlane_gateway",
               timeout=120)
        wait_for(lambda: self.https("/fast?i=6") == (200, b"i=6\n"), 60,
                 "/fast through TLS to the new gateway")

    def test_3_three_nodes_spread_workers_and_a_drained_node_fails_no_get(self):
        token = docker(1, "swarm", "join-token", "-q", "worker").stdout.strip()
        for node in NODES[1:]:
            docker(node, "tag", IMAGE, NEXT_IMAGE)
            docker(node, "swarm", "join", "--token", token, f"{node_address(1)}:2377")
        wait_for(lambda: docker(1, "node", "ls", "--format", "{{.Status}}").stdout.split()
                 == ["Ready"] * 3, 60, "three nodes ready")

        docker(1, "service", "scale", "--detach", "slowlane_worker-fast=4",
               "slowlane_worker-slow=4")
        self.wait_workers(8, "8 fast and 8 slow workers at each broker")
        worker_nodes = {node for service in ("worker-fast", "worker-slow")
                        for node, _ in self.tasks(service)}
        self.assertEqual(worker_nodes, {f"slnode{node}" for node in NODES})

        # A gateway on every node (host mode: at most one per node), each answering on its node.
        docker(1, "service", "scale", "--detach", "slowlane_gateway=3")
        wait_for(lambda: all(http(8080, "/readyz", host=node_address(node))[0] == 200
                             for node in NODES), 60, "a ready gateway on every node")
        address = self.gateway_address()
        self.assertEqual(address, node_address(1))
        with Load(address) as load:
            # broker-b to a host of its own, as docs/deploy.md does it: stopped, then started on
            # slnode3; broker-a serves meanwhile. The counts set by `docker service scale` are
            # kept by giving them again (a deploy sets every service to the file's counts).
            self.deploy(DEPLOY_BROKER_B_PLACEMENT="node.hostname == slnode3",
                        DEPLOY_FAST_REPLICAS="4", DEPLOY_SLOW_REPLICAS="4",
                        DEPLOY_GATEWAY_REPLICAS="3")
            wait_for(lambda: [node for node, _ in self.tasks("broker-b")] == ["slnode3"], 60,
                     "broker-b on slnode3")
            self.wait_workers(8, "every worker registered with the moved broker-b")
            load.wait_answers(100, "100 answers after broker-b moved")
        print(f"broker-b moved under load: {load.answered} GETs, {len(load.failures)} failed",
              flush=True)
        self.assertEqual(load.failures, [])

        drained = "slnode2"  # runs workers and a gateway, not the brokers, not the one we load
        with Load(address) as load:
            docker(1, "node", "update", "--availability", "drain", drained)
            wait_for(lambda: all(node != drained for service in ("worker-fast", "worker-slow")
                                 for node, _ in self.tasks(service)), 90,
                     f"no worker left on {drained}")
            self.wait_workers(8, "every worker back, on the other nodes")
            load.wait_answers(100, "100 answers after the drain")
        print(f"drain of {drained} under load: {load.answered} GETs, {len(load.failures)} failed",
              flush=True)
        self.assertEqual(load.failures, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
