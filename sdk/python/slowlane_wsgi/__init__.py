"""slowlane_wsgi: serve any WSGI application (PEP 3333) as a slowlane worker.

    python3 -m slowlane_wsgi --broker tcp://host:5555 --service NAME package.module:app

or, from Python, `slowlane_wsgi.serve(app, broker=[...], service="NAME")`. docs/workers/python.md
is the guide; docs/protocol.md the wire format. Standard library and python3-zmq only."""
from .config import Config, ConfigError, from_args  # noqa: F401
from .worker import Worker  # noqa: F401

__all__ = ["Config", "ConfigError", "Worker", "from_args", "serve"]
__version__ = "0.1.0"


def serve(app, argv=(), environ=None, **overrides):
    """Serves app until SIGTERM or SIGINT, then drains; returns the exit code (0)."""
    config = from_args(list(argv), environ, overrides)
    worker = Worker(app, config)
    worker.drain_on_signals()
    return worker.serve()
