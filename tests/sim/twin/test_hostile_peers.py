"""Hostile peers against the recorder (issue #21 items 7-8), with real peers on 127.0.0.1.

The recorder is the real ``twinsight link record`` process; its memory (peak RSS) and
threads are measured with psutil while mosquitto, paho-mqtt, pyigtl and raw sockets feed
it oversized, lying, non-rigid and idle traffic; afterwards it must still record the
right data. Floods are bounded (a few hundred connections, loopback only).
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sim.twin import igtl_wire as wire
from sim.twin.history import HistoryStore
from sim.twin.mqtt_link import BrokerConfig, MqttLink
from tests.mqtt_broker import paho_client

psutil = pytest.importorskip("psutil")
MiB = 1 << 20


# Ctrl-C must reach the recorder even when the tests run where SIGINT is ignored (a shell's
# background job): Python then installs no handler of its own, so install it explicitly.
_MAIN = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "sys.argv = ['twinsight', *sys.argv[1:]]; runpy.run_module('sim.cli', "
         "run_name='__main__', alter_sys=True)")


def _recorder(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _MAIN, "link", "record", *args, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> tuple[dict, str]:
    """Ctrl-C the recorder (it ends cleanly) and return its JSON status and stderr."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return json.loads(out), err


def _peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class _RssSampler:
    """The highest resident memory of a process seen while sampling (every 5 ms)."""

    def __init__(self, proc) -> None:
        self.proc, self.peak, self._stop = proc, proc.memory_info().rss, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _stored(db: Path, kind: str) -> list[tuple[str, float | None, str | None]]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT channel, value, data FROM events WHERE kind=? ORDER BY rowid",
                           (kind,)).fetchall()
    except sqlite3.Error:
        return []
    finally:
        con.close()


# -- MQTT -----------------------------------------------------------------------------------
def test_oversized_mqtt_message_is_skipped_and_recording_continues(broker, tmp_path,
                                                                   wait_until):
    """Before: the 1 MiB limit dropped the connection, the broker redelivered the message to
    the persistent session, and the loop repeated (hundreds of connects, nothing stored)."""
    # The recorder's persistent session exists before it runs, so messages queue for it.
    pre = MqttLink(BrokerConfig.from_url(broker.url), client_id="rec-oversized").start()
    pre.subscribe("plant/#")
    pre.require_connected(10)
    time.sleep(0.3)
    pre.close()
    pub = paho_client(broker.url, "asset-oversized")
    db = tmp_path / "h.db"
    rec = None
    try:
        for i in range(10):
            pub.publish("plant/seq", str(i), qos=1).wait_for_publish(5)
        rec = _recorder("--mqtt", broker.url, "--topics", "plant/#", "--client-id",
                        "rec-oversized", "-o", str(db))
        assert wait_until(lambda: len(_stored(db, "value")) == 10, 30), "queued not recorded"
        proc = psutil.Process(rec.pid)
        base, hwm0 = proc.memory_info().rss, _peak_rss(rec.pid)
        sampler = _RssSampler(proc)
        big = pub.publish("plant/blob", b"\x00" * (32 * MiB), qos=1)  # 32x the limit
        for i in range(10, 50):
            pub.publish("plant/seq", str(i), qos=1)
        big.wait_for_publish(20)
        assert wait_until(lambda: len(_stored(db, "value")) == 50, 20), \
            f"{len(_stored(db, 'value'))} of 50 stored after the oversized message"
        hwm = _peak_rss(rec.pid)
        grown = max(sampler.stop(), hwm if hwm > hwm0 else 0) - base
        status, err = _stop(rec)
    finally:
        if rec is not None and rec.poll() is None:
            rec.kill()
        pub.loop_stop()
        pub.disconnect()
    values = [v for _c, v, _d in _stored(db, "value")]
    assert values == [float(i) for i in range(50)]  # in order, once each
    assert not [d for c, _v, d in _stored(db, "string") if c == "plant/blob"]
    m = status["mqtt"]
    assert m["skipped_oversized"] == 1 and m["connects"] == 1 and m["received"] == 50
    assert "skipped a message of" in err and "skipped 1 oversized" in err  # said loudly
    print(f"\nMQTT oversized: recorder peak RSS grew {grown / MiB:.1f} MiB for a 32 MiB "
          f"message; connects {m['connects']}; stored {len(values)}")
    assert grown < 12 * MiB, f"the recorder grew by {grown / MiB:.0f} MiB"


