'use strict';
// lib/http-bridge.js and lib/envelope.js without a broker: request envelopes run through an
// Express app and plain (req, res) handlers, the pieces they send back checked frame by frame.
const test = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const crypto = require('node:crypto');
const express = require('express');
const envelope = require('../lib/envelope');
const { Job, ResponseParser, adopt } = require('../lib/http-bridge');

const quiet = () => {};
const buf = (text) => Buffer.from(text, 'latin1');

function requestFrames({ id = 'rid-1', timeoutMs = 5000, method = 'GET', path = '/', query = '',
  headers = 'Host: example.test\r\n', body = Buffer.alloc(0) } = {}) {
  return [buf('SLREQ/1'), buf(id), buf(String(timeoutMs)), buf('1'), buf(method), buf(path),
    buf(query), buf(headers), Buffer.isBuffer(body) ? body : buf(body)];
}

/** Runs one job; resolves with { pieces: [[kind, frames]], info } once its FINAL is sent. */
function run(server, frames, { onStart, info = {} } = {}) {
  return new Promise((resolve) => {
    const pieces = [];
    const job = new Job(server, envelope.parseRequest(frames), (kind, parts) => {
      pieces.push([kind, parts.map((p) => Buffer.from(p))]);
      if (kind === 'final') resolve({ pieces, job });
    }, quiet, info);
    job.begin();
    if (onStart) onStart(job);
  });
}

function reply(pieces) {
  // One FINAL holding the whole envelope, as protocol.md 4.2 asks of a reply in one piece
  assert.strictEqual(pieces.length, 1, `expected one FINAL, got ${pieces.map((p) => p[0])}`);
  const [kind, frames] = pieces[0];
  assert.strictEqual(kind, 'final');
  assert.strictEqual(frames.length, 4);
  assert.strictEqual(frames[0].toString(), 'SLREP/1');
  return { status: Number(frames[1].toString()), headers: envelope.parseHeaderBlock(frames[2]),
    body: frames[3] };
}

const field = (headers, name) => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

const app = express();
app.get('/echo', (req, res) => res.json({ method: req.method, url: req.url, query: req.query,
  multi: req.headers['x-multi'], raw: req.rawHeaders, host: req.hostname,
  slowlane: { requestId: req.slowlane.requestId, worker: req.slowlane.worker } }));
app.post('/mirror', express.raw({ type: '*/*', limit: '4mb' }), (req, res) => {
  res.status(201).set('X-Sha', crypto.createHash('sha256').update(req.body).digest('hex'))
    .append('Set-Cookie', 'a=1').append('Set-Cookie', 'b=2').type('application/octet-stream').send(req.body);
});
app.get('/stream', (req, res) => {
  res.type('text/plain');
  let i = 0;
  const next = () => {
    if (i === 3) return res.end('end');
    res.write(`chunk-${i++}\n`);
    return setTimeout(next, 20);
  };
  next();
});
app.get('/boom', () => { throw new Error('express catches this'); });
const server = adopt(http.createServer(app), quiet);

test('a GET: method, target, query, repeated headers and Host reach Express', async () => {
  const { pieces } = await run(server, requestFrames({ path: '/echo', query: 'a=1&a=2&b=%20x',
    headers: 'Host: example.test\r\nX-Multi: one\r\nX-Multi: two\r\nX-Request-Id: rid-1\r\n' }));
  const { status, headers, body } = reply(pieces);
  assert.strictEqual(status, 200);
  assert.deepStrictEqual(field(headers, 'content-type'), ['application/json; charset=utf-8']);
  assert.deepStrictEqual(field(headers, 'connection'), []); // hop-by-hop: the gateway frames
  const seen = JSON.parse(body);
  assert.strictEqual(seen.url, '/echo?a=1&a=2&b=%20x');
  assert.deepStrictEqual(seen.query, { a: ['1', '2'], b: ' x' });
  assert.strictEqual(seen.multi, 'one, two');
  assert.strictEqual(seen.host, 'example.test');
  assert.deepStrictEqual(seen.raw.slice(0, 6), ['Host', 'example.test', 'X-Multi', 'one', 'X-Multi', 'two']);
});

test('a binary POST body near 1 MiB round-trips, with status 201 and repeated response fields', async () => {
  const body = crypto.randomBytes(1024 * 1024 - 17);
  const { pieces } = await run(server, requestFrames({ method: 'POST', path: '/mirror',
    headers: 'Host: h\r\nContent-Type: application/x-thing\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n', body }));
  const { status, headers, body: back } = reply(pieces);
  assert.strictEqual(status, 201);
  assert.ok(back.equals(body));
  assert.deepStrictEqual(field(headers, 'x-sha'), [crypto.createHash('sha256').update(body).digest('hex')]);
  assert.deepStrictEqual(field(headers, 'set-cookie'), ['a=1', 'b=2']);
});

test('a reply written in pieces streams: an envelope PARTIAL, raw PARTIALs, a FINAL', async () => {
  const { pieces } = await run(server, requestFrames({ path: '/stream' }));
  assert.ok(pieces.length >= 2);
  const [first, ...rest] = pieces;
  assert.strictEqual(first[0], 'partial');
  assert.strictEqual(first[1][0].toString(), 'SLREP/1');
  assert.strictEqual(first[1][1].toString(), '200');
  assert.deepStrictEqual(field(envelope.parseHeaderBlock(first[1][2]), 'content-length'), []);
  assert.strictEqual(pieces[pieces.length - 1][0], 'final');
  const text = first[1][3].toString() + rest.map(([, frames]) => Buffer.concat(frames).toString()).join('');
  assert.strictEqual(text, 'chunk-0\nchunk-1\nchunk-2\nend');
});

