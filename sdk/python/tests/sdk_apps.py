"""The WSGI applications tests/test_slowlane_wsgi.py serves through slowlane_wsgi: a Flask app
(flask_app) and plain WSGI callables for what Flask would hide."""
import hashlib
import json
import os
import time

from flask import Flask, Response, request

flask_app = Flask(__name__)
# Flask renders its own 500 page for a view that raises; with this the exception reaches the
# WSGI server, here slowlane_wsgi, which answers 500 with the request id and logs it.
flask_app.config["PROPAGATE_EXCEPTIONS"] = True


@flask_app.route("/app/echo", methods=["GET", "POST"])
@flask_app.route("/app/echo/<path:rest>", methods=["GET", "POST"])
def echo(rest=""):
    body = request.get_data()
    return {"method": request.method, "path": request.path, "rest": rest,
            "query": request.query_string.decode(), "args": request.args.to_dict(flat=False),
            "multi": request.headers.get("X-Multi"), "host": request.host,
            "request_id": request.environ.get("slowlane.request_id"),
            "server": [request.environ["SERVER_NAME"], request.environ["SERVER_PORT"]],
            "content_type": request.content_type, "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest()}


@flask_app.route("/app/mirror", methods=["POST"])
def mirror():
    return Response(request.get_data(), mimetype="application/octet-stream")


@flask_app.route("/app/created")
def created():
    return Response("made\n", status=201, headers={"X-Custom": "yes", "Location": "/app/x"},
                    mimetype="text/plain")


@flask_app.route("/app/stream")
def stream():
    def chunks():
        for i in range(20):
            time.sleep(0.01)
            yield f"chunk-{i:02d}\n"
    return Response(chunks(), mimetype="text/plain")


@flask_app.route("/app/pid")
def pid():
    return {"pid": os.getpid(), "worker": request.environ.get("slowlane.worker")}


@flask_app.route("/app/exit", methods=["POST"])
def exit_now():
    os._exit(3)  # the process dies in the middle of a job, as a crashing app would


@flask_app.route("/app/boom")
def boom():
    raise RuntimeError("the application failed on purpose")


def bad_header_app(environ, start_response):
    """Werkzeug would refuse this header itself: a plain WSGI app shows slowlane_wsgi does."""
    start_response("200 OK", [("X-Bad", "a\r\nInjected: 1")])
    return [b"x"]


def app(environ, start_response):
    """flask_app, with /app/badheader answered by bad_header_app."""
    if environ["PATH_INFO"] == "/app/badheader":
        return bad_header_app(environ, start_response)
    return flask_app(environ, start_response)


@flask_app.route("/app/cpu")
def cpu():
    """Pure Python for ?seconds=N: holds the GIL but lets other threads in every 5 ms."""
    seconds = float(request.args.get("seconds", "5"))
    end, count = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        sum(i * i for i in range(1000))
        count += 1
    return {"loops": count}


@flask_app.route("/app/progress")
def progress():
    for note in ("one", "two"):
        request.environ["slowlane.progress"](note)
    return "done"


@flask_app.route("/app/sleep")
def sleep():
    time.sleep(float(request.args.get("seconds", "1")))
    return "slept"


def opaque_app(environ, start_response):
    """For plain MDP clients: the body upper-cased, and what the environ said of it."""
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
                        "upper": body.decode().upper()}).encode()]
