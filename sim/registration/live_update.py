"""Live model update: the organ follows the points a tracked stylus traces on its surface.

:class:`StylusTrace` listens to a :class:`~sim.twin.tracking.TrackedTool` (poses arrive on the
OpenIGTLink reader thread) and keeps its tip positions, thinned to one per ``spacing_mm``.
:class:`LiveDeformable` turns the growing trace into model updates: each :meth:`step` fits the
organ to all points so far, warm-started from the previous update (pose, deformation, and the
stiffness the strain bound needed), so an increment costs a few Gauss-Newton iterations on the
prepared model: well under a second on a 10k-tetrahedron liver, which lets a loop or a GUI
timer update at >= 1 Hz. :meth:`LiveDeformable.frame` computes what a view shows of the latest
update (surface, uncertainty, moved targets) on the same worker, with the targets' embedding
and the surface normals made once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.geometry.rigid import apply_transform
from sim.registration.deformable import (
    MIN_POINTS,
    DeformableModel,
    DeformableResult,
    DeformableSettings,
)
from sim.registration.fe_fit import FitState

STIFFEN = 3.0  # the strain bound's prior stiffening factor per round (as in a full fit)
MAX_ROUNDS = 6  # stiffening rounds per increment; the next increment continues
RELAX = 0.7  # below this share of the strain bound, the next increment tries a softer prior
RECHECK = 4  # increments at the bound's stiffness between checks that it still binds


class StylusTrace:
    """Tip positions of a tracked tool, at least ``spacing_mm`` apart (thread-safe)."""

    def __init__(self, tool, spacing_mm: float = 2.0, max_points: int = 5000) -> None:
        self.tool, self.spacing, self.max_points = tool, float(spacing_mm), int(max_points)
        self._points: list[np.ndarray] = []
        self._lock = threading.Lock()
        tool.moved.connect(self._on_moved)

    def _on_moved(self, world, _sender_time: float) -> None:
        tip = np.asarray(world, dtype=float)[:3, 3]
        with self._lock:
            if len(self._points) >= self.max_points:
                return
            if self._points and np.linalg.norm(self._points[-1] - tip) < self.spacing:
                return
            self._points.append(tip.copy())

    def stop(self) -> None:
        self.tool.moved.disconnect(self._on_moved)

    @property
    def points(self) -> np.ndarray:
        with self._lock:
            return np.array(self._points).reshape(-1, 3)


@dataclass
class LiveFrame:
    """What a view shows of one live update (data frame, mm), made off the GUI thread."""

    surface_points: np.ndarray  # the deformed organ surface's vertices
    uncertainty_mm: np.ndarray  # per vertex, along the normal (the constraint map)
    targets: np.ndarray | None  # the given pre-op targets where they are now
    summary: dict[str, Any] = field(default_factory=dict)


class LiveDeformable:
    """Warm-started deformable updates from a growing set of points."""

    def __init__(self, model: DeformableModel, settings: DeformableSettings | None = None,
                 init: np.ndarray | None = None) -> None:
        self.model, self.settings, self.init = model, settings or DeformableSettings(), init
        self.latest: DeformableResult | None = None
        self.updates = 0
        self.last_step_s = 0.0
        self._used = 0
        self._stiff_lam: float | None = None  # the prior the strain bound last needed
        self._last_strain = 0.0
        self._since_check = 0  # increments since the last evidence fit
        self._wanted = 0.0  # the strain the data wanted at that fit
        self._strain_op: np.ndarray | None = None  # inverse reference edge matrices
        self._normals: np.ndarray | None = None
        self._targets: tuple[bytes, Any] | None = None  # (pre-op points, their embedding)

    def step(self, points: np.ndarray) -> DeformableResult | None:
        """Update to ``points`` (all so far) if there are enough and some are new."""
        pts = np.asarray(points, dtype=float).reshape(-1, 3)
        if len(pts) < MIN_POINTS or len(pts) == self._used:
            return self.latest
        try:
            from sim.registration.deformable import check_points

            check_points(pts, self.model.name)
        except Exception:  # still on a line: wait for more points
            return self.latest
        t0 = time.perf_counter()
        # The first fits see few points: a fresh rigid start until the trace has some
        # extent, then warm starts.
        warm = self.latest if self.latest is not None and len(pts) >= 2 * MIN_POINTS else None
        s = self.settings
        if s.material_model != "linear" or (warm is not None and warm.nonlinear is not None):
            self.latest = self.model.register(pts, s, init=self.init, warm=warm)
        elif warm is not None:
            self.latest = self._fit_linear(pts, warm.state.T, warm.state.a, warm.max_strain,
                                           warm.rigid_only, s.live_iterations)
        else:
            T0 = self._rigid_start(pts)
            self.latest = self._fit_linear(pts, T0, np.zeros(self.model.reduced.m), 0.0,
                                           np.linalg.inv(T0), s.max_iterations)
        self._used = len(pts)
        self.updates += 1
        self.last_step_s = time.perf_counter() - t0
        return self.latest

    def _rigid_start(self, pts: np.ndarray) -> np.ndarray:
        """Data -> organ pose of a cold start: the given pose, refined by ICP (as a full fit)."""
        from sim.registration.icp import point_to_mesh_icp

        s, model = self.settings, self.model
        T0 = np.linalg.inv(np.asarray(self.init, dtype=float)) if self.init is not None \
            else np.eye(4)
        if not s.rigid:
            return T0
        sigma = s.noise_mm
        return point_to_mesh_icp(pts, model.reference, T0,
                                 max_distance=max(0.25 * model.size, 10 * sigma),
                                 min_distance=3.0 * sigma, max_iterations=40,
                                 tolerance=1e-7).matrix

    def _strain(self, a: np.ndarray) -> float:
        """Largest principal strain of the linear deformation at amplitudes ``a``."""
        mesh = self.model.mesh
        X, cells = mesh.points, mesh.cells
        if self._strain_op is None:  # the reference shape's inverse, once per organ
            dm = (X[cells[:, 1:]] - X[cells[:, :1]]).transpose(0, 2, 1)
            self._strain_op = np.linalg.inv(dm)
        x = X + self.model.basis.displacement(a)
        F = (x[cells[:, 1:]] - x[cells[:, :1]]).transpose(0, 2, 1) @ self._strain_op
        # Principal stretches from the symmetric F^T F: cheaper than an SVD per element.
        s = np.sqrt(np.maximum(np.linalg.eigvalsh(F.transpose(0, 2, 1) @ F), 0.0))
        return float(np.abs(s - 1.0).max())

    def _fit_linear(self, pts: np.ndarray, T: np.ndarray, a: np.ndarray, strain0: float,
                    rigid_only: np.ndarray, iterations: int) -> DeformableResult:
        """A live update of the linear fit: ``iterations`` Gauss-Newton steps from (T, a),
        the previous update or a cold start. If the strain bound is exceeded, the prior is
        stiffened from the stiffness the bound needed last time, a few steps per round
        from the last state within the bound (a full fit starts each round afresh and
        converges it: seconds, where the next increment continues the fit anyway)."""
        s, model = self.settings, self.model
        s.check()
        t0 = time.perf_counter()
        sigma, limit = s.noise_mm, s.max_strain
        # While the bound binds, continue at the stiffness it needed (one fit); the
        # evidence fit (does it still bind?) every RECHECK increments or when there is room.
        bound = (iterations == s.live_iterations and self._stiff_lam is not None
                 and self._last_strain >= RELAX * limit and self._since_check < RECHECK)
        if bound:
            self._since_check += 1
            state: FitState = model.reduced.fit(pts, sigma, T, a, iterations,
                                                lam=self._stiff_lam)
            strain, wanted = self._strain(state.a), self._wanted
        else:
            self._since_check = 0
            state = model.reduced.fit(pts, sigma, T, a, iterations)
            wanted = strain = self._wanted = self._strain(state.a)
        elastic = not bound
        if strain > limit:
            elastic = False
            known = self._stiff_lam or 0.0
            if not bound and self._last_strain < RELAX * limit:  # had room: try softer
                known /= STIFFEN
            lam = max(state.lam * STIFFEN, known)
            start, start_strain = (T, a), strain0
            for _ in range(MAX_ROUNDS):
                state = model.reduced.fit(pts, sigma, start[0], start[1], s.live_iterations,
                                          lam=lam)
                strain = self._strain(state.a)
                if strain <= limit or lam >= 1e8:
                    break
                if strain < start_strain or start_strain > limit:
                    start, start_strain = (state.T, state.a), strain
                lam *= max(STIFFEN, (strain / limit) ** 2)  # far over: bigger steps
            self._stiff_lam = lam
        elif not bound:
            self._stiff_lam = None  # the data no longer need a stiffer prior
        self._last_strain = strain
        return DeformableResult(model, state, pts, sigma, elastic, strain, wanted, limit,
                                rigid_only, time.perf_counter() - t0, None)

    def frame(self, targets: np.ndarray | None = None) -> LiveFrame | None:
        """The latest update as a view shows it; ``targets``: pre-op points (organ frame)."""
        from sim.registration.deformable_result import _std

        res = self.latest
        if res is None:
            return None
        model = self.model
        if self._normals is None:
            n = model.surface.compute_normals(cell_normals=False, point_normals=True,
                                              auto_orient_normals=True,
                                              consistent_normals=True).point_data["Normals"]
            self._normals = np.asarray(n, dtype=np.float64)
        surface = res.deformed_surface()
        if res.nonlinear is None:
            unc = _std(model.vertices, model.reduced.Us, res.state.H, self._normals)
        else:
            unc = res.surface_uncertainty()
        moved = None
        if targets is not None and len(targets):
            p = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
            if self._targets is None or self._targets[0] != p.tobytes():
                self._targets = (p.tobytes(), model.embed(p))  # once per set of targets
            moved = apply_transform(res.rigid, p + self._targets[1].map(res.nodal_displacement))
        return LiveFrame(np.asarray(surface.points, dtype=np.float64), unc, moved,
                         res.summary())
