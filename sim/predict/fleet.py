"""A fleet: run-to-failure (or still running) histories of many units of one kind of asset.

One table, sorted by unit then time: ``unit`` labels, ``time`` (cycles or seconds, the
file's own time column), and one column per channel (sensors and operating settings).
Readers accept NASA C-MAPSS text files, CSV and Parquet tables (wide: a unit column, a time
column, one column per channel) and Twinsight history databases (one unit per file, or a
fleet imported with ``twinsight link import``). Every reader checks what a model needs and
raises :class:`~sim.errors.FileFormatError` naming the file and the reason.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.model.atomic import write_path_atomic
from sim.progress import Progress

UNIT_COLUMNS = ("unit", "unit_id", "engine", "asset", "id")
TIME_COLUMNS = ("time", "cycle", "cycles", "t", "timestamp")
CMAPSS_SETTINGS = ["setting1", "setting2", "setting3"]
CMAPSS_SENSORS = [f"s{i}" for i in range(1, 22)]


@dataclass
class Fleet:
    unit: np.ndarray  # (n,) str labels
    time: np.ndarray  # (n,) float, increasing within a unit
    values: np.ndarray  # (n, k) float
    channels: list[str]
    settings: list[str] = field(default_factory=list)  # channels that are operating settings
    source: str = ""
    time_unit: str = "s"  # "cycles" for C-MAPSS and tables whose time column says so

    def __post_init__(self) -> None:
        self.unit = np.asarray(self.unit).astype(str)
        self.time = np.asarray(self.time, dtype=float)
        self.values = np.asarray(self.values, dtype=float).reshape(len(self.unit), -1)
        order = np.lexsort((self.time, _natural_keys(self.unit)))
        if not np.all(order == np.arange(len(order))):
            self.unit, self.time, self.values = (self.unit[order], self.time[order],
                                                 self.values[order])

    def __len__(self) -> int:
        return len(self.unit)

    @property
    def sensors(self) -> list[str]:
        return [c for c in self.channels if c not in self.settings]

    def unit_ids(self) -> list[str]:
        starts = self.bounds()
        return [str(self.unit[s]) for s, _e in starts]

    def bounds(self) -> list[tuple[int, int]]:
        """(start, stop) row ranges of each unit, in order."""
        if not len(self.unit):
            return []
        change = np.flatnonzero(self.unit[1:] != self.unit[:-1]) + 1
        edges = np.concatenate([[0], change, [len(self.unit)]])
        return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.channels.index(name)]

    def select(self, units: Iterable[str]) -> Fleet:
        """The rows of the given units (labels)."""
        keep = np.isin(self.unit, np.asarray(list(units)).astype(str))
        return Fleet(self.unit[keep], self.time[keep], self.values[keep], list(self.channels),
                     list(self.settings), self.source, self.time_unit)

    def truncated(self, last: dict[str, float]) -> Fleet:
        """Each unit's rows up to and including time ``last[unit]`` (units not named: all)."""
        limit = np.array([last.get(u, math.inf) for u in self.unit], dtype=float)
        keep = self.time <= limit
        return Fleet(self.unit[keep], self.time[keep], self.values[keep], list(self.channels),
                     list(self.settings), self.source, self.time_unit)

    def fingerprint(self) -> str:
        """SHA-256 of the data (units, times, channel names and values): what a model was
        trained on, so a saved model says which data it came from."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.channels).encode())
        h.update("\x1f".join(self.unit.tolist()).encode())
        h.update(np.ascontiguousarray(self.time).tobytes())
        h.update(np.ascontiguousarray(self.values).tobytes())
        return h.hexdigest()

    def check_trainable(self, where: str | Path, min_units: int = 2) -> None:
        """Raise a FileFormatError naming ``where`` when this fleet cannot train a model."""
        if len(self) == 0:
            raise FileFormatError(where, "it holds no rows")
        if not self.sensors:
            raise FileFormatError(where, "it has no sensor columns besides unit and time")
        n_units = len(self.bounds())
        if n_units < min_units:
            raise FileFormatError(where, f"it holds {n_units} unit; a remaining-life model "
                                         f"needs the run-to-failure histories of at least "
                                         f"{min_units} units")
        bad = ~np.isfinite(self.values)
        if bad.any():
            col = int(np.flatnonzero(bad.any(axis=0))[0])
            row = int(np.flatnonzero(bad[:, col])[0])
            raise FileFormatError(where, f"column '{self.channels[col]}' has {int(bad.sum())} "
                                         f"missing or non-numeric values (first in unit "
                                         f"{self.unit[row]} at time {self.time[row]:g})")
        for s, e in self.bounds():
            if np.any(np.diff(self.time[s:e]) <= 0):
                raise FileFormatError(where, f"unit {self.unit[s]} has repeated time values")


def _natural_keys(labels: np.ndarray) -> np.ndarray:
    """Sort keys that put unit "2" before "10" (numeric labels by value)."""
    try:
        return labels.astype(float)
    except ValueError:
        return labels


def concat(fleets: list[Fleet]) -> Fleet:
    if len(fleets) == 1:
        return fleets[0]
    channels = fleets[0].channels
    for f in fleets[1:]:
        if f.channels != channels:
            missing = sorted(set(channels) ^ set(f.channels))
            raise InputError(f"The fleet files do not have the same columns ({f.source} "
                             f"differs in {', '.join(missing[:5])}).")
    return Fleet(np.concatenate([f.unit for f in fleets]),
                 np.concatenate([f.time for f in fleets]),
                 np.concatenate([f.values for f in fleets]), list(channels),
                 list(fleets[0].settings), "+".join(f.source for f in fleets),
                 fleets[0].time_unit)


# -- readers -------------------------------------------------------------------------------------
def read_fleet(paths: str | Path | Iterable[str | Path],
               progress: Progress | None = None) -> Fleet:
    """Read one or several fleet files (C-MAPSS .txt, .csv, .parquet, history .db)."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    if not paths:
        raise InputError("Give at least one fleet file.")
    fleets = []
    for k, path in enumerate(paths):
        if progress is not None:
            progress(k / len(paths), f"Reading {path.name}")
        fleets.append(read_one(path))
    return concat(fleets)


