"""An MQTT connection that stays up: TLS, username/password, QoS 1, reconnect with backoff.

The session is persistent (``clean_session=False`` with a stable client id), so QoS 1
messages the broker accepted while we were away are delivered when we come back; we
resubscribe on every connect. Our own QoS 1 publications wait (bounded, see
``MAX_PENDING``) until the broker acknowledges them and are re-sent after a reconnect.
``on_message(topic, payload)`` runs on the link's network thread. The wire format is
in :mod:`sim.twin.mqtt_wire` (why we do not use paho-mqtt here is explained there).

Hostile or broken traffic never costs the connection (issue #21):

* a PUBLISH larger than ``max_packet`` is acknowledged and skipped as its bytes arrive
  (never buffered), counted in ``skipped_oversized`` and warned about. Dropping the
  connection instead would make the broker redeliver it to our persistent session
  forever, and nothing else would ever be recorded;
* a PUBLISH whose body contradicts its header is acknowledged, skipped and counted in
  ``skipped_malformed`` (its length is known, so the stream stays in step);
* a QoS 1 redelivery (DUP flag set) of a message received within ``dedupe_window``
  seconds (same topic and payload) is acknowledged but not passed on again, counted in
  ``duplicates``: after a broker restart or a lost PUBACK the history stores it once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import unquote, urlsplit

from sim.errors import InputError
from sim.twin import mqtt_wire as mw
from sim.twin.errors import LinkError, ProtocolError
from sim.twin.netio import WarningThrottle, send_all

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]
MAX_PENDING = 10_000  # unacknowledged QoS 1 publications kept for re-sending
DEDUPE_WINDOW_S = 600.0  # how long a received QoS 1 message is remembered for dedupe
DEDUPE_MAX = 200_000  # ... and at most this many (~30 MB); the oldest are forgotten first
WARN_EVERY_S = 10.0  # a repeated warning is logged at most this often (counted meanwhile)


@dataclass(frozen=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    @classmethod
    def from_url(cls, url: str, username: str | None = None, password: str | None = None,
                 ca_certs: str | None = None, certfile: str | None = None,
                 keyfile: str | None = None) -> BrokerConfig:
        """``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://…`` (TLS, default port 8883)."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise InputError(f"'{url}' is not a broker URL like mqtt://127.0.0.1:1883.")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise InputError(f"'{url}' has an invalid port.") from None
        return cls(parts.hostname, port, tls,
                   username or (unquote(parts.username) if parts.username else None),
                   password or (unquote(parts.password) if parts.password else None),
                   ca_certs, certfile, keyfile)

    def describe(self) -> str:
        """The URL without the password (safe to log and show)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


@dataclass
class MqttCounters:
    received: int = 0
    published: int = 0
    connects: int = 0
    disconnects: int = 0
    dropped_outgoing: int = 0  # QoS 0 while offline, or QoS 1 beyond MAX_PENDING
    skipped_oversized: int = 0  # incoming PUBLISH above max_packet: acknowledged, not used
    skipped_malformed: int = 0  # incoming PUBLISH contradicting its own header
    duplicates: int = 0  # QoS 1 redeliveries of a message already passed on

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PublishInfo:
    """Completion of one publication (QoS 1: the broker's PUBACK)."""

    def __init__(self) -> None:
        self.rc = 0
        self._done = threading.Event()

    def wait_for_publish(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def is_published(self) -> bool:
        return self._done.is_set()


class MqttLink:
    def __init__(self, config: BrokerConfig, on_message: OnMessage | None = None,
                 client_id: str | None = None, persistent: bool = True,
                 backoff: tuple[float, float] = (0.1, 5.0), keepalive: int = 30,
                 max_packet: int = mw.DEFAULT_MAX_PACKET,
                 dedupe_window: float = DEDUPE_WINDOW_S) -> None:
        self.config = config
        self.on_message = on_message
        self.client_id = client_id or f"twinsight-{uuid.uuid4().hex[:10]}"
        self.persistent = persistent
        self.backoff_min, self.backoff_max = backoff
        self.keepalive = keepalive
        self.max_packet = max_packet
        self.counters = MqttCounters()
        self.last_error: str | None = None
        self.connected = threading.Event()
        self._topics: dict[str, int] = {}
        self._unacked_subscriptions: set[int] = set()  # SUBSCRIBE packet ids without SUBACK
        self._subscribed = threading.Condition()
        self._pending: OrderedDict[int, tuple[bytes, PublishInfo]] = OrderedDict()
        self._next_id = 0
        self._lock = threading.Lock()  # guards the socket's writes and _pending
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._topic_cache: dict[bytes, str] = {}
        self.dedupe_window = dedupe_window
        self._seen: OrderedDict[tuple[bytes, int, int], float] = OrderedDict()
        self._skip = 0  # bytes of an oversized packet still to discard as they arrive
        self._warnings = WarningThrottle(WARN_EVERY_S)
        self._ssl = self._tls_context() if config.tls else None

    def _tls_context(self) -> ssl.SSLContext:
        c = self.config
        try:
            ctx = ssl.create_default_context(cafile=c.ca_certs)
            if c.certfile:
                ctx.load_cert_chain(c.certfile, c.keyfile)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise InputError(f"The TLS settings for {c.describe()} are unusable ({exc}).") \
                from None
        return ctx

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> MqttLink:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="mqtt")
        self._thread.start()
        return self

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    def require_connected(self, timeout: float = 10.0) -> None:
        if not self.wait_connected(timeout):
            why = f" ({self.last_error})" if self.last_error else ""
            raise LinkError(f"Cannot connect to the MQTT broker {self.config.describe()}{why}.")

    def close(self) -> None:
        self._stopping.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError), self._lock:
                send_all(sock, mw.DISCONNECT_PACKET)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self.connected.clear()

    # -- traffic --------------------------------------------------------------------------
    def subscribe(self, topics: list[str] | str, qos: int = 1,
                  wait: float | None = None) -> bool:
        """Subscribe (now if connected, else on connecting); with ``wait``, return once the
        broker acknowledged every subscription (SUBACK) or ``wait`` seconds passed."""
        new = {}
        for t in [topics] if isinstance(topics, str) else topics:
            if not t or len(t.encode()) > 65535 or "\0" in t:
                raise InputError(f"'{t}' is not a valid MQTT topic filter.")
            new[t] = min(max(int(qos), 0), 1)
        self._topics.update(new)
        if new and self.connected.is_set():
            pid = self._packet_id()
            with self._subscribed:
                self._unacked_subscriptions.add(pid)
            self._send(mw.subscribe(pid, new))
        return self.wait_subscribed(wait) if wait is not None else True

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        """True once connected with every subscription acknowledged by the broker (an event,
        not a sleep: what a test or a caller needs before it relies on receiving)."""
        deadline = time.monotonic() + timeout
        if not self.connected.wait(timeout):
            return False
        with self._subscribed:
            return self._subscribed.wait_for(lambda: not self._unacked_subscriptions,
                                             max(deadline - time.monotonic(), 0.0))

    def publish(self, topic: str, payload: bytes | str, qos: int = 1,
                retain: bool = False) -> PublishInfo:
        if not topic or any(c in topic for c in "#+"):
            raise InputError(f"'{topic}' is not a topic one can publish to.")
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        info = PublishInfo()
        if qos == 0:
            if self._send(mw.publish(topic, data, 0, retain=retain)):
                self.counters.published += 1
                info._done.set()
            else:
                self.counters.dropped_outgoing += 1
                info.rc = 4  # like paho's MQTT_ERR_NO_CONN
            return info
        with self._lock:
            pid = self._packet_id_locked()
            if len(self._pending) >= MAX_PENDING:
                self._pending.popitem(last=False)
                self.counters.dropped_outgoing += 1
            pkt = mw.publish(topic, data, 1, pid, retain)
            self._pending[pid] = (mw.publish(topic, data, 1, pid, retain, dup=True), info)
            sock = self._sock if self.connected.is_set() else None
            if sock is not None:
                with contextlib.suppress(OSError):  # re-sent after the reconnect
                    send_all(sock, pkt)
        self.counters.published += 1
        return info

    @property
    def pending(self) -> int:
        """QoS 1 publications the broker has not acknowledged yet."""
        return len(self._pending)

    def _packet_id_locked(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._pending:
                return self._next_id
        raise LinkError("No free MQTT packet identifier (65535 publications unacknowledged).")

    def _packet_id(self) -> int:
        with self._lock:
            return self._packet_id_locked()

    def _send(self, data: bytes) -> bool:
        with self._lock:
            sock = self._sock if self.connected.is_set() else None
            if sock is None:
                return False
            try:
                send_all(sock, data)
                return True
            except OSError:
                return False

    # -- network thread -------------------------------------------------------------------
    def _run(self) -> None:
        delay = self.backoff_min
        while not self._stopping.is_set():
            try:
                sock = self._open()
            except (OSError, ProtocolError, LinkError) as exc:
                if not isinstance(exc, LinkError):
                    self.last_error = f"{type(exc).__name__}: {exc}"
                self._stopping.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_min
            try:
                self._serve(sock)
            except (OSError, ProtocolError) as exc:
                if not self._stopping.is_set():
                    self.last_error = str(exc) or type(exc).__name__
                    log.info("MQTT connection lost (%s); reconnecting with backoff", exc)
            finally:
                was = self.connected.is_set()
                self.connected.clear()
                self._sock = None
                with contextlib.suppress(OSError):
                    sock.close()
                if was:
                    self.counters.disconnects += 1
            if not self._stopping.is_set():
                self._stopping.wait(delay)

    def _open(self) -> socket.socket:
        c = self.config
        raw = socket.create_connection((c.host, c.port), timeout=5.0)
        try:
            sock = self._ssl.wrap_socket(raw, server_hostname=c.host) if self._ssl else raw
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            send_all(sock, mw.connect(self.client_id, not self.persistent, self.keepalive,
                                    c.username, c.password))
            head = b""
            while len(head) < 4:
                chunk = sock.recv(4 - len(head))
                if not chunk:
                    raise ProtocolError("The broker closed the connection during CONNECT.")
                head += chunk
        except BaseException:
            raw.close()
            raise
        if head[0] != mw.CONNACK << 4 or head[1] != 2:
            sock.close()
            raise ProtocolError("The broker did not answer CONNECT with CONNACK.")
        if head[3] != 0:
            sock.close()
            reason = mw.CONNACK_REASONS.get(head[3], f"refused with code {head[3]}")
            if self.last_error != reason:  # say it once, not on every retry
                log.warning("MQTT broker %s refused us: %s", c.describe(), reason)
            self.last_error = reason
            raise LinkError(reason)
        with self._lock:
            self._sock = sock
            for pkt, _info in self._pending.values():  # unacknowledged QoS 1: send again
                send_all(sock, pkt)
            if self._topics:
                pid = self._packet_id_locked()
                with self._subscribed:  # what a dropped connection had asked for is moot
                    self._unacked_subscriptions = {pid}
                send_all(sock, mw.subscribe(pid, dict(self._topics)))
            self.connected.set()
        self.counters.connects += 1
        self.last_error = None
        return sock

    def _serve(self, sock: socket.socket) -> None:
        buf = bytearray()
        self._skip = 0
        tick = max(0.5, self.keepalive / 4)
        sock.settimeout(tick)
        last_rx = last_tx = time.monotonic()
        while not self._stopping.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                chunk = None
            except ssl.SSLWantReadError:
                chunk = None
            now = time.monotonic()
            if chunk is not None:
                if not chunk:
                    raise ConnectionError("the broker closed the connection")
                last_rx = now
                if self._skip:  # the rest of an oversized packet: discard, never buffer
                    k = min(self._skip, len(chunk))
                    self._skip -= k
                    chunk = chunk[k:]
                if chunk:
                    buf += chunk
                    used = self._dispatch(buf, now)
                    if used:
                        del buf[:used]
            if now - last_rx > 1.5 * self.keepalive:
                raise ConnectionError("the broker stopped answering")
            if now - last_tx >= self.keepalive / 2:
                self._send(bytes([mw.PINGREQ << 4, 0]))
                last_tx = now

    def warn(self, kind: str, text: str) -> None:
        """Log a warning, at most once per ``WARN_EVERY_S`` per kind (the rest counted)."""
        more = self._warnings.allow(kind)
        if more is not None:
            log.warning("MQTT %s: %s%s", self.config.describe(), text, more)

    def _skip_publish(self, first: int, buf: bytearray, i: int, end: int, why: str) -> bytes:
        """Acknowledge a PUBLISH we will not use; returns the PUBACK (or b'' for QoS 0)."""
        kind = "oversized" if why == "oversized" else "malformed"
        if kind == "oversized":
            self.counters.skipped_oversized += 1
            text = (f"skipped a message of {end - i} bytes (over the {self.max_packet}-byte "
                    "limit)")
        else:
            self.counters.skipped_malformed += 1
            text = f"skipped a malformed message ({why})"
        self.last_error = text
        self.warn(kind, text + "; recording continues")
        if first & 0x06 and end - i >= 2:
            tlen = (buf[i] << 8) | buf[i + 1]
            j = i + 2 + tlen
            if j + 2 <= min(end, len(buf)):
                return mw.puback((buf[j] << 8) | buf[j + 1])
        return b""

    def _is_duplicate(self, first: int, raw_topic: bytes, payload: bytes, now: float) -> bool:
        """Remember a QoS 1 message; True when it is a redelivery of one passed on already."""
        key = (raw_topic, len(payload), hash(payload))
        seen = self._seen
        if first & 0x08 and key in seen and now - seen[key] <= self.dedupe_window:
            return True
        seen[key] = now
        seen.move_to_end(key)
        while seen and (len(seen) > DEDUPE_MAX
                        or now - next(iter(seen.values())) > self.dedupe_window):
            seen.popitem(last=False)
        return False

    def _dispatch(self, buf: bytearray, now: float | None = None) -> int:
        """Handle every complete packet in ``buf``; returns the bytes consumed."""
        pos, acks = 0, []
        now = time.monotonic() if now is None else now
        on_message, cache, counters = self.on_message, self._topic_cache, self.counters
        n = len(buf)
        while True:
            found = mw.head(buf, pos)
            if found is None:
                break
            first, i, length = found
            kind = first >> 4
            end = i + length
            if length > self.max_packet:
                if kind != mw.PUBLISH:  # only a broken broker sends these: framing is lost
                    raise ProtocolError(f"An MQTT packet of {length} bytes exceeds the "
                                        f"{self.max_packet}-byte limit.")
                # Wait for the topic and packet id (at most 64 KiB) to acknowledge it.
                if n < i + 2:
                    break
                need = i + 2 + ((buf[i] << 8) | buf[i + 1]) + (2 if first & 0x06 else 0)
                if n < min(need, end):
                    break
                ack = self._skip_publish(first, buf, i, end, "oversized")
                if ack:
                    acks.append(ack)
                if end > n:  # the rest is discarded as it arrives (see _serve)
                    self._skip = end - n
                    pos = n
                    break
                pos = end
                continue
            if end > n:
                break
            if kind == mw.PUBLISH:
                tlen = (buf[i] << 8) | buf[i + 1] if end - i >= 2 else -1
                qos = (first >> 1) & 0x03
                if tlen < 0 or i + 2 + tlen + (2 if qos else 0) > end or qos == 3:
                    ack = self._skip_publish(
                        first, buf, i, end,
                        "QoS 3" if qos == 3 else "shorter than its topic header says")
                    if ack:
                        acks.append(ack)
                    pos = end
                    continue
                raw = bytes(buf[i + 2:i + 2 + tlen])
                topic = cache.get(raw)
                if topic is None:
                    topic = raw.decode("utf-8", errors="replace")
                    if len(cache) < 4096:
                        cache[raw] = topic
                j = i + 2 + tlen
                if qos:
                    acks.append(mw.puback((buf[j] << 8) | buf[j + 1]))
                    j += 2
                payload = bytes(buf[j:end])
                if qos and self._is_duplicate(first, raw, payload, now):
                    counters.duplicates += 1
                    pos = end
                    continue
                counters.received += 1
                if on_message is not None:
                    try:
                        on_message(topic, payload)
                    except Exception:  # a consumer bug must not kill the link
                        log.exception("MQTT message handler failed")
            elif kind == mw.PUBACK and end - i >= 2:
                with self._lock:
                    done = self._pending.pop((buf[i] << 8) | buf[i + 1], None)
                if done is not None:
                    done[1]._done.set()
            elif kind == mw.SUBACK and end - i >= 2:
                if any(c == 0x80 for c in buf[i + 2:end]):
                    self.last_error = "the broker refused a subscription"
                    log.warning("MQTT broker %s refused a subscription", self.config.describe())
                with self._subscribed:
                    self._unacked_subscriptions.discard((buf[i] << 8) | buf[i + 1])
                    self._subscribed.notify_all()
            pos = end
        if acks:
            self._send(b"".join(acks))
        return pos
