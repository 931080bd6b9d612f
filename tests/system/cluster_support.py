"""Support for the cluster-manager system tests (tests/system/test_cluster_*.py, issue 4):
a broker, a gateway with the admin API on, supervisors that report as host agents, and
helpers to call /api/v1/ and to wait on the cluster view. Not a test module itself."""
import json
import os
import re

import harness
from gateway_support import start_gateway

TOKEN = "test-admin-token-0123456789abcdef"


def admin(port, method, path, body=None, token=TOKEN, timeout=10.0):
    """One admin API call; returns (status, parsed JSON body or None)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    status, _, raw = harness.http_request(port, method, path, body=data, headers=headers,
                                          timeout=timeout)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def view(port):
    status, body = admin(port, "GET", "/api/v1/cluster")
    assert status == 200, (status, body)
    return body


def workers(port, service, host=None):
    """Worker objects of service (on host) in the cluster view."""
    return [w for w in view(port)["workers"]
            if w["service"] == service and (host is None or w.get("host") == host)]


def ready(port, service, host=None):
    """Live workers the broker has registered, idle or busy."""
    return [w for w in workers(port, service, host)
            if w.get("registered") and w["state"] in ("idle", "busy")]


def wait_ready_count(port, service, count, host=None, timeout=15.0):
    """Waits until exactly count workers of service (on host) are live and registered, and
    no other worker of it is still starting or stopping."""
    def settled():
        listed = [w for w in workers(port, service, host) if w.get("pid")]
        return len(listed) == count and len(ready(port, service, host)) == count
    harness.wait_for(settled, timeout=timeout, what=f"{count} ready {service} workers"
                     + (f" on {host}" if host else ""))


class Cluster:
    """Broker + gateway (admin token on, route /fast -> fast) on loopback."""

    def __init__(self, testcase, gateway_extra=(), routes=("/fast=fast",)):
        self.procs = []
        self.broker = harness.start_broker()
        self._own(testcase, self.broker)
        self.gateway = start_gateway(self.broker.endpoint, list(routes),
                                     extra=("--admin-token", TOKEN, *gateway_extra))
        self._own(testcase, self.gateway)
        self.port = self.gateway.port

    def _own(self, testcase, proc):
        self.procs.append(proc)
        testcase.addCleanup(proc.stop)

    def workers(self, testcase, service, handler, count, host, extra=()):
        proc = harness.start_workers(self.broker.endpoint, service, handler, count=count,
                                     extra=("--host", host, *extra))
        self._own(testcase, proc)
        return proc

    def dump(self):
        return "".join(f"---- {p.name}\n{p.output()[-4000:]}\n" for p in self.procs)


def broadcast_lines(proc, broadcast_id):
    """pids of the workers that logged receiving broadcast_id (one entry per line)."""
    return [int(pid) for pid in re.findall(
        rf"event=broadcast_received id={re.escape(broadcast_id)} bytes=\d+ pid=(\d+)",
        proc.output())]
