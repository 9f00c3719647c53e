"""Benchmark: tracked-instrument poses over OpenIGTLink into the scene model.

A separate process plays the tracker (like PLUS): it streams TRANSFORM messages
stamped with its clock at the moment of sending. The twin listens on 127.0.0.1,
decodes, applies calibration and registration, moves the instrument's mesh in the
scene and emits the model event; latency is measured in that event handler as
``time.time() - sender timestamp`` (same machine, same clock).

Targets: 60 Hz with median latency < 5 ms and no frame skipped; 1 kHz sustained with
every pose applied and no growing backlog.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from sim.model import Case

TRACKER = r"""
import socket, sys, time
import numpy as np
from sim.twin import igtl_wire as wire
port, hz, n = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
m = np.eye(4)
t0 = time.perf_counter() + 0.2
for i in range(n):
    due = t0 + i / hz
    while (left := due - time.perf_counter()) > 0:
        if left > 0.002:
            time.sleep(left - 0.001)
    m[:3, 3] = (float(i), 0.5 * i, 10.0)
    sock.sendall(wire.encode_transform("Stylus", m, timestamp=time.time()))
time.sleep(0.5)
sock.close()
"""


def stream(hz: float, n: int) -> tuple[np.ndarray, list[int], object]:
    from sim.twin.instruments import InstrumentLink

    case = Case(name="bench")
    link = InstrumentLink(case)
    calib = np.eye(4)
    calib[:3, 3] = (0, 0, 150.0)
    reg = np.eye(4)
    reg[:3, 3] = (-100.0, 20.0, 5.0)
    link.set_registration(reg)
    tool = link.add_tool("Stylus", tool_T_tip=calib)
    latencies = np.zeros(n)
    order: list[int] = []
    cpu = []  # the reader thread's CPU clock at the first and the last pose

    def on_moved(world, sender_time):
        k = len(order)
        if k in (0, n - 1):
            cpu.append(time.thread_time())
        if k < n:
            latencies[k] = time.time() - sender_time
        order.append(int(round(world[0, 3] + 100.0)))  # frame index, through the transforms

    tool.moved.connect(on_moved)
    server = link.listen("127.0.0.1", 0)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-c", TRACKER, str(server.port), str(hz), str(n)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + n / hz + 20
        while len(order) < n and time.monotonic() < deadline and proc.poll() in (None, 0):
            time.sleep(0.01)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        link.close()
    assert proc.returncode == 0, proc.stderr.read()
    link.cpu_per_pose_ms = (cpu[-1] - cpu[0]) / max(n - 1, 1) * 1000.0 if len(cpu) == 2 else None
    return latencies[:len(order)] * 1000.0, order, link


def test_60hz_pose_latency(capsys):
    n = 300  # five seconds
    lat, order, link = stream(60.0, n)
    with capsys.disabled():
        print(f"\n60 Hz poses: {len(order)}/{n} applied, latency median {np.median(lat):.3f} ms, "
              f"p95 {np.percentile(lat, 95):.3f} ms, max {lat.max():.3f} ms")
    assert order == list(range(n)), "a frame was skipped or reordered"
    assert np.median(lat) < 5.0
    assert link.tools["Stylus"].updates == n


def test_1khz_sustained_without_backlog(capsys):
    n = 3000  # three seconds
    lat, order, link = stream(1000.0, n)
    first, last = np.median(lat[:500]), np.median(lat[-500:])
    cost = link.cpu_per_pose_ms
    with capsys.disabled():
        print(f"\n1 kHz poses: {len(order)}/{n} applied, latency median {np.median(lat):.3f} ms, "
              f"p99 {np.percentile(lat, 99):.3f} ms, first/last 500 median {first:.3f}/"
              f"{last:.3f} ms; reader CPU {cost:.3f} ms per pose")
    assert order == list(range(n)), "poses were lost or reordered"
    assert np.median(lat) < 5.0
    # No backlog by construction: receiving, decoding and applying a pose costs the reader
    # thread well under the 1 ms between poses. (Wall-clock tails on this shared two-core
    # machine depend on what else runs; they are printed, not judged.)
    assert cost < 0.5, f"{cost:.3f} ms of CPU per pose cannot sustain 1 kHz with margin"
