'use strict';
// The worker's configuration: flags, each with the environment variable of the same meaning
// (the names the supervisor's program: handler sets, docs/workers.md section 2, shared with the
// Python SDK), parsed and checked once at start-up and read-only afterwards. A bad value is a
// ConfigError: one line naming it, exit status 2.

const fs = require('node:fs');
const os = require('node:os');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');

const DEFAULT_HEARTBEAT_MS = 1000; // docs/protocol.md 2.3
const DEFAULT_LIVENESS = 3;
const MAX_CAPACITY = 1024; // protocol.md 3.6
const LOG_LEVELS = { debug: 10, info: 20, warn: 30, warning: 30, error: 40 };

class ConfigError extends Error {}

const OPTIONS = {
  broker: { type: 'string', multiple: true },
  service: { type: 'string' },
  identity: { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  liveness: { type: 'string' },
  capacity: { type: 'string' },
  'curve-secret': { type: 'string' },
  'curve-server': { type: 'string', multiple: true },
  'log-level': { type: 'string' },
  cancel: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const USAGE = `usage: slowlane-node [flags] APP.js [app arguments]
Serve the http server APP.js starts (app.listen(...)), or the handler it exports, as a slowlane worker.
  --broker ENDPOINT      broker endpoint; repeat for several (SLOWLANE_BROKER, whitespace-separated)
  --service NAME         service name (SLOWLANE_SERVICE)
  --identity ID          routing identity (SLOWLANE_IDENTITY; default host/pid/random)
  --heartbeat-ms MS      SLOWLANE_HEARTBEAT_MS, default ${DEFAULT_HEARTBEAT_MS}
  --liveness N           SLOWLANE_LIVENESS, default ${DEFAULT_LIVENESS}
  --capacity N           jobs at once (SLOWLANE_CAPACITY, default 1)
  --cancel on|off        offer cancellation in READY (SLOWLANE_CANCEL, default on; off for a plain RFC 18 broker)
  --curve-secret FILE    own key pair file (SLOWLANE_CURVE_SECRET)
  --curve-server FILE    broker public key file; one for all or one per broker (SLOWLANE_CURVE_SERVER)
  --log-level LEVEL      debug|info|warn|error (SLOWLANE_LOG_LEVEL, default info)`;

function number(name, text, low, high) {
  const value = Number(text);
  if (!/^[0-9]+$/.test(String(text)) || !Number.isSafeInteger(value)) {
    throw new ConfigError(`${name} must be a number, not ${JSON.stringify(String(text))}`);
  }
  if (value < low || value > high) throw new ConfigError(`${name} must be ${low}..${high}, not ${value}`);
  return value;
}

/** A czmq certificate file (slowlane keygen) -> its Z85 keys; ConfigError naming the file. */
function readCertificate(path, needSecret) {
  let text;
  try {
    text = fs.readFileSync(path, 'latin1');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read ${needSecret ? 'a secret' : 'a public'} key file (${error.code})`);
  }
  const key = (name) => {
    const match = new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"`, 'm').exec(text);
    return match && match[1].length === 40 ? match[1] : null;
  };
  const publicKey = key('public-key');
  const secretKey = needSecret ? key('secret-key') : null;
  if (!publicKey || (needSecret && !secretKey)) {
    throw new ConfigError(`${path}: not ${needSecret ? 'a secret' : 'a public'} key file (malformed)`);
  }
  return { publicKey, secretKey };
}

function loadCurve(secretPath, serverPaths, brokerCount) {
  if (!secretPath || !serverPaths.length) {
    throw new ConfigError('CURVE needs both a secret key (--curve-secret, SLOWLANE_CURVE_SECRET) ' +
      "and the brokers' public keys (--curve-server, SLOWLANE_CURVE_SERVER)");
  }
  if (serverPaths.length !== 1 && serverPaths.length !== brokerCount) {
    throw new ConfigError(`${serverPaths.length} broker public keys for ${brokerCount} brokers: ` +
      'give one for all or one per broker, in broker order');
  }
  const own = readCertificate(secretPath, true);
  const servers = serverPaths.map((path) => readCertificate(path, false).publicKey);
  return { publicKey: own.publicKey, secretKey: own.secretKey,
    servers: servers.length === 1 ? Array(brokerCount).fill(servers[0]) : servers };
}

/**
 * Flags (argv) over `given` (serve()'s options, camelCase) over the environment -> a config;
 * ConfigError if bad. Positionals (the app script and its arguments) are returned as `rest`.
 */
function parse(argv, env = process.env, given = {}) {
  // Our flags stop at the first positional (the app script): what follows is the app's own
  let end = 0;
  while (end < argv.length && argv[end].startsWith('-') && argv[end] !== '--') {
    const name = argv[end].replace(/^--?/, '');
    const option = OPTIONS[name] || Object.values(OPTIONS).find((o) => o.short === name);
    end += option && option.type === 'string' ? 2 : 1;
  }
  if (argv[end] === '--') end += 1;
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(0, end), options: OPTIONS, allowPositionals: true, strict: true });
    parsed.positionals.push(...argv.slice(end));
  } catch (error) {
    throw new ConfigError(error.message.split('\n')[0]);
  }
  const flags = parsed.values;
  const pick = (flag, variable, fallback) => {
    const camel = flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (flags[flag] !== undefined) return flags[flag];
    if (given[camel] !== undefined && given[camel] !== null) return given[camel];
    if (env[variable]) return env[variable];
    return fallback;
  };
  const list = (value) => (Array.isArray(value) ? value : String(value || '').split(/\s+/)).filter(Boolean);
  const brokers = list(pick('broker', 'SLOWLANE_BROKER'));
  if (!brokers.length) throw new ConfigError('no broker: give --broker or SLOWLANE_BROKER');
  const service = String(pick('service', 'SLOWLANE_SERVICE', ''));
  if (!/^[\x21-\x7e]{1,255}$/.test(service) || service.startsWith('mmi.')) {
    throw new ConfigError(`service must be 1..255 visible ASCII, not mmi.*: ${JSON.stringify(service)}`);
  }
  const identity = String(pick('identity', 'SLOWLANE_IDENTITY',
    `${os.hostname()}/${process.pid}/${crypto.randomBytes(4).toString('hex')}`));
  if (Buffer.byteLength(identity) < 1 || Buffer.byteLength(identity) > 255) {
    throw new ConfigError('identity must be 1..255 bytes');
  }
  const level = String(pick('log-level', 'SLOWLANE_LOG_LEVEL', 'info')).toLowerCase();
  if (!(level in LOG_LEVELS)) {
    throw new ConfigError(`log level must be one of debug, info, warn, error, not ${JSON.stringify(level)}`);
  }
  const cancel = String(pick('cancel', 'SLOWLANE_CANCEL', 'on'));
  if (cancel !== 'on' && cancel !== 'off') {
    throw new ConfigError(`cancel must be on or off, not ${JSON.stringify(cancel)}`);
  }
  const curveSecret = pick('curve-secret', 'SLOWLANE_CURVE_SECRET');
  const curveServers = list(pick('curve-server', 'SLOWLANE_CURVE_SERVER'));
  const eventsFd = env.SLOWLANE_EVENTS_FD ? number('SLOWLANE_EVENTS_FD', env.SLOWLANE_EVENTS_FD, 0, 1 << 20) : null;
  return {
    brokers,
    service,
    identity,
    heartbeatMs: number('heartbeat-ms', pick('heartbeat-ms', 'SLOWLANE_HEARTBEAT_MS', DEFAULT_HEARTBEAT_MS), 1, 3600000),
    liveness: number('liveness', pick('liveness', 'SLOWLANE_LIVENESS', DEFAULT_LIVENESS), 1, 1000),
    capacity: number('capacity', pick('capacity', 'SLOWLANE_CAPACITY', 1), 1, MAX_CAPACITY),
    cancel: cancel === 'on',
    logLevel: LOG_LEVELS[level],
    curve: curveSecret || curveServers.length ? loadCurve(curveSecret, curveServers, brokers.length) : null,
    eventsFd,
    help: Boolean(flags.help),
    rest: parsed.positionals,
  };
}

module.exports = { parse, ConfigError, USAGE, LOG_LEVELS };
