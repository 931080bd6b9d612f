"""Runs one job through the WSGI application on a handler thread and hands its reply, piece
by piece, to a `send(command, frames)` callable (the worker loop's queue): PEP 3333 on one
side, protocol.md 4.2, 4.3 and 4.6 on the other.

Owns: start_response, streaming (a reply of several chunks goes out as PARTIALs), the 500 for
an app that raises or sets invalid headers. Not its business: sockets, brokers, credit."""
import logging
import sys

from . import envelope

log = logging.getLogger("slowlane_wsgi")
PARTIAL, FINAL = "partial", "final"


class _Reply:
    """start_response's state for one job, and the chunk held back until we know whether
    another follows (the last chunk goes in the FINAL, protocol.md 4.3)."""

    def __init__(self, request, send):
        self.request = request  # envelope.Request
        self.send = send  # send(command, frames)
        self.status = None  # b"200" once start_response was called
        self.headers = None  # [(name, value)] as the app gave them
        self.started = False  # True once the first PARTIAL (the reply envelope) is out
        self.held = None  # the last chunk, not sent yet; None: no chunk yet

    def start_response(self, status, headers, exc_info=None):
        if exc_info and self.started:
            raise exc_info[1].with_traceback(exc_info[2])  # PEP 3333: too late to change
        if self.status is not None and not exc_info:
            raise AssertionError("start_response called twice without exc_info")
        code = envelope.encode_status(status)
        envelope.encode_headers(headers, streaming=False)  # ValueError now, in the app's frame
        self.status, self.headers = code, list(headers)
        return self.write

    def write(self, data):
        """PEP 3333's write(): one more chunk of the body."""
        if self.status is None:
            raise AssertionError("write() before start_response")
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"WSGI body chunks must be bytes, not {type(data).__name__}")
        if not data:
            return
        if self.held is not None:
            self._send_piece(PARTIAL, self.held)
        self.held = bytes(data)

    def _send_piece(self, command, chunk):
        if not self.request.envelope:  # a plain MDP client: the body, as opaque frames
            self.send(command, [chunk])
        elif self.started:
            self.send(command, [chunk])
        else:
            block = envelope.encode_headers(self.headers, streaming=command == PARTIAL)
            self.send(command, envelope.reply_envelope(self.status, block, chunk))
            self.started = True

    def finish(self):
        """The FINAL: the held chunk (or an empty body), as an envelope if nothing went yet."""
        self._send_piece(FINAL, self.held if self.held is not None else b"")


def _error_reply(request, send, what):
    body = f"500 internal server error (request {request.request_id or '-'}): {what}\n"
    if request.envelope:
        send(FINAL, envelope.reply_envelope(
            b"500", b"Content-Type: text/plain; charset=utf-8\r\n", body.encode()))
    else:
        send(FINAL, [body.encode()])


def run(app, request, send, environ):
    """Calls app for one job and sends its reply; always ends with exactly one FINAL. An app
    that raises gets a 500 naming the request id (or, if part of its reply is out already, its
    stream ends there); the exception is logged, and the worker goes on serving."""
    reply = _Reply(request, send)
    result = None
    try:
        result = app(environ, reply.start_response)
        for chunk in result:
            reply.write(chunk)
        if reply.status is None:
            raise AssertionError("the application never called start_response")
        envelope.encode_headers(reply.headers, streaming=False)  # headers changed after?
    except Exception as error:  # noqa: BLE001 - any app failure becomes a 500, not a crash
        log.error("request_id=%s application error: %r", request.request_id or "-", error,
                  exc_info=sys.exc_info())
        if reply.started:
            send(FINAL, [])  # the status is out already: end the stream where it is
        else:
            _error_reply(request, send, type(error).__name__)
        return
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception as error:  # noqa: BLE001
                log.error("request_id=%s close() failed: %r", request.request_id or "-", error)
    reply.finish()
