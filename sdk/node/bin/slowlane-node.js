#!/usr/bin/env node
'use strict';
// slowlane-node [flags] APP.js [app arguments]: lib/register.js.
require('../lib/register').run(process.argv.slice(2));
