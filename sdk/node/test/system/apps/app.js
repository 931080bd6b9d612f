'use strict';
// The Express app tests/system/test_node_worker.py serves through slowlane-node: it listens
// as any Express app does, and every route shows one thing the SDK must carry.
const crypto = require('node:crypto');
const express = require('express');

const app = express();
app.set('trust proxy', 'loopback');

function sha256(body) {
  return crypto.createHash('sha256').update(body).digest('hex');
}

app.all(['/app/echo', '/app/echo/*rest'], express.raw({ type: () => true, limit: '8mb' }), (req, res) => {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  res.json({ method: req.method, path: req.path, query: req.query, multi: req.get('X-Multi'),
    host: req.hostname, requestId: req.slowlane.requestId, contentType: req.get('Content-Type') || null,
    length: body.length, sha256: sha256(body) });
});

app.post('/app/mirror', express.raw({ type: () => true, limit: '8mb' }), (req, res) => {
  res.type('application/octet-stream').send(req.body);
});

app.get('/app/created', (req, res) => {
  res.status(201).set({ 'X-Custom': 'yes', Location: '/app/x' })
    .append('X-Twice', 'one').append('X-Twice', 'two').type('text/plain').send('made\n');
});

app.get('/app/stream', (req, res) => {
  res.type('text/plain');
  let i = 0;
  const next = () => {
    if (i === 20) return res.end();
    res.write(`chunk-${String(i++).padStart(2, '0')}\n`);
    return setTimeout(next, 10);
  };
  next();
});

app.get('/app/pid', (req, res) => res.json({ pid: process.pid, worker: req.slowlane.worker }));

app.post('/app/exit', () => process.exit(3)); // dies mid-job, as a crashing app would

// An exception no handler catches: Node ends the process, in the middle of this job
app.post('/app/crash', () => setImmediate(() => { throw new Error('uncaught, on purpose'); }));

app.get('/app/boom', () => { throw new Error('the application failed on purpose'); });

app.get('/app/reject', async () => { throw new Error('an async handler rejected'); });

// CPU-bound for ?seconds=N: blocks the event loop the whole time, as the seed's doSomeWork
app.get('/app/cpu', (req, res) => {
  const end = Date.now() + Number(req.query.seconds || 5) * 1000;
  let loops = 0;
  while (Date.now() < end) loops += 1;
  res.json({ loops });
});

app.get('/app/sleep', (req, res) => {
  setTimeout(() => res.send('slept'), Number(req.query.seconds || 1) * 1000);
});

app.get('/app/progress', (req, res) => {
  req.slowlane.progress('one');
  req.slowlane.progress('two');
  res.send('done');
});

// Waits for its client to go away, as a long poll would, and says so on stderr
app.get('/app/hold', (req, res) => {
  const timer = setTimeout(() => res.send('held to the end'), 60000);
  res.on('close', () => {
    clearTimeout(timer);
    process.stderr.write(`app: client gone request_id=${req.slowlane.requestId} cancelled=${req.slowlane.cancelled}\n`);
  });
});

app.listen(Number(process.env.PORT || 3000), () => {
  process.stderr.write(`app: listening (through slowlane-node: no port is bound)\n`);
});
