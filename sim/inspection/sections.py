"""2D sections through nominal and measured, with deviation whiskers.

A section plane cuts the nominal surface into curves; measured points within a
thin slab about the plane are projected onto it. Each whisker starts at the
point's closest nominal point and runs along the nominal normal, its length the
signed deviation times an exaggeration factor, as inspection software draws them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.inspection.deviation import DeviationResult

_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


@dataclass(frozen=True)
class Section:
    label: str
    origin: np.ndarray
    normal: np.ndarray
    u: np.ndarray  # in-plane axes: 2D coordinates are ((p - origin) . u, (p - origin) . v)
    v: np.ndarray
    nominal_segments: np.ndarray  # (m, 2, 2) nominal curve segments in 2D
    points: np.ndarray  # (k, 2) measured points in the slab, 2D
    base: np.ndarray  # (k, 2) their closest nominal points, 2D
    direction: np.ndarray  # (k, 2) nominal normal projected into the plane (unit or zero)
    deviation: np.ndarray  # (k,) mm
    bands: np.ndarray  # (k,) -1/0/+1

    def summary(self) -> dict[str, Any]:
        d = self.deviation[np.isfinite(self.deviation)]
        return {"label": self.label, "origin_mm": self.origin.tolist(),
                "normal": self.normal.tolist(), "points": int(len(d)),
                "min_mm": float(d.min()) if d.size else None,
                "max_mm": float(d.max()) if d.size else None}


def parse_plane(text: str, bounds: tuple[float, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """'x=12.5' (a plane normal to an axis) or 'ox,oy,oz,nx,ny,nz' -> (origin, unit normal)."""
    t = text.strip().lower().replace(" ", "")
    m = re.fullmatch(r"([xyz])=([-+]?[\d.]+(?:e[-+]?\d+)?)", t)
    if m:
        normal = np.array(_AXES[m[1]])
        center = np.zeros(3) if bounds is None else np.array(bounds).reshape(3, 2).mean(axis=1)
        origin = center.copy()
        origin["xyz".index(m[1])] = float(m[2])
        return origin, normal
    try:
        vals = [float(x) for x in t.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 6 or not np.isfinite(vals).all() or np.linalg.norm(vals[3:]) == 0:
        raise InputError(f"Section '{text}' must be like 'z=5' or 'ox,oy,oz,nx,ny,nz'.")
    n = np.array(vals[3:])
    return np.array(vals[:3]), n / np.linalg.norm(n)


def _plane_axes(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([0.0, 0.0, 1.0]) if abs(normal[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(helper, normal)
    u /= np.linalg.norm(u)
    return u, np.cross(normal, u)


def section(result: DeviationResult, nominal: pv.DataSet, origin: np.ndarray,
            normal: np.ndarray, thickness: float | None = None, label: str = "S1",
            max_points: int = 4000) -> Section:
    """Cut nominal and measured by the plane (origin, normal); slab of ``thickness`` mm."""
    o = np.asarray(origin, float)
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    u, v = _plane_axes(n)
    surf = nominal if isinstance(nominal, pv.PolyData) else nominal.extract_surface()
    cut = surf.slice(normal=n, origin=o)
    segs = np.zeros((0, 2, 2))
    if cut.n_points and cut.n_cells:
        pairs = []
        arr, i = np.asarray(cut.lines), 0
        while i < len(arr):  # cells are [k, id0 .. idk-1]: lines or polylines
            k = int(arr[i])
            ids = arr[i + 1:i + 1 + k]
            pairs.extend(zip(ids[:-1], ids[1:], strict=True))
            i += k + 1
        lines = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        p2 = _to_2d(np.asarray(cut.points), o, u, v)
        segs = p2[lines]
    if thickness is None:
        b = np.asarray(surf.bounds).reshape(3, 2)
        thickness = max(float(np.linalg.norm(b[:, 1] - b[:, 0])) / 200.0, 1e-6)
    dist = (result.points - o) @ n
    sel = np.flatnonzero(np.abs(dist) <= thickness / 2.0)
    sel = sel[np.isfinite(result.deviation[sel])]
    if len(sel) > max_points:  # whiskers for every point would be a solid smear
        sel = sel[np.linspace(0, len(sel) - 1, max_points).astype(np.int64)]
    d2 = result.normals[sel] @ np.stack([u, v], axis=1)
    length = np.linalg.norm(d2, axis=1, keepdims=True)
    direction = np.where(length > 1e-9, d2 / np.maximum(length, 1e-12), 0.0)
    return Section(label, o, n, u, v, segs, _to_2d(result.points[sel], o, u, v),
                   _to_2d(result.closest[sel], o, u, v), direction, result.deviation[sel],
                   result.bands[sel])


def _to_2d(p: np.ndarray, o: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    q = np.asarray(p, float) - o
    return np.stack([q @ u, q @ v], axis=1)


def whiskers(sec: Section, scale: float) -> np.ndarray:
    """(k, 2, 2) whisker segments: from the nominal point along the normal by scale * deviation."""
    tip = sec.base + sec.direction * (sec.deviation * scale)[:, None]
    return np.stack([sec.base, tip], axis=1)
