"""Support for the fault suite (tests/system/test_faults_*.py): a small cluster (broker, one or
more worker supervisors running a recording exec: handler, gateway), a bounded HTTP load
generator that gives every request its own X-Request-Id, RSS sampling, and the ledger check that
says whether every request was answered exactly once.

The worker side keeps a record: the exec: handler appends "<request-id> <method> <pid>" to a file
each time it runs, so a request executed twice (legitimate for a retryable request whose worker
died mid-job; never for a non-retryable one) is counted. Not a test module itself."""
import collections
import ctypes
import http.client
import os
import random
import re
import tempfile
import threading
import time

import harness
import gateway_support as gs

ROUTE_TIMEOUT_MS = 10000
CLIENT_MARGIN_S = 2.0     # client-side timeout = route timeout + this
HANDLER_SLEEP_S = "0.03"  # each job holds its worker this long, so faults land mid-job

RECORDER = """#!/bin/sh
# slowlane fault suite: one line per execution, then a CGI answer that echoes the id.
echo "$HTTP_X_REQUEST_ID $REQUEST_METHOD $$" >> "$1"
sleep {sleep}
printf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s\\n' "$HTTP_X_REQUEST_ID"
"""


def under_tool():
    """True when the binaries run under a sanitizer or valgrind: their RSS says nothing then."""
    return bool(os.environ.get("SLOWLANE_WRAPPER") or os.environ.get("ASAN_OPTIONS"))


