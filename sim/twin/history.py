"""The session history: every value, pose, command and alarm, timestamped, in SQLite (WAL).

Writes never block the link threads: ``record`` appends to a bounded in-memory
buffer that one writer thread drains in batches (one transaction per batch).

Drop policy: the buffer holds at most ``capacity`` records. If the disk cannot keep
up and the buffer is full, the *oldest unwritten* record is dropped and counted in
``dropped``; the newest data (what the user is looking at) is always kept. With the
default capacity (200,000 records, ~40 MB) this only happens after seconds of a
stalled disk.

Retention (optional): ``keep_seconds`` deletes events older than that many seconds
(by wall clock, measured against their timestamps), ``keep_events`` keeps only the
newest that many events. The writer thread prunes every ``PRUNE_EVERY_S`` seconds and
once more on close; ``pruned`` counts what was deleted. Without either, nothing is
ever deleted.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, TwinsightError
from sim.model.atomic import write_path_atomic

FORMAT, VERSION = "twinsight-history", "1"
KINDS = ("value", "pose", "reported", "command", "ack", "alarm", "string", "point", "image",
         "flag")
# A "flag" event stores a reading's data-quality flags (sim.predict.quality) beside it: the
# same channel, time and value, ``data`` a JSON list such as ["stuck"].
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS events(t REAL NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL,
                                  value REAL, data TEXT);
CREATE INDEX IF NOT EXISTS events_t ON events(t);
"""
# Built when the recording closes: maintaining it live would cost a third of the ingest rate.
_CHANNEL_INDEX = "CREATE INDEX IF NOT EXISTS events_channel_t ON events(channel, t)"
PRUNE_EVERY_S = 2.0


@dataclass(frozen=True)
class Event:
    t: float
    kind: str
    channel: str
    value: float | None
    data: Any  # decoded JSON (pose: 4x4 list) or None

    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :] = np.asarray(self.data, dtype=float).reshape(3, 4)
        return m


def pose_data(matrix: np.ndarray) -> str:
    return json.dumps([round(float(v), 6) for v in np.asarray(matrix)[:3, :].ravel()])


