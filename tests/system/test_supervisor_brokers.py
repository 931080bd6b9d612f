"""slowlane-worker with several brokers (issue 18, docs/protocol.md section 7): one
supervisor started with --broker A --broker B is an agent of both (each broker's mmi.cluster
lists it), a broker that starts later learns of it from a whole STATUS, and an admin command
that reaches the agent twice, through either broker, runs once: a broadcast id through A
then through B reaches each worker once, and a restart roll id repeated while rolling or
after it is done starts no second roll. Bad --broker and --curve-server values stop start-up
with one line. Worker registration with broker B is the worker
library's (sl_worker_add_broker), so these tests assert the agent side only."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cluster_support import broadcast_lines  # noqa: E402

SERVICE = "svc"
HOST = "hostm"


def mmi(endpoint, service, *body, timeout_ms=2000):
    """One mmi.cluster or mmi.cluster.command call (protocol.md 7.4); the answer's JSON."""
    client = harness.MdpClient(endpoint)
    try:
        reply = client.request(service, b"tag-1", *body, timeout_ms=timeout_ms)
    finally:
        client.close()
    if not reply:
        return None
    # cluster-reply = "MDPC02" %x03 "mmi.cluster" [ tag ] json-view
    assert reply[:4] == [b"MDPC02", b"\x03", service.encode(), b"tag-1"], reply[:4]
    return json.loads(reply[4])


def agents(endpoint):
    """The agents a broker's cluster view lists, as (host, pid) pairs."""
    view = mmi(endpoint, "mmi.cluster") or {"hosts": []}
    return [(host["host"], agent["pid"]) for host in view["hosts"] for agent in host["agents"]]


def command(endpoint, **fields):
    return mmi(endpoint, "mmi.cluster.command", json.dumps(fields).encode())


def view_workers(endpoint):
    view = mmi(endpoint, "mmi.cluster") or {"workers": []}
    return [w for w in view["workers"] if w.get("service") == SERVICE and w.get("pid")]


def started_pids(supervisor):
    return [int(pid) for pid in re.findall(r"event=worker_started slot=\d+ pid=(\d+)",
                                           supervisor.output())]


class TwoBrokersTest(unittest.TestCase):
    def setUp(self):
        self.a = harness.start_broker()
        self.addCleanup(self.a.stop)
        self.b = harness.start_broker()
        self.addCleanup(self.b.stop)

    def supervise(self, *brokers, count=2):
        first, *more = brokers
        extra = ["--host", HOST]
        for endpoint in more:
            extra += ["--broker", endpoint]
        supervisor = harness.start_workers(first, SERVICE, "builtin:echo", count=count,
                                           extra=extra)
        self.addCleanup(supervisor.stop)
        return supervisor

    def test_one_supervisor_is_an_agent_of_both_brokers(self):
        supervisor = self.supervise(self.a.endpoint, self.b.endpoint)
        for broker in (self.a, self.b):
            harness.wait_for(lambda: agents(broker.endpoint) == [(HOST, supervisor.pid)],
                             what=f"the agent listed by the broker at {broker.endpoint}")
        # Its STATUS reaches both with the same slots (registration at B is the worker
        # library's business, so only the agent's report is compared).
        harness.wait_for(lambda: len(view_workers(self.a.endpoint)) == 2, what="2 workers at A")
        harness.wait_for(lambda: sorted(w["pid"] for w in view_workers(self.b.endpoint)) ==
                         sorted(w["pid"] for w in view_workers(self.a.endpoint)),
                         what="the same workers reported to B")

    def test_broker_started_later_gets_a_whole_status(self):
        port = harness.free_port()
        later = f"tcp://127.0.0.1:{port}"
        supervisor = self.supervise(self.a.endpoint, later)
        harness.wait_for(lambda: agents(self.a.endpoint) == [(HOST, supervisor.pid)],
                         what="the agent at A while the other broker is down")
        c = harness.start_broker(port=port)
        self.addCleanup(c.stop)
        # protocol.md 7.1: "MUST send STATUS ... as its first message on a connection"; the
        # broker lists an agent only from a STATUS (an ALIVE would get COMMAND status first).
        harness.wait_for(lambda: agents(later) == [(HOST, supervisor.pid)],
                         what="the agent at the broker that started later")

    def test_broadcast_through_a_then_b_reaches_each_worker_once(self):
        supervisor = self.supervise(self.a.endpoint, self.b.endpoint)
        harness.wait_for(lambda: len([w for w in view_workers(self.a.endpoint)
                                      if w["state"] == "idle"]) == 2,
                         what="2 idle workers at A")
        harness.wait_for(lambda: agents(self.b.endpoint) == [(HOST, supervisor.pid)],
                         what="the agent at B")
        pids = sorted(w["pid"] for w in view_workers(self.a.endpoint))
        answer = command(self.a.endpoint, op="broadcast", service=SERVICE, id="bc-once",
                         message="config=v2")
        self.assertEqual((answer["ok"], answer["status"]), (True, 202), answer)
        harness.wait_for(lambda: sorted(broadcast_lines(supervisor, "bc-once")) == pids,
                         what="each worker handled the broadcast")
        # The gateway's retry of the same command through the other broker
        answer = command(self.b.endpoint, op="broadcast", service=SERVICE, id="bc-once",
                         message="config=v2")
        self.assertEqual((answer["ok"], answer["status"]), (True, 202), answer)
        # protocol.md 7.2: "an id already delivered MUST be ignored"
        harness.wait_for(lambda: f"event=broadcast_repeated id=bc-once broker={self.b.endpoint}"
                         in supervisor.output(), what="the repeat through B ignored")
        self.assertEqual(sorted(broadcast_lines(supervisor, "bc-once")), pids)
        for broker in (self.a, self.b):
            harness.wait_for(lambda: sorted(w["pid"] for w in view_workers(broker.endpoint)
                                            if w["last_broadcast"] == "bc-once"
                                            and w["broadcasts"] == 1) == pids,
                             what=f"one broadcast per worker in {broker.endpoint}'s view")


