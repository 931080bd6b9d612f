"""Support for the jobs system tests (tests/system/test_jobs*.py): starting slowlane-jobs on a
data directory of the test's own, submitting a request as a job (Prefer: respond-async) and
waiting for a job's state through GET /jobs/ID, as a user would.

Not a test module itself."""
import json
import os
import shutil
import tempfile

import harness

FINAL_STATES = ("done", "failed", "cancelled", "expired")


def data_dir():
    """A fresh directory for a job store; removed when the test process ends."""
    path = tempfile.mkdtemp(prefix="slowlane-jobs-test-")
    import atexit
    atexit.register(shutil.rmtree, path, True)
    return os.path.join(path, "store")


def start_jobs(endpoints, directory, extra=(), wait=True):
    """slowlane-jobs for every broker endpoint, with the tests' heartbeat and a fast retry."""
    args = [harness.binary("slowlane-jobs"), "--data-dir", directory,
            "--heartbeat-ms", str(harness.HEARTBEAT_MS), "--liveness", str(harness.LIVENESS),
            "--retry-base-ms", "50", "--retry-max-ms", "400", "--grace-ms", "500"]
    for endpoint in endpoints:
        args += ["--broker", endpoint]
    proc = harness.Process(args + list(extra), name="jobs")
    if wait:
        harness.wait_for(lambda: all(harness.mmi_service_ready(e, "slowlane.jobs")
                                     for e in endpoints) or not proc.alive(),
                         what="slowlane.jobs registered with every broker")
        assert proc.alive(), proc.output()
    return proc


def reachable(port):
    """True once the gateway reaches the jobs service: an unknown id is then its 404."""
    try:
        status, _, data = harness.http_request(port, "GET", "/jobs/0")
    except OSError:
        return False
    return status == 404 and b"unknown_job" in data


def wait_reachable(port, timeout=20.0):
    harness.wait_for(lambda: reachable(port), timeout=timeout,
                     what="the gateway reaching the jobs service")


def submit(port, method, path, body=None, headers=None):
    """Sends one request as a job; returns (status, headers, document) of the answer."""
    all_headers = {"Prefer": "respond-async"}
    all_headers.update(headers or {})
    status, response_headers, data = harness.http_request(port, method, path, body=body,
                                                          headers=all_headers)
    document = json.loads(data) if response_headers.get("content-type") == \
        "application/json" else None
    return status, response_headers, document


def job(port, job_id):
    """GET /jobs/ID: (status, document)."""
    status, _, data = harness.http_request(port, "GET", f"/jobs/{job_id}")
    return status, json.loads(data)


def wait_state(port, job_id, states=FINAL_STATES, timeout=20.0):
    """Waits until the job is in one of states; returns its document."""
    found = {}

    def reached():
        status, document = job(port, job_id)
        found["last"] = document
        return status == 200 and document["status"] in states and document

    try:
        return harness.wait_for(reached, timeout=timeout, interval=0.02,
                                what=f"job {job_id} in {states}")
    except AssertionError as error:
        raise AssertionError(f"{error}; last: {found.get('last')}") from None


def result(port, job_id):
    """GET /jobs/ID/result: (status, headers, body)."""
    return harness.http_request(port, "GET", f"/jobs/{job_id}/result")
