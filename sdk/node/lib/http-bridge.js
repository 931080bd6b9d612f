'use strict';
// Runs one job through a Node.js http.Server as if a client had connected: the request's
// bytes go in through a stream handed to the server's 'connection' event (Node's documented
// way to inject a connection: "any Duplex stream can be passed"), the server parses them and
// calls the app with a real IncomingMessage and ServerResponse, and what the response writes
// back is turned into a reply envelope, streamed as PARTIALs when it comes in pieces
// (protocol.md 4.2, 4.3). So every framework built on Node's http module works unchanged.
//
// Owns: the per-job connection, the response parser, the 500 for a handler that throws, the
// abandon at the deadline, cancellation (the app sees its client hang up). Not its business:
// brokers, frames on the wire, credit (io-thread.js), the process (worker.js).

const { Duplex } = require('node:stream');
const envelope = require('./envelope');

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 256 * 1024; // a response head past this is the app's bug: 500
// How long past its deadline a job may run before the bridge gives its slot back: the broker
// answered the client at the deadline, so nothing the app writes later reaches anyone.
const DEADLINE_GRACE_MS = 1000;

/** Reads the HTTP/1.1 response Node writes: the head (1xx heads skipped), then the body,
 * de-chunked when the app asked for chunked coding itself. */
class ResponseParser {
  constructor() {
    this.head = Buffer.alloc(0);
    this.status = 0; // set once the final head is read
    this.fields = null; // [[name, value]] of that head
    this.chunked = false;
    this.chunkLeft = -1; // chunked: bytes left in the current chunk; -1: at a size line
    this.pending = Buffer.alloc(0); // chunked: an incomplete size line or CRLF
  }

  /** Bytes from the server -> body pieces (Buffers); throws on a malformed head. */
  push(data) {
    if (this.fields === null) {
      this.head = Buffer.concat([this.head, data]);
      for (;;) {
        const end = this.head.indexOf(HEAD_END);
        if (end < 0) {
          if (this.head.length > MAX_HEAD_BYTES) throw new Error('response head too large');
          return [];
        }
        const lines = this.head.subarray(0, end).toString('latin1').split('\r\n');
        const rest = this.head.subarray(end + 4);
        const match = /^HTTP\/1\.[01] ([1-5][0-9][0-9])/.exec(lines[0]);
        if (!match) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
        const status = Number(match[1]);
        if (status >= 100 && status < 200 && status !== 101) {
          this.head = rest; // 100 Continue, 102, 103 Early Hints: not the reply
          continue;
        }
        this.status = status;
        this.fields = lines.slice(1).map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon), line.slice(colon + 1).trim()];
        });
        this.chunked = this.fields.some(([name, value]) =>
          name.toLowerCase() === 'transfer-encoding' && /chunked/i.test(value));
        this.head = null;
        return rest.length ? this.body(rest) : [];
      }
    }
    return this.body(data);
  }

  body(data) {
    if (!this.chunked) return [data];
    const pieces = [];
    let buffer = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    while (buffer.length) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, buffer.length);
        pieces.push(buffer.subarray(0, take));
        buffer = buffer.subarray(take);
        this.chunkLeft -= take;
        continue;
      }
      const eol = buffer.indexOf('\r\n');
      if (eol < 0) break;
      const line = buffer.subarray(0, eol).toString('latin1');
      buffer = buffer.subarray(eol + 2);
      if (this.chunkLeft === 0) { // the CRLF after a chunk's data
        this.chunkLeft = -1;
        continue;
      }
      const size = parseInt(line, 16);
      this.chunkLeft = size > 0 ? size : -2; // -2: the last chunk; trailers are dropped
      if (this.chunkLeft === -2) return pieces;
    }
    this.pending = Buffer.from(buffer);
    return pieces;
  }
}

/**
 * One job's connection. `send(kind, frames)` gets 'partial' and 'final' pieces; exactly one
 * 'final' is sent, after which the job is over. `cancel()` hangs up on the app.
 */
class Job {
  /** `info` becomes req.slowlane: { requestId, timeoutMs, service, worker, progress(note) },
   * plus `cancelled`. begin() hands the connection to the server. */
  constructor(server, request, send, log, info = {}) {
    this.server = server;
    this.request = request;
    this.sendPiece = send;
    this.log = log;
    this.parser = new ResponseParser();
    this.started = false; // the first PARTIAL (the reply envelope) is out
    this.held = null; // the latest body piece, not sent yet (it may be the last)
    this.flushTimer = null;
    this.done = false;
    this.cancelled = false;
    this.socket = this.makeSocket();
    const job = this;
    this.socket.slowlane = { ...info, get cancelled() { return job.cancelled; } };
    this.deadline = null;
  }

  begin() {
    if (this.request.timeoutMs > 0) {
      this.deadline = setTimeout(() => this.abandon('deadline'),
        this.request.timeoutMs + DEADLINE_GRACE_MS);
    }
    this.server.emit('connection', this.socket);
    this.socket.push(envelope.encodeHttpRequest(this.request));
  }