class FakeBroker:
    """A ROUTER that plays a second broker to the agent: it reads SLAGENT1 messages and sends
    COMMANDs. Anything else (a worker's MDP, once workers register with every broker) is
    dropped."""

    def __init__(self):
        self.port = harness.free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.linger = 0
        self.socket.bind(self.endpoint)
        self.agent = None  # the agent's routing id
        self.messages = []  # (command, body or None), in arrival order

    def pump(self):
        while self.socket.poll(0, zmq.POLLIN):
            frames = self.socket.recv_multipart()
            if len(frames) < 3 or frames[1] != b"SLAGENT1":
                continue
            self.agent = frames[0]
            body = json.loads(frames[3]) if len(frames) > 3 else None
            self.messages.append((frames[2], body))

    def statuses(self):
        self.pump()
        return [body for command, body in self.messages if command == b"STATUS"]

    def send(self, body):
        self.socket.send_multipart([self.agent, b"SLAGENT1", b"COMMAND",
                                    json.dumps(body).encode()])

    def close(self):
        self.socket.close()


class RepeatedRollTest(unittest.TestCase):
    """protocol.md 7.3: a broker tells an agent the same roll again when it thinks the
    command lost, and with several brokers a gateway may repeat a command through another:
    an agent already rolling that id, or done with it, starts no second roll."""

    def setUp(self):
        self.a = harness.start_broker()
        self.addCleanup(self.a.stop)
        self.fake = FakeBroker()
        self.addCleanup(self.fake.close)
        self.supervisor = harness.start_workers(
            self.a.endpoint, SERVICE, "builtin:echo", count=2,
            extra=("--host", HOST, "--broker", self.fake.endpoint))
        self.addCleanup(self.supervisor.stop)

    def rolls_started(self, roll):
        return self.supervisor.output().count(f"event=rolling_restart slots=2 roll={roll}\n")

    def repeats(self, roll, state):
        return self.supervisor.output().count(
            f"event=roll_repeated roll={roll} state={state} action=ignored")

    def test_repeated_roll_id_rolls_once(self):
        def idle_status():
            statuses = self.fake.statuses()
            return statuses and [w["state"] for w in statuses[-1]["workers"]] == ["idle"] * 2
        harness.wait_for(idle_status, what="a STATUS with 2 idle workers at the fake broker")
        # protocol.md 7.1: STATUS "as its first message on a connection"
        self.assertEqual(self.fake.messages[0][0], b"STATUS")
        before = started_pids(self.supervisor)
        self.assertEqual(len(before), 2)
        # Twice at once: the second arrives while the first roll is under way.
        self.fake.send({"op": "restart", "roll": "roll-1"})
        self.fake.send({"op": "restart", "roll": "roll-1"})

        def done(roll):
            statuses = self.fake.statuses()
            last = statuses[-1] if statuses else {}
            return last.get("roll", {}).get("done") == roll and not last["roll"]["active"]
        harness.wait_for(lambda: done("roll-1"), what="roll-1 done in a STATUS")
        self.assertEqual(self.rolls_started("roll-1"), 1)
        self.assertEqual(self.repeats("roll-1", "rolling"), 1)
        after = started_pids(self.supervisor)
        self.assertEqual(len(after), 4, "each slot restarted exactly once")
        # Once more after it is done: ignored, and nothing is restarted. The check is
        # synchronous with the command, so the log line settles it.
        self.fake.send({"op": "restart", "roll": "roll-1"})
        harness.wait_for(lambda: self.repeats("roll-1", "done") == 1,
                         what="the repeat of a finished roll ignored")
        self.assertEqual(self.rolls_started("roll-1"), 1)
        self.assertEqual(started_pids(self.supervisor), after)
        # A new id still rolls.
        self.fake.send({"op": "restart", "roll": "roll-2"})
        harness.wait_for(lambda: done("roll-2"), what="roll-2 done in a STATUS")
        self.assertEqual(len(started_pids(self.supervisor)), 6)