def test_qos1_redelivery_after_broker_restart_is_stored_once(broker_factory, tmp_path,
                                                             wait_until):
    """A slow consumer holds the acknowledgements while the broker restarts; the broker then
    redelivers (DUP) what we already stored: the history must hold each message once."""
    b = broker_factory()
    b.start()
    store = HistoryStore(tmp_path / "h.db")
    entered, gate = threading.Event(), threading.Event()

    def consume(topic: str, payload: bytes) -> None:
        store.record("value", topic, time.time(), float(payload))
        if payload == b"5":  # busy (disk, GUI) while this batch's PUBACKs wait
            entered.set()
            gate.wait(20)

    link = MqttLink(BrokerConfig.from_url(b.url), client_id="rec-dedupe", on_message=consume,
                    backoff=(0.05, 0.3)).start()
    link.subscribe("seq")
    link.require_connected(10)
    time.sleep(0.3)
    pub = paho_client(b.url, "asset-dedupe")
    try:
        for i in range(10):
            pub.publish("seq", str(i), qos=1).wait_for_publish(5)
        assert entered.wait(10)
        pub.loop_stop()
        pub.disconnect()
        b.stop()  # the unacknowledged messages survive in mosquitto's persistence file
        b.start()
        gate.set()
        assert wait_until(lambda: link.counters.connects >= 2, 15)
        pub = paho_client(b.url, "asset-dedupe")
        pub.publish("seq", "10", qos=1).wait_for_publish(5)  # recording goes on
        assert wait_until(lambda: store.flush() and len(_stored(store.path, "value")) >= 11,
                          10)
        time.sleep(0.5)  # any late redelivery would land now
        store.flush()
    finally:
        gate.set()
        link.close()
        pub.loop_stop()
        pub.disconnect()
        store.close()
    values = [v for _c, v, _d in _stored(store.path, "value")]
    print(f"\nredeliveries recognised: {link.counters.duplicates}; stored {len(values)}")
    assert link.counters.duplicates >= 1  # the broker did redeliver: the test can fail
    assert sorted(values) == [float(i) for i in range(11)]


# -- OpenIGTLink ------------------------------------------------------------------------------
def _pose(x: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, 2.0 * x, -x)
    return m


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_igtl_recorder_survives_lying_headers_floods_idle_peers_and_bad_poses(
        tmp_path, free_port, wait_until):
    pyigtl = pytest.importorskip("pyigtl")
    port = free_port()
    db = tmp_path / "h.db"
    rec = _recorder("--igtl", f"127.0.0.1:{port}", "--listen", "--idle-timeout", "1.5",
                    "-o", str(db))
    held: list[socket.socket] = []
    try:
        def serving():
            try:
                _connect(port).close()
                return True
            except OSError:
                return False
        assert wait_until(serving, 30)
        client = pyigtl.OpenIGTLinkClient("127.0.0.1", port)
        client.send_message(pyigtl.TransformMessage(_pose(1), device_name="Stylus"), wait=True)
        assert wait_until(lambda: len(_stored(db, "pose")) == 1, 10)
        client.stop()
        proc = psutil.Process(rec.pid)
        time.sleep(0.3)
        base_rss, base_threads = proc.memory_info().rss, proc.num_threads()
        hwm0, sampler = _peak_rss(rec.pid), _RssSampler(proc)

        # 40 headers of 68 bytes announcing (almost) 64 MiB bodies each.
        lie = wire.HEADER.pack(1, b"IMAGE", b"liar", 0, 0, wire.DEFAULT_MAX_BODY - 1, 0)
        for _ in range(40):
            s = _connect(port)
            held.append(s)
            with contextlib.suppress(OSError):
                s.sendall(lie + b"\x00" * 10)
        time.sleep(1.0)
        hwm = _peak_rss(rec.pid)
        liar_rss = max(sampler.stop(), hwm if hwm > hwm0 else 0) - base_rss
        liar_threads = proc.num_threads()
        for s in held:
            s.close()
        held.clear()
        assert wait_until(lambda: proc.num_threads() <= base_threads + 1, 10)

        # 300 idle connections: at most 16 are served (one thread each), the rest refused;
        # the served ones are dropped after the idle timeout.
        flood_threads = 0
        for _ in range(300):
            with contextlib.suppress(OSError):
                held.append(_connect(port))
            flood_threads = max(flood_threads, proc.num_threads())
        time.sleep(0.3)
        flood_threads = max(flood_threads, proc.num_threads())
        assert wait_until(lambda: proc.num_threads() <= base_threads + 1, 10)
        for s in held:
            s.close()
        held.clear()

        # Poses that are no rigid motion (1e38s, zeros), then good ones: only those stored.
        client = pyigtl.OpenIGTLinkClient("127.0.0.1", port)
        huge, zeros = np.full((4, 4), 1e38), _pose(5)
        huge[3] = (0, 0, 0, 1)
        zeros[:3, :3] = 0
        for bad in (huge, zeros) * 20:
            client.send_message(pyigtl.TransformMessage(bad, device_name="Stylus"), wait=True)
        for x in (2, 3, 4):
            client.send_message(pyigtl.TransformMessage(_pose(x), device_name="Stylus"),
                                wait=True)
        assert wait_until(lambda: len(_stored(db, "pose")) == 4, 10)
        client.stop()
        status, err = _stop(rec)
    finally:
        for s in held:
            s.close()
        if rec.poll() is None:
            rec.kill()
    ig = status["igtl"]
    print(f"\nIGTL: 40 lying headers grew peak RSS by {liar_rss / MiB:.1f} MiB with "
          f"{liar_threads - base_threads} extra threads; 300 idle connections peaked at "
          f"{flood_threads} threads (base {base_threads}); refused {ig['refused_connections']},"
          f" idle-dropped {ig['dropped_idle']}, non-rigid rejected {ig['rejected_not_rigid']}")
    assert liar_rss < 48 * MiB, f"40 lying headers cost {liar_rss / MiB:.0f} MiB"
    assert liar_threads <= base_threads + 16 and flood_threads <= base_threads + 17
    # Idle peers are dropped after 1.5 s, which frees slots while the flood is still
    # connecting, so more than 16 of the 300 may be served in turn, never 16 at once.
    # How many are refused depends on how fast the flood connects against the 1.5 s idle
    # drops (196-292 seen on a loaded or quiet machine); the thread bound above is the point.
    assert ig["refused_connections"] >= 100 and ig["dropped_idle"] >= 16
    assert ig["rejected_not_rigid"] == 40
    stored = [np.asarray(json.loads(d)).reshape(3, 4)[:, 3] for _c, _v, d in _stored(db, "pose")]
    np.testing.assert_allclose(stored, [_pose(x)[:3, 3] for x in (1, 2, 3, 4)], atol=1e-5)
    # Rate-limited: one warning line per peer for 40 bad poses (plus the summary).
    assert 1 <= err.count("Rejected the pose") <= 2, err
    assert "rejected 40 non-rigid" in err


