'use strict';
// serve(): one worker process's composition on the main thread. Starts the I/O thread
// (io-thread.js), runs each job it hands over through the app's http.Server (http-bridge.js),
// passes the replies back, and drains on SIGTERM or SIGINT: no new job, the ones in hand
// finish, DISCONNECT to every broker, exit 0.

const http = require('node:http');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const config = require('./config');
const envelope = require('./envelope');
const { Job, adopt } = require('./http-bridge');
const { makeLog, makeEvents } = require('./log');

const toBuffer = (view) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

/**
 * Serves `target` (an Express app, any `(req, res)` handler, or an http.Server) as a slowlane
 * worker. `options` are the flags in camelCase ({ broker, service, capacity, ... }); flags in
 * `argv` win over them, and they over the SLOWLANE_* environment. Throws ConfigError on a bad
 * value. Returns { drain(), drained: Promise }; by default the process exits 0 once drained.
 */
function serve(target, options = {}, argv = []) {
  const settings = config.parse(argv, process.env, options);
  const log = makeLog(settings.logLevel);
  const emit = makeEvents(settings.eventsFd, log);
  const server = target instanceof http.Server ? target : http.createServer(target);
  adopt(server, log);
  const io = new Worker(path.join(__dirname, 'io-thread.js'), {
    workerData: { ...settings, rest: [] },
    stdout: false,
    stderr: false,
  });
  const running = new Map(); // job number -> Job
  let resolveDrained;
  const drained = new Promise((resolve) => { resolveDrained = resolve; });
  let draining = false;
  let finished = false;

  function start(number, frames) {
    const request = envelope.parseRequest(frames.map(toBuffer));
    const reply = (kind, pieces) => {
      if (kind === 'final') running.delete(number);
      io.postMessage({ kind, job: number, frames: pieces });
    };
    const progress = (note) => reply('partial', envelope.progressEnvelope(settings.identity, note));
    const job = new Job(server, request, reply, log, {
      requestId: request.requestId,
      timeoutMs: request.timeoutMs,
      service: settings.service,
      worker: settings.identity,
      // protocol.md 4.6: only for a job slowlane-jobs runs
      progress: envelope.headerValue(request, envelope.JOB_RUN_HEADER) !== undefined ? progress : () => {},
    });
    running.set(number, job);
    emit('S');
    if (envelope.headerValue(request, envelope.JOB_RUN_HEADER) !== undefined) progress('');
    job.begin();
  }

  io.on('message', (message) => {
    if (message.kind === 'job') start(message.job, message.frames);
    else if (message.kind === 'cancel') {
      const job = running.get(message.job);
      if (job) job.cancel();
    } else if (message.kind === 'drained') {
      finished = true;
      resolveDrained();
    }
  });
  io.on('error', (error) => {
    log('error', `I/O thread failed: ${error && error.stack ? error.stack : error}`);
    process.exit(1);
  });
  io.on('exit', (code) => {
    if (!finished) {
      log('error', `I/O thread exited (${code}) before the drain`);
      process.exit(1);
    }
  });

  function drain() {
    if (draining) return; // once it is under way, the same signal again changes nothing
    draining = true;
    io.postMessage({ kind: 'drain' });
  }
  if (options.handleSignals !== false) {
    process.on('SIGTERM', drain);
    process.on('SIGINT', drain);
    drained.then(() => process.exit(0));
  }
  log('info', `serving service=${settings.service} brokers=${settings.brokers.join(',')} capacity=${settings.capacity}`);
  return { drain, drained, config: settings };
}

module.exports = { serve };
