'use strict';
// One log line per event on stderr, written synchronously (fs.writeSync), so the I/O thread's
// lines are not queued behind a main thread that is busy in a handler: `slowlane-node
// level=info pid=N message`. Messages name key files and request ids, never keys or bodies.

const fs = require('node:fs');
const { LOG_LEVELS } = require('./config');

function makeLog(threshold) {
  return (level, message) => {
    if (LOG_LEVELS[level] < threshold) return;
    try {
      fs.writeSync(2, `slowlane-node level=${level} pid=${process.pid} ${message}\n`);
    } catch {
      // stderr is gone: nothing to tell anyone
    }
  };
}

/** SLOWLANE_EVENTS_FD (docs/workers.md section 3): one byte per event; off after a failure. */
function makeEvents(fd, log) {
  let target = fd;
  return (byte) => {
    if (target === null) return;
    try {
      fs.writeSync(target, byte);
    } catch (error) {
      log('warn', `events fd=${target} write failed, events off: ${error.code}`);
      target = null;
    }
  };
}

module.exports = { makeLog, makeEvents };