  makeSocket() {
    const job = this;
    const socket = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        job.received(chunk);
        callback();
      },
      final(callback) {
        job.finish();
        callback();
      },
      destroy(error, callback) {
        // Before final(): the app (res.destroy()) or Node (a parse error) cut the reply short
        job.fail(error ? error.message : 'the response was destroyed before it ended');
        callback(error);
      },
    });
    // What Node's server and apps ask of a net.Socket: the gateway is the peer (the client's
    // own address is in X-Forwarded-For when the gateway is configured to add it)
    Object.assign(socket, {
      remoteAddress: '127.0.0.1', remotePort: 0, remoteFamily: 'IPv4',
      localAddress: '127.0.0.1', localPort: 0, encrypted: false,
      setTimeout() { return socket; },
      setNoDelay() { return socket; },
      setKeepAlive() { return socket; },
      ref() { return socket; },
      unref() { return socket; },
      destroySoon() { socket.end(); },
      address() { return { address: '127.0.0.1', family: 'IPv4', port: 0 }; },
    });
    return socket;
  }

  received(chunk) {
    if (this.done) return;
    let pieces;
    try {
      pieces = this.parser.push(chunk);
    } catch (error) {
      this.log('error', `request_id=${this.request.requestId || '-'} unreadable response: ${error.message}`);
      this.fail('unreadable response');
      return;
    }
    for (const piece of pieces) {
      if (!piece.length) continue;
      if (this.held) this.sendBody('partial', this.held);
      this.held = Buffer.from(piece);
    }
    // A reply written at once (res.end(body)) ends before the next turn of the loop; one
    // whose next piece has not come by then streams, so a slow stream is not held back
    if (this.held && !this.flushTimer) {
      this.flushTimer = setImmediate(() => {
        this.flushTimer = null;
        if (this.held && !this.done) {
          this.sendBody('partial', this.held);
          this.held = null;
        }
      });
    }
  }

  sendBody(kind, body) {
    if (!this.request.envelope || this.started) {
      this.sendPiece(kind, [body]);
      return;
    }
    const block = envelope.encodeHeaderBlock(this.parser.fields, kind === 'partial');
    this.sendPiece(kind, envelope.replyEnvelope(this.parser.status, block, body));
    this.started = true;
  }

  /** The connection ended: the reply is whole, or the app (or we) hung up before it was. */
  finish() {
    if (this.done) return;
    if (this.parser.fields === null) {
      this.fail('no response');
      return;
    }
    this.close(false);
    this.sendBody('final', this.held || Buffer.alloc(0));
    this.held = null;
  }

  /** Ends the job without a complete response: a 500 naming the request id if nothing went out
   * yet, else the end of the stream where it is (its status is out already). */
  fail(what) {
    if (this.done) return;
    this.close();
    if (this.started) {
      this.sendPiece('final', [Buffer.alloc(0)]);
      return;
    }
    const body = Buffer.from(
      `500 internal server error (request ${this.request.requestId || '-'}): ${what}\n`);
    this.sendPiece('final', this.request.envelope
      ? envelope.replyEnvelope(500, Buffer.from('Content-Type: text/plain; charset=utf-8\r\n'), body)
      : [body]);
  }

  /** The job is over. A reply that ended well ends the connection as a client would after
   * `Connection: close` (end of input); any other end hangs up on the app (destroy). */
  close(hangUp = true) {
    this.done = true;
    if (this.deadline) clearTimeout(this.deadline);
    if (this.flushTimer) clearImmediate(this.flushTimer);
    if (this.socket.destroyed) return;
    if (hangUp) this.socket.destroy();
    else this.socket.push(null);
  }

  abandon(why) {
    if (this.done) return;
    this.log('warn', `request_id=${this.request.requestId || '-'} ${why}: the app's response is abandoned`);
    this.fail(why);
  }

  /** protocol.md 3.8: the app sees what it would see if its client hung up. */
  cancel() {
    if (this.done) return;
    this.log('info', `request_id=${this.request.requestId || '-'} cancelled`);
    this.cancelled = true;
    this.fail('cancelled');
  }
}

/**
 * Prepares a server for jobs: every 'request' listener the app added runs inside a guard, so a
 * handler that throws answers 500 with the request id instead of ending the process, and every
 * response is written unchunked (the bridge frames it). Returns the server.
 */
function adopt(server, log) {
  const listeners = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    // Unchunked: the body reaches the bridge as the app wrote it. (A field the app sets itself,
    // Transfer-Encoding: chunked, still makes Node chunk; the parser decodes it.)
    res.useChunkedEncodingByDefault = false;
    req.slowlane = req.socket.slowlane; // undefined for a connection that is not a job
    for (const listener of listeners) {
      try {
        listener.call(server, req, res);
      } catch (error) {
        const id = req.headers['x-request-id'] || '-';
        log('error', `request_id=${id} handler threw: ${error && error.stack ? error.stack : error}`);
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(`500 internal server error (request ${id}): ${error && error.name ? error.name : 'Error'}\n`);
        } else {
          res.destroy();
        }
        return;
      }
    }
  });
  // A request Node cannot parse (an unknown method, say) gets Node's own 400, as a client of a
  // listening server would; without this listener Node would only destroy the socket
  if (server.listenerCount('clientError') === 0) {
    server.on('clientError', (error, socket) => {
      if (!socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }
  return server;
}

module.exports = { Job, ResponseParser, adopt };