class Recorder:
    """The exec: handler script and the record file it appends to."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="slowlane-faults-")
        self.script = os.path.join(self.dir, "handler.sh")
        self.record = os.path.join(self.dir, "executions")
        with open(self.script, "w") as f:
            f.write(RECORDER.format(sleep=HANDLER_SLEEP_S))
        open(self.record, "w").close()

    @property
    def handler(self):
        return f"exec:/bin/sh {self.script} {self.record}"

    def executions(self):
        """Counter of request id -> times executed, and the method each id ran with."""
        counts, methods = collections.Counter(), {}
        with open(self.record) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    counts[parts[0]] += 1
                    methods[parts[0]] = parts[1]
        return counts, methods


# ---- processes ------------------------------------------------------------------------------

def children(pid):
    """Direct children of pid (a supervisor's workers)."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def snapshot(procs):
    """{label: (pid, rss kB)} for each named process and every worker of each supervisor."""
    result = {}
    for label, proc in procs.items():
        if proc.alive():
            result[label] = (proc.pid, rss_kb(proc.pid))
        if label.startswith("supervisor"):
            for child in children(proc.pid):
                result[f"{label}/worker:{child}"] = (child, rss_kb(child))
    return result


def rss_problems(before, after, slack_kb=8192, ratio=1.25):
    """Processes (same pid at both points) whose RSS grew past max(before*ratio, before+slack)."""
    problems, lines = [], []
    for label, (pid, rss0) in sorted(before.items()):
        pid1, rss1 = after.get(label, (None, None))
        if pid1 != pid or rss0 is None or rss1 is None:
            continue
        limit = max(rss0 * ratio, rss0 + slack_kb)
        lines.append(f"  rss {label}: {rss0} kB -> {rss1} kB (limit {int(limit)})")
        if rss1 > limit:
            problems.append(f"RSS of {label} pid {pid} grew {rss0} -> {rss1} kB")
    return problems, lines


# ---- load -----------------------------------------------------------------------------------

CLONE_NEWNET = 0x40000000


def enter_netns(name):
    """Moves the calling thread (only it) into network namespace name, so the sockets it opens
    live there. Used by the delay-and-loss scenario (test_faults_link) to reach a gateway inside a test namespace."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


class Load:
    """threads clients, each sending one request at a time on a fresh connection (so a request
    either was sent on an accepted connection or was never sent: nothing ambiguous), until
    stop() or max_requests. Every request carries X-Request-Id <name>-<thread>-<n>; a share of
    them are POSTs (not retryable), the rest GETs (retryable)."""

    def __init__(self, port, name, threads=12, post_share=0.2, max_requests=20000,
                 host="127.0.0.1", path="/work", netns=None, timeout_ms=ROUTE_TIMEOUT_MS):
        self.port, self.name, self.host, self.path, self.netns = port, name, host, path, netns
        self.post_share = post_share
        self.client_timeout = timeout_ms / 1000 + CLIENT_MARGIN_S
        self.max_requests = max_requests
        self.outcomes = []          # one dict per request sent
        self.not_sent = 0           # connection refused: never reached the gateway
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.count = 0
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(self.client_timeout + 5)
        assert not any(t.is_alive() for t in self.threads), "a load thread hangs"

    def sent(self):
        with self.lock:
            return len(self.outcomes)

    def _next(self):
        with self.lock:
            if self.count >= self.max_requests:
                return None
            self.count += 1
            return self.count

    def _run(self, index):
        if self.netns:
            enter_netns(self.netns)
        rng = random.Random(f"{self.name}-{index}")
        n = 0
        while not self.stop_event.is_set() and self._next() is not None:
            n += 1
            rid = f"{self.name}-{index}-{n}"
            method = "POST" if rng.random() < self.post_share else "GET"
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.client_timeout)
            try:
                conn.connect()
            except OSError:
                conn.close()
                with self.lock:
                    self.not_sent += 1
                time.sleep(0.05)
                continue
            outcome = {"id": rid, "method": method, "status": None, "error": None,
                       "start": time.monotonic(), "retry_after": None}
            try:
                conn.request(method, f"{self.path}?n={n}", body=b"x" if method == "POST" else None,
                             headers={"X-Request-Id": rid})
                response = conn.getresponse()
                outcome["body"] = response.read()
                outcome["status"] = response.status
                outcome["rid"] = response.getheader("X-Request-Id")
                outcome["retry_after"] = response.getheader("Retry-After")
            except (OSError, http.client.HTTPException) as error:
                outcome["error"] = f"{type(error).__name__}: {error}"
            finally:
                conn.close()
            outcome["end"] = time.monotonic()
            with self.lock:
                self.outcomes.append(outcome)


def access_counts(gateway):
    """Counter of request id -> access-log lines of the gateway (answers it wrote)."""
    return collections.Counter(re.findall(r"event=access rid=(\S+) ", gateway.output()))


def verify(load, recorder, gateways, faults, allowed_503=None, label=""):
    """Checks the ledger; returns (problems, figures). allowed_503(outcome) says whether a 503
    is the documented answer for that request (e.g. it arrived while the broker was down)."""
    problems = []
    counts, methods = recorder.executions()

    def logged():
        found = collections.Counter()
        for gateway in gateways:
            found.update(access_counts(gateway))
        return found

    # A gateway writes a request's access line just after its answer has left, so the last
    # answers may not be logged yet: wait (bounded) for every answered id, then count.
    answered_ids = {o["id"] for o in load.outcomes if o["status"] is not None}

    def all_logged():
        found = logged()
        return found if answered_ids <= found.keys() else None

    try:
        answered = harness.wait_for(all_logged, timeout=5, what="an access line for every answer")
    except AssertionError:
        answered = logged()  # the missing lines are reported below, one problem each
    statuses = collections.Counter()
    lost = duplicated = dup_exec_get = dup_exec_post = accepted_503 = unrun_503 = 0
    deadline = ROUTE_TIMEOUT_MS / 1000 + 1.0
    for o in load.outcomes:
        rid = o["id"]
        if o["status"] is None:
            lost += 1
            problems.append(f"{rid} {o['method']}: no answer ({o['error']})")
            continue
        statuses[o["status"]] += 1
        if o["rid"] != rid:
            problems.append(f"{rid}: answered with X-Request-Id {o['rid']}")
        if o["end"] - o["start"] > deadline:
            problems.append(f"{rid}: answered after {o['end'] - o['start']:.1f} s")
        if answered[rid] != 1:
            duplicated += answered[rid] > 1
            problems.append(f"{rid}: {answered[rid]} access-log answers")
        status = o["status"]
        if 200 <= status < 300:
            if o["body"].strip() != rid.encode():
                problems.append(f"{rid}: 2xx body {o['body'][:80]!r} is not its own")
            if counts[rid] < 1:
                problems.append(f"{rid}: 2xx but the handler never ran")
        elif status == 503 and allowed_503 and allowed_503(o):
            accepted_503 += 1
            if not o["retry_after"]:
                problems.append(f"{rid}: 503 without Retry-After")
        elif o["method"] == "POST" and status == 502:
            pass
        elif (o["method"] == "POST" and status == 503 and counts[rid] == 0
              and b'"shutting_down"' in o["body"]):
            # A stopping broker answers the POSTs still queued shutting_down: they never ran
            # (checked against the record), so 503 + Retry-After tells the client the truth.
            unrun_503 += 1
            if not o["retry_after"]:
                problems.append(f"{rid}: 503 without Retry-After")
        else:
            problems.append(f"{rid} {o['method']}: status {status} {o['body'][:120]!r}")
        if counts[rid] > 1:
            if o["method"] == "POST":
                dup_exec_post += 1
                problems.append(f"{rid} POST (not retryable) executed {counts[rid]} times")
            else:
                dup_exec_get += 1
    sent_ids = {o["id"] for o in load.outcomes}
    strangers = [rid for rid in counts if rid not in sent_ids]
    if strangers:
        problems.append(f"executions of ids never sent: {strangers[:5]}")
    figures = (f"faults {label}: sent={len(load.outcomes)} not_sent(refused)={load.not_sent} "
               f"faults={faults} statuses={dict(sorted(statuses.items()))} lost={lost} "
               f"duplicated_answers={duplicated} 503_documented={accepted_503} "
               f"503_post_never_ran={unrun_503} "
               f"executed_twice_get={dup_exec_get} executed_twice_post={dup_exec_post} "
               f"executions={sum(counts.values())}")
    return problems, figures


def report(test, problems, figures, extra_lines=(), procs=()):
    print(figures, flush=True)
    for line in extra_lines:
        print(line, flush=True)
    if problems:
        for proc in procs:
            with open(proc.log_path, errors="replace") as log:
                print(f"---- {proc.name} (tail)\n{log.read()[-2500:]}", flush=True)
        for problem in problems[:15]:
            print("  problem:", problem, flush=True)
    test.assertEqual(problems[:40], [], f"{len(problems)} problems; {figures}")


# The gateway warms one civetweb thread per connection it has served (stack pages, buffers),
# up to its thread count: with the default 2,048 threads that warm-up alone would read as RSS
# growth here. Capped at the budget-derived 272 threads, RSS flatness measures leaks.
GATEWAY_LIMITS = ("--max-connections", "64")


def start_gateway(endpoint, port=None, extra=()):
    return gs.start_gateway(endpoint, [f"/work=work,timeout-ms={ROUTE_TIMEOUT_MS},"
                                       "methods=GET|POST"], extra=[*GATEWAY_LIMITS, *extra],
                            port=port)


def wait_workers(port, supervisor, count, timeout=15):
    harness.wait_for(lambda: len(children(supervisor.pid)) >= count, timeout=timeout,
                     what=f"{count} workers forked")
    gs.wait_route_ready(port, "/work", timeout=timeout)


def wait_load(load, count, timeout=20):
    target = load.sent() + count
    harness.wait_for(lambda: load.sent() >= target, timeout=timeout, interval=0.05,
                     what=f"{count} more requests answered")
