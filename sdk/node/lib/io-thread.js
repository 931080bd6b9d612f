'use strict';
// The MDP/0.2 worker side (docs/protocol.md 2.3, 3.6, 3.7, 3.8), run in a worker thread of its
// own: one DEALER per broker, READY, heartbeats, reconnect with backoff, credit across several
// brokers, cancellation and the drain. It is the only code that touches the broker sockets.
//
// Why a thread: the app runs on the main thread's event loop, and a handler may block that
// loop for a minute (the seed's doSomeWork). Heartbeats sent from that loop would stop, and
// the broker would take a busy worker for a dead one. This thread has its own event loop, so
// heartbeats go on whatever the app does; jobs and replies cross over as messages.
//
// Messages: to the main thread { kind: 'job', job, frames } | { kind: 'cancel', job } |
// { kind: 'drained' }; from it { kind: 'partial' | 'final', job, frames } | { kind: 'drain' }.

const { isAscii } = require('node:buffer');
const { parentPort, workerData } = require('node:worker_threads');
const zmq = require('zeromq');
const { Credit } = require('./credit');
const { makeLog, makeEvents } = require('./log');

const W = Buffer.from('MDPW02');
const [READY, REQUEST, PARTIAL, FINAL, HEARTBEAT, DISCONNECT] = [1, 2, 3, 4, 5, 6];
const [HANDBACK, DEMAND, CANCEL] = [0x11, 0x12, 0x13];
const BACKOFF_FIRST_MS = 100; // protocol.md 2.3: reconnect backoff, 100 ms doubling to 5 s
const BACKOFF_MAX_MS = 5000;
const EMPTY = Buffer.alloc(0);
// zeromq.js sends a Buffer of more than 128 bytes without copying, and once libzmq has sent it
// wakes this thread to let it go: a wake-up per reply. An ASCII frame (a header block, most
// text bodies) up to this size goes as a string instead, which it copies and frees anywhere.
const COPIED_FRAME_MAX = 64 * 1024;
const command = (code) => Buffer.from([code]);

const config = workerData;
const log = makeLog(config.logLevel);
const emit = makeEvents(config.eventsFd, log);
const beat = config.heartbeatMs;
const several = config.brokers.length > 1; // one broker: RFC 18 (capacity 1) or 3.6, never 3.7

const brokers = config.brokers.map((endpoint, index) => ({
  endpoint, index, socket: null, conversation: 0, retryAt: 0, backoff: BACKOFF_FIRST_MS,
  answered: false, limit: 0, demand: false, lastHeard: 0, lastSent: 0, sending: Promise.resolve(),
}));
const held = new Map(); // job number -> { conversation, address, broker }
const credit = new Credit(brokers, config.capacity, held, (broker, frames) => send(broker, frames));
let conversations = 0;
let jobs = 0;
let draining = false;

/** zeromq's sockets take one send at a time: each conversation's sends form a chain. */
function send(broker, frames) {
  const { socket } = broker;
  if (!socket) return;
  broker.lastSent = Date.now();
  broker.sending = broker.sending.then(() => socket.send(frames)).catch((error) => {
    if (broker.socket === socket) log('warn', `broker=${broker.endpoint} send failed: ${error.message}`);
  });
}

function connect(broker) {
  conversations += 1;
  broker.conversation = conversations;
  broker.answered = false;
  const options = { routingId: config.identity, linger: 0 };
  if (config.curve) { // before connect: CURVE is set per connection
    Object.assign(options, { curvePublicKey: config.curve.publicKey, curveSecretKey: config.curve.secretKey,
      curveServerKey: config.curve.servers[broker.index] });
  }
  const socket = new zmq.Dealer(options);
  socket.connect(broker.endpoint);
  broker.socket = socket;
  broker.sending = Promise.resolve();
  const ready = [W, command(READY), Buffer.from(config.service)];
  if (config.capacity > 1) ready.push(Buffer.from(`capacity=${config.capacity}`));
  if (several) { // 3.7: every READY states the current grant
    broker.limit = credit.limits()[broker.index];
    ready.push(Buffer.from(`credit=${broker.limit}`));
  }
  if (config.cancel) ready.push(Buffer.from('cancel')); // 3.8
  send(broker, ready);
  broker.lastHeard = broker.lastSent;
  log('debug', `broker=${broker.endpoint} READY sent`);
  receive(broker, socket, broker.conversation);
}

async function receive(broker, socket, conversation) {
  try {
    for await (const frames of socket) {
      if (broker.conversation !== conversation) break;
      heard(broker, frames);
    }
  } catch (error) {
    if (broker.socket === socket) log('warn', `broker=${broker.endpoint} receive failed: ${error.message}`);
  }
}