def read_one(path: str | Path) -> Fleet:
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "the file does not exist")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return read_cmapss(path)
    if suffix == ".csv":
        return _from_table(path, *_read_csv(path))
    if suffix == ".parquet":
        return _from_table(path, *_read_parquet(path))
    if suffix == ".db":
        from sim.predict.history_fleet import fleet_from_history

        return fleet_from_history(path)
    raise FileFormatError(path, "a fleet is read from .txt (C-MAPSS), .csv, .parquet or .db "
                                "(history) files")


def read_cmapss(path: str | Path) -> Fleet:
    """A C-MAPSS file: 26 space-separated columns (unit, cycle, 3 settings, 21 sensors)."""
    path = Path(path)
    try:
        data = np.loadtxt(path, ndmin=2)
    except (ValueError, OSError) as exc:
        raise FileFormatError(path, f"it is not a C-MAPSS table of numbers ({exc})") from None
    if data.shape[1] != 26:
        raise FileFormatError(path, f"a C-MAPSS file has 26 columns, this one has "
                                    f"{data.shape[1]}")
    unit = np.array([str(int(u)) for u in data[:, 0]])
    return Fleet(unit, data[:, 1], data[:, 2:], CMAPSS_SETTINGS + CMAPSS_SENSORS,
                 list(CMAPSS_SETTINGS), path.name, "cycles")


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FileFormatError(path, f"it is not a readable CSV file ({exc})") from None
    if not rows:
        raise FileFormatError(path, "it is empty")
    header = [h.strip() for h in rows[0]]
    return header, rows[1:]


def _read_parquet(path: Path) -> tuple[list[str], list[list]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several kinds for a bad file
        raise FileFormatError(path, f"it is not a readable Parquet file ({exc})") from None
    header = list(table.column_names)
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return header, [list(r) for r in zip(*cols, strict=True)] if cols else []


def check_rows(path: Path, header: list[str], rows: list[list]) -> None:
    """FileFormatError unless the table has rows, each with as many fields as the header."""
    if not rows:
        raise FileFormatError(path, "it has a header but no rows")
    if any(len(r) != len(header) for r in rows):
        bad = next(k for k, r in enumerate(rows) if len(r) != len(header))
        raise FileFormatError(path, f"row {bad + 2} has {len(rows[bad])} fields, the header "
                                    f"{len(header)}")


def find_column(header: list[str], names: tuple[str, ...]) -> int | None:
    low = [h.lower() for h in header]
    for n in names:
        if n in low:
            return low.index(n)
    return None


def _number(v) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _from_table(path: Path, header: list[str], rows: list[list]) -> Fleet:
    ui, ti = find_column(header, UNIT_COLUMNS), find_column(header, TIME_COLUMNS)
    missing = [what for what, i in (("unit", ui), ("time", ti)) if i is None]
    if missing:
        raise FileFormatError(path, f"it has no {' and no '.join(missing)} column (expected "
                                    f"one of {', '.join(UNIT_COLUMNS if ui is None else TIME_COLUMNS)})")
    if {h.lower() for h in header} >= {"kind", "channel", "value"}:
        raise FileFormatError(path, "it is a long table of events; import it with "
                                    "'twinsight link import' first")
    other = [i for i in range(len(header)) if i not in (ui, ti)]
    check_rows(path, header, rows)
    unit = np.array([str(r[ui]).strip() for r in rows])
    unit = np.array([u[:-2] if u.endswith(".0") else u for u in unit])
    time = np.array([_number(r[ti]) for r in rows])
    if not np.isfinite(time).all():
        raise FileFormatError(path, f"the time column '{header[ti]}' has missing or "
                                    f"non-numeric values")
    values = np.array([[_number(r[i]) for i in other] for r in rows], dtype=float)
    names = [header[i] for i in other]
    settings = [n for n in names if n.lower().startswith(("setting", "op_"))]
    unit_of_time = "cycles" if header[ti].lower().startswith("cycle") else "s"
    return Fleet(unit, time, values.reshape(len(rows), len(other)), names, settings, path.name,
                 unit_of_time)


def write_csv(fleet: Fleet, path: str | Path) -> None:
    path = Path(path)
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["unit", "time", *fleet.channels])
            for u, t, row in zip(fleet.unit, fleet.time, fleet.values, strict=True):
                w.writerow([u, f"{t:g}", *(f"{v:.6g}" for v in row)])

    write_path_atomic(path, write)
