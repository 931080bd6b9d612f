#!/usr/bin/env python3
"""make_corpus: writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Valid messages of every kind, built from the wire format in docs/protocol.md (MDP/0.1 and
0.2, both sub-protocols; request, reply and error envelopes; header blocks; route specs and
routes files), plus a few near misses. Frames use the length prefix of fuzz/fuzz_frames.h.
Deterministic: running it again rewrites the same files. It does not run the fuzzers."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def frames(*parts):
    """One fuzz input: each frame as a length byte (255: then two bytes, big-endian) + bytes."""
    out = bytearray()
    for part in parts:
        data = part.encode() if isinstance(part, str) else bytes(part)
        if len(data) < 255:
            out.append(len(data))
        else:
            assert len(data) <= 0xFFFF
            out += bytes([255, len(data) >> 8, len(data) & 0xFF])
        out += data
    return bytes(out)


# Envelopes (protocol.md section 4).
RID = "4f1c2a9be07d4c55a3f09e1b2d6c7a80"
HEADERS = "Host: localhost\r\nAccept: */*\r\nContent-Type: text/plain\r\n"


def request(rid=RID, timeout="30000", retry="1", method="GET", path="/slow", query="ms=100",
            headers=HEADERS, body=""):
    return ["SLREQ/1", rid, timeout, retry, method, path, query, headers, body]


def reply(status="200", headers="Content-Type: text/plain\r\n", body="hello"):
    return ["SLREP/1", status, headers, body]


def error(code="no_worker", message="no worker for service fast"):
    return ["SLERR/1", code, message]


ERROR_CODES = ["queue_full", "no_worker", "worker_died", "expired", "bad_request", "shutting_down"]


def envelope_corpus():
    seeds = {
        "request-get": request(),
        "request-post-body": request(method="POST", path="/echo", query="", retry="0",
                                     body="a=1&b=2"),
        "request-no-deadline": request(timeout="0", headers="", query=""),
        "request-leading-zeros": request(timeout="000123"),
        "request-max-timeout": request(timeout="86400000"),
        "request-short-id": request(rid="a.b_c:d-e"),
        "request-binary-body": request(body=bytes(range(256))),
        "request-long-path": request(path="/" + "x" * 300),
        "reply-200": reply(),
        "reply-204-empty": reply(status="204", headers="", body=""),
        "reply-599": reply(status="599", headers="X-A:b\r\nX-B:  c \r\n"),
        "opaque-one-frame": ["hello"],
        "opaque-empty": [],
        "bad-request-8-frames": request()[:8],
        "bad-timeout-sign": request(timeout="-1"),
        "bad-reply-status": reply(status="600"),
        "bad-header-injection": reply(headers="X-A: b\r\nX-B: c\nX-C: d\r\n"),
    }
    for code in ERROR_CODES:
        seeds["error-" + code] = error(code)
    seeds["error-control-bytes"] = error("expired", "line\r\nbreak\x01\x7f")
    seeds["error-unknown-code"] = error("teapot")
    return {name: frames(*parts) for name, parts in seeds.items()}


# Majordomo (RFC 7 = MDP/0.1, RFC 18 = MDP/0.2): without the routing-id frame.
def mdp_corpus():
    env = request()
    rep = reply()
    err = error("worker_died")
    addr = b"\x00\x6b\x8b\x45\x67"  # a ROUTER-made identity
    seeds = {
        # MDP/0.1 client: empty frame, "MDPC01", service, body (no command byte).
        "c01-request": ["", "MDPC01", "echo", "hello"],
        "c01-request-envelope": ["", "MDPC01", "fast"] + env,
        "c01-reply": ["", "MDPC01", "echo", "hello", "world"],
        # MDP/0.2 client: "MDPC02", command, service, body.
        "c02-request": ["MDPC02", b"\x01", "echo", "hello"],
        "c02-request-envelope": ["MDPC02", b"\x01", "fast"] + env,
        "c02-request-no-body": ["MDPC02", b"\x01", "mmi.service", ],
        "c02-partial": ["MDPC02", b"\x02", "fast", RID] + rep,
        "c02-final": ["MDPC02", b"\x03", "fast", RID, "chunk"],
        "c02-final-error": ["MDPC02", b"\x03", "fast", RID] + err,
        # MDP/0.1 worker: empty, "MDPW01", command 1..5.
        "w01-ready": ["", "MDPW01", b"\x01", "echo"],
        "w01-request": ["", "MDPW01", b"\x02", addr, "", "hello"],
        "w01-reply": ["", "MDPW01", b"\x03", addr, "", "world"],
        "w01-heartbeat": ["", "MDPW01", b"\x04"],
        "w01-disconnect": ["", "MDPW01", b"\x05"],
        # MDP/0.2 worker: "MDPW02", command 1..6.
        "w02-ready": ["MDPW02", b"\x01", "fast"],
        "w02-ready-capacity-16": ["MDPW02", b"\x01", "fast", "capacity=16"],
        "w02-ready-capacity-1": ["MDPW02", b"\x01", "fast", "capacity=1"],  # = no frame
        "w02-request": ["MDPW02", b"\x02", addr, ""] + env,
        "w02-partial": ["MDPW02", b"\x03", addr, ""] + rep,
        "w02-final": ["MDPW02", b"\x04", addr, "", "last chunk"],
        "w02-final-empty": ["MDPW02", b"\x04", addr, ""],
        "w02-heartbeat": ["MDPW02", b"\x05"],
        "w02-disconnect": ["MDPW02", b"\x06"],
        # Near misses.
        "bad-v02-with-empty": ["", "MDPC02", b"\x01", "echo"],
        "bad-v01-without-empty": ["MDPW01", b"\x01", "echo"],
        "bad-ready-extra": ["MDPW02", b"\x01", "fast", "extra"],
        "bad-no-delimiter": ["MDPW02", b"\x04", addr, "body"],
        "bad-service-space": ["MDPC02", b"\x01", "has space"],
        "bad-command-two-bytes": ["MDPW02", b"\x01\x01", "fast"],
        "bad-unknown-protocol": ["MDPX02", b"\x01", "fast"],
    }
    return {name: frames(*parts) for name, parts in seeds.items()}


# Header blocks (protocol.md 4.4): block, name to find, then name/value pairs to build.
def headers_corpus():
    seeds = {
        "block-find": [HEADERS, "content-type"],
        "block-empty": ["", "Host"],
        "block-ows": ["A:b\r\nB:   c  \r\nC:\t\td\t\r\nD:\r\n", "b"],
        "block-duplicate": ["X-A: 1\r\nx-a: 2\r\n", "X-A"],
        "block-tchar-name": ["!#$%&'*+-.^_`|~09az: v\r\n", "!#$%&'*+-.^_`|~09AZ"],
        "build-pairs": ["", "Host", "Host", "example", "Content-Length", "5", "X-Empty", ""],
        "build-trim": ["", "x", "X-Pad", "  padded\t", "X-Tab", "\t"],
        "build-bad": ["", "x", "Bad Name", "v", "X-Inject", "a\r\nB: c", "X-Ok", "fine"],
        "bad-lone-lf": ["A: b\nC: d\r\n", "A"],
        "bad-lone-cr": ["A: b\rC: d\r\n", "A"],
        "bad-no-crlf": ["A: b", "A"],
        "bad-nul": ["A: b\x00c\r\n", "A"],
        "bad-no-colon": ["Abc\r\n", "Abc"],
        "long-value": ["X-Long: " + "v" * 600 + "\r\n", "X-Long", "X-Long", "w" * 600],
    }
    return {name: frames(*parts) for name, parts in seeds.items()}


# Routes (gateway --route specs and --routes JSON): mode+method, path, then specs or a file.
def routes_corpus():
    specs = {
        "spec-one": ["\x00GET", "/fast/x", "/fast=fast"],
        "spec-options": ["\x00POST", "/slow", "/slow=slow,methods=GET|POST,timeout-ms=60000,"
                         "budget=64,body-limit=1048576,retry=on"],
        "spec-longest": ["\x00GET", "/api/v1/users", "/=root", "/api=api", "/api/v1=v1"],
        "spec-405": ["\x00DELETE", "/ro/item", "/ro=ro,methods=GET|HEAD", "/=root"],
        "spec-split-methods": ["\x00POST", "/x", "/x=reader,methods=GET", "/x=writer,methods=POST"],
        "spec-overlap": ["\x00GET", "/x", "/x=a", "/x/=b"],
        "spec-no-match": ["\x00GET", "/faster", "/fast=fast"],
        "spec-other-method": ["\x00BREW", "/pot", "/pot=coffee"],
        "spec-bad-option": ["\x00GET", "/", "/a=a,colour=blue", "/b=b,budget=0", "/c=mmi.x",
                            "noequals", "/d=d,timeout-ms=86400001", "/e=e,retry=maybe"],
        "spec-big-number": ["\x00GET", "/", "/a=a,body-limit=999999999999999999"],
    }
    files = {
        "file-object": {"routes": [{"prefix": "/fast", "service": "fast"},
                                   {"prefix": "/slow", "service": "slow", "methods": ["GET", "POST"],
                                    "timeout-ms": 60000, "budget": 8, "body-limit": 0,
                                    "retry": "off"}]},
        "file-array": [{"prefix": "/", "service": "root", "methods": "GET|HEAD"}],
        "file-unknown-key": {"routes": [{"prefix": "/a", "service": "a", "colour": "blue"}]},
        "file-negative": [{"prefix": "/a", "service": "a", "budget": -1}],
        "file-empty-routes": {"routes": []},
    }
    seeds = {name: frames(*parts) for name, parts in specs.items()}
    for name, document in files.items():
        seeds[name] = frames("\x01GET", "/slow/x", json.dumps(document))
    seeds["file-duplicate-key"] = frames("\x01GET", "/", '[{"prefix": "/a", "prefix": "/b", '
                                         '"service": "s"}]')
    seeds["file-not-json"] = frames("\x01GET", "/", "{routes: [")
    return seeds


def agent_corpus():
    """SLAGENT1 (protocol.md section 7): every command, a whole STATUS, each op, near misses."""
    status = {"host": "hosta", "pid": 412, "service": "fast", "handler": "builtin:echo",
              "target": 2, "stopped": False, "uptime_ms": 80110,
              "limits": {"max_rss_mb": 512, "max_requests": 0, "job_timeout_ms": 0},
              "recycled": {"max_rss": 1, "max_requests": 0, "job_timeout": 0},
              "roll": {"active": False, "id": "", "done": ""},
              "workers": [{"slot": 0, "pid": 977, "state": "idle", "job_age_ms": 0, "jobs": 1204,
                           "restarts": 1, "rss_kb": 6120, "uptime_ms": 50210, "broadcasts": 1,
                           "last_broadcast": "9f2c", "last_exit": {"reason": "max_rss",
                                                                  "detail": "code=0",
                                                                  "ago_ms": 50230}}]}
    seeds = {
        "status": frames("SLAGENT1", "STATUS", json.dumps(status)),
        "alive": frames("SLAGENT1", "ALIVE"),
        "bye": frames("SLAGENT1", "BYE"),
        "alive-with-body": frames("SLAGENT1", "ALIVE", "{}"),
        "status-not-object": frames("SLAGENT1", "STATUS", "[1,2]"),
        "status-duplicate-key": frames("SLAGENT1", "STATUS", '{"host":"a","host":"b"}'),
        "unknown-command": frames("SLAGENT1", "HELLO", "{}"),
        "other-protocol": frames("MDPW02", "\x01", "echo"),
    }
    commands = {"scale": {"op": "scale", "count": 4}, "scale-too-many": {"op": "scale", "count": 1025},
                "restart": {"op": "restart", "roll": "r1"}, "stop": {"op": "stop"},
                "start": {"op": "start"}, "status-op": {"op": "status"},
                "broadcast": {"op": "broadcast", "id": "b1", "message": "reload"},
                "broadcast-bad-id": {"op": "broadcast", "id": "a b", "message": "m"},
                "no-op": {"count": 1}}
    for name, body in commands.items():
        seeds["command-" + name] = frames("SLAGENT1", "COMMAND", json.dumps(body))
    return seeds


def framing_corpus():
    """Request heads (RFC 9112), valid and each kind of fault the gateway refuses, then a
    few single field values for the value parsers."""
    values = ["42", "+3", "3, 3", "99999999999999999999", "example.com:8080", "[::1]:80",
              "a b", "/fast/%41", "/x%00"]
    heads = {
        "get": b"GET /fast?a=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "post-length": b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "post-chunked": b"POST /fast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "http10": b"GET /fast HTTP/1.0\r\n\r\n",
        "leading-crlf": b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "length-and-chunked": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n",
        "two-lengths": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\n",
        "signed-length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n",
        "space-before-colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "no-host": b"GET / HTTP/1.1\r\n\r\n",
        "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\nContent-Length: 3\r\n\r\n",
        "bare-lf": b"GET / HTTP/1.1\nHost: x\n\n",
        "gzip-chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "te-http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "double-space": b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        "unknown-method": b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
        "http2": b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        "two-empty-lines-before": b"\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        "bare-lf-last-line": b"GET / HTTP/1.1\r\nHost: x\n\n",
        "bare-lf-last-line-body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\n\n\r\x00ab",
        "colon-line": b"POST / HTTP/1.0\r\n:x\r\nContent-Length: 5\r\n\r\nhello",
        "request-line-lf-cr": b"POST /fast HTTP/1.1\n\rHost: x\r\n\r\n",
        "no-fields-cr-cr": b"POST / HTTP/1.0\r\r\n\r\n",
    }
    return {"head-" + name: frames(head, *values[:2]) for name, head in heads.items()} | \
        {"values": frames(b"", *values)}


def main():
    corpora = {
        "fuzz_mdp_decode": mdp_corpus(),
        "fuzz_envelope": envelope_corpus(),
        "fuzz_headers": headers_corpus(),
        "fuzz_routes": routes_corpus(),
        "fuzz_agent": agent_corpus(),
        "fuzz_framing": framing_corpus(),
    }
    for target, seeds in corpora.items():
        folder = os.path.join(HERE, "corpus", target)
        os.makedirs(folder, exist_ok=True)
        # Seeds are rewritten; regression-* inputs (crashes found and fixed) are kept.
        for name in os.listdir(folder):
            if not name.startswith("regression-"):
                os.remove(os.path.join(folder, name))
        for name, data in sorted(seeds.items()):
            with open(os.path.join(folder, name), "wb") as out:
                out.write(data)
        print(f"make_corpus: {target}: {len(seeds)} files")


if __name__ == "__main__":
    main()
