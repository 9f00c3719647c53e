"""OpenIGTLink endpoints: a client that reconnects with backoff and a loopback-first server.

Each connection has one reader thread that validates and decodes messages and hands
them to ``on_message`` straight away (no polling), so latency is one socket read plus
decoding. Framing errors (bad header, oversized body, stalled peer) close the
connection because the byte stream can no longer be trusted; message errors (bad CRC,
unknown type, malformed body) reject that message and keep reading. Every rejection is
counted in :class:`LinkCounters`.

Bounded against hostile peers (issue #21): a body is read in chunks of at most
``READ_CHUNK`` bytes and grows only as data actually arrives (a header announcing
64 MiB costs nothing until 64 MiB are sent); a server accepts at most
``max_connections`` peers at a time (one reader thread each; further peers are refused
and counted) and drops a peer silent for ``idle_timeout`` seconds; a TRANSFORM that is
not a rigid motion (non-finite, a rotation part that is not orthonormal, e.g. 1e38s or
zeros) is rejected and counted, with at most one warning per peer every
``WARN_EVERY_S`` seconds.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sim.twin import igtl_wire as wire
from sim.twin.errors import LinkError, ProtocolError
from sim.twin.netio import WarningThrottle, send_all

log = logging.getLogger(__name__)

DEFAULT_PORT = 18944
BODY_TIMEOUT_S = 5.0  # a peer that stalls mid-message this long is dropped
READ_CHUNK = 1 << 20  # bodies grow by at most this much per read
MAX_CONNECTIONS = 16  # peers a server serves at once (PLUS, Slicer …: one or two)
IDLE_TIMEOUT_S = 300.0  # a server drops a peer that sent nothing for this long
WARN_EVERY_S = 10.0  # per peer: repeated rejection warnings are logged at most this often

OnMessage = Callable[[wire.Message], None]


@dataclass
class LinkCounters:
    received: int = 0
    sent: int = 0
    rejected_crc: int = 0
    rejected_malformed: int = 0
    rejected_unknown_type: int = 0
    rejected_not_rigid: int = 0
    dropped_connections: int = 0
    dropped_idle: int = 0
    refused_connections: int = 0  # beyond max_connections
    connects: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def exposure_warning(host: str) -> str | None:
    """A warning when ``host`` is reachable from other machines (IGTL is unencrypted)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (f"OpenIGTLink on {host} is reachable from the network and is not encrypted; "
            "anyone on it can read and inject poses. Use 127.0.0.1 unless you need otherwise.")


class _Idle(Exception):
    """The peer sent nothing for the idle timeout."""


def _recv_exact(sock: socket.socket, n: int, deadline: float | None,
                idle: float | None = None) -> bytes:
    """Read exactly n bytes; b'' when the peer closed before the first byte.

    Memory follows the data that actually arrives (chunks of ``READ_CHUNK``), never what
    a header announces. ``deadline``: the whole read must finish by then (mid-message
    stall); ``idle``: without a deadline, give up (``_Idle``) if the first byte takes
    longer than this."""
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError("The OpenIGTLink peer stalled in the middle of a message.")
            sock.settimeout(remaining)
        else:
            sock.settimeout(idle if not buf else BODY_TIMEOUT_S)
        try:
            chunk = sock.recv(min(n - len(buf), READ_CHUNK))
        except TimeoutError:
            if deadline is None and not buf:
                raise _Idle from None
            raise ProtocolError("The OpenIGTLink peer stalled in the middle of a message.") \
                from None
        if not chunk:
            if not buf:
                return b""
            raise ConnectionError("peer closed mid-message")
        if not buf and len(chunk) == n:
            return chunk
        buf += chunk
    return bytes(buf)


