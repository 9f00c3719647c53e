"""History databases as fleets, and tables imported into history databases.

A history file recorded live holds one unit (the asset). A fleet imported with
``twinsight link import`` holds several: its channels are named ``UNIT/SENSOR`` and the
meta table lists the units (key ``fleet_units``). Readings are aligned on a common time
grid (the smallest median interval among the channels; an empty bin repeats the previous
value) and readings whose quality flags exclude them are left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError
from sim.predict.fleet import (
    TIME_COLUMNS,
    UNIT_COLUMNS,
    Fleet,
    _number,
    _read_csv,
    _read_parquet,
    check_rows,
    find_column,
    read_cmapss,
)
from sim.predict.quality import QualityChecker, QualityRules
from sim.progress import Progress, no_progress

UNITS_KEY = "fleet_units"


def fleet_from_history(path: str | Path, step: float | None = None) -> Fleet:
    from sim.twin.history import HistoryStore

    path = Path(path)
    with HistoryStore.open(path) as reader:
        meta = reader.meta()
        channels = [c["channel"] for c in reader.channels() if c["kind"] == "value"]
        if not channels:
            raise FileFormatError(path, "the history holds no sensor values")
        units = json.loads(meta[UNITS_KEY]) if UNITS_KEY in meta else None
        groups: dict[str, dict[str, str]] = {}
        for ch in channels:
            if units is None:
                groups.setdefault(meta.get("asset", path.stem), {})[ch] = ch
            else:
                unit, _, sensor = ch.partition("/")
                if unit in units and sensor:
                    groups.setdefault(unit, {})[sensor] = ch
        names = sorted({s for g in groups.values() for s in g})
        parts = []
        for unit, chans in groups.items():
            series = {s: reader.clean_series(ch)[:2] for s, ch in chans.items()}
            parts.append((unit, series))
    grid_step = step or _common_step([s for _u, ser in parts for s in ser.values()])
    unit_col, time_col, rows = [], [], []
    for unit, series in parts:
        t0 = min(t[0] for t, _v in series.values() if len(t))
        t1 = max(t[-1] for t, _v in series.values() if len(t))
        grid = t0 + grid_step * np.arange(int(np.floor((t1 - t0) / grid_step + 1e-9)) + 1)
        block = np.full((len(grid), len(names)), np.nan)
        for j, s in enumerate(names):
            if s in series and len(series[s][0]):
                t, v = series[s]
                idx = np.searchsorted(t, grid + 1e-9 * grid_step, side="right") - 1
                ok = idx >= 0
                block[ok, j] = v[idx[ok]]
        unit_col += [unit] * len(grid)
        time_col.append(grid)
        rows.append(block)
    settings = [n for n in names if n.lower().startswith(("setting", "op_"))]
    fleet = Fleet(np.array(unit_col), np.concatenate(time_col), np.vstack(rows), names,
                  settings, path.name)
    fleet.step = grid_step  # type: ignore[attr-defined]
    return fleet


def _common_step(series: list[tuple[np.ndarray, np.ndarray]]) -> float:
    meds = [float(np.median(np.diff(t))) for t, _v in series if len(t) > 1]
    meds = [m for m in meds if m > 0]
    return min(meds) if meds else 1.0


# -- import --------------------------------------------------------------------------------------
def read_table(path: str | Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray,
                                              np.ndarray, np.ndarray]:
    """A wide or long table as (channels, units, unit per row, time per row, values (n, k),
    which cells hold a reading (n, k)).

    Wide: a time column, an optional unit column, one column per channel. Long (as
    ``link replay --export`` writes): columns t, channel, value (and kind: only "value" rows
    are read). C-MAPSS .txt files are read as wide tables with a unit column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "the file does not exist")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        f = read_cmapss(path)
        return (f.channels, f.unit_ids(), f.unit, f.time, f.values,
                np.ones(f.values.shape, dtype=bool))
    if suffix == ".csv":
        header, rows = _read_csv(path)
    elif suffix == ".parquet":
        header, rows = _read_parquet(path)
    else:
        raise FileFormatError(path, "import reads .csv, .parquet or C-MAPSS .txt files")
    low = [h.lower() for h in header]
    check_rows(path, header, rows)
    ti = find_column(header, TIME_COLUMNS)
    if ti is None:
        raise FileFormatError(path, f"it has no time column (expected one of "
                                    f"{', '.join(TIME_COLUMNS)})")
    times = np.array([_number(r[ti]) for r in rows])
    if not np.isfinite(times).all():
        raise FileFormatError(path, f"the time column '{header[ti]}' has missing or "
                                    f"non-numeric values")
    if "channel" in low and "value" in low:  # long
        ci, vi = low.index("channel"), low.index("value")
        ki = low.index("kind") if "kind" in low else None
        keep = [k for k, r in enumerate(rows) if ki is None or str(r[ki]) == "value"]
        chan = [str(rows[k][ci]) for k in keep]
        channels = sorted(set(chan))
        col = {c: j for j, c in enumerate(channels)}
        values = np.full((len(keep), len(channels)), np.nan)
        present = np.zeros(values.shape, dtype=bool)
        for n, k in enumerate(keep):
            values[n, col[chan[n]]] = _number(rows[k][vi])
            present[n, col[chan[n]]] = True
        unit = np.full(len(keep), "")
        return channels, [""], unit, times[keep], values, present
    ui = find_column(header, UNIT_COLUMNS)
    other = [i for i in range(len(header)) if i not in (ti, ui)]
    if not other:
        raise FileFormatError(path, "it has no sensor columns besides unit and time")
    unit = (np.array([str(r[ui]).strip().removesuffix(".0") for r in rows]) if ui is not None
            else np.full(len(rows), ""))
    values = np.array([[_number(r[i]) for i in other] for r in rows], dtype=float)
    units = list(dict.fromkeys(unit.tolist()))
    values = values.reshape(len(rows), -1)
    return ([header[i] for i in other], units, unit, times, values,
            np.ones(values.shape, dtype=bool))


