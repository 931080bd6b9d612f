"""The HTTP envelope of docs/protocol.md section 4 as a WSGI server sees it: a request envelope
in, a PEP 3333 environ out; a status and header list in, reply-envelope frames out.

Pure functions only (bytes in, values out): no sockets, no threads, no clock. The worker loop
(worker.py) moves the frames; the application runner (runner.py) calls the app."""
import io
import re
import sys
import urllib.parse

REQUEST_MAGIC, REPLY_MAGIC, PROGRESS_MAGIC = b"SLREQ/1", b"SLREP/1", b"SLPRG/1"
JOB_RUN_HEADER = "slowlane-job-run"  # protocol.md 4.6: set by slowlane-jobs only
MAX_NOTE_BYTES = 255  # protocol.md 4.6: worker name and note, at most 255 bytes each
MAX_VALUE_BYTES = 8192  # protocol.md 4.4: a field value, once OWS is removed

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}\Z")  # RFC 9110 tchar
_STATUS = re.compile(r"([1-5][0-9][0-9])(?: .*)?\Z", re.S)
# Response fields that name HTTP/1.1 framing: the gateway sets its own (protocol.md 4.4)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection"}


class Request:
    """One job as the application will see it. `envelope` is False for a plain MDP body."""

    def __init__(self, envelope, request_id, timeout_ms, method, path, query, headers, body):
        self.envelope = envelope  # True: an SLREQ/1 request envelope
        self.request_id = request_id  # str, "" for a plain MDP request
        self.timeout_ms = timeout_ms  # int, time left when the broker dispatched it; 0 = none
        self.method = method  # bytes
        self.path = path  # bytes, percent-encoding as received
        self.query = query  # bytes, without "?"
        self.headers = headers  # [(name bytes, value bytes)] in order
        self.body = body  # bytes

    def header(self, name):
        """The first value of a field (name in lower case) as bytes, or None."""
        for field, value in self.headers:
            if field.lower() == name.encode():
                return value
        return None


def parse_header_block(block):
    """A header block (protocol.md 4.4) -> [(name, value)] as bytes; None if malformed."""
    if not block:
        return []
    if not block.endswith(b"\r\n"):
        return None
    fields = []
    for line in block[:-2].split(b"\r\n"):
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not _TOKEN.match(name) or b"\r" in line or b"\n" in line \
                or b"\0" in value or len(value) > MAX_VALUE_BYTES:
            return None
        fields.append((name, value))
    return fields


def parse_request(body):
    """MDP body frames -> Request. A body that is not a valid request envelope is a plain MDP
    request: method POST, path "/", its frames joined as the body (protocol.md section 6)."""
    if len(body) == 9 and body[0] == REQUEST_MAGIC:
        _, request_id, timeout_ms, _retry, method, path, query, block, content = body
        headers = parse_header_block(block)
        if headers is not None and timeout_ms.isdigit() and path.startswith(b"/"):
            return Request(True, request_id.decode("ascii", "replace"), int(timeout_ms),
                           method, path, query, headers, content)
    return Request(False, "", 0, b"POST", b"/", b"", [], b"".join(body))


def _server_name_port(host):
    """Host field value -> (SERVER_NAME, SERVER_PORT), "[v6]:port" included."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") and rest[1:].isdigit() else "80"
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        return name, port
    return host or "localhost", "80"


def build_environ(request, multithread, extra):
    """Request -> a PEP 3333 environ. Header fields become HTTP_* (a repeated field joined with
    ', '), except Content-Type and Content-Length, which are CONTENT_*; CONTENT_LENGTH is always
    the body's real length. A field whose name has "_" is dropped. `extra` (slowlane.* keys)
    is added last."""
    latin = lambda b: b.decode("latin-1")  # noqa: E731 - PEP 3333 "native strings"
    environ = {
        "REQUEST_METHOD": latin(request.method),
        "SCRIPT_NAME": "",
        "PATH_INFO": latin(urllib.parse.unquote_to_bytes(request.path)),
        "QUERY_STRING": latin(request.query),
        "CONTENT_TYPE": "" if request.envelope else "application/octet-stream",
        "CONTENT_LENGTH": str(len(request.body)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": True,  # a pool runs the same app in several processes
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        if b"_" in name:
            # X_User would become HTTP_X_USER, the same key as X-User, which a proxy in front
            # may have set or stripped: dropped, as nginx and gunicorn do
            continue
        key = latin(name).upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if key == "CONTENT_TYPE":
                environ[key] = latin(value)
            continue
        key = "HTTP_" + key
        environ[key] = environ[key] + ", " + latin(value) if key in environ else latin(value)
    environ["SERVER_NAME"], environ["SERVER_PORT"] = _server_name_port(
        environ.get("HTTP_HOST", ""))
    environ.update(extra)
    return environ


def encode_status(status):
    """WSGI status ("200 OK") -> b"200"; ValueError if it is not 100..599 with a reason."""
    if not isinstance(status, str):
        raise ValueError(f"status is not a str: {status!r}")
    match = _STATUS.match(status)
    if not match or "\r" in status or "\n" in status:
        raise ValueError(f"invalid status {status!r}")
    return match.group(1).encode()


def encode_headers(headers, streaming):
    """WSGI [(name, value)] -> a header block; ValueError on a name that is not a token or a
    value with CR, LF or NUL. Hop-by-hop fields are dropped, and Content-Length too when the
    reply streams (the gateway frames a streamed reply with chunked coding)."""
    block = []
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2
                and isinstance(item[0], str) and isinstance(item[1], str)):
            raise ValueError(f"header is not a (str, str) tuple: {item!r}")
        try:
            name, value = item[0].encode("latin-1"), item[1].encode("latin-1").strip(b" \t")
        except UnicodeEncodeError:
            raise ValueError(f"header not latin-1: {item!r}") from None
        if not _TOKEN.match(name) or any(c in value for c in b"\r\n\0") \
                or len(value) > MAX_VALUE_BYTES:
            raise ValueError(f"invalid header {item!r}")
        lower = item[0].lower()
        if lower in HOP_BY_HOP or (streaming and lower == "content-length"):
            continue
        block.append(name + b": " + value + b"\r\n")
    return b"".join(block)


def reply_envelope(status, header_block, body):
    """The 4 frames of a reply envelope (protocol.md 4.2)."""
    return [REPLY_MAGIC, status, header_block, body]


def progress_envelope(worker, note):
    """The 3 frames of a progress envelope (protocol.md 4.6), both fields cut to 255 bytes."""
    return [PROGRESS_MAGIC, worker.encode()[:MAX_NOTE_BYTES],
            str(note).encode("utf-8", "replace")[:MAX_NOTE_BYTES]]
