"""The MQTT 3.1.1 packets the twin uses (CONNECT, SUBSCRIBE, PUBLISH, PUBACK, PING, DISCONNECT).

We speak the protocol ourselves instead of through paho-mqtt because paho reads each
packet with several small socket reads and wraps it in objects: on this class of
machine it tops out below 20,000 messages/s even with an empty callback. Here one
``recv`` of 64 KB is parsed in a tight loop. paho-mqtt and mosquitto are the
independent peers in the tests.
"""

from __future__ import annotations

import struct

from sim.twin.errors import ProtocolError

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
DEFAULT_MAX_PACKET = 1 << 20  # 1 MiB: far above any telemetry packet, bounds a hostile peer

CONNACK_REASONS = {
    1: "the broker does not accept MQTT 3.1.1",
    2: "the client identifier was rejected",
    3: "the broker is unavailable",
    4: "bad user name or password (not authorized)",
    5: "not authorized",
}


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else s
    if len(b) > 0xFFFF:
        raise ValueError("MQTT strings are limited to 65535 bytes")
    return struct.pack(">H", len(b)) + b


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + _remaining_length(len(body)) + body


def connect(client_id: str, clean_session: bool, keepalive: int, username: str | None,
            password: str | None) -> bytes:
    flags = (0x02 if clean_session else 0) | (0x80 if username else 0) | \
            (0x40 if username and password is not None else 0)
    body = _str("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive) + _str(client_id)
    if username:
        body += _str(username)
        if password is not None:
            body += _str(password)
    return packet(CONNECT << 4, body)


def subscribe(packet_id: int, topics: dict[str, int]) -> bytes:
    body = struct.pack(">H", packet_id) + b"".join(_str(t) + bytes([q]) for t, q in topics.items())
    return packet((SUBSCRIBE << 4) | 0x02, body)


def publish(topic: str, payload: bytes, qos: int, packet_id: int = 0, retain: bool = False,
            dup: bool = False) -> bytes:
    first = (PUBLISH << 4) | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = _str(topic) + (struct.pack(">H", packet_id) if qos else b"") + payload
    return packet(first, body)


def puback(packet_id: int) -> bytes:
    return bytes([PUBACK << 4, 2]) + struct.pack(">H", packet_id)


PINGREQ_PACKET = bytes([PINGREQ << 4, 0])
DISCONNECT_PACKET = bytes([DISCONNECT << 4, 0])


def head(buf: bytearray | bytes, start: int) -> tuple[int, int, int] | None:
    """Read the fixed header at ``start``: (first byte, body start, body length), or None
    if the header itself is incomplete. The body may not have arrived yet."""
    n = len(buf)
    i = start + 1
    length, mult = 0, 1
    while True:
        if i >= n:
            return None
        b = buf[i]
        i += 1
        length += (b & 0x7F) * mult
        if b < 0x80:
            break
        mult *= 128
        if mult > 128 ** 3:
            raise ProtocolError("An MQTT packet has an invalid remaining length.")
    return buf[start], i, length


def split(buf: bytearray | bytes, start: int, max_packet: int) -> tuple[int, int, int] | None:
    """Locate one packet at ``start``: (first byte, body start, body end) or None if incomplete."""
    found = head(buf, start)
    if found is None:
        return None
    first, i, length = found
    if length > max_packet:
        raise ProtocolError(f"An MQTT packet of {length} bytes exceeds the {max_packet}-byte "
                            "limit.")
    end = i + length
    return None if end > len(buf) else (first, i, end)