def import_table(src: str | Path, out: str | Path, progress: Progress = no_progress,
                 rules: QualityRules | None = None) -> dict:
    """Write a table's readings into a new history database, each with its quality flags."""
    from sim.twin.history import HistoryStore

    src, out = Path(src), Path(out)
    if out.exists():
        raise FileFormatError(out, "it already exists; choose a new history file")
    progress(0.0, f"Reading {src.name}")
    channels, units, unit, times, values, present = read_table(src)
    fleet = len(units) > 1 or units != [""]
    flagged = dict.fromkeys(channels, 0)
    written = 0
    with HistoryStore(out, capacity=10_000_000) as store:
        for k, u in enumerate(units):
            rows = np.flatnonzero(unit == u)
            order = rows[np.argsort(times[rows], kind="stable")] if fleet else rows
            for j, ch in enumerate(channels):
                name = f"{u}/{ch}" if fleet else ch
                checker = QualityChecker(rules)
                for i in order:
                    t, v = float(times[i]), float(values[i, j])
                    if not present[i, j]:
                        continue  # a long table: this row holds another channel
                    flags = checker.check(t, v)
                    store.record("value", name, t, v if np.isfinite(v) else None)
                    written += 1
                    if flags:
                        store.record("flag", name, t, v if np.isfinite(v) else None,
                                     json.dumps(list(flags)))
                        flagged[ch] += 1
            progress((k + 1) / len(units), f"Imported unit {u}" if fleet else "Imported")
        store.flush()
    if fleet:
        store.set_meta(UNITS_KEY, json.dumps(units))
    store.set_meta("imported_from", src.name)
    return {"file": str(out), "source": str(src), "units": len(units) if fleet else 1,
            "channels": channels, "readings": written, "flagged": flagged}