class BrokerFlagsTest(unittest.TestCase):
    """Start-up checks of --broker and --curve-server: one line naming the flag, exit 2."""

    def refused(self, *flags, env=None):
        run = subprocess.run([harness.binary("slowlane-worker"), "--service", SERVICE,
                              "--handler", "builtin:echo", *flags],
                             env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                             timeout=10 * harness.TIMEOUT_SCALE)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertEqual(len(run.stderr.splitlines()), 1, run.stderr)
        return run.stderr

    def test_bad_endpoints_are_named(self):
        self.assertIn("--broker: 'nope' is not", self.refused(
            "--broker", "tcp://127.0.0.1:1", "--broker", "nope"))
        self.assertIn("--broker: 'ipc://' is not", self.refused(
            env={"SLOWLANE_BROKER": "tcp://127.0.0.1:1  ipc://"}))
        self.assertIn("'tcp://127.0.0.1:1' is given twice", self.refused(
            "--broker", "tcp://127.0.0.1:1", "--broker", "tcp://127.0.0.1:1"))

    def test_curve_server_keys_pair_with_brokers(self):
        keys = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, keys)
        for name in ("one", "two", "worker"):
            subprocess.run([harness.binary("slowlane"), "keygen", "--out", keys, "--name", name],
                           check=True, capture_output=True)
        shutil.copy(os.path.join(keys, "one"), os.path.join(keys, "one-again"))
        brokers = ["--broker", "tcp://127.0.0.1:1", "--broker", "tcp://127.0.0.1:2",
                   "--curve-secret", os.path.join(keys, "worker_secret")]
        key = lambda name: ["--curve-server", os.path.join(keys, name)]  # noqa: E731
        self.assertIn("--curve-server: 3 keys for 2 brokers", self.refused(
            *brokers, *key("one"), *key("one"), *key("one")))
        # One key for both, the same key in two files, or each broker its own key: starts
        for servers in (key("one"), key("one") + key("one-again"), key("one") + key("two")):
            supervisor = harness.Process([harness.binary("slowlane-worker"), "--service", SERVICE,
                                          "--handler", "builtin:echo", "--count", "1",
                                          "--drain-timeout-ms", "100", *brokers, *servers],
                                         name="supervisor-curve")
            self.addCleanup(supervisor.stop)
            harness.wait_for(lambda: "event=curve_on" in supervisor.output(),
                             what="a supervisor with CURVE to two brokers")
            supervisor.stop()


if __name__ == "__main__":
    harness.main()