function hangUp(broker) {
  const { socket } = broker;
  broker.socket = null;
  broker.demand = false;
  broker.conversation = -1; // a late message of the old socket is not this conversation's
  socket.close();
  if (broker.answered) broker.backoff = BACKOFF_FIRST_MS;
  broker.retryAt = Date.now() + broker.backoff;
  broker.backoff = Math.min(broker.backoff * 2, BACKOFF_MAX_MS);
  if (several) credit.tellAll();
}

function jobOf(broker, address) {
  for (const [job, entry] of held) {
    if (entry.conversation === broker.conversation && entry.address.equals(address)) return job;
  }
  return null;
}

function heard(broker, frames) {
  broker.lastHeard = Date.now(); // any command from a broker is a heartbeat
  if (!broker.answered) {
    broker.answered = true;
    broker.backoff = BACKOFF_FIRST_MS;
    emit('R');
    log('info', `broker=${broker.endpoint} registered service=${config.service}`);
  }
  if (frames.length < 2 || !frames[0].equals(W) || frames[1].length !== 1) return; // not MDP/0.2
  const code = frames[1][0];
  if (code === REQUEST && frames.length >= 4) { // MDPW02 | 0x02 | address | "" | body
    const address = Buffer.from(frames[2]);
    if (held.size >= config.capacity || draining) {
      if (several) { // 3.7: not started, back at once
        send(broker, [W, command(HANDBACK), address, EMPTY]);
        broker.demand = true;
        broker.limit = credit.jobsOf(broker);
      } // one broker while draining: it crossed our DISCONNECT (3.5)
    } else {
      jobs += 1;
      held.set(jobs, { conversation: broker.conversation, address, broker });
      parentPort.postMessage({ kind: 'job', job: jobs, frames: frames.slice(4) });
    }
    if (several) credit.tellAll();
  } else if (code === DEMAND && several && frames.length === 3) {
    broker.demand = frames[2].toString() === '1';
    credit.tellAll();
  } else if (code === CANCEL && frames.length >= 3) {
    const job = jobOf(broker, frames[2]);
    if (job !== null) parentPort.postMessage({ kind: 'cancel', job }); // else: its FINAL crossed
  } else if (code === DISCONNECT) {
    log('info', `broker=${broker.endpoint} sent DISCONNECT`);
    hangUp(broker);
  }
}

function wire(frame) {
  const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  return bytes.length > 128 && bytes.length <= COPIED_FRAME_MAX && isAscii(bytes)
    ? bytes.toString('latin1') : bytes;
}

function replied(message) {
  const entry = held.get(message.job);
  if (!entry) return;
  const { broker } = entry;
  const live = broker.socket && broker.conversation === entry.conversation;
  if (message.kind === 'partial') {
    if (live) send(broker, [W, command(PARTIAL), entry.address, EMPTY, ...message.frames.map(wire)]);
    return;
  }
  held.delete(message.job);
  if (several) credit.tell(true); // 3.7: a lowered limit reaches a broker before the FINAL
  if (live) send(broker, [W, command(FINAL), entry.address, EMPTY, ...message.frames.map(wire)]);
  else log('warn', "reply dropped: its broker connection is gone");
  emit('E');
  if (several) credit.tell(false);
  if (draining && held.size === 0) finishDrain();
}

function tick() {
  const now = Date.now();
  for (const broker of brokers) {
    if (!broker.socket) {
      if (now >= broker.retryAt && !draining) connect(broker);
    } else if (now - broker.lastHeard > beat * config.liveness) {
      log('warn', `broker=${broker.endpoint} silent for ${config.liveness} heartbeats: reconnecting`);
      hangUp(broker);
    } else if (now - broker.lastSent >= beat) {
      send(broker, [W, command(HEARTBEAT)]);
    }
  }
}

// Drained: every started job sent its FINAL (3.5), so DISCONNECT may go now.
async function finishDrain() {
  clearInterval(timer);
  await Promise.all(brokers.filter((broker) => broker.socket).map(async (broker) => {
    const { socket } = broker;
    send(broker, [W, command(DISCONNECT)]);
    broker.socket = null;
    socket.linger = 1000; // let the DISCONNECT leave
    await broker.sending;
    socket.close();
  }));
  log('info', 'drained');
  parentPort.postMessage({ kind: 'drained' });
  parentPort.close();
}

parentPort.on('message', (message) => {
  if (message.kind === 'drain') {
    if (draining) return;
    draining = true;
    log('info', `draining: ${held.size} job(s) in hand`);
    if (held.size === 0) finishDrain();
  } else {
    replied(message);
  }
});

const timer = setInterval(tick, Math.max(5, Math.min(100, Math.floor(beat / 4))));
tick();