def test_pose_rigidity_check():
    assert wire.pose_problem(_pose(3)) is None
    rot = np.eye(4)
    rot[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    assert wire.pose_problem(rot) is None
    assert wire.pose_problem(np.full((4, 4), 1e38)) is not None
    zeros = _pose(1)
    zeros[:3, :3] = 0
    assert wire.pose_problem(zeros) is not None
    assert wire.pose_problem(np.diag([1.0, 1.0, -1.0, 1.0])) is not None  # a mirror
    assert wire.pose_problem(np.diag([1.0, 1.0, 1.02, 1.0])) is not None
    spacing = np.diag([0.2, 0.2, 1.0, 1.0])  # an image placement with its pixel spacing
    assert wire.pose_problem(spacing) is not None
    assert wire.pose_problem(spacing, scaled=True) is None
    assert wire.pose_problem(zeros, scaled=True) is not None
    nan = _pose(1)
    nan[0, 3] = np.nan
    assert "NaN" in wire.pose_problem(nan)


# -- retention --------------------------------------------------------------------------------
def test_history_retention_by_count_and_age(tmp_path):
    now = time.time()
    with HistoryStore(tmp_path / "n.db", keep_events=100) as h:
        for i in range(1000):
            h.record("value", "p", now + i * 0.001, float(i))
    assert h.pruned == 900
    with HistoryStore.open(tmp_path / "n.db") as r:
        assert [e.value for e in r.events()] == [float(i) for i in range(900, 1000)]
    with HistoryStore(tmp_path / "t.db", keep_seconds=3600) as h:
        for i in range(10):
            h.record("value", "old", now - 7200 + i, float(i))
            h.record("value", "new", now - 60 + i, float(i))
    with HistoryStore.open(tmp_path / "t.db") as r:
        assert {e.channel for e in r.events()} == {"new"} and r.count() == 10
    # Retention applies to a file that already holds old data (a resumed recording).
    with HistoryStore(tmp_path / "t.db", keep_events=3):
        pass
    with HistoryStore.open(tmp_path / "t.db") as r:
        assert [e.value for e in r.events()] == [7.0, 8.0, 9.0]


def test_retention_and_limit_options_are_checked(tmp_path, capsys):
    from sim.cli import main

    for bad in (["--keep-days", "0"], ["--keep-events", "0"], ["--max-peers", "0"],
                ["--idle-timeout", "-1"]):
        assert main(["link", "record", "--igtl", "127.0.0.1:1", "--listen", "-o",
                     str(tmp_path / "x.db"), *bad]) == 2
        assert capsys.readouterr().err.count("\n") == 1
