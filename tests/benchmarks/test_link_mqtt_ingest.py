"""Benchmark: MQTT telemetry ingest into the history store (target >= 20,000 msg/s, none lost).

A separate process publishes N QoS 1 messages on the demo pump's five sensor topics
(80 % bare numbers, 20 % JSON objects with unit and timestamp) through a real
mosquitto. The twin subscribes with QoS 1, validates every payload against its
sensor, evaluates the alarm rules and writes every value to SQLite (WAL). The rate
is N divided by the time from the first message received to the last one on disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.mqtt_broker import broker_url_fixture  # noqa: F401

N = 100_000
TARGET = 20_000

PUBLISHER = r"""
# A lean load generator: pre-encoded QoS 1 PUBLISH packets written in bulk, PUBACKs
# counted on a second thread (a Python MQTT client would be the bottleneck here).
import json, socket, sys, threading, time
from sim.twin import mqtt_wire as mw
from sim.twin.mqtt_link import BrokerConfig
from sim.twin.simulate import demo_config
n, url = int(sys.argv[1]), sys.argv[2]
cfg = BrokerConfig.from_url(url)
sensors = demo_config().sensors
sock = socket.create_connection((cfg.host, cfg.port))
sock.sendall(mw.connect("bench-asset", True, 60, None, None))
assert sock.recv(4) == bytes([0x20, 2, 0, 0])
acked = [0]
def count_acks():
    buf = b""
    while acked[0] < n:
        buf += sock.recv(65536)
        k = len(buf) // 4
        acked[0] += k
        buf = buf[4 * k:]
threading.Thread(target=count_acks, daemon=True).start()
now = time.time()
def value(s, k):
    lo, hi = s.normal
    return lo + (hi - lo) * (0.3 + 0.4 * ((k * 37) % 100) / 100)
payloads = [json.dumps({"value": value(sensors[k % 5], k), "unit": sensors[k % 5].unit,
                        "t": now}).encode() if k % 5 == 4
            else f"{value(sensors[k % 5], k):.3f}".encode() for k in range(1000)]
t0 = time.perf_counter()
for start in range(0, n, 500):
    sock.sendall(b"".join(mw.publish(sensors[i % 5].topic, payloads[i % 1000], 1,
                                     i % 65535 + 1) for i in range(start, min(n, start + 500))))
    while start - acked[0] > 20000:  # a bounded window of unacknowledged messages
        time.sleep(0.0005)
while acked[0] < n:
    time.sleep(0.001)
print(f"{n / (time.perf_counter() - t0):.0f}", flush=True)
sock.sendall(mw.DISCONNECT_PACKET)
"""


def test_mqtt_ingest_rate_into_history(broker_url, tmp_path, capsys):
    from sim.twin.history import HistoryStore
    from sim.twin.mqtt_link import BrokerConfig
    from sim.twin.session import LiveSession
    from sim.twin.simulate import demo_config

    session = LiveSession(config=demo_config(), history=tmp_path / "ingest.db")
    session.connect_mqtt(BrokerConfig.from_url(broker_url))
    time.sleep(0.3)  # the subscription is in place before the asset starts
    tel = session.telemetry
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(N), broker_url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = None
        deadline = time.monotonic() + 50
        while tel.counters.received < N and time.monotonic() < deadline:
            if first is None and tel.counters.received:
                first = time.perf_counter()
            time.sleep(0.0005)
        assert session.history.flush(20)
        done = time.perf_counter()
        out, err = pub.communicate(timeout=30)
    finally:
        if pub.poll() is None:
            pub.kill()
        session.close()
    assert pub.returncode == 0, err
    rate = N / (done - first)
    with HistoryStore.open(tmp_path / "ingest.db") as r:
        stored = sum(c["count"] for c in r.channels() if c["kind"] == "value")
    with capsys.disabled():
        print(f"\nMQTT ingest: {N} QoS 1 messages, {rate:,.0f} msg/s received+validated+stored "
              f"(publisher {int(out):,} msg/s), stored {stored}, rejected "
              f"{tel.counters.rejected}, dropped {session.history.dropped}")
    assert tel.counters.received == N and tel.counters.rejected == 0
    assert stored == N and session.history.dropped == 0, "messages were lost"
    assert rate >= TARGET, f"{rate:,.0f} msg/s is below the {TARGET:,} msg/s target"
