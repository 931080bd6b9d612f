'use strict';
// slowlane-node APP.js: runs an unchanged app as a slowlane worker. The app's first
// `server.listen(...)` (Express's app.listen calls http.createServer(app).listen) binds no port:
// that server is served through the brokers instead, and the listen callback and 'listening'
// event still fire, so the app's start-up code runs as it always did. An app that exports its
// handler or server instead of listening is served at once. Later servers listen as usual.

const http = require('node:http');
const path = require('node:path');
const config = require('./config');
const { serve } = require('./worker');

function fail(message) {
  process.stderr.write(`slowlane-node: ${message}\n`);
  process.exit(2);
}

function run(argv) {
  let settings;
  try {
    settings = config.parse(argv);
  } catch (error) {
    if (error instanceof config.ConfigError) fail(error.message);
    throw error;
  }
  if (settings.help) {
    process.stdout.write(`${config.USAGE}\n`);
    process.exit(0);
  }
  const [script, ...appArgs] = settings.rest;
  if (!script) fail('no app: give the script that starts it, e.g. slowlane-node app.js');
  const flags = argv.slice(0, argv.length - settings.rest.length);
  let served = false;
  const start = (server) => {
    served = true;
    try {
      serve(server, {}, flags);
    } catch (error) {
      if (error instanceof config.ConfigError) fail(error.message);
      throw error;
    }
  };
  const listen = http.Server.prototype.listen;
  http.Server.prototype.listen = function listenThroughSlowlane(...args) {
    if (served) return listen.apply(this, args);
    start(this);
    const callback = args.find((arg) => typeof arg === 'function');
    process.nextTick(() => {
      if (callback) callback();
      this.emit('listening');
    });
    return this;
  };
  const file = path.resolve(script);
  process.argv = [process.argv[0], file, ...appArgs];
  let exported;
  try {
    exported = require(file);
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(file)) {
      fail(`${script}: no such app script`);
    }
    throw error;
  }
  if (!served && (typeof exported === 'function' || exported instanceof http.Server)) start(exported);
}

module.exports = { run };
