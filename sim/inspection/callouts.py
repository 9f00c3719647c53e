"""Callouts: the deviation at picked points, and the worst out-of-tolerance regions.

A picked point's callout reports the nearest measured point's deviation and the
mean over measured points within a small radius (a single scan point is noisy).
Regions are connected clusters of out-of-tolerance points, found with a KD-tree
radius graph, so a report can point at each defect automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from sim.errors import InputError
from sim.inspection.deviation import ABOVE, BELOW, DeviationResult

STATUS = {BELOW: "below", 0: "within", ABOVE: "above"}


@dataclass(frozen=True)
class Callout:
    label: str
    position: np.ndarray  # mm, the measured point the callout is anchored at
    deviation: float  # mm, at that point
    mean_deviation: float  # mm, mean within the radius
    neighbours: int
    status: str  # below / within / above / unmatched

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "position_mm": [float(x) for x in self.position],
                "deviation_mm": self.deviation, "mean_deviation_mm": self.mean_deviation,
                "neighbours": self.neighbours, "status": self.status}


def _tree(result: DeviationResult) -> cKDTree:
    return cKDTree(result.points)


def callout_at(result: DeviationResult, point: np.ndarray, label: str = "",
               radius: float = 1.0, tree: cKDTree | None = None) -> Callout:
    """The deviation at the measured point nearest ``point`` (and its neighbourhood mean)."""
    q = np.asarray(point, dtype=np.float64).reshape(3)
    if not np.isfinite(q).all():
        raise InputError("A callout position must be three finite numbers.")
    tree = tree or _tree(result)
    _, i = tree.query(q)
    near = np.asarray(tree.query_ball_point(result.points[i], radius), dtype=np.int64)
    vals = result.deviation[near]
    vals = vals[np.isfinite(vals)]
    d = float(result.deviation[i])
    status = "unmatched" if not np.isfinite(d) else STATUS[int(result.tolerance.classify(d))]
    return Callout(label or "C1", result.points[i].copy(), d,
                   float(vals.mean()) if vals.size else float("nan"), int(vals.size), status)


def callouts_at(result: DeviationResult, points: np.ndarray, radius: float = 1.0) -> list[Callout]:
    tree = _tree(result)
    return [callout_at(result, p, f"C{k + 1}", radius, tree)
            for k, p in enumerate(np.asarray(points, float).reshape(-1, 3))]


@dataclass(frozen=True)
class Region:
    """A connected cluster of out-of-tolerance points."""

    label: str
    status: str  # above / below
    count: int
    centroid: np.ndarray
    worst_position: np.ndarray
    worst_deviation: float
    indices: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "status": self.status, "points": self.count,
                "centroid_mm": [float(x) for x in self.centroid],
                "worst_position_mm": [float(x) for x in self.worst_position],
                "worst_deviation_mm": self.worst_deviation}


def out_of_tolerance_regions(result: DeviationResult, link_distance: float,
                             min_points: int = 5, limit: int = 20) -> list[Region]:
    """Clusters of out-of-tolerance points (points closer than ``link_distance`` join)."""
    bands = result.bands
    regions: list[Region] = []
    for status in (BELOW, ABOVE):
        idx = np.flatnonzero(bands == status)
        if idx.size < min_points:
            continue
        pts = result.points[idx]
        pairs = cKDTree(pts).query_pairs(link_distance, output_type="ndarray")
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                           shape=(len(idx), len(idx))) if len(pairs) else coo_matrix(
            (len(idx), len(idx)))
        _, labels = connected_components(graph, directed=False)
        for lab in np.unique(labels):
            members = idx[labels == lab]
            if members.size < min_points:
                continue
            dev = result.deviation[members]
            w = members[np.argmax(np.abs(dev))]
            regions.append(Region("", STATUS[status], int(members.size),
                                  result.points[members].mean(axis=0), result.points[w].copy(),
                                  float(result.deviation[w]), members))
    regions.sort(key=lambda r: abs(r.worst_deviation), reverse=True)
    return [Region(f"R{k + 1}", r.status, r.count, r.centroid, r.worst_position,
                   r.worst_deviation, r.indices) for k, r in enumerate(regions[:limit])]
