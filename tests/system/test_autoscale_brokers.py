"""The autoscaler with two brokers (issue 22): one decision, not one per broker. Both brokers
hold the policy (given at start with --autoscale, or through the gateway, which gives it to
every broker); the agents name the first broker of their --broker list as leader, and only
that broker decides. A queue at the other broker still counts: that broker relays it through
the agents (COMMAND load, STATUS loads). When the leader goes away the next broker takes over
and brings the count back down."""
import re
import threading
import unittest

import autoscale_support
import harness
from cluster_support import TOKEN, admin
from gateway_support import start_gateway

SERVICE = "auto"
POLICY = f"{SERVICE}=1..4,target-wait-ms=200,cooldown-s=2"


def registered(endpoint):
    return autoscale_support.registered(endpoint, SERVICE)


def decisions(broker):
    return autoscale_support.decisions(broker, SERVICE)


def role(broker):
    """The broker's last autoscale_role for SERVICE ("decider", "follower"), or None."""
    roles = re.findall(rf"event=autoscale_role service={SERVICE} role=(\w+)", broker.output())
    return roles[-1] if roles else None


class TwoBrokersTest(unittest.TestCase):
    def setUp(self):
        self.first = harness.start_broker(extra=("--autoscale", POLICY))
        self.addCleanup(self.first.stop)
        self.second = harness.start_broker(extra=("--autoscale", POLICY))
        self.addCleanup(self.second.stop)
        # Two hosts, each registered with both brokers, the first one named first
        both = ("--broker", self.second.endpoint)
        self.hosts = [harness.start_workers(self.first.endpoint, SERVICE, "builtin:sleep",
                                            count=1, extra=both + ("--host", f"host{n}"))
                      for n in (1, 2)]
        for host in self.hosts:
            self.addCleanup(host.stop)
        for broker in (self.first, self.second):
            harness.wait_for(lambda: registered(broker.endpoint) == 2,
                             what="both hosts' workers to register with both brokers")

    def flood(self, endpoint, jobs, replies):
        """jobs requests of 1.5 s each at once, to the broker at endpoint only."""
        def job(n):
            client = harness.MdpClient(endpoint)
            try:
                replies.append(client.request(SERVICE, *harness.envelope_request(
                    f"flood-{n}", query="ms=1500", timeout_ms=30000), timeout_ms=30000))
            finally:
                client.close()

        threads = [threading.Thread(target=job, args=(n,)) for n in range(jobs)]
        for thread in threads:
            thread.start()
        return threads

    def test_one_broker_decides_on_both_queues_and_the_next_takes_over(self):
        harness.wait_for(lambda: role(self.first) == "decider", what="the first broker to decide")
        self.assertIsNone(role(self.second))  # never named leader: it never decided
        # The load goes to the second broker only: the first sees it through the agents
        replies = []
        threads = self.flood(self.second.endpoint, 12, replies)
        harness.wait_for(lambda: registered(self.second.endpoint) == 4, timeout=15,
                         what="the count to reach max from the second broker's queue")
        for thread in threads:
            thread.join(60)
        self.assertEqual(len(replies), 12)
        for reply in replies:
            self.assertEqual(reply[4:6], [b"SLREP/1", b"200"])
        grown = [d for d in decisions(self.first) if d[1] > d[0]]
        self.assertTrue(grown)
        self.assertTrue(all(d[2] in ("queue_wait", "all_busy") for d in grown), grown)
        self.assertLessEqual(max(d[1] for d in decisions(self.first)), 4)
        self.assertEqual(decisions(self.second), [])  # one decision, not one per broker

        # The leader goes: the agents name the second broker, which brings the idle count
        # back to min, one worker per cooldown
        self.first.stop()
        harness.wait_for(lambda: role(self.second) == "decider", timeout=10,
                         what="the second broker to take over")
        harness.wait_for(lambda: registered(self.second.endpoint) == 1, timeout=30,
                         what="the count to fall back to min")
        fallen = [d for d in decisions(self.second) if d[1] < d[0]]
        self.assertEqual([d[0] - d[1] for d in fallen], [1] * len(fallen))
        self.assertTrue(all(d[2] == "idle" for d in fallen), fallen)
        self.assertEqual(fallen[-1][1], 1)
        for host in self.hosts:
            self.assertIn("event=agent_leader broker=" + self.second.endpoint, host.output())

    def test_the_gateway_gives_a_policy_to_every_broker(self):
        gateway = start_gateway(self.first.endpoint, [f"/{SERVICE}={SERVICE}"],
                                extra=("--broker", self.second.endpoint, "--admin-token", TOKEN))
        self.addCleanup(gateway.stop)
        harness.wait_for(lambda: admin(gateway.port, "GET", "/api/v1/cluster")[0] == 200,
                         what="the admin API")
        status, answer = admin(gateway.port, "POST", f"/api/v1/services/{SERVICE}/autoscale",
                               {"min": 2, "max": 3, "cooldown_ms": 5000})
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["brokers"], 2)
        for broker in (self.first, self.second):
            harness.wait_for(lambda: f"event=autoscale_on service={SERVICE} min=2 max=3 "
                                     "target_wait_ms=500 cooldown_ms=5000" in broker.output(),
                             what="each broker to take the policy")
        _, cluster = admin(gateway.port, "GET", "/api/v1/cluster")
        described = next(s for s in cluster["services"] if s["name"] == SERVICE)["autoscale"]
        self.assertEqual((described["min"], described["max"]), (2, 3))

    def test_a_bad_policy_flag_stops_start_up_naming_it(self):
        broker = harness.start_broker(extra=("--autoscale", f"{SERVICE}=3..1"))
        self.addCleanup(broker.stop)
        harness.wait_for(lambda: not broker.alive(), what="the broker to refuse to start")
        self.assertIn(f"--autoscale {SERVICE}=3..1: min must be 0..max", broker.output())


if __name__ == "__main__":
    harness.main()