def _create_private(path: Path) -> None:
    """The history file owner-only (0600) whatever the umask: it records patient sessions.

    SQLite gives its -wal and -shm files the permissions of the database file."""
    from sim.model.atomic import FILE_MODE, make_parents

    make_parents(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    except OSError:
        return  # sqlite reports what is wrong with the path
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        pass  # not ours to change
    finally:
        os.close(fd)


class HistoryStore:
    """Append-only event store; open an existing file with ``HistoryStore.open``."""

    def __init__(self, path: str | Path, capacity: int = 200_000,
                 flush_interval: float = 0.05, keep_seconds: float | None = None,
                 keep_events: int | None = None) -> None:
        if keep_seconds is not None and not keep_seconds > 0:
            raise TwinsightError("The history retention time must be positive.")
        if keep_events is not None and keep_events < 1:
            raise TwinsightError("The history must keep at least one event.")
        self.path = Path(path)
        self.capacity = capacity
        self.keep_seconds = keep_seconds
        self.keep_events = keep_events
        self.pruned = 0
        self.written = 0
        self.dropped = 0
        self._buf: deque[tuple] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._queued = 0  # records accepted so far (sequence number)
        self._done = threading.Condition()
        self._settled = 0  # records written or dropped
        self._closed = False
        self._flush_interval = flush_interval
        _create_private(self.path)
        try:
            db = sqlite3.connect(self.path)
            _check_or_init(db, self.path, create=True)
            db.close()
        except sqlite3.Error as exc:
            raise FileFormatError(self.path, f"it is not a writable SQLite database ({exc})") \
                from None
        self._thread = threading.Thread(target=self._writer, daemon=True, name="history")
        self._thread.start()

    # -- writing ---------------------------------------------------------------------------
    def record(self, kind: str, channel: str, t: float, value: float | None = None,
               data: str | None = None) -> None:
        """Queue one event (thread-safe, never blocks on disk)."""
        with self._lock:
            if len(self._buf) >= self.capacity:
                self._buf.popleft()
                self.dropped += 1
            self._buf.append((t, kind, channel, value, data))
            self._queued += 1
        if len(self._buf) >= 2048:
            self._wake.set()

    def record_pose(self, device: str, t: float, matrix: np.ndarray) -> None:
        self.record("pose", device, t, None, pose_data(matrix))

    def record_json(self, kind: str, channel: str, t: float, data: Any,
                    value: float | None = None) -> None:
        self.record(kind, channel, t, value, json.dumps(data, default=str))

    def set_meta(self, key: str, value: str) -> None:
        """Store a key in the file's meta table (e.g. the units of an imported fleet)."""
        db = sqlite3.connect(self.path)
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        finally:
            db.close()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded before this call is on disk (or dropped)."""
        with self._lock:
            target = self._queued
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._settled >= target, timeout)

    def _writer(self) -> None:
        db = sqlite3.connect(self.path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        retention = self.keep_seconds is not None or self.keep_events is not None
        next_prune = time.monotonic() + PRUNE_EVERY_S
        try:
            if retention:
                self._prune(db)
            while True:
                self._wake.wait(self._flush_interval)
                self._wake.clear()
                with self._lock:
                    batch = list(self._buf)
                    self._buf.clear()
                    settled = self._queued
                if batch:
                    with db:
                        db.executemany("INSERT INTO events VALUES (?,?,?,?,?)", batch)
                    self.written += len(batch)
                if retention and (time.monotonic() >= next_prune or self._closed):
                    self._prune(db)
                    next_prune = time.monotonic() + PRUNE_EVERY_S
                with self._done:
                    self._settled = settled
                    self._done.notify_all()
                if self._closed and not self._buf:
                    db.execute(_CHANNEL_INDEX)
                    break
        finally:
            db.close()

    def _prune(self, db: sqlite3.Connection) -> None:
        """Apply the retention options (on the writer thread)."""
        with db:
            if self.keep_seconds is not None:
                cur = db.execute("DELETE FROM events WHERE t < ?",
                                 (time.time() - self.keep_seconds,))
                self.pruned += max(cur.rowcount, 0)
            if self.keep_events is not None:
                # The newest N by insertion order (rowid): a walk of N entries from the end.
                row = db.execute("SELECT rowid FROM events ORDER BY rowid DESC LIMIT 1 "
                                 "OFFSET ?", (self.keep_events,)).fetchone()
                if row is not None:
                    cur = db.execute("DELETE FROM events WHERE rowid <= ?", (row[0],))
                    self.pruned += max(cur.rowcount, 0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(30.0)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------
    @staticmethod
    def open(path: str | Path) -> HistoryReader:
        return HistoryReader(path)

    def reader(self) -> HistoryReader:
        return HistoryReader(self.path)


def _check_or_init(db: sqlite3.Connection, path: Path, create: bool) -> None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables and create:
        db.executescript(_SCHEMA)
        with db:
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [("format", FORMAT), ("version", VERSION),
                            ("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])
        return
    if not {"meta", "events"} <= tables:
        raise FileFormatError(path, "it is an SQLite database but not a Twinsight history")
    meta = dict(db.execute("SELECT key, value FROM meta"))
    if meta.get("format") != FORMAT:
        raise FileFormatError(path, "it is an SQLite database but not a Twinsight history")
    if meta.get("version") != VERSION:
        raise FileFormatError(path, f"history format version {meta.get('version')} is not "
                                    f"supported (expected {VERSION})")


class HistoryReader:
    """Read access to a history file (safe while a writer is appending, thanks to WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileFormatError(self.path, "the file does not exist")
        try:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                      check_same_thread=False)
            _check_or_init(self.db, self.path, create=False)
        except sqlite3.DatabaseError as exc:
            raise FileFormatError(self.path, f"it is not a readable SQLite database ({exc})") \
                from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> HistoryReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def time_range(self) -> tuple[float, float] | None:
        row = self.db.execute("SELECT MIN(t), MAX(t) FROM events").fetchone()
        return None if row[0] is None else (float(row[0]), float(row[1]))

    def channels(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT kind, channel, COUNT(*), MIN(t), MAX(t), MIN(value), MAX(value), AVG(value) "
            "FROM events GROUP BY kind, channel ORDER BY kind, channel")
        return [{"kind": k, "channel": c, "count": n, "t0": t0, "t1": t1,
                 "min": lo, "max": hi, "mean": mean}
                for k, c, n, t0, t1, lo, hi, mean in rows]

    def events(self, t0: float | None = None, t1: float | None = None,
               kinds: tuple[str, ...] | None = None, channel: str | None = None,
               limit: int | None = None) -> Iterator[Event]:
        sql, args = "SELECT t, kind, channel, value, data FROM events WHERE 1=1", []
        if t0 is not None:
            sql, args = sql + " AND t >= ?", [*args, t0]
        if t1 is not None:
            sql, args = sql + " AND t <= ?", [*args, t1]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        if channel is not None:
            sql, args = sql + " AND channel = ?", [*args, channel]
        sql += " ORDER BY t, rowid"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for t, kind, ch, value, data in self.db.execute(sql, args):
            yield Event(t, kind, ch, value, _decode(data))

    def series(self, channel: str, kind: str = "value") -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute("SELECT t, value FROM events WHERE channel=? AND kind=? "
                               "ORDER BY t", (channel, kind)).fetchall()
        arr = np.array(rows, dtype=float).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def flags(self, channel: str | None = None, t0: float | None = None,
              t1: float | None = None) -> list[tuple[float, str, float | None, list[str]]]:
        """Quality flags stored with the readings: (t, channel, value, flags), in time order."""
        return [(e.t, e.channel, e.value, list(e.data or [])) for e in
                self.events(t0, t1, kinds=("flag",), channel=channel)]

    def clean_series(self, channel: str, t0: float | None = None, t1: float | None = None,
                     excluding: Iterable[str] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, int]:
        """A channel's values without the readings whose flags exclude them from models;
        returns (t, value, number ignored). ``excluding``: the flags that exclude (default
        :data:`sim.predict.quality.EXCLUDING`)."""
        if excluding is None:
            from sim.predict.quality import EXCLUDING as excluding
        sql, args = "SELECT t, value FROM events WHERE channel=? AND kind='value'", [channel]
        if t0 is not None:
            sql, args = sql + " AND t >= ?", [*args, t0]
        if t1 is not None:
            sql, args = sql + " AND t <= ?", [*args, t1]
        arr = np.array(self.db.execute(sql + " ORDER BY t, rowid", args).fetchall(),
                       dtype=float).reshape(-1, 2)
        bad = {(t, v) for t, _c, v, fl in self.flags(channel, t0, t1)
               if any(f in excluding for f in fl)}
        if not bad:
            return arr[:, 0], arr[:, 1], 0
        keep = np.array([(t, v) not in bad for t, v in arr], dtype=bool).reshape(-1)
        return arr[keep, 0], arr[keep, 1], int((~keep).sum())

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def state_at(self, t: float) -> dict[str, Event]:
        """The latest value and pose of every channel at time ``t`` (for scrubbing)."""
        rows = self.db.execute(
            "SELECT MAX(t), kind, channel, value, data FROM events "
            "WHERE t <= ? AND kind IN ('value', 'pose', 'reported') GROUP BY kind, channel",
            (t,))
        return {f"{kind}:{ch}": Event(tt, kind, ch, value, _decode(data))
                for tt, kind, ch, value, data in rows}

    # -- export ------------------------------------------------------------------------------
    def export(self, path: str | Path) -> int:
        """Write every event to CSV or Parquet (by suffix); returns the row count."""
        path = Path(path)
        suffix = path.suffix.lower()
        rows = self.db.execute("SELECT t, kind, channel, value, data FROM events ORDER BY t, rowid")
        if suffix == ".csv":
            count = [0]

            def write(tmp: Path) -> None:
                with tmp.open("w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["t", "kind", "channel", "value", "data"])
                    for row in rows:
                        w.writerow(row)
                        count[0] += 1

            write_path_atomic(path, write)
            return count[0]
        if suffix == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise TwinsightError("Parquet export needs the 'pyarrow' package; "
                                     "export to .csv instead.") from None
            cols = list(zip(*rows.fetchall(), strict=True)) or [(), (), (), (), ()]
            table = pa.table({"t": pa.array(cols[0], pa.float64()),
                              "kind": pa.array(cols[1], pa.string()),
                              "channel": pa.array(cols[2], pa.string()),
                              "value": pa.array(cols[3], pa.float64()),
                              "data": pa.array(cols[4], pa.string())})
            write_path_atomic(path, lambda tmp: pq.write_table(table, tmp))
            return table.num_rows
        raise FileFormatError(path, "export supports .csv and .parquet files")


def _decode(data: str | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data
