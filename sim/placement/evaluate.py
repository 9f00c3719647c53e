"""Evaluate one device pose against the anatomy: collision, penetration, clearance, purchase.

Per structure:
- **clearance**: the exact minimum distance between the device surface and the
  structure surface (triangle-triangle, via both trees), with the closest points;
  0 when they touch or overlap.
- **collision**: the surfaces intersect, or one solid lies inside the other.
- **penetration depth**: how deep the deepest vertex of either surface lies inside the
  other solid (exact at the vertices).
- **intersected volume**: device volume inside the structure (lattice quadrature).
- for a **host** (the bone a screw sits in, the vessel a stent sits in): bone purchase
  (fraction of the embedded part's volume inside the host) and the breach (how far the
  embedded part's surface leaves the host).
A critical structure closer than its margin, or hit, is a margin violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.placement.field import SurfaceField
from sim.placement.report import Evaluation, StructureResult
from sim.placement.rigid_device import MovedDevice, RigidDevice, check_pose
from sim.progress import Progress, no_progress, sub_progress

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

ROLES = ("critical", "host", "other")
_REFINE = 32  # exact re-checks of the deepest grid candidates


@dataclass
class Structure:
    """An anatomical (or factory) structure the device is judged against."""

    name: str
    field: SurfaceField
    role: str = "other"
    margin_mm: float | None = None  # None: the device's default margin

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InputError(f"A structure's role must be one of {', '.join(ROLES)}, not '{self.role}'.")


@dataclass
class PlacementScene:
    """Structures prepared once; any number of devices and poses are then evaluated."""

    structures: list[Structure] = field(default_factory=list)
    # Clearances up to margin + exact_within mm are exact; farther ones are upper bounds.
    exact_within: float = 15.0

    def add(self, name: str, mesh: pv.DataSet, role: str = "other",
            margin_mm: float | None = None, grid_spacing: float | None = None,
            progress: Progress = no_progress) -> Structure:
        if any(s.name == name for s in self.structures):
            raise InputError(f"There is already a structure named '{name}'.")
        s = Structure(name, SurfaceField(mesh, grid_spacing=grid_spacing, progress=progress),
                      role, margin_mm)
        self.structures.append(s)
        return s

    @classmethod
    def from_surfaces(cls, items: list[tuple[str, pv.DataSet, str, float | None]],
                      around: ArrayLike | None = None, reach: float = 30.0,
                      progress: Progress = no_progress) -> PlacementScene:
        """A prepared scene from ``(name, surface, role, margin_mm)`` items: trees, then
        distance grids (limited to ``reach`` mm around the points ``around`` if given).
        Progress runs 0..1 in proportion to the triangles handled; a cancel (the callback
        raising :class:`sim.errors.Cancelled`) stops between steps and leaves nothing."""
        scene = cls()
        sizes = np.array([max(int(m.n_cells), 1) for _, m, _, _ in items], float)
        edges = 0.45 * np.r_[0.0, np.cumsum(sizes)] / max(sizes.sum(), 1.0)
        for i, (name, mesh, role, margin) in enumerate(items):
            sub = sub_progress(progress, edges[i], edges[i + 1])
            scene.add(name, mesh, role=role, margin_mm=margin,
                      progress=lambda f, m, sub=sub, name=name: sub(f, f"{name}: {m}"))
        scene.prepare(around, reach=reach, progress=sub_progress(progress, 0.45, 1.0))
        return scene

    def __getitem__(self, name: str) -> Structure:
        for s in self.structures:
            if s.name == name:
                return s
        raise InputError(f"No structure named '{name}' in the placement scene.")

    def prepare(self, around: ArrayLike | None = None, reach: float = 30.0,
                progress: Progress = no_progress) -> None:
        """Build every distance grid now (else on first use). ``around``: points (e.g. a
        trajectory's entry and target) to limit the grids to, ``reach`` mm beyond them.
        Progress is shared out by triangle count; a cancel stops between blocks."""
        weights = np.array([max(s.field.n_triangles, 1) for s in self.structures], float)
        edges = np.r_[0.0, np.cumsum(weights)] / max(weights.sum(), 1.0)
        for i, s in enumerate(self.structures):
            if around is not None:
                pts = np.asarray(around, dtype=float).reshape(-1, 3)
                s.field.limit_to(pts.min(axis=0) - reach, pts.max(axis=0) + reach)
            sub = sub_progress(progress, edges[i], edges[i + 1])
            s.field.build_grid(lambda f, m, sub=sub, name=s.name: sub(f, f"{name}: {m}"))
        progress(1.0, "Structures prepared")


def _deepest(field: SurfaceField, points: np.ndarray, approx: np.ndarray):
    """Exact most negative signed distance among ``points``, checking grid candidates.

    Grid values are within ``grid_error`` of the truth, so only points whose grid value is
    within twice that of the grid minimum can be the deepest. Returns (signed distance,
    the point, its closest surface point).
    """
    if len(points) == 0:
        return 0.0, np.full(3, np.nan), np.full(3, np.nan)
    eps = field.grid_error
    cand = np.flatnonzero(approx <= approx.min() + 2.0 * eps)
    if len(cand) > _REFINE:
        cand = cand[np.argsort(approx[cand])[:_REFINE]]
    sd, q = field.signed_distance(points[cand])
    k = int(np.argmin(sd))
    return float(sd[k]), points[cand[k]], q[k]


def _inside(field: SurfaceField, point: np.ndarray) -> bool:
    sd, _ = field.signed_distance(point.reshape(1, 3))
    return bool(sd[0] < 0)


def _clearance(res: StructureResult, moved: MovedDevice, f: SurfaceField, approx_v: np.ndarray,
               overlap_boxes: bool, exact_within: float) -> None:
    """Exact clearance by tree descent, seeded with the exact distance of the device vertex
    the grid says is nearest: an upper bound that prunes almost every pair of boxes.

    Beyond ``exact_within`` mm the descent is skipped and the seed distance (an upper bound
    within about one device edge of the truth) is reported, flagged as not exact.
    """
    k = int(np.argmin(approx_v))
    bound = np.inf
    sd = q = None
    if approx_v[k] < 1e5:
        sd, q = f.signed_distance(moved.vertices[k])
        if sd[0] < 0.0:
            res.collision = True
            return
        bound = float(sd[0]) * (1.0 + 1e-9) + 1e-12
    limit = min(bound, exact_within * (1.0 + 1e-9))
    d, p_dev, p_str, ta, _ = moved.tree.distance_to(f.tree, limit)
    if ta < 0:  # nothing below the limit: the seed vertex gives the (upper-bound) clearance
        if sd is None:
            # Off every grid (far away): the nearest of a spread of device vertices.
            step = max(len(moved.vertices) // 64, 1)
            sds, qs = f.signed_distance(moved.vertices[::step])
            j = int(np.argmin(np.abs(sds)))
            k = j * step
            sd, q = sds[j:j + 1], qs[j:j + 1]
        d, p_dev, p_str = abs(float(sd[0])), moved.vertices[k], q[0]
        res.clearance_exact = bool(limit >= bound)
    res.clearance_mm, res.device_point, res.structure_point = d, p_dev, p_str
    res.collision = d == 0.0
    if not res.collision and overlap_boxes:
        # Disjoint surfaces collide only if one solid is wholly inside the other.
        res.collision = _inside(f, moved.vertices[0]) or \
            _inside(moved.rigid.field, moved.to_local(f.vertices[0]))
    if res.collision:
        res.clearance_mm = 0.0
        res.clearance_exact = True


def evaluate_structure(moved: MovedDevice, s: Structure, default_margin: float,
                       exact_within: float = np.inf) -> StructureResult:
    rigid = moved.rigid
    f = s.field
    # A critical structure's margin is a clearance to keep; a host's is the breach tolerated.
    if s.margin_mm is not None:
        margin = float(s.margin_mm)
    else:
        margin = default_margin if s.role == "critical" else 0.0
    lo, hi = moved.bounds
    slo, shi = f.bounds
    overlap_boxes = bool(np.all(lo <= shi) and np.all(slo <= hi))
    approx_v = f.approx_signed(moved.vertices)
    res = StructureResult(name=s.name, role=s.role, margin_mm=margin, clearance_mm=0.0,
                          device_point=np.full(3, np.nan), structure_point=np.full(3, np.nan))
    if approx_v.min() < -f.grid_error:
        # A device vertex is certainly inside: a collision, no clearance search needed.
        res.collision = True
    else:
        _clearance(res, moved, f, approx_v, overlap_boxes, margin + exact_within)
    if res.collision or s.role == "host":
        if approx_v is None:
            approx_v = f.approx_signed(moved.vertices)
        depth = 0.0
        if s.role != "host":  # a host is meant to hold the device: its depth means nothing
            sd_dev, p_dev, q_dev = _deepest(f, moved.vertices, approx_v)
            depth = max(-sd_dev, 0.0)
            if not np.isfinite(res.device_point).all():
                res.device_point, res.structure_point = p_dev, q_dev
        if res.collision and s.role != "host":
            near = np.all((f.vertices >= lo) & (f.vertices <= hi), axis=1)
            if near.any():
                local = moved.to_local(f.vertices[near])
                sd_str, _, _ = _deepest(rigid.field, local, rigid.field.approx_signed(local))
                depth = max(depth, -sd_str)
        res.penetration_mm = depth if res.collision else 0.0
        inside = f.approx_signed(moved.samples) < 0.0
        res.intersected_volume_mm3 = float(inside.sum() * rigid.sample_volume)
        if s.role == "host":
            _host_metrics(res, moved, f, approx_v, inside)
    if s.role == "critical":
        if res.collision:
            res.violation = (f"hits {s.name} ({res.penetration_mm:.1f} mm deep, "
                             f"{res.intersected_volume_mm3:.0f} mm3)")
        elif res.clearance_mm < margin:
            res.violation = f"{res.clearance_mm:.2f} mm from {s.name}, inside the {margin:g} mm margin"
    return res


def _host_metrics(res: StructureResult, moved: MovedDevice, f: SurfaceField,
                  approx_v: np.ndarray, inside: np.ndarray) -> None:
    rigid = moved.rigid
    emb_s = rigid.embedded_samples
    if emb_s.any():
        res.purchase = float(inside[emb_s].mean())
        res.purchase_volume_mm3 = float(inside[emb_s].sum() * rigid.sample_volume)
    emb_v = np.flatnonzero(rigid.embedded_vertices)
    if len(emb_v):
        # Breach: the farthest the embedded surface gets outside the host (exact at vertices).
        cand = emb_v[approx_v[emb_v] >= approx_v[emb_v].max() - 2.0 * f.grid_error]
        if len(cand) > _REFINE:
            cand = cand[np.argsort(-approx_v[cand])[:_REFINE]]
        sd, _ = f.signed_distance(moved.vertices[cand])
        res.breach_mm = max(float(sd.max()), 0.0)
        res.outside_fraction = float((approx_v[emb_v] > 0).mean())
    if res.breach_mm is not None and res.breach_mm > res.margin_mm and res.violation is None:
        res.violation = f"leaves {res.name} by {res.breach_mm:.1f} mm"


def evaluate(scene: PlacementScene, device: RigidDevice, pose: ArrayLike) -> Evaluation:
    """Everything about one pose of one device in the scene."""
    pose = check_pose(pose)
    moved = device.moved(pose)
    results = [evaluate_structure(moved, s, device.device.margin_mm, scene.exact_within)
               for s in scene.structures]
    return Evaluation(device=device.device.label, pose=pose, structures=results)
