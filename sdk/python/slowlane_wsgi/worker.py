"""The MDP/0.2 worker side of slowlane_wsgi (docs/protocol.md sections 2.3, 3.6, 3.7): one
DEALER per broker, READY, heartbeats, reconnect with backoff, credit across several brokers,
and drain on SIGTERM. Built from examples/python_worker.py.

The main thread runs this loop and is the only one that touches the broker sockets; jobs run
on a pool of `capacity` handler threads (runner.py), which hand their PARTIALs and FINAL back
over one inproc PUSH/PULL pair. A handler that keeps the GIL for longer than a heartbeat
interval (a C extension that never releases it) starves this loop; pure Python does not."""
import itertools
import logging
import os
import queue
import signal
import threading
import time

import zmq

from . import envelope, runner

log = logging.getLogger("slowlane_wsgi")

W = b"MDPW02"
READY, REQUEST, PARTIAL, FINAL, HEARTBEAT, DISCONNECT = (
    b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06")
CREDIT, HANDBACK, DEMAND = b"\x10", b"\x11", b"\x12"  # protocol.md 3.7
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0  # protocol.md 2.3: reconnect backoff, 100 ms up to 5 s
DONE_ENDPOINT = "inproc://slowlane-wsgi-done"


class Broker:
    """One broker's conversation: its socket, heartbeats, backoff and (several brokers) the
    limit it was last told and whether it has work waiting."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.socket = None  # None between conversations
        self.conversation = 0  # a new number per socket: a job's reply goes only to its own
        self.retry_at = 0.0  # when to connect again
        self.backoff = BACKOFF_FIRST  # the next wait after a conversation that failed
        self.answered = False  # the broker said something in this conversation
        self.limit = 0  # the limit it was last told (READY credit=, CREDIT)
        self.demand = False  # DEMAND 1 (or our HANDBACK) until DEMAND 0 or a new conversation
        self.last_heard = self.last_sent = 0.0

    def send(self, frames):
        self.socket.send_multipart(frames)
        self.last_sent = time.monotonic()


class Credit:
    """protocol.md 3.7, as examples/python_worker.py does it: with no broker asking, every
    broker may use all free slots; once some ask, all free slots go to one of those, in turn
    (starting after the one given the last turn), and every other broker may send nothing
    more. (With capacity > 1 the spec shares the free slots one by one among the askers;
    giving them all to one asker at a time is simpler and never over capacity.)"""

    def __init__(self, brokers, capacity):
        self.brokers = brokers
        self.capacity = capacity
        self.held = []  # (conversation, address) of each job in hand, from any broker
        self.owner = None  # index of the broker granted the free slots while some ask
        self.last_given = len(brokers) - 1

    def limits(self):
        jobs = [sum(1 for conversation, _ in self.held if conversation == b.conversation)
                for b in self.brokers]
        free = max(self.capacity - len(self.held), 0)
        wanting = [i for i, b in enumerate(self.brokers) if b.socket and b.demand]
        if not free or not wanting:
            self.owner = None
            return [jobs[i] + free for i in range(len(self.brokers))]
        if self.owner not in wanting:
            count = len(self.brokers)
            self.owner = next(i for i in ((self.last_given + k) % count
                                          for k in range(1, count + 1)) if i in wanting)
            self.last_given = self.owner
        return [jobs[i] + (free if i == self.owner else 0) for i in range(len(self.brokers))]

    def tell(self, lowered):
        """CREDIT to each broker whose limit went down (lowered) or up (not lowered)."""
        for broker, limit in zip(self.brokers, self.limits()):
            if broker.socket and limit != broker.limit and (limit < broker.limit) == lowered:
                broker.send([W, CREDIT, str(limit).encode()])
                broker.limit = limit

    def tell_all(self):
        self.tell(lowered=True)
        self.tell(lowered=False)


class Events:
    """SLOWLANE_EVENTS_FD: one ASCII byte per event for whoever started us (the supervisor's
    program: handler). A failed write is logged once and then ignored."""

    def __init__(self, fd):
        self.fd = fd  # int or None
        self.lock = threading.Lock()

    def emit(self, byte):
        if self.fd is None:
            return
        with self.lock:
            try:
                os.write(self.fd, byte)
            except OSError as error:
                log.warning("events fd=%d write failed, events off: %s", self.fd, error)
                self.fd = None


class Worker:
    """The composition of one worker process: config in, serve() until SIGTERM."""

    def __init__(self, app, config):
        self.app = app
        self.config = config  # __main__.Config, read-only
        self.events = Events(config.events_fd)
        self.context = zmq.Context()
        self.jobs = queue.Queue()  # (conversation, address, Request) for the handler threads
        self.stop = threading.Event()  # set by SIGTERM/SIGINT: drain

    def drain_on_signals(self):
        """SIGTERM and SIGINT start the drain. Once it is under way the same signal is
        ignored: at interpreter exit Python puts back the default action of the signals it
        handled, so a second SIGTERM then (a supervisor's, a test's) killed a process that
        had drained cleanly. SIGKILL still ends it. Call from the main thread."""
        def drain(signum, _frame):
            self.stop.set()
            signal.signal(signum, signal.SIG_IGN)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, drain)

    # --- handler threads -------------------------------------------------------------

    def _handler_thread(self):
        out = self.context.socket(zmq.PUSH)
        out.linger = -1
        out.connect(DONE_ENDPOINT)
        while True:
            item = self.jobs.get()
            if item is None:
                break
            conversation, address, request = item
            tag = [str(conversation).encode(), address]

            def send(command, frames, tag=tag):
                out.send_multipart([b"F" if command == runner.FINAL else b"P"] + tag + frames)

            extra = {"slowlane.request_id": request.request_id,
                     "slowlane.timeout_ms": request.timeout_ms,
                     "slowlane.service": self.config.service,
                     "slowlane.worker": self.config.identity,
                     "slowlane.progress": lambda note: None}
            if request.header(envelope.JOB_RUN_HEADER) is not None:
                # protocol.md 4.6: one progress envelope with an empty note as the job starts
                def progress(note, send=send):
                    send(runner.PARTIAL, envelope.progress_envelope(self.config.identity, note))
                progress("")
                extra["slowlane.progress"] = progress
            environ = envelope.build_environ(request, self.config.capacity > 1, extra)
            self.events.emit(b"S")
            runner.run(self.app, request, send, environ)
        out.close()

    # --- the I/O loop ----------------------------------------------------------------
    def serve(self):
        """Runs until stop is set and every job in hand has sent its FINAL; returns 0."""
        config = self.config
        beat = config.heartbeat_ms / 1000
        brokers = [Broker(endpoint) for endpoint in config.brokers]
        several = len(brokers) > 1  # one broker: plain RFC 18 (capacity 1) or 3.6, never 3.7
        credit = Credit(brokers, config.capacity)
        conversations = itertools.count(1)
        done = self.context.socket(zmq.PULL)
        done.bind(DONE_ENDPOINT)
        threads = [threading.Thread(target=self._handler_thread, daemon=True,
                                    name=f"slowlane-wsgi-handler-{i}")
                   for i in range(config.capacity)]
        for thread in threads:
            thread.start()

        def hang_up(broker, now):
            broker.socket.close()
            broker.socket, broker.demand = None, False
            if broker.answered:
                broker.backoff = BACKOFF_FIRST
            broker.retry_at = now + broker.backoff
            broker.backoff = min(broker.backoff * 2, BACKOFF_MAX)
            if several:
                credit.tell_all()

        while not (self.stop.is_set() and not credit.held):
            now = time.monotonic()
            for broker in brokers:  # (re)connect: a new socket per conversation (RFC 18)
                if broker.socket is None and now >= broker.retry_at and not self.stop.is_set():
                    broker.conversation = next(conversations)
                    broker.answered = False
                    broker.socket = self.context.socket(zmq.DEALER)
                    broker.socket.linger = 0
                    broker.socket.setsockopt(zmq.IDENTITY, config.identity.encode())
                    if config.curve:  # before connect: CURVE is set per connection
                        broker.socket.curve_publickey = config.curve.public
                        broker.socket.curve_secretkey = config.curve.secret
                        broker.socket.curve_serverkey = config.curve.servers[
                            brokers.index(broker)]
                    broker.socket.connect(broker.endpoint)
                    ready = [W, READY, config.service.encode()]
                    if config.capacity > 1:
                        ready.append(b"capacity=%d" % config.capacity)
                    if several:  # 3.7: every READY states the current grant
                        broker.limit = credit.limits()[brokers.index(broker)]
                        ready.append(b"credit=%d" % broker.limit)
                    broker.send(ready)
                    broker.last_heard = broker.last_sent
                    log.debug("broker=%s READY sent", broker.endpoint)
            live = [b for b in brokers if b.socket]
            poller = zmq.Poller()
            for broker in live:
                poller.register(broker.socket, zmq.POLLIN)
            poller.register(done, zmq.POLLIN)
            wake = min([b.last_sent + beat for b in live] +
                       [b.retry_at for b in brokers if not b.socket] + [now + beat])
            events = dict(poller.poll(max(0, int((wake - time.monotonic()) * 1000)) or 1))
            while done in events:  # replies from handler threads, all that are waiting
                command, conversation, address, *frames = done.recv_multipart()
                owner = [b for b in live if b.conversation == int(conversation)]
                if command == b"P":
                    if owner:
                        owner[0].send([W, PARTIAL, address, b""] + frames)
                else:
                    credit.held.remove((int(conversation), address))
                    if several:  # 3.7: a lowered limit reaches a broker before the FINAL
                        credit.tell(lowered=True)
                    if owner:
                        owner[0].send([W, FINAL, address, b""] + frames)
                    else:
                        log.warning("reply dropped: its broker connection is gone")
                    self.events.emit(b"E")
                    if several:
                        credit.tell(lowered=False)
                if not done.poll(0, zmq.POLLIN):
                    break
            for broker in live:
                if broker.socket not in events:
                    continue
                frames = broker.socket.recv_multipart()
                broker.last_heard = time.monotonic()  # any command from a broker is a heartbeat
                if not broker.answered:
                    broker.answered = True
                    broker.backoff = BACKOFF_FIRST
                    self.events.emit(b"R")
                    log.info("broker=%s registered service=%s", broker.endpoint, config.service)
                if len(frames) < 2 or frames[0] != W:
                    continue  # not MDP/0.2: drop it
                if frames[1] == REQUEST and len(frames) >= 4:  # MDPW02|0x02|address|""|body
                    address = frames[2]
                    if len(credit.held) >= config.capacity or self.stop.is_set():
                        if several:  # 3.7: not started, back at once
                            broker.send([W, HANDBACK, address, b""])
                            broker.demand = True
                            broker.limit = sum(1 for c, _ in credit.held
                                               if c == broker.conversation)
                        # one broker while draining: it crossed our DISCONNECT (3.5)
                    else:
                        credit.held.append((broker.conversation, address))
                        self.jobs.put((broker.conversation, address,
                                       envelope.parse_request(frames[4:])))
                    if several:
                        credit.tell_all()
                elif frames[1] == DEMAND and several and len(frames) == 3:
                    broker.demand = frames[2] == b"1"
                    credit.tell_all()
                elif frames[1] == DISCONNECT:
                    log.info("broker=%s sent DISCONNECT", broker.endpoint)
                    hang_up(broker, time.monotonic())
            now = time.monotonic()
            for broker in brokers:
                if broker.socket is None:
                    continue
                if now - broker.last_heard > beat * config.liveness:
                    log.warning("broker=%s silent for %d heartbeats: reconnecting",
                                broker.endpoint, config.liveness)
                    hang_up(broker, now)
                elif now - broker.last_sent >= beat:
                    broker.send([W, HEARTBEAT])
        # Drained: every started job sent its FINAL (3.5), so DISCONNECT may go now
        for broker in brokers:
            if broker.socket is not None:
                broker.send([W, DISCONNECT])
                broker.socket.close(linger=1000)  # let the DISCONNECT leave
        for _ in threads:
            self.jobs.put(None)
        for thread in threads:
            thread.join(1.0)
        done.close()
        self.context.term()
        log.info("drained, exiting")
        return 0
