"""A producer faster than the consumer: memory stays bounded, nothing silently lost.

Policy (see sim.twin.telemetry / history / mqtt_link): the links have no unbounded
queues. OpenIGTLink poses are applied on the reader thread, so a slow consumer slows
the reader and TCP pushes back on the sender; MQTT reads one 64 KB chunk at a time
and the broker queues QoS 1 messages. The only buffers are bounded and count drops.
"""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc

import numpy as np

from sim.model import Case
from sim.twin import igtl_wire as wire
from sim.twin.instruments import InstrumentLink
from sim.twin.mqtt_link import BrokerConfig, MqttLink


def test_igtl_flood_into_a_slow_consumer(wait_until):
    n = 20_000
    m = np.eye(4)
    blob = bytearray()
    for i in range(n):
        m[0, 3] = i
        blob += wire.encode_transform("Tool", m, timestamp=1.0)
    link = InstrumentLink(Case())
    tool = link.add_tool("Tool")
    seen: list[int] = []

    def slow(world, _t):
        seen.append(int(world[0, 3]))
        if len(seen) % 100 == 0:
            time.sleep(0.002)  # a consumer slower than the wire

    tool.moved.connect(slow)
    server = link.listen("127.0.0.1", 0)
    sock = socket.create_connection(("127.0.0.1", server.port))
    tracemalloc.start()
    try:
        sender = threading.Thread(target=sock.sendall, args=(bytes(blob),))
        sender.start()
        assert wait_until(lambda: len(seen) == n, 30)
        _, peak = tracemalloc.get_traced_memory()
        sender.join(5)
    finally:
        tracemalloc.stop()
        sock.close()
        link.close()
    assert seen == list(range(n))
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while flooded"


def test_mqtt_flood_into_a_slow_consumer(broker, wait_until):
    n = 20_000
    got = []

    def slow(topic, payload):
        got.append(payload)
        if len(got) % 200 == 0:
            time.sleep(0.002)

    sub = MqttLink(BrokerConfig.from_url(broker.url), on_message=slow).start()
    sub.subscribe("flood/#")
    sub.require_connected(10)
    time.sleep(0.2)
    pub = MqttLink(BrokerConfig.from_url(broker.url)).start()
    pub.require_connected(10)
    tracemalloc.start()
    try:
        for i in range(n):
            pub.publish("flood/x", str(i).encode(), qos=1)
            while pub.pending > 2000:
                time.sleep(0.001)
        assert wait_until(lambda: len(got) == n, 60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        sub.close()
        pub.close()
    assert sorted(int(p) for p in got) == list(range(n))
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while flooded"
    assert pub.counters.dropped_outgoing == 0


HANGUP = r"""
import signal, socket, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a native library might leave it
from sim.twin.netio import send_all
a, b = socket.socketpair()
b.close()  # the peer hangs up
send = send_all if sys.argv[1] == "ours" else (lambda s, d: s.sendall(d))
for _ in range(3):
    try:
        send(a, b"x" * 1000)
    except OSError:
        pass
print("alive")
"""


def test_a_peer_hanging_up_cannot_kill_the_process():
    """Every link write goes through netio.send_all; a plain sendall would be killed here."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    ours = subprocess.run([sys.executable, "-c", HANGUP, "ours"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert ours.returncode == 0 and ours.stdout.strip() == "alive", ours.stderr
    plain = subprocess.run([sys.executable, "-c", HANGUP, "plain"], capture_output=True,
                           text=True, timeout=60, env=env)
    assert plain.returncode == -signal.SIGPIPE  # the hazard the helper avoids
