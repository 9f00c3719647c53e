"""The SQLite (WAL) history: writing, scrubbing, replay queries, export, bad files."""

from __future__ import annotations

import csv
import sqlite3
import threading

import numpy as np
import pytest

from sim.errors import FileFormatError
from sim.twin.history import HistoryStore


def filled(path) -> HistoryStore:
    store = HistoryStore(path)
    for i in range(10):
        store.record("value", "temp", 100.0 + i, 20.0 + i)
    m = np.eye(4)
    m[:3, 3] = (1, 2, 3)
    store.record_pose("Stylus", 104.5, m)
    store.record_json("alarm", "temp", 107.0, {"kind": "high"}, 27.0)
    store.record("string", "Note", 108.0, None, "hello")
    assert store.flush()
    return store


def test_wal_mode_and_content(tmp_path):
    store = filled(tmp_path / "h.db")
    db = sqlite3.connect(tmp_path / "h.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    with store.reader() as r:
        assert r.count() == 13 and r.time_range() == (100.0, 109.0)
        chans = {(c["kind"], c["channel"]): c for c in r.channels()}
        assert chans[("value", "temp")]["count"] == 10 and chans[("value", "temp")]["max"] == 29
        t, v = r.series("temp")
        np.testing.assert_allclose(v, np.arange(20, 30))
        pose = next(r.events(kinds=("pose",)))
        np.testing.assert_allclose(pose.matrix()[:3, 3], (1, 2, 3))
        assert next(r.events(kinds=("alarm",))).data == {"kind": "high"}
    store.close()


def test_state_at_scrubs_to_latest_values(tmp_path):
    store = filled(tmp_path / "h.db")
    with store.reader() as r:
        s = r.state_at(104.7)
        assert s["value:temp"].value == 24.0 and "pose:Stylus" in s
        assert "pose:Stylus" not in r.state_at(104.0)
        assert r.state_at(50.0) == {}
        window = list(r.events(t0=102, t1=104))
        assert [e.value for e in window] == [22.0, 23.0, 24.0]
    store.close()


def test_reader_sees_data_while_writer_appends(tmp_path):
    store = HistoryStore(tmp_path / "h.db", flush_interval=0.01)
    stop = threading.Event()

    def produce():
        i = 0
        while not stop.is_set():
            store.record("value", "x", float(i), float(i))
            i += 1
            if i % 100 == 0:
                stop.wait(0.001)  # a fast but realistic producer (~50k records/s)

    th = threading.Thread(target=produce)
    th.start()
    try:
        with HistoryStore.open(tmp_path / "h.db") as r:
            counts = []
            for _ in range(5):
                store.flush()
                counts.append(r.count())
            assert counts == sorted(counts) and counts[-1] > 0
    finally:
        stop.set()
        th.join()
        store.close()


def test_export_csv_and_parquet(tmp_path):
    store = filled(tmp_path / "h.db")
    with store.reader() as r:
        assert r.export(tmp_path / "out.csv") == 13
        rows = list(csv.DictReader((tmp_path / "out.csv").open()))
        assert rows[0]["channel"] == "temp" and float(rows[0]["value"]) == 20.0
        pq = pytest.importorskip("pyarrow.parquet")
        assert r.export(tmp_path / "out.parquet") == 13
        table = pq.read_table(tmp_path / "out.parquet")
        assert table.num_rows == 13 and table.column("kind").to_pylist().count("value") == 10
        with pytest.raises(FileFormatError, match="csv and .parquet"):
            r.export(tmp_path / "out.xlsx")
    store.close()


def test_drop_policy_keeps_newest_and_counts(tmp_path):
    store = HistoryStore(tmp_path / "h.db", capacity=100, flush_interval=10.0)
    store._wake.set = lambda: None  # hold the writer back so the buffer fills
    for i in range(250):
        store.record("value", "x", float(i), float(i))
    assert store.dropped == 150 and store.pending == 100
    del store._wake.set
    store.flush()
    with store.reader() as r:
        t, _ = r.series("x")
        np.testing.assert_array_equal(t, np.arange(150, 250))
    store.close()


def test_not_a_history_file(tmp_path):
    (tmp_path / "x.db").write_bytes(b"garbage" * 100)
    with pytest.raises(FileFormatError, match="not a readable SQLite"):
        HistoryStore.open(tmp_path / "x.db")
    db = sqlite3.connect(tmp_path / "other.db")
    db.execute("CREATE TABLE t(x)")
    db.close()
    with pytest.raises(FileFormatError, match="not a Twinsight history"):
        HistoryStore.open(tmp_path / "other.db")
    with pytest.raises(FileFormatError, match="does not exist"):
        HistoryStore.open(tmp_path / "missing.db")
