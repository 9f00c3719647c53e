"""One sample of a sweep, run where a Dask worker runs it: the base spec with the sample's
values set at their paths, solved, and its quantities of interest read off the result.

Every failure of a sample (bad value, solver breakdown, anything raised) becomes an error in
the sample's record: one bad sample never stops a sweep.
"""

from __future__ import annotations

import copy
import importlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.sweep.paths import get_path, lookup, set_path

Record = dict[str, Any]


def payload_of(spec: Any) -> dict[str, Any]:
    """What every worker needs to know about the sweep (sent to each once)."""
    folder = spec.folder if spec.base_kind == "python" else Path(spec.base_path).parent
    return {"kind": spec.base_kind, "target": spec.base_path, "base": spec.base_raw,
            "folder": str(folder), "params": [(p.name, p.path) for p in spec.parameters],
            "qois": [(q.name, q.path) for q in spec.qois], "transfer": spec.transfer,
            "options": spec.base_options}


def _set(raw: dict, path: str, value: Any) -> None:
    if isinstance(value, np.generic):
        value = value.item()
    set_path(raw, path, value)


def _run_python(payload: dict, raw: dict) -> dict:
    module, _, name = payload["target"].partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise InputError(f"The python base '{payload['target']}' is not a function.")
    out = fn(**raw)
    return out if isinstance(out, dict) else {"y": out}


def _run_fem(payload: dict, raw: dict) -> dict:
    from sim.fem.analysis import run_analysis
    from sim.fem.spec import AnalysisSpec

    summary = run_analysis(AnalysisSpec(raw, Path(payload["folder"]),
                                        str(raw.get("name", "sample")))).summary
    if not summary.get("converged", True):
        raise RuntimeError("the solver did not converge")
    return summary


_centroids: dict[tuple[str, int], np.ndarray] = {}  # per worker process: labels do not move


def host_centroid(case: str, label: int) -> np.ndarray:
    """Centroid (LPS mm) of ``label`` in the label map of ``case``."""
    key = (str(case), int(label))
    if key not in _centroids:
        from sim.io import load
        from sim.placement.anatomy import labelmap_of

        labels = labelmap_of(load(case))
        arr = np.asarray(labels.active_scalars if labels.active_scalars is not None
                         else labels.point_data[labels.array_names[0]])
        mask = arr.ravel() == int(label)
        if not mask.any():
            raise InputError(f"The label map of '{Path(case).name}' has no label {label}.")
        _centroids[key] = np.asarray(labels.points[mask]).mean(axis=0)
    return _centroids[key]


def _transfer(base: dict, raw: dict, folder: Path) -> None:
    """Move the plan's trajectory with the host structure's centroid (base -> member)."""
    def host(d: dict) -> tuple[str, int]:
        st = next((s for s in d.get("structures", []) if s.get("role") == "host" and "label" in s),
                  None)
        if st is None or not d.get("case"):
            raise InputError("Cohort transfer by centroid needs a case and a host structure "
                             "with a label.")
        return str(folder / str(d["case"])), int(st["label"])

    shift = host_centroid(*host(raw)) - host_centroid(*host(base))
    trajs = [raw.get("trajectory")] + [c.get("trajectory") for c in raw.get("candidates") or []]
    for t in trajs:
        if isinstance(t, dict):
            for key in ("entry", "target"):
                if key in t:
                    t[key] = (np.asarray(t[key], dtype=float) + shift).tolist()


def placement_quantities(result: dict) -> dict:
    """Convenient quantities of a placement result: safe, clearances, breach, purchase."""
    final = (result.get("fit") or {}).get("result") or result.get("evaluation")
    if final is None and result.get("recommendation"):
        final = ((result["recommendation"].get("fit") or {}).get("result"))
    if final is None:
        return {}
    structs = final.get("structures", [])
    host = next((s for s in structs if s.get("role") == "host"), {})
    crit = [s["clearance_mm"] for s in structs if s.get("role") == "critical"
            and s.get("clearance_mm") is not None]
    return {"safe": bool(final.get("safe")), "violations": len(final.get("violations", [])),
            "min_clearance_mm": min(crit) if crit else None,
            "clearance": {s["name"]: s.get("clearance_mm") for s in structs},
            "breach_mm": host.get("breach_mm"), "purchase": host.get("purchase"),
            "score": (result.get("fit") or {}).get("score")}


def _run_place(payload: dict, raw: dict) -> dict:
    from sim.placement.run import run_spec
    from sim.placement.spec import parse_spec

    result, _ = run_spec(parse_spec(raw, Path(payload["folder"])))
    return {**result, **placement_quantities(result)}


def _run_interaction(payload: dict, raw: dict) -> dict:
    from sim.sweep.interaction import run_interaction

    return run_interaction(payload, raw)


_RUNNERS = {"python": _run_python, "fem": _run_fem, "place": _run_place,
            "interaction": _run_interaction}


def _number(v: Any) -> float | None:
    if isinstance(v, bool | np.bool_):
        return float(v)
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x


def evaluate_sample(payload: dict, sample: tuple[int, str, str | None, dict, dict]) -> Record:
    """Run one sample ``(id, member name, member case, member overrides, values)``."""
    sid, member, case, overrides, values = sample
    t0 = time.perf_counter()
    rec: Record = {"sample": sid, "member": member, "error": None,
                   "worker": f"{socket.gethostname()}:{os.getpid()}"}
    rec.update({f"p.{name}": v.item() if isinstance(v, np.generic) else v
                for name, v in values.items()})
    try:
        base = payload["base"]
        raw = copy.deepcopy(base)
        folder = Path(payload["folder"])
        if case is not None:
            raw["case"] = case
        for path, value in overrides.items():
            _set(raw, path, value)
        if payload["transfer"] == "centroid":
            _transfer(base, raw, folder)
        for name, path in payload["params"]:
            _set(raw, path, values[name])
        result = _RUNNERS[payload["kind"]](payload, raw)
        for name, path in payload["qois"]:
            value = lookup(result, path)
            if value is None:
                get_path(result, path)  # raises, naming the missing quantity
            rec[f"q.{name}"] = _number(value)
    except Exception as exc:  # a failing sample is recorded, never fatal
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        rec["error"] = f"{type(exc).__name__}: {msg}"[:500]
    rec["wall_time_s"] = time.perf_counter() - t0
    return rec


def evaluate_batch(payload: dict, batch: list) -> list[Record]:
    """Several samples in one task (cheap models: the per-task overhead is shared)."""
    return [evaluate_sample(payload, s) for s in batch]
