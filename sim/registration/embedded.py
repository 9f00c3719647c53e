"""Structures embedded in a deformed organ: points, meshes, trajectories and markups move with it.

Every structure is located once in the organ's tetrahedra (barycentric embedding) and moved by
the registration's deformation and pose. The plan change report says how far each target
moved and, for trajectories (line markups: entry -> target), how their direction and length
changed, so a screw or needle plan can be re-checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.markups.model import Markup, MarkupType
from sim.registration.deformable_result import DeformableResult


@dataclass
class Structure:
    """One embedded thing: a point set or mesh (``data``) or a markup."""

    name: str
    data: pv.DataSet | None = None
    markup: Markup | None = None

    @property
    def points(self) -> np.ndarray:
        if self.markup is not None:
            return np.asarray(self.markup.points, dtype=np.float64).reshape(-1, 3)
        return np.asarray(self.data.points, dtype=np.float64)

    @property
    def is_target_set(self) -> bool:
        """Point sets and markups hold targets; meshes (vessels, tumour) are shapes."""
        if self.markup is not None:
            return True
        return self.data is not None and (self.data.n_cells == 0 or (
            isinstance(self.data, pv.PolyData) and self.data.n_verts == self.data.n_cells))

    def moved(self, new_points: np.ndarray) -> Structure:
        if self.markup is not None:
            pts = tuple(tuple(float(c) for c in p) for p in new_points)
            return Structure(self.name, markup=replace(self.markup, points=pts))
        data = self.data.copy()
        data.points = new_points
        return Structure(self.name, data=data)


def load_structures(paths: list[str | Path]) -> list[Structure]:
    """Structures from files: Slicer markups (.mrk.json) or anything :func:`sim.io.load` reads."""
    from sim.io import load
    from sim.markups.slicer import import_markups

    out: list[Structure] = []
    for path in paths:
        path = Path(path)
        if path.name.lower().endswith(".mrk.json"):
            markups, _notes = import_markups(path)
            out += [Structure(m.name, markup=m) for m in markups if m.points]
            continue
        case = load(path)
        for obj in case.scene:
            if obj.data.n_points:
                data = obj.data if not obj.has_transform else obj.data.transform(
                    obj.transform, inplace=False)
                out.append(Structure(obj.name, data=data))
        out += [Structure(m.name, markup=m) for m in case.markups if m.points]
    if not out and paths:
        raise InputError("The embedded structure files hold no points, meshes or markups.")
    return out


def move_structures(result: DeformableResult, structures: list[Structure]
                    ) -> list[Structure]:
    """Each structure carried by the deformation (pre-op -> data frame)."""
    return [s.moved(result.move(s.points)) for s in structures]


def plan_report(result: DeformableResult, before: list[Structure], after: list[Structure],
                uncertainty: bool = True) -> list[dict[str, Any]]:
    """Per structure: displacement of its points (mean/max, each target's) and, for
    trajectories (line markups), the change of direction and length."""
    report = []
    for b, a in zip(before, after, strict=True):
        p0, p1 = b.points, a.points
        disp = np.linalg.norm(p1 - p0, axis=1)
        item: dict[str, Any] = {"name": b.name, "points": len(p0),
                                "mean_displacement_mm": float(disp.mean()) if len(disp) else 0.0,
                                "max_displacement_mm": float(disp.max(initial=0.0))}
        if b.is_target_set:
            std = result.uncertainty(p0) if uncertainty else np.full(len(p0), np.nan)
            labels = [b.markup.label(i) if b.markup is not None else f"{b.name}-{i + 1}"
                      for i in range(len(p0))]
            item["targets"] = [{"label": lab, "before": p0[i].tolist(), "after": p1[i].tolist(),
                                "displacement_mm": float(disp[i]),
                                "uncertainty_mm": float(std[i])}
                               for i, lab in enumerate(labels)]
        if b.markup is not None and b.markup.type == MarkupType.LINE and len(p0) == 2:
            item["trajectory"] = trajectory_change(p0, p1)
        report.append(item)
    return report


def trajectory_change(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """Entry/target motion, turn of the direction (degrees) and length change (mm)."""
    d0, d1 = before[1] - before[0], after[1] - after[0]
    n0, n1 = float(np.linalg.norm(d0)), float(np.linalg.norm(d1))
    cos = float(np.dot(d0, d1) / max(n0 * n1, 1e-300))
    return {"entry_moved_mm": float(np.linalg.norm(after[0] - before[0])),
            "target_moved_mm": float(np.linalg.norm(after[1] - before[1])),
            "direction_change_deg": math.degrees(math.acos(min(max(cos, -1.0), 1.0))),
            "length_change_mm": n1 - n0}


def target_errors(moved: list[Structure], truth: np.ndarray) -> np.ndarray:
    """Distance (mm) of every moved target point to its true position (same order)."""
    pts = [s.points for s in moved if s.is_target_set]
    est = np.vstack(pts) if pts else np.zeros((0, 3))
    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 3)
    if len(est) != len(truth):
        raise InputError(f"The true target file has {len(truth)} points but the embedded "
                         f"point sets and markups have {len(est)}; give one row per target, "
                         "in the same order.")
    return np.linalg.norm(est - truth, axis=1)
