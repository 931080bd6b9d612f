import time

from flask import Flask

app = Flask(__name__)


def do_some_work(duration_ms):
    start = time.monotonic()
    while (time.monotonic() - start) * 1000 < duration_ms:
        pass


@app.route("/fast")
def fast():
    return "Fast route"


@app.route("/slow")
def slow():
    do_some_work(5000)
    return "Fast route"


if __name__ == "__main__":
    app.run(port=8000)
