"""An MQTT connection (paho-mqtt) that stays up: TLS, username/password, QoS 1, backoff.

The session is persistent (``clean_session=False`` with a stable client id), so
QoS 1 messages the broker accepted while we were away are delivered when we come
back; paho reconnects with exponential backoff and we resubscribe on every connect.
Callbacks run on paho's network thread.
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from sim.errors import InputError
from sim.twin.errors import LinkError

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]


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

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class MqttLink:
    def __init__(self, config: BrokerConfig, on_message: OnMessage | None = None,
                 client_id: str | None = None, persistent: bool = True,
                 backoff: tuple[float, float] = (0.1, 5.0), keepalive: int = 30) -> None:
        self.config = config
        self.on_message = on_message
        self.client_id = client_id or f"twinsight-{uuid.uuid4().hex[:10]}"
        self.counters = MqttCounters()
        self.last_error: str | None = None
        self.connected = threading.Event()
        self._topics: dict[str, int] = {}
        self._keepalive = keepalive
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        clean_session=not persistent)
        c.reconnect_delay_set(backoff[0], backoff[1])  # paho accepts float seconds
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        if config.username:
            c.username_pw_set(config.username, config.password)
        if config.tls:
            try:
                c.tls_set(ca_certs=config.ca_certs, certfile=config.certfile,
                          keyfile=config.keyfile, cert_reqs=ssl.CERT_REQUIRED)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise InputError(f"The TLS settings for {config.describe()} are unusable "
                                 f"({exc}).") from None
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> MqttLink:
        try:
            self.client.connect_async(self.config.host, self.config.port, self._keepalive)
        except (OSError, ValueError) as exc:
            raise LinkError(f"Cannot connect to {self.config.describe()}: {exc}.") from None
        self.client.loop_start()
        self._started = True
        return self

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    def require_connected(self, timeout: float = 10.0) -> None:
        if not self.wait_connected(timeout):
            why = f" ({self.last_error})" if self.last_error else ""
            raise LinkError(f"Cannot connect to the MQTT broker {self.config.describe()}{why}.")

    def close(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False
        self.connected.clear()

    # -- traffic --------------------------------------------------------------------------
    def subscribe(self, topics: list[str] | str, qos: int = 1) -> None:
        for t in [topics] if isinstance(topics, str) else topics:
            if not t or len(t.encode()) > 65535:
                raise InputError(f"'{t}' is not a valid MQTT topic filter.")
            self._topics[t] = qos
            if self.connected.is_set():
                self.client.subscribe(t, qos)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.counters.published += 1
        return info

    # -- paho callbacks (network thread) --------------------------------------------------
    def _on_connect(self, client, _userdata, flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            if self.last_error != str(reason_code):  # say it once, not on every retry
                log.warning("MQTT broker %s refused us: %s", self.config.describe(), reason_code)
            self.last_error = str(reason_code)
            return
        self.counters.connects += 1
        self.last_error = None
        if self._topics:
            client.subscribe([(t, q) for t, q in self._topics.items()])
        self.connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected:  # a refused connection keeps its more useful reason
            self.counters.disconnects += 1
            if reason_code.is_failure:
                self.last_error = str(reason_code)
                log.info("MQTT connection lost (%s); reconnecting with backoff", reason_code)

    def _on_message(self, _client, _userdata, msg: mqtt.MQTTMessage) -> None:
        self.counters.received += 1
        if self.on_message is not None:
            try:
                self.on_message(msg.topic, msg.payload)
            except Exception:  # a consumer bug must not kill the network thread
                log.exception("MQTT message handler failed")
