'use strict';
// The HTTP envelope of docs/protocol.md section 4 as a Node.js HTTP server sees it: a request
// envelope in, the bytes of an HTTP/1.1 request out; a status and header lines in, reply
// envelope frames out. Pure functions (Buffers in, values out): no sockets, no threads, no
// clock. Moving frames is io-thread.js's business, running the app http-bridge.js's.

const REQUEST_MAGIC = Buffer.from('SLREQ/1');
const REPLY_MAGIC = Buffer.from('SLREP/1');
const PROGRESS_MAGIC = Buffer.from('SLPRG/1');
const JOB_RUN_HEADER = 'slowlane-job-run'; // protocol.md 4.6: set by slowlane-jobs only
const MAX_NOTE_BYTES = 255; // protocol.md 4.6: worker name and note, 255 bytes each at most
const MAX_VALUE_BYTES = 8192; // protocol.md 4.4: a field value, once OWS is removed
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/; // RFC 9110 tchar
const DIGITS = /^[0-9]+$/;

// Fields that frame an HTTP/1.1 message: the gateway sets its own on the client's side, and
// the bridge sets its own on the app's side (protocol.md 4.4).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'proxy-connection', 'expect', 'content-length', 'http2-settings']);

/** A header block (protocol.md 4.4) -> [[name, value]] as latin-1 strings, or null. */
function parseHeaderBlock(block) {
  if (block.length === 0) return [];
  const text = block.toString('latin1');
  if (!text.endsWith('\r\n')) return null;
  const fields = [];
  for (const line of text.slice(0, -2).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!TOKEN.test(name) || /[\r\n\0]/.test(line) || value.length > MAX_VALUE_BYTES) return null;
    fields.push([name, value]);
  }
  return fields;
}

/**
 * MDP body frames -> a request. A body that is not a valid request envelope is a plain MDP
 * request (protocol.md section 6): POST /, its frames joined as the body.
 */
function parseRequest(frames) {
  if (frames.length === 9 && frames[0].equals(REQUEST_MAGIC)) {
    const [, id, timeout, , method, path, query, block, body] = frames;
    const headers = parseHeaderBlock(block);
    const timeoutText = timeout.toString('latin1');
    const methodText = method.toString('latin1');
    if (headers !== null && DIGITS.test(timeoutText) && TOKEN.test(methodText) &&
        path.length > 0 && path[0] === 0x2f && !/[\0\r\n ]/.test(path.toString('latin1')) &&
        !/[\0\r\n #]/.test(query.toString('latin1'))) {
      return { envelope: true, requestId: id.toString('latin1'),
        timeoutMs: Number(timeoutText), method: methodText, path, query, headers, body };
    }
  }
  return { envelope: false, requestId: '', timeoutMs: 0, method: 'POST',
    path: Buffer.from('/'), query: Buffer.alloc(0),
    headers: [['Content-Type', 'application/octet-stream']], body: Buffer.concat(frames) };
}

/** The first value of a field (name in lower case), or undefined. */
function headerValue(request, lowerName) {
  const found = request.headers.find(([name]) => name.toLowerCase() === lowerName);
  return found ? found[1] : undefined;
}

/**
 * A request -> the bytes of the HTTP/1.1 request a Node.js server parses: the request line,
 * the envelope's fields minus the framing ones, then our own framing (the whole body is here,
 * so Content-Length) and Connection: close (one connection per job: its end is the reply's).
 */
function encodeHttpRequest(request) {
  const target = request.query.length
    ? Buffer.concat([request.path, Buffer.from('?'), request.query]) : request.path;
  const lines = [];
  let host = false;
  let requestId = false;
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (lower === 'host') host = true;
    if (lower === 'x-request-id') requestId = true;
    lines.push(`${name}: ${value}\r\n`);
  }
  // The gateway passes its id as X-Request-Id; a broker client's envelope has it in frame 1
  if (!requestId && /^[\x21-\x7e]{1,256}$/.test(request.requestId)) lines.push(`X-Request-Id: ${request.requestId}\r\n`);
  // Node's server answers 400 to an HTTP/1.1 request without Host (RFC 9112 3.2); a plain
  // MDP request has none, nor may an envelope from a client of the broker's own
  if (!host) lines.push('Host: localhost\r\n');
  lines.push(`Content-Length: ${request.body.length}\r\nConnection: close\r\n\r\n`);
  return Buffer.concat([Buffer.from(`${request.method} `, 'latin1'), target,
    Buffer.from(` HTTP/1.1\r\n${lines.join('')}`, 'latin1'), request.body]);
}

/**
 * Response header lines ([[name, value]]) -> a header block. Hop-by-hop fields go (the gateway
 * frames the reply), and Content-Length too when the reply streams (chunked coding then).
 * Node's ServerResponse has refused CR, LF and NUL already; a value is cut at nothing here.
 */
function encodeHeaderBlock(fields, streaming) {
  let block = '';
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' ? streaming : HOP_BY_HOP.has(lower)) continue;
    if (!TOKEN.test(name) || /[\r\n\0]/.test(value) || value.length > MAX_VALUE_BYTES) {
      throw new Error(`invalid response header ${JSON.stringify(name)}`);
    }
    block += `${name}: ${value}\r\n`;
  }
  return Buffer.from(block, 'latin1');
}

/** The 4 frames of a reply envelope (protocol.md 4.2). */
function replyEnvelope(status, headerBlock, body) {
  return [REPLY_MAGIC, Buffer.from(String(status)), headerBlock, body];
}

/** The 3 frames of a progress envelope (protocol.md 4.6), both fields cut to 255 bytes. */
function progressEnvelope(worker, note) {
  return [PROGRESS_MAGIC, Buffer.from(worker).subarray(0, MAX_NOTE_BYTES),
    Buffer.from(String(note)).subarray(0, MAX_NOTE_BYTES)];
}

module.exports = {
  JOB_RUN_HEADER,
  parseHeaderBlock,
  parseRequest,
  headerValue,
  encodeHttpRequest,
  encodeHeaderBlock,
  replyEnvelope,
  progressEnvelope,
};
