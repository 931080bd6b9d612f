"""A broker whose host name cannot be looked up in time must not stall the other brokers
(common/sl_io_threads.h).

libzmq resolves a host name in the I/O thread that owns the connection, synchronously. Seen in
Docker Swarm (tests/containers/test_swarm.py): while broker-b moved to another node, its name had
no address and each lookup waited for a DNS server that did not answer; with one I/O thread per
process, the workers' and gateways' heartbeats to broker-a stalled with it, broker-a took them
for dead, and GETs failed for fifteen seconds although broker-a never stopped.

Here one network namespace has a DNS server that never answers (a UDP socket that reads and
stays silent). A broker listens on 127.0.0.1; a supervisor of workers and a gateway each list it
and a second broker by a name only that DNS server could answer. For as long as the lookups
hang, the first broker must serve every request at once: no broker lost, no worker or agent
expired. (With ZSYS_IO_THREADS=1 for the worker and the gateway, the old sharing, the same
test fails: lookups take the first broker's heartbeats with them.)"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from lan_support import Lan, need_root  # noqa: E402

HUNG_NAME = "broker-b.lookup-hangs.test"
# Every query read, none answered: glibc waits timeout x attempts per lookup.
SILENT_DNS = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.53", 53))
print("listening", flush=True)
while True:
    s.recvfrom(4096)
"""
LOAD_SECONDS = 12


class BrokerLookupTest(unittest.TestCase):
    def setUp(self):
        need_root()
        self.lan = Lan(["box"], subnet="10.213.5")
        self.addCleanup(self.lan.destroy)
        with open(f"/etc/netns/{self.lan.ns('box')}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.53\noptions timeout:5 attempts:2\n")
        self.dns = self.start("silent-dns", sys.executable, "-c", SILENT_DNS)
        harness.wait_for(lambda: "listening" in self.dns.output(), timeout=10,
                         what="the silent DNS server")
        # The premise: a lookup of the name hangs (it is neither refused nor answered).
        lookup = self.lan.sh("box", "timeout", "2", "getent", "hosts", HUNG_NAME)
        self.assertEqual(lookup.returncode, 124, "the lookup should have hung")

    def start(self, name, *args):
        proc = harness.Process(self.lan.exec_args("box", *args), name=name)
        self.addCleanup(proc.stop)
        return proc

    def test_a_hung_lookup_of_one_broker_stalls_nothing_of_the_other(self):
        port_a, port_b, http_port = harness.free_port(), harness.free_port(), harness.free_port()
        broker_a = f"tcp://127.0.0.1:{port_a}"
        broker_b = f"tcp://{HUNG_NAME}:{port_b}"
        broker = self.start("broker-a", harness.binary("slowlane-broker"), "--bind", broker_a)
        workers = self.start("workers", harness.binary("slowlane-worker"), "--broker", broker_a,
                             "--broker", broker_b, "--service", "echo", "--handler",
                             "builtin:echo", "--count", "2")
        gateway = self.start("gateway", harness.binary("slowlane-gateway"), "--listen",
                             f"127.0.0.1:{http_port}", "--broker", broker_a, "--broker", broker_b,
                             "--route", "/e=echo")
        base = f"http://127.0.0.1:{http_port}"
        try:
            harness.wait_for(lambda: self.lan.http("box", f"{base}/readyz")[0] == 200,
                             timeout=20, interval=0.2, what="the gateway ready through broker-a")
            self.assertIn("io_threads=2", gateway.output())
            slowest, answered, failures = 0.0, 0, []
            deadline = time.monotonic() + LOAD_SECONDS
            while time.monotonic() < deadline:
                started = time.monotonic()
                status, body = self.lan.http("box", f"{base}/e?i={answered}", timeout=15)
                slowest = max(slowest, time.monotonic() - started)
                if (status, body) != (200, f"i={answered}\n"):
                    failures.append((status, body[:120]))
                answered += 1
            print(f"{answered} GETs through broker-a while {HUNG_NAME} hung: "
                  f"{len(failures)} failed, slowest {slowest * 1000:.0f} ms", flush=True)
            self.assertEqual(failures, [])
            # A lookup hangs 10 s: a request that waited behind one would show it.
            self.assertLess(slowest, 2.0)
            # Nobody took anybody for dead on the link that works.
            self.assertNotIn(f"broker_lost endpoint={broker_a}", workers.output())
            self.assertNotIn(f"broker_lost broker={broker_a}", gateway.output())
            self.assertNotIn("worker_removed", broker.output())
            self.assertNotIn("agent_left", broker.output())
        except AssertionError:
            for proc in (broker, workers, gateway):
                sys.stderr.write(f"---- {proc.name}\n{proc.output()[-3000:]}\n")
            raise
        finally:
            # A process stops once its I/O threads do, and one in a lookup waits for it: with the
            # server gone the next attempt is refused at once instead of waiting 5 s more.
            self.dns.stop()


if __name__ == "__main__":
    harness.main()
