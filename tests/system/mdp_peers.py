"""mdp_peers: a third-party-style Majordomo library, written from the RFC text alone
(rfc.zeromq.org 7/MDP = MDP/0.1, 18/MDP = MDP/0.2, 8/MMI) and nothing of slowlane's.

It plays the "someone else's client or worker" in the interoperability tests: if slowlane's
broker talks to these, it talks to any peer that follows the RFCs. Each protocol step quotes
the clause it implements. Python 3 with python3-zmq; no slowlane code is imported."""
import threading
import time

import zmq

MDPC01 = b"MDPC01"
MDPW01 = b"MDPW01"
MDPC02 = b"MDPC02"
MDPW02 = b"MDPW02"

# RFC 7: "Frame 2: 0x01 (one byte, representing READY)" ... "0x05 ... DISCONNECT"
W01 = {"READY": b"\x01", "REQUEST": b"\x02", "REPLY": b"\x03", "HEARTBEAT": b"\x04",
       "DISCONNECT": b"\x05"}
# RFC 18: READY 0x01, REQUEST 0x02, PARTIAL 0x03, FINAL 0x04, HEARTBEAT 0x05, DISCONNECT 0x06
W02 = {"READY": b"\x01", "REQUEST": b"\x02", "PARTIAL": b"\x03", "FINAL": b"\x04",
       "HEARTBEAT": b"\x05", "DISCONNECT": b"\x06"}
# RFC 18 client: REQUEST 0x01, PARTIAL 0x02, FINAL 0x03
C02 = {"REQUEST": b"\x01", "PARTIAL": b"\x02", "FINAL": b"\x03"}


class ProtocolError(Exception):
    """A message from the broker that the RFC does not allow."""


