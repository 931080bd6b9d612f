"""slowlane_wsgi's configuration: flags, each with an environment variable of the same meaning
(the names the supervisor's program: handler sets), parsed and checked once at start-up and
read-only afterwards. Defaults are the named constants below."""
import argparse
import logging
import os
import socket
import uuid

DEFAULT_HEARTBEAT_MS = 1000  # docs/protocol.md 2.3
DEFAULT_LIVENESS = 3
DEFAULT_CAPACITY = 1
MAX_CAPACITY = 1024  # protocol.md 3.6
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "warning": logging.WARNING, "error": logging.ERROR}


class ConfigError(Exception):
    """A bad flag or variable: main prints it as one line and exits 2."""


class Config:
    """Everything the worker reads, once checked."""

    def __init__(self, **fields):
        self.brokers = fields["brokers"]  # [endpoint], at least one
        self.service = fields["service"]  # 1..255 visible ASCII, not mmi.*
        self.identity = fields["identity"]  # DEALER routing id, also the progress worker name
        self.heartbeat_ms = fields["heartbeat_ms"]  # int > 0
        self.liveness = fields["liveness"]  # int > 0
        self.capacity = fields["capacity"]  # 1..1024
        self.log_level = fields["log_level"]  # logging level number
        self.events_fd = fields["events_fd"]  # int or None
        self.app = fields["app"]  # "module:attribute" or None (serve() was given the app)
        self.curve = fields["curve"]  # None, or CurveKeys when CURVE is on


class CurveKeys:
    """This worker's key pair and each broker's public key (Z85 bytes), read at start-up."""

    def __init__(self, public, secret, servers):
        self.public = public  # this worker's public key
        self.secret = secret  # this worker's secret key
        self.servers = servers  # [broker public key], one per broker, in broker order


def _load_curve(secret_path, server_paths, broker_count):
    """Key files (czmq certificates, `slowlane keygen`) -> CurveKeys; ConfigError naming the
    file, never the key. One server key serves every broker; otherwise one per broker."""
    import zmq
    import zmq.auth
    if not secret_path or not server_paths:
        raise ConfigError("CURVE needs both a secret key (--curve-secret, SLOWLANE_CURVE_SECRET) "
                          "and the brokers' public keys (--curve-server, SLOWLANE_CURVE_SERVER)")
    if len(server_paths) not in (1, broker_count):
        raise ConfigError(f"{len(server_paths)} broker public keys for {broker_count} brokers: "
                          "give one for all or one per broker, in broker order")
    if not zmq.has("curve"):
        raise ConfigError("this libzmq has no CURVE support")

    def load(path, need_secret):
        try:
            public, secret = zmq.auth.load_certificate(path)
            if len(public) != 40 or (need_secret and (
                    not secret or len(secret) != 40 or zmq.curve_public(secret) != public)):
                raise ValueError
        except (OSError, ValueError, zmq.ZMQError) as error:
            what = "a secret key file" if need_secret else "a public key file"
            reason = error.strerror if isinstance(error, OSError) else "malformed"
            raise ConfigError(f"{path}: not {what} ({reason})") from None
        return public, secret

    public, secret = load(secret_path, True)
    servers = [load(path, False)[0] for path in server_paths]
    return CurveKeys(public, secret, servers * broker_count if len(servers) == 1 else servers)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python3 -m slowlane_wsgi",
        description="Serve a WSGI application as a slowlane (MDP/0.2) worker.")
    parser.add_argument("app", nargs="?", help="package.module:attribute, e.g. myapp:app")
    parser.add_argument("--broker", action="append",
                        help="broker endpoint; repeat for several (SLOWLANE_BROKER, "
                             "whitespace-separated)")
    parser.add_argument("--service", help="service name (SLOWLANE_SERVICE)")
    parser.add_argument("--identity", help="routing identity (SLOWLANE_IDENTITY; default: "
                                           "host/pid/random)")
    parser.add_argument("--heartbeat-ms", help="SLOWLANE_HEARTBEAT_MS, default 1000")
    parser.add_argument("--liveness", help="SLOWLANE_LIVENESS, default 3")
    parser.add_argument("--capacity", help="jobs at once, SLOWLANE_CAPACITY, default 1")
    parser.add_argument("--curve-secret", help="own key pair file (SLOWLANE_CURVE_SECRET)")
    parser.add_argument("--curve-server", action="append",
                        help="broker public key file; one for all or one per broker "
                             "(SLOWLANE_CURVE_SERVER, whitespace-separated)")
    parser.add_argument("--log-level", help="debug|info|warn|error (SLOWLANE_LOG_LEVEL)")
    return parser


def _number(name, text, low, high):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {text!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be {low}..{high}, not {value}")
    return value


def from_args(argv, environ=None, overrides=None):
    """Flags (argv) over overrides over the environment -> Config; ConfigError if bad. CURVE
    key files are read here, so a bad one stops start-up."""
    env = os.environ if environ is None else environ
    args = _parser().parse_args(argv)
    overrides = overrides or {}

    def pick(flag, variable, default=None):
        value = getattr(args, flag)
        if value is None:
            value = overrides.get(flag)
        if value is None:
            value = env.get(variable) or None
        return default if value is None else value

    brokers = pick("broker", "SLOWLANE_BROKER")
    if isinstance(brokers, str):
        brokers = brokers.split()
    if not brokers:
        raise ConfigError("no broker: give --broker or SLOWLANE_BROKER")
    service = pick("service", "SLOWLANE_SERVICE")
    if not service or len(service) > 255 or service.startswith("mmi.") \
            or not all(0x21 <= ord(c) <= 0x7E for c in service):
        raise ConfigError(f"service must be 1..255 visible ASCII, not mmi.*: {service!r}")
    identity = pick("identity", "SLOWLANE_IDENTITY") or \
        f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
    if not 1 <= len(identity.encode()) <= 255:
        raise ConfigError("identity must be 1..255 bytes")
    curve_secret = pick("curve_secret", "SLOWLANE_CURVE_SECRET")
    curve_servers = pick("curve_server", "SLOWLANE_CURVE_SERVER")
    if isinstance(curve_servers, str):
        curve_servers = curve_servers.split()
    curve = _load_curve(curve_secret, curve_servers, len(brokers)) \
        if curve_secret or curve_servers else None
    level = str(pick("log_level", "SLOWLANE_LOG_LEVEL", "info")).lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    events_fd = env.get("SLOWLANE_EVENTS_FD") or None
    if events_fd is not None:
        events_fd = _number("SLOWLANE_EVENTS_FD", events_fd, 0, 1 << 20)
    return Config(
        brokers=list(brokers), service=service, identity=identity,
        heartbeat_ms=_number("heartbeat-ms", pick("heartbeat_ms", "SLOWLANE_HEARTBEAT_MS",
                                                  DEFAULT_HEARTBEAT_MS), 1, 3600000),
        liveness=_number("liveness", pick("liveness", "SLOWLANE_LIVENESS", DEFAULT_LIVENESS),
                         1, 1000),
        capacity=_number("capacity", pick("capacity", "SLOWLANE_CAPACITY", DEFAULT_CAPACITY),
                         1, MAX_CAPACITY),
        log_level=LOG_LEVELS[level], events_fd=events_fd, app=args.app, curve=curve)
