"""`python3 -m slowlane_wsgi [flags] module:app`: the composition root. Parses the
configuration, imports the application, wires the worker and serves until SIGTERM (drain,
exit 0). A bad configuration or an app that cannot be imported is one line on stderr, exit 2."""
import importlib
import logging
import sys

from .config import ConfigError, from_args
from .worker import Worker


def load_app(spec):
    """"package.module:attribute" (attribute defaults to "application") -> the object."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    app = module
    for part in (attribute or "application").split("."):
        app = getattr(app, part)
    return app


def main(argv=None):
    try:
        config = from_args(sys.argv[1:] if argv is None else argv)
        if not config.app:
            raise ConfigError("no application: give module:app")
    except ConfigError as error:
        print(f"slowlane_wsgi: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s wsgi %(message)s")
    try:
        app = load_app(config.app)
    except Exception as error:  # noqa: BLE001 - any import failure is a start-up failure
        print(f"slowlane_wsgi: cannot load {config.app}: {error!r}", file=sys.stderr)
        return 2
    worker = Worker(app, config)
    worker.drain_on_signals()
    logging.getLogger("slowlane_wsgi").info(
        "serving %s as service=%s identity=%s brokers=%s capacity=%d curve=%s", config.app,
        config.service, config.identity, " ".join(config.brokers), config.capacity,
        "on" if config.curve else "off")
    return worker.serve()


if __name__ == "__main__":
    sys.exit(main())