class Mdp01Client:
    """MDP/0.1 client (RFC 7, MDP/Client)."""

    def __init__(self, endpoint, use_req_socket=False, context=None):
        self.endpoint = endpoint
        self.use_req = use_req_socket
        self.context = context or zmq.Context.instance()
        self.socket = None
        self._open()

    def _open(self):
        # RFC 7: "Clients SHOULD use a REQ socket when implementing a synchronous request-reply
        # pattern. ... Clients MAY use a DEALER (XREQ) socket when implementing an asynchronous
        # pattern. In that case the clients MUST create the empty frame 0 explicitly."
        self.socket = self.context.socket(zmq.REQ if self.use_req else zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(self.endpoint)

    def send(self, service, *body):
        # RFC 7: "A REQUEST command consists of a multipart message of 4 or more frames:
        # Frame 0: Empty (zero bytes, invisible to REQ application), Frame 1: "MDPC01",
        # Frame 2: Service name (printable string), Frames 3+: Request body (opaque binary)"
        frames = [MDPC01, service.encode(), *body]
        if not self.use_req:
            frames.insert(0, b"")
        self.socket.send_multipart(frames)

    def recv(self, service, timeout_ms=5000):
        """Returns the reply body frames, or None if no reply came within timeout_ms."""
        # RFC 7: "To use polling instead of blocking receives on the request socket. If there
        # is no reply within some timeout, to close the request socket and open a new socket"
        if not self.socket.poll(timeout_ms, zmq.POLLIN):
            self.socket.close()
            self._open()
            return None
        frames = self.socket.recv_multipart()
        if not self.use_req:
            # "Frame 0: Empty (zero bytes, invisible to REQ application)"
            if not frames or frames[0] != b"":
                raise ProtocolError(f"REPLY without empty frame 0: {frames!r}")
            frames = frames[1:]
        # RFC 7 REPLY: "Frame 1: "MDPC01" ... Frame 2: Service name ... Frames 3+: Reply body"
        if len(frames) < 2 or frames[0] != MDPC01:
            raise ProtocolError(f"not an MDPC01 REPLY: {frames!r}")
        if frames[1] != service.encode():
            raise ProtocolError(f"REPLY for service {frames[1]!r}, asked {service!r}")
        return frames[2:]

    def request(self, service, *body, timeout_ms=5000):
        # RFC 7: "MDP/Client is a strictly synchronous dialog initiated by the client:
        # C: REQUEST, B: REPLY"
        self.send(service, *body)
        return self.recv(service, timeout_ms)

    def close(self):
        self.socket.close()


class Mdp02Client:
    """MDP/0.2 client (RFC 18, MDP/Client)."""

    def __init__(self, endpoint, context=None):
        self.context = context or zmq.Context.instance()
        # RFC 18: "Clients MUST use a DEALER socket."
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(endpoint)

    def send(self, service, *body):
        # RFC 18: "A REQUEST command consists of a multipart message of 4 or more frames:
        # Frame 0: "MDPC02", Frame 1: 0x01 (REQUEST), Frame 2: Service name, Frames 3+: body"
        self.socket.send_multipart([MDPC02, C02["REQUEST"], service.encode(), *body])

    def recv(self, timeout_ms=5000):
        """Returns ("PARTIAL"|"FINAL", service, body frames) or None on timeout."""
        if not self.socket.poll(timeout_ms, zmq.POLLIN):
            return None
        frames = self.socket.recv_multipart()
        # RFC 18: PARTIAL/FINAL "consists of a multipart message of 4 or more frames":
        # "MDPC02", 0x02 or 0x03, service name, reply body.
        if len(frames) < 3 or frames[0] != MDPC02:
            raise ProtocolError(f"not an MDPC02 message: {frames!r}")
        for name in ("PARTIAL", "FINAL"):
            if frames[1] == C02[name]:
                return name, frames[2].decode(), frames[3:]
        raise ProtocolError(f"client got command {frames[1]!r}: only PARTIAL/FINAL allowed")

    def request(self, service, *body, timeout_ms=5000):
        """Returns (list of PARTIAL bodies, FINAL body), or None on timeout."""
        self.send(service, *body)
        partials = []
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            reply = self.recv(max(left, 0))
            if reply is None:
                return None
            command, reply_service, reply_body = reply
            if reply_service != service:
                raise ProtocolError(f"reply for {reply_service!r}, asked {service!r}")
            # RFC 18: "The client MUST be prepared to handle zero or more PARTIAL commands
            # from the broker. After a FINAL command, the broker SHALL not send any further
            # commands to the client."
            if command == "PARTIAL":
                partials.append(reply_body)
            else:
                return partials, reply_body

    def close(self):
        self.socket.close()


class MdpWorker:
    """An MDP worker (version 1 = RFC 7, 2 = RFC 18) serving one service on its own thread.

    handler(body_frames) returns a list of replies, each a list of frames. MDP/0.1 allows
    exactly one; for MDP/0.2 all but the last go out as PARTIAL and the last as FINAL.
    The thread records what it saw so tests can check the broker's side of the dialog."""

    def __init__(self, endpoint, service, version, handler=None, heartbeat_ms=1000, liveness=3,
                 reconnect_ms=None, context=None):
        assert version in (1, 2)
        self.endpoint = endpoint
        self.service = service
        self.version = version
        self.handler = handler or (lambda body: [body])
        self.heartbeat_s = heartbeat_ms / 1000
        self.liveness = liveness
        self.reconnect_s = (reconnect_ms if reconnect_ms is not None else heartbeat_ms) / 1000
        self.context = context or zmq.Context.instance()
        self.commands = W01 if version == 1 else W02
        self.names = {value: name for name, value in self.commands.items()}
        self.socket = None
        # What the broker did, for the tests (appended by the worker thread only).
        self.heartbeats = []      # monotonic times of HEARTBEATs received
        self.disconnects = []     # monotonic times of DISCONNECTs received
        self.registrations = 0    # READYs sent (one per connection)
        self.beats_sent = 0       # HEARTBEATs sent
        self.requests = []        # request bodies handled
        self.errors = []          # protocol errors seen
        self.frozen = threading.Event()   # set: behave like a SIGSTOPped process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"mdp{version}-worker-{service}")

    # -- framing ---------------------------------------------------------------------------
    def _send(self, command, *frames):
        if self.version == 1:
            # RFC 7: "MD/Worker commands all start with an empty frame to allow consistent
            # processing of client and worker frames in a broker, over a single socket."
            message = [b"", MDPW01, self.commands[command], *frames]
        else:
            # RFC 18: "(b) removal of empty frames at start of commands."
            message = [MDPW02, self.commands[command], *frames]
        self.socket.send_multipart(message)
        self._last_sent = time.monotonic()
        if command == "HEARTBEAT":
            self.beats_sent += 1

    def _parse(self, frames):
        """Returns (command name, rest) or raises ProtocolError."""
        if self.version == 1:
            if len(frames) < 3 or frames[0] != b"" or frames[1] != MDPW01:
                raise ProtocolError(f"not an MDPW01 command: {frames!r}")
            frames = frames[2:]
        elif len(frames) < 2 or frames[0] != MDPW02:
            raise ProtocolError(f"not an MDPW02 command: {frames!r}")
        else:
            frames = frames[1:]
        name = self.names.get(frames[0])
        if name is None:
            raise ProtocolError(f"unknown command byte {frames[0]!r}")
        return name, frames[1:]

    # -- connection ------------------------------------------------------------------------
    def _connect(self):
        # RFC 7/18: "The worker opens the connection to the broker by creating a new socket,
        # connecting it, and then sending a READY command to register a service."
        # "One worker MUST connect to exactly one broker using a single ØMQ DEALER socket."
        if self.socket is not None:
            self.socket.close()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(self.endpoint)
        # RFC 7: READY = Empty, "MDPW01", 0x01, Service name; RFC 18: "MDPW02", 0x01, Service
        self._send("READY", self.service.encode())
        self.registrations += 1
        self._last_heard = time.monotonic()

    def _handle(self, name, frames):
        if name == "REQUEST":
            # RFC 7: "Frame 3: Client address (envelope stack), Frame 4: Empty (zero bytes,
            # envelope delimiter), Frames 5+: Request body"; RFC 18 the same from Frame 2.
            # "The REQUEST and the REPLY commands MUST contain precisely one client address
            # frame. This frame MUST be followed by an empty (zero sized) frame."
            if len(frames) < 2 or frames[1] != b"":
                raise ProtocolError(f"REQUEST without address + empty frame: {frames!r}")
            address, body = frames[0], frames[2:]
            self.requests.append(body)
            replies = self.handler(body)
            if self.version == 1:
                # RFC 7: "Workers ... will issue exactly one reply for each successful request."
                assert len(replies) == 1, "MDP/0.1 has exactly one REPLY per REQUEST"
                self._send("REPLY", address, b"", *replies[0])
            else:
                # RFC 18: "The worker SHALL send zero or more PARTIAL commands for a single
                # REQUEST, followed by exactly one FINAL command."
                for partial in replies[:-1]:
                    self._send("PARTIAL", address, b"", *partial)
                self._send("FINAL", address, b"", *replies[-1])
        elif name == "HEARTBEAT":
            self.heartbeats.append(time.monotonic())
        elif name == "DISCONNECT":
            # RFC 7/18: "When the worker receives DISCONNECT it must send no further commands
            # to the broker; it MUST close its socket, and reconnect to the broker on a new
            # socket."
            self.disconnects.append(time.monotonic())
            self.socket.close()
            self.socket = None
            if self._stop.wait(self.reconnect_s):
                return
            self._connect()
        else:
            # Only REQUEST, HEARTBEAT and DISCONNECT travel broker -> worker.
            raise ProtocolError(f"broker sent {name} to a worker")

    def _run(self):
        self._connect()
        while not self._stop.is_set():
            if self.frozen.is_set():
                # Silent and deaf, as a stopped process: no heartbeats, nothing read.
                self._stop.wait(0.01)
                self._last_heard = time.monotonic()
                continue
            now = time.monotonic()
            wait = max(0.0, self._last_sent + self.heartbeat_s - now)
            if self.socket.poll(int(wait * 1000) + 1, zmq.POLLIN):
                frames = self.socket.recv_multipart()
                # RFC 7/18: "Any received command except DISCONNECT acts as a heartbeat."
                self._last_heard = time.monotonic()
                try:
                    self._handle(*self._parse(frames))
                except ProtocolError as error:
                    # The RFC has the broker drop invalid messages; a worker does the same.
                    self.errors.append(str(error))
                if self.socket is None:
                    break  # stopped while waiting to reconnect
            now = time.monotonic()
            # RFC 7/18: "A peer MUST consider the other peer "disconnected" if no heartbeat
            # arrives within some multiple of that interval (usually 3-5)." ... "If the worker
            # detects that the broker has disconnected, it SHOULD restart a new conversation."
            if now - self._last_heard > self.heartbeat_s * self.liveness:
                self._connect()
                continue
            # RFC 7/18: "Both broker and worker MUST send heartbeats at regular and agreed-upon
            # intervals." and "Peers SHOULD NOT send HEARTBEAT commands while also sending
            # other commands": only when nothing else went out for an interval.
            if now - self._last_sent >= self.heartbeat_s:
                self._send("HEARTBEAT")
        if self.socket is not None:
            # RFC 7/18: "The worker MAY send DISCONNECT at any time, including before READY."
            self._send("DISCONNECT")
            self.socket.close()

    # -- manual use, without the thread (for out-of-order commands) ------------------------
    def open(self):
        """Connects and sends READY from the calling thread; do not also call start()."""
        self._connect()
        return self

    def command(self, name, *frames):
        """Sends one command by name ("HEARTBEAT", "FINAL", ...) with the given frames."""
        self._send(name, *frames)

    def receive(self, timeout_ms=5000):
        """Returns (command name, frames after the command byte) or None on timeout."""
        if not self.socket.poll(timeout_ms, zmq.POLLIN):
            return None
        return self._parse(self.socket.recv_multipart())

    def close(self):
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    # -- control from the test thread --------------------------------------------------------
    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(10)


class _TestBroker:
    """A ROUTER on a free loopback port and a thread running the subclass's run() until
    close(). `readies` keeps every READY as received (the frames after the routing id)."""

    def __init__(self, heartbeat_s):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.linger = 0
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.heartbeat_s = heartbeat_s
        self.readies = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        raise NotImplementedError

    def close(self):
        self.stopping = True
        self.thread.join()
        self.socket.close()
        self.context.term()


class Mdp02Broker(_TestBroker):
    """A minimal RFC 18 broker, for the SDKs' tests against a broker that is not slowlane's:
    READY, client REQUEST to an idle worker of its service, PARTIAL and FINAL back to the
    client, HEARTBEAT to idle workers. No MMI, no expiry, no slowlane extension."""

    def __init__(self, heartbeat_s=0.1):
        super().__init__(heartbeat_s)
        self.thread.start()

    def run(self):
        waiting = []  # (client, service, body)
        idle = []  # (worker, service)
        serving = {}  # worker -> service, for its PARTIAL and FINAL
        last_beat = 0.0
        while not self.stopping:
            if self.socket.poll(50, zmq.POLLIN):
                sender, *frames = self.socket.recv_multipart()
                # RFC 18: "REQUEST ... Frame 2: Service name ... Frames 3+: Request body"
                if frames[:2] == [MDPC02, C02["REQUEST"]] and len(frames) >= 3:
                    waiting.append((sender, frames[2], frames[3:]))
                elif frames[:2] == [MDPW02, W02["READY"]] and len(frames) >= 3:
                    self.readies.append(frames)
                    serving[sender] = frames[2]
                    idle.append((sender, frames[2]))
                # "PARTIAL/FINAL ... Frame 2: Client address ... Frame 3: Empty ... Frames 4+"
                elif frames[:2] in ([MDPW02, W02["PARTIAL"]], [MDPW02, W02["FINAL"]]) \
                        and len(frames) >= 4 and sender in serving:
                    final = frames[1] == W02["FINAL"]
                    self.socket.send_multipart(
                        [frames[2], MDPC02, C02["FINAL" if final else "PARTIAL"],
                         serving[sender]] + frames[4:])
                    if final:
                        idle.append((sender, serving[sender]))
                elif frames[:2] == [MDPW02, W02["DISCONNECT"]]:
                    idle = [(w, s) for w, s in idle if w != sender]
                    serving.pop(sender, None)
            for request in list(waiting):
                match = next((w for w in idle if w[1] == request[1]), None)
                if match is not None:
                    waiting.remove(request)
                    idle.remove(match)
                    self.socket.send_multipart([match[0], MDPW02, W02["REQUEST"], request[0],
                                                b""] + request[2])
            if time.monotonic() - last_beat > self.heartbeat_s:
                last_beat = time.monotonic()
                for worker, _ in idle:
                    self.socket.send_multipart([worker, MDPW02, W02["HEARTBEAT"]])



class Mdp01Broker(_TestBroker):
    """A minimal RFC 7 broker, to test slowlane's workers against a broker that speaks only
    MDP/0.1: READY, client REQUEST to an idle worker of its service, REPLY back to the client,
    HEARTBEAT to idle workers. No MMI, no expiry. `readies` keeps every READY as received
    (the frames after the routing id), `beats` counts worker HEARTBEATs, `invalid` counts the
    messages it could not read. on_invalid says what it does with one: "drop" (RFC 7: "The
    broker SHOULD respond to invalid messages by dropping them and treating that peer as
    invalid") or "disconnect" (a broker in the wild that answers with its own DISCONNECT)."""

    def __init__(self, heartbeat_s=0.1, on_invalid="drop"):
        super().__init__(heartbeat_s)
        self.on_invalid = on_invalid
        self.beats = 0
        self.invalid = 0
        self.thread.start()

    def _worker(self, worker, command, *frames):
        # RFC 7: "Frame 0: Empty frame, Frame 1: "MDPW01" (six bytes, representing MDP/Worker
        # v0.1), Frame 2: 0x02 (one byte, representing REQUEST)"
        self.socket.send_multipart([worker, b"", MDPW01, W01[command], *frames])

    def run(self):
        waiting = []  # (client, service, body)
        idle = []  # (worker, service)
        serving = {}  # worker -> service, for its REPLY
        last_beat = 0.0
        while not self.stopping:
            if self.socket.poll(50, zmq.POLLIN):
                sender, *frames = self.socket.recv_multipart()
                # RFC 7 client REQUEST: "Frame 0: Empty ... Frame 1: "MDPC01" ... Frame 2:
                # Service name ... Frames 3+: Request body"
                if frames[:2] == [b"", MDPC01] and len(frames) >= 3:
                    waiting.append((sender, frames[2], frames[3:]))
                # READY: "Frame 3: Service name (printable string)"
                elif frames[:3] == [b"", MDPW01, W01["READY"]] and len(frames) == 4:
                    self.readies.append(frames)
                    serving[sender] = frames[3]
                    idle.append((sender, frames[3]))
                # REPLY: "Frame 3: Client address (envelope stack) Frame 4: Empty (zero bytes,
                # envelope delimiter) Frames 5+: Reply body (opaque binary)"
                elif frames[:3] == [b"", MDPW01, W01["REPLY"]] and len(frames) >= 5 \
                        and sender in serving:
                    self.socket.send_multipart([frames[3], b"", MDPC01, serving[sender]] +
                                               frames[5:])
                    idle.append((sender, serving[sender]))
                elif frames[:3] == [b"", MDPW01, W01["HEARTBEAT"]] and sender in serving:
                    self.beats += 1
                elif frames[:3] == [b"", MDPW01, W01["DISCONNECT"]]:
                    idle = [(w, s) for w, s in idle if w != sender]
                    serving.pop(sender, None)
                else:
                    self.invalid += 1
                    if self.on_invalid == "disconnect":
                        self._worker(sender, "DISCONNECT")
            for request in list(waiting):
                match = next((w for w in idle if w[1] == request[1]), None)
                if match is not None:
                    waiting.remove(request)
                    idle.remove(match)
                    self._worker(match[0], "REQUEST", request[0], b"", *request[2])
            if time.monotonic() - last_beat > self.heartbeat_s:
                last_beat = time.monotonic()
                # RFC 7 heartbeating: "HEARTBEAT commands are valid at any time, after a
                # READY command"; this broker beats its idle workers at a fixed interval
                for worker, _ in idle:
                    self._worker(worker, "HEARTBEAT")

