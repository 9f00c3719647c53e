"""Our MQTT packet code against hostile input, and a broker that sends garbage."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.twin import mqtt_wire as mw
from sim.twin.errors import ProtocolError
from sim.twin.mqtt_link import BrokerConfig, MqttLink


def test_publish_packet_round_trip():
    pkt = mw.publish("a/b", b"42", 1, packet_id=7)
    first, i, end = mw.split(pkt, 0, 1000)
    assert first >> 4 == mw.PUBLISH and (first >> 1) & 3 == 1 and end == len(pkt)
    assert pkt[i + 2:i + 5] == b"a/b" and pkt[i + 5:i + 7] == b"\x00\x07" and pkt[-2:] == b"42"
    big = mw.publish("t", b"x" * 20000, 0)
    assert mw.split(big, 0, 1 << 20)[2] == len(big)
    assert mw.split(big[:100], 0, 1 << 20) is None  # incomplete: wait for more bytes


def test_oversized_and_invalid_lengths_are_refused():
    with pytest.raises(ProtocolError, match="exceeds"):
        mw.split(mw.publish("t", b"x" * 5000, 0), 0, 1000)
    with pytest.raises(ProtocolError, match="remaining length"):
        mw.split(b"\x30\xff\xff\xff\xff\x01", 0, 1 << 30)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_split_of_random_bytes_never_crashes(data):
    try:
        found = mw.split(data, 0, 1 << 20)
    except ProtocolError:
        return
    if found is not None:
        assert found[1] <= found[2] <= len(data)


class FakeBroker:
    """Accepts the CONNECT, then sends what the test asks for."""

    def __init__(self, script: bytes) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.connections = 0
        self.received = bytearray()  # what the link sent after its CONNECT
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(1024)
            conn.sendall(bytes([0x20, 2, 0, 0]) + self.script)
            with contextlib.suppress(OSError):
                while chunk := conn.recv(65536):
                    self.received += chunk
            conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("script", [
    b"\x30\xff\xff\xff\xff\xff",  # remaining length that never ends
    b"\x90\xff\xff\xff\x7f",  # a 256 MB SUBACK: only a broken broker sends that
])
def test_garbage_from_the_broker_drops_the_connection_and_reconnects(script, wait_until):
    fake = FakeBroker(script)
    got = []
    link = MqttLink(BrokerConfig("127.0.0.1", fake.port), on_message=lambda t, p: got.append(p),
                    backoff=(0.02, 0.1)).start()
    try:
        assert wait_until(lambda: fake.connections >= 3, 10), "the link did not reconnect"
        assert link.last_error and got == []
    finally:
        link.close()
        fake.close()


def test_oversized_and_malformed_publishes_are_acknowledged_skipped_and_counted(wait_until,
                                                                              caplog):
    """Issue #21 item 7: dropping the connection made the broker redeliver forever."""
    script = (mw.publish("big", b"x" * 50_000, 1, 7)  # over the link's 1000-byte limit
              + b"\x32\x04\x00\x09ab"  # QoS 1 PUBLISH whose topic length overruns it
              + mw.publish("ok", b"1", 1, 8))
    fake = FakeBroker(script)
    got = []
    link = MqttLink(BrokerConfig("127.0.0.1", fake.port), max_packet=1000,
                    on_message=lambda t, p: got.append((t, p)), backoff=(0.02, 0.1)).start()
    try:
        assert wait_until(lambda: got == [("ok", b"1")], 5), got
        c = link.counters
        assert (c.skipped_oversized, c.skipped_malformed, c.received) == (1, 1, 1)
        assert wait_until(lambda: mw.puback(8) in fake.received, 5)
        assert mw.puback(7) in fake.received  # the oversized one is acknowledged: no loop
        time.sleep(0.3)
        assert fake.connections == 1 and c.connects == 1 and link.connected.is_set()
        assert "skipped" in link.last_error
        assert any("skipped a message of 50007 bytes" in r.getMessage()
                   and r.levelname == "WARNING" for r in caplog.records)
    finally:
        link.close()
        fake.close()


def test_valid_messages_before_garbage_are_delivered(wait_until):
    good = mw.publish("a", b"1", 0) + mw.publish("b", b"2", 1, 5)
    fake = FakeBroker(good + b"\x30\xff\xff\xff\xff\xff")
    got = []
    link = MqttLink(BrokerConfig("127.0.0.1", fake.port),
                    on_message=lambda t, p: got.append((t, p)), backoff=(0.5, 1.0)).start()
    try:
        assert wait_until(lambda: len(got) >= 2, 5)
        assert got[:2] == [("a", b"1"), ("b", b"2")]
    finally:
        link.close()
        fake.close()


def test_refused_connection_reports_the_reason(wait_until):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def refuse():
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.sendall(bytes([0x20, 2, 0, 5]))

    threading.Thread(target=refuse, daemon=True).start()
    link = MqttLink(BrokerConfig("127.0.0.1", listener.getsockname()[1]),
                    backoff=(1.0, 1.0)).start()
    try:
        assert wait_until(lambda: link.last_error == "not authorized", 5)
        assert not link.connected.is_set()
    finally:
        link.close()
        listener.close()


@settings(max_examples=400, deadline=None)
@given(first=st.integers(0, 255), body=st.binary(max_size=80))
def test_dispatch_of_random_packets_raises_only_protocol_errors(first, body):
    got = []
    link = MqttLink(BrokerConfig("127.0.0.1", 1), on_message=lambda t, p: got.append((t, p)))
    data = bytearray(bytes([first]) + mw._remaining_length(len(body)) + body)
    try:
        used = link._dispatch(data)
    except ProtocolError:
        return
    assert used == len(data) and len(got) <= 1
