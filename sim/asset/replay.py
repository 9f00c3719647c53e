"""Run the engineering twin over a recorded history (``twinsight twin replay``/``calibrate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.asset.model import AssetModel
from sim.errors import FileFormatError
from sim.progress import Progress, no_progress
from sim.twin.history import HistoryReader


def history_samples(model: AssetModel, path: str | Path, t0: float | None = None,
                    t1: float | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Samples (times, readings (T, S) with NaN for missing) of the model's sensors in a
    history; notes on what was missing. A history without any of them is refused."""
    with HistoryReader(path) as reader:
        present = {c["channel"] for c in reader.channels() if c["kind"] == "value"}
        ids = model.sensor_ids
        found = [s for s in ids if s in present]
        if not found:
            raise FileFormatError(path, f"it holds none of the sensors of the twin model "
                                        f"'{model.name}' (a history of another asset?)")
        notes = [f"Sensor '{s}' has no readings in the history; the twin runs without it."
                 for s in ids if s not in present]
        series = {s: reader.series(s) for s in found}
    times = np.unique(np.concatenate([series[s][0] for s in found]))
    if t0 is not None:
        times = times[times >= t0]
    if t1 is not None:
        times = times[times <= t1]
    Y = np.full((len(times), len(ids)), np.nan)
    dup = 0
    for s in found:
        ts, vs = series[s]
        uniq, first = np.unique(ts, return_index=True)
        dup += len(ts) - len(uniq)
        pos = np.searchsorted(times, uniq)
        ok = (pos < len(times)) & (times[np.clip(pos, 0, len(times) - 1)] == uniq)
        Y[pos[ok], ids.index(s)] = vs[first][ok]
    if dup:
        notes.append(f"{dup} duplicate reading(s) (same sensor and time) were ignored.")
    bad = ~np.isfinite(Y) & ~np.isnan(Y)
    Y[bad] = np.nan
    return times, Y, notes


def replay(model: AssetModel, path: str | Path, progress: Progress = no_progress,
           block: int = 5000) -> dict[str, Any]:
    """The twin's result over a whole history: loads, damage, life and alarms."""
    from sim.asset.runtime import AssetTwin
    from sim.twin.alarms import AlarmBook

    t, Y, notes = history_samples(model, path)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.1
    book = AlarmBook()
    twin = AssetTwin(model, book, dt=dt)
    loads = []
    for i in range(0, len(t), block):
        twin.process(t[i:i + block], Y[i:i + block])
        q, _ = twin.identifier.identify(Y[i:i + block])
        loads.append(q)
        progress((i + block) / max(1, len(t)), "Replaying")
    out = twin.summary()
    q = np.concatenate(loads) if loads else np.zeros((0, len(model.channels)))
    out["load_statistics"] = {c: {"mean": float(np.nanmean(q[:, k])),
                                  "min": float(np.nanmin(q[:, k])),
                                  "max": float(np.nanmax(q[:, k]))}
                              for k, c in enumerate(model.channels)} if len(q) else {}
    out["alarms"] = [a.to_dict() for a in book.alarms.values()]
    out["notes"] = notes
    out["duration_s"] = float(t[-1] - t[0]) if len(t) else 0.0
    return out