class _Connection:
    """One socket with its reader thread."""

    def __init__(self, sock: socket.socket, owner: _Endpoint, peer: str = "peer") -> None:
        self.sock = sock
        self.owner = owner
        self.peer = peer
        self.send_lock = threading.Lock()
        self._warnings = WarningThrottle(WARN_EVERY_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.thread = threading.Thread(target=self._read_loop, daemon=True,
                                       name="igtl-reader")

    def warn(self, kind: str, text: str) -> None:
        """Log a warning about this peer, at most once per ``WARN_EVERY_S`` per kind."""
        more = self._warnings.allow(kind)
        if more is not None:
            log.warning("OpenIGTLink %s: %s%s", self.peer, text, more)

    def _read_loop(self) -> None:
        owner, counters = self.owner, self.owner.counters
        try:
            while not owner.stopping:
                raw = _recv_exact(self.sock, wire.HEADER_SIZE, None, owner.idle_timeout)
                if not raw:
                    break
                header = wire.parse_header(raw, owner.max_body)
                body = _recv_exact(self.sock, header.body_size,
                                   time.monotonic() + BODY_TIMEOUT_S)
                if len(body) != header.body_size:
                    break
                try:
                    msg = wire.decode(header, body)
                except ProtocolError as exc:
                    text = str(exc)
                    if "CRC" in text:
                        counters.rejected_crc += 1
                    elif "not supported" in text and header.type not in wire.KNOWN_TYPES:
                        counters.rejected_unknown_type += 1
                    else:
                        counters.rejected_malformed += 1
                    self.warn("message", text)
                    owner.last_error = text
                    continue
                if msg.type == "TRANSFORM":
                    why = wire.pose_problem(msg.content, owner.scaled_pose(msg.device))
                    if why is not None:
                        counters.rejected_not_rigid += 1
                        text = (f"Rejected the pose of '{msg.device}' from {self.peer}: "
                                f"{why}.")
                        owner.last_error = text
                        self.warn("pose", text)
                        continue
                counters.received += 1
                owner.dispatch(msg)
        except _Idle:
            counters.dropped_idle += 1
            owner.last_error = (f"Dropped {self.peer}: it sent nothing for "
                                f"{owner.idle_timeout:g} s.")
            log.info("%s", owner.last_error)
        except ProtocolError as exc:  # framing can no longer be trusted
            counters.rejected_malformed += 1
            counters.dropped_connections += 1
            owner.last_error = str(exc)
            log.warning("Dropping OpenIGTLink connection: %s", exc)
        except OSError as exc:
            if not owner.stopping:
                log.info("OpenIGTLink connection closed: %s", exc)
        finally:
            self.close()
            owner.connection_closed(self)

    def send(self, data: bytes) -> None:
        with self.send_lock:
            send_all(self.sock, data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class _Endpoint:
    idle_timeout: float | None = None  # servers drop silent peers; clients wait

    def __init__(self, on_message: OnMessage | None, max_body: int) -> None:
        self.on_message = on_message
        self.max_body = max_body
        # Devices whose TRANSFORM places an image and may carry pixel spacing (set by the
        # owner, e.g. the instrument link's image poses); every other pose must be rigid.
        self.scaled_pose: Callable[[str], bool] = lambda device: False
        self.counters = LinkCounters()
        self.stopping = False
        self.last_error: str | None = None
        self._connections: list[_Connection] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()

    def dispatch(self, msg: wire.Message) -> None:
        if self.on_message is not None:
            try:
                self.on_message(msg)
            except Exception:  # a consumer bug must not kill the link
                log.exception("OpenIGTLink message handler failed")

    def _adopt(self, sock: socket.socket, peer: str = "peer") -> _Connection:
        conn = _Connection(sock, self, peer)
        with self._lock:
            self._connections.append(conn)
        self.counters.connects += 1
        self.connected.set()
        conn.thread.start()
        return conn

    def connection_closed(self, conn: _Connection) -> None:
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
            if not self._connections:
                self.connected.clear()

    @property
    def peers(self) -> int:
        return len(self._connections)

    def send(self, data: bytes) -> int:
        """Send an encoded message to every connected peer; returns how many got it."""
        delivered = 0
        for conn in list(self._connections):
            try:
                conn.send(data)
                delivered += 1
            except OSError:
                conn.close()
        self.counters.sent += delivered
        return delivered

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def _close_all(self) -> None:
        for conn in list(self._connections):
            conn.close()
        for conn in list(self._connections):
            if conn.thread is not threading.current_thread():
                conn.thread.join(2.0)


class IgtlServer(_Endpoint):
    """Listen for OpenIGTLink peers (PLUS, Slicer …); bound to loopback unless told otherwise."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 on_message: OnMessage | None = None,
                 max_body: int = wire.DEFAULT_MAX_BODY,
                 max_connections: int = MAX_CONNECTIONS,
                 idle_timeout: float | None = IDLE_TIMEOUT_S) -> None:
        super().__init__(on_message, max_body)
        if max_connections < 1 or (idle_timeout is not None and not idle_timeout > 0):
            raise LinkError("An OpenIGTLink server needs at least one connection and a "
                            "positive idle timeout.")
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._last_refusal_warning = -1e9
        self.host = host
        self.warning = exposure_warning(host)
        if self.warning:
            log.warning("%s", self.warning)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            self._listener.close()
            raise LinkError(f"Cannot listen for OpenIGTLink on {host}:{port}: "
                            f"{exc.strerror or exc}.") from None
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name="igtl-accept")
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self.stopping:
            try:
                sock, addr = self._listener.accept()
            except OSError:
                break
            if self.stopping:
                sock.close()
                break
            if self.peers >= self.max_connections:  # no thread, no buffer: closed at once
                with contextlib.suppress(OSError):
                    sock.close()
                self.counters.refused_connections += 1
                now = time.monotonic()
                if now - self._last_refusal_warning >= WARN_EVERY_S:
                    self._last_refusal_warning = now
                    log.warning("OpenIGTLink: refused a peer from %s:%s; %d connections are "
                                "open, the limit (%d refused so far)", addr[0], addr[1],
                                self.max_connections, self.counters.refused_connections)
                continue
            self._adopt(sock, f"{addr[0]}:{addr[1]}")

    def close(self) -> None:
        self.stopping = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(2.0)
        self._close_all()


class IgtlClient(_Endpoint):
    """Connect to an OpenIGTLink server and stay connected (exponential backoff on loss)."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 on_message: OnMessage | None = None, max_body: int = wire.DEFAULT_MAX_BODY,
                 backoff: tuple[float, float] = (0.05, 2.0)) -> None:
        super().__init__(on_message, max_body)
        self.host, self.port = host, port
        self.backoff_min, self.backoff_max = backoff
        self.warning = exposure_warning(host)
        self.attempts = 0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="igtl-client")
        self._thread.start()

    def _run(self) -> None:
        delay = self.backoff_min
        while not self.stopping:
            self.attempts += 1
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError as exc:
                self.last_error = f"Cannot reach {self.host}:{self.port}: {exc.strerror or exc}."
                self._wake.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_min
            conn = self._adopt(sock, f"{self.host}:{self.port}")
            conn.thread.join()
            if not self.stopping:
                self._wake.wait(delay)

    def close(self) -> None:
        self.stopping = True
        self._wake.set()
        self._close_all()
        self._thread.join(3.0)