test('an error Express catches is its 500; a plain handler that throws gets ours, naming the request id', async () => {
  assert.strictEqual(reply((await run(server, requestFrames({ path: '/boom' }))).pieces).status, 500);
  const plain = adopt(http.createServer(() => { throw new TypeError('no'); }), quiet);
  const { status, body } = reply((await run(plain, requestFrames({ id: 'rid-throw', path: '/' }))).pieces);
  assert.strictEqual(status, 500);
  assert.match(body.toString(), /request rid-throw\): TypeError/);
});

test('a response the app destroys halfway is a 500, not a short reply that looks whole', async () => {
  const cut = adopt(http.createServer((req, res) => {
    res.setHeader('Content-Length', '10');
    res.write('12345');
    setImmediate(() => res.destroy());
  }), quiet);
  // The first piece may have streamed already; then the stream just ends there
  const { pieces } = await run(cut, requestFrames({ id: 'rid-cut' }));
  if (pieces.length === 1) {
    assert.strictEqual(reply(pieces).status, 500);
  } else {
    assert.deepStrictEqual(pieces[pieces.length - 1], ['final', [Buffer.alloc(0)]]);
  }
});

test('an app that sets Transfer-Encoding: chunked itself is de-chunked; 1xx heads are skipped', async () => {
  const chunky = adopt(http.createServer((req, res) => {
    res.writeEarlyHints({ link: '</a.css>; rel=preload' });
    res.writeHead(200, { 'Transfer-Encoding': 'chunked', 'X-A': 'b' });
    res.end('hello, chunks');
  }), quiet);
  const { pieces } = await run(chunky, requestFrames({}));
  const { status, body, headers } = reply(pieces);
  assert.strictEqual(status, 200);
  assert.strictEqual(body.toString(), 'hello, chunks');
  assert.deepStrictEqual(field(headers, 'transfer-encoding'), []);
  assert.deepStrictEqual(field(headers, 'x-a'), ['b']);
});

test('cancel: the app sees its client hang up, and the job ends with one FINAL', async () => {
  let closed = false;
  const waiting = adopt(http.createServer((req, res) => {
    res.on('close', () => { closed = !res.writableFinished; });
  }), quiet);
  const { pieces, job } = await run(waiting, requestFrames({ id: 'rid-cancel' }),
    { onStart: (j) => setTimeout(() => j.cancel(), 30) });
  assert.strictEqual(pieces.length, 1);
  assert.strictEqual(job.cancelled, true);
  await new Promise((resolve) => setImmediate(resolve));
  assert.strictEqual(closed, true);
});

test('a handler that never answers is abandoned after its deadline', async () => {
  const silent = adopt(http.createServer(() => {}), quiet);
  const started = Date.now();
  const { pieces } = await run(silent, requestFrames({ id: 'rid-late', timeoutMs: 50 }));
  assert.ok(Date.now() - started >= 50);
  assert.strictEqual(reply(pieces).status, 500);
});

test('a plain MDP request: POST / with the frames joined, the body back as one frame', async () => {
  const upper = adopt(http.createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => res.end(`${req.method} ${req.url} ${req.headers['content-type']} ${Buffer.concat(parts).toString().toUpperCase()}`));
  }), quiet);
  const request = envelope.parseRequest([buf('hello '), buf('world')]);
  assert.strictEqual(request.envelope, false);
  const pieces = await new Promise((resolve) => {
    const got = [];
    new Job(upper, request, (kind, frames) => {
      got.push([kind, frames]);
      if (kind === 'final') resolve(got);
    }, quiet).begin();
  });
  assert.deepStrictEqual(pieces.map(([k, f]) => [k, Buffer.concat(f).toString()]),
    [['final', 'POST / application/octet-stream HELLO WORLD']]);
});

test('envelope: malformed header blocks and envelopes are refused whole', () => {
  assert.deepStrictEqual(envelope.parseHeaderBlock(buf('A: 1\r\nB:  2 \r\n')), [['A', '1'], ['B', '2']]);
  for (const bad of ['A: 1', 'A: 1\r\n\r\n', ' A: 1\r\n', 'A 1\r\n', 'A: 1\nB: 2\r\n', 'A: \0\r\n']) {
    assert.strictEqual(envelope.parseHeaderBlock(buf(bad)), null, JSON.stringify(bad));
  }
  // A bad field, a path without "/", a timeout that is not a number: a plain body, not an envelope
  assert.strictEqual(envelope.parseRequest(requestFrames({ headers: 'Bad Name: x\r\n' })).envelope, false);
  assert.strictEqual(envelope.parseRequest(requestFrames({ path: 'x' })).envelope, false);
  assert.strictEqual(envelope.parseRequest(requestFrames({ timeoutMs: '5s' })).envelope, false);
  assert.throws(() => envelope.encodeHeaderBlock([['X', 'a\r\nInjected: 1']], false));
  const progress = envelope.progressEnvelope('w'.repeat(300), 'n'.repeat(300));
  assert.deepStrictEqual(progress.map((f) => f.length), [7, 255, 255]);
});

test('the response parser takes a head split anywhere', () => {
  const bytes = buf('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nA: b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\n!!!\r\n0\r\n\r\n');
  for (let cut = 1; cut < bytes.length; cut += 7) {
    const parser = new ResponseParser();
    const body = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))];
    assert.strictEqual(parser.status, 404);
    assert.strictEqual(Buffer.concat(body).toString(), 'hello!!!');
  }
});
