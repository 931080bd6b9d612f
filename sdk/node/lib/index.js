'use strict';
// @slowlane/worker: serve an Express app, or any Node.js http request handler, as a slowlane
// worker. docs/workers/node.md is the manual.
const { serve } = require('./worker');
const { ConfigError } = require('./config');

module.exports = { serve, ConfigError };
