"""Deformable (finite-element) registration: update the pre-operative organ to sparse intra-op data.

1. Rigid initialisation: robust point-to-plane ICP of the data onto the pre-op surface
   (:mod:`sim.registration.icp`), or a given pose.
2. Non-rigid fit with the FE model as regulariser: the organ deforms only as its FE body does
   under smooth boundary loads (:mod:`sim.registration.load_basis`); data points
   pull the nearest deformed surface (boundary forces), and pose, load amplitudes,
   correspondences and robust weights are updated until convergence
   (:mod:`sim.registration.fe_fit`). Outliers get zero Tukey weight.
3. Data/elasticity balance from the stated noise level sigma by Bayesian evidence
   maximisation (see :mod:`sim.registration.fe_fit`): data already explained by the pose to
   within sigma leave the organ undeformed.
4. Large motion (``material_model``): the linear responses represent a turn of part of the
   organ by its tangent, which inflates and shears it; the co-rotational fit
   (:mod:`sim.registration.fe_fit_corotational`) gives each element the finite rotation of
   its response and keeps only the strain. "auto" uses it when the linear fit turns some element by more than 15 degrees.
   "neo-hookean" then solves the organ to equilibrium as a large-strain neo-Hookean body under
   the identified loads and corrects the loads by secant steps on the data misfit
   (:mod:`sim.registration.fe_fit_neo_hookean`); if that solve fails, the co-rotational result
   is kept with a warning.
5. Bounded strain: if the fit stretches or compresses any element by more than
   ``max_strain``, the prior is stiffened until the largest strain is within the bound and the
   result says that the data cannot be explained elastically (with the remaining misfit).

Everything is computed in the pre-op organ frame: the FE body, its deformation basis and the
embedding of the surface are built once per organ (cached on the model) and reused by every
fit and every live increment; the rigid pose maps the result into the data frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.fem.embedding import Embedding
from sim.fem.materials import Material, library_material
from sim.inspection.distance import MeshDistance
from sim.mesh.tetmesh import TetMesh
from sim.progress import Progress, no_progress, sub_progress
from sim.registration.deformable_result import DeformableResult
from sim.registration.fe_fit import FitState, ReducedFit, embedding_responses, strains
from sim.registration.fe_fit_corotational import (
    AUTO_ROTATION_DEG,
    MATERIAL_MODELS,
    CorotationalResponse,
    NonlinearDeformation,
    corotational_fit,
)
from sim.registration.fe_fit_neo_hookean import NeoHookeanFailed, NeoHookeanSolver, neo_hookean_fit
from sim.registration.icp import point_to_mesh_icp
from sim.registration.load_basis import LoadBasis

MIN_POINTS = 10


@dataclass(frozen=True)
class DeformableSettings:
    noise_mm: float = 1.0  # standard deviation of the data points' position error
    max_strain: float = 0.3  # largest principal strain the organ may take (30 %)
    rigid: bool = True  # rigid ICP first (off: start from the given pose)
    max_iterations: int = 40  # Gauss-Newton iterations
    live_iterations: int = 2  # per warm-started live increment (the next one continues)
    material_model: str = "auto"  # linear | corotational | neo-hookean | auto (co-rot. > 15 deg)

    def check(self) -> None:
        if self.material_model not in MATERIAL_MODELS:
            raise InputError(f"The material model must be one of {', '.join(MATERIAL_MODELS)}, "
                             f"not '{self.material_model}'.")
        if not (math.isfinite(self.noise_mm) and 0.0 < self.noise_mm <= 50.0):
            raise InputError(f"The noise level must be between 0 and 50 mm, not {self.noise_mm}.")
        if not (0.01 <= self.max_strain <= 1.0):
            raise InputError("The strain bound must be between 0.01 and 1.")


def organ_mesh(surface: pv.PolyData, target_tets: int = 10_000, name: str = "organ") -> TetMesh:
    """A sparse-grid tet body of about ``target_tets`` elements enclosing the closed surface."""
    from sim.interaction.sparse_grid import sparse_grid

    volume = abs(float(surface.volume)) or 1.0
    spacing = 1.1 * (6.0 * volume / max(int(target_tets), 6)) ** (1.0 / 3.0)
    mesh = sparse_grid(surface, spacing, name=name)
    # The grid keeps every cube touching the inside (more than the volume): one correction
    # of the spacing lands within ~10 % of the requested count.
    if abs(mesh.n_elements / target_tets - 1.0) > 0.15:
        mesh = sparse_grid(surface, spacing * (mesh.n_elements / target_tets) ** (1.0 / 3.0),
                           name=name)
    return mesh


def check_organ(surface: pv.PolyData, name: str) -> pv.PolyData:
    """A clean, closed triangle surface, or one sentence saying why not."""
    from sim.mesh.tetrahedralize import check_closed

    if not isinstance(surface, pv.PolyData) or surface.n_cells == 0:
        raise InputError(f"'{name}' holds no surface to deform.")
    surf = surface.triangulate().clean()
    faces = np.asarray(surf.faces).reshape(-1, 4)[:, 1:]
    check_closed(np.asarray(surf.points), faces, name)
    return surf


class DeformableModel:
    """A pre-op organ prepared for deformable registration (tet body, deformation basis and
    surface embedding: built once, reused by every fit)."""

    def __init__(self, surface: pv.PolyData, material: Material | None = None,
                 target_tets: int = 10_000, name: str = "organ", mesh: TetMesh | None = None,
                 centres: int = 30, width_factor: float = 2.0, progress: Progress = no_progress) -> None:
        from sim.fem.embedding import embed

        self.name = name
        self.surface = check_organ(surface, name)
        self.material = material or library_material("liver", "linear")
        progress(0.02, f"Tetrahedra for {name}")
        self.mesh = mesh or organ_mesh(self.surface, target_tets, name)
        self.basis = LoadBasis(self.mesh, self.material, centres, width_factor,
                               sub_progress(progress, 0.1, 0.9))
        self.vertices = np.asarray(self.surface.points, dtype=np.float64)
        faces = np.asarray(self.surface.faces).reshape(-1, 4)[:, 1:].astype(np.int64)
        self.surface_embedding = embed(self.mesh, self.vertices)
        Us = embedding_responses(self.surface_embedding.matrix, self.basis.U)
        self.reduced = ReducedFit(self.vertices, faces, Us)
        self.reference = MeshDistance(self.vertices, faces)
        self.size = float(np.linalg.norm(np.ptp(self.vertices, axis=0)))
        self._corotational: CorotationalResponse | None = None
        self._neo_hookean: NeoHookeanSolver | None = None
        progress(1.0, f"{name} ready for deformable registration")

    @property
    def corotational(self) -> CorotationalResponse:
        """The co-rotational responses of the basis' loads (made on first use)."""
        if self._corotational is None:
            self._corotational = CorotationalResponse(self.mesh, self.material, self.basis)
        return self._corotational

    @property
    def neo_hookean(self) -> NeoHookeanSolver:
        """The organ as a neo-Hookean body under the basis' loads (made on first use)."""
        if self._neo_hookean is None:
            self._neo_hookean = NeoHookeanSolver(self.mesh, self.material, self.basis)
        return self._neo_hookean

    def embed(self, points: np.ndarray) -> Embedding:
        """Embedding (sparse interpolation) of pre-op points in the organ's tetrahedra."""
        from sim.fem.embedding import embed

        return embed(self.mesh, np.asarray(points, dtype=np.float64).reshape(-1, 3))

    def register(self, points: np.ndarray, settings: DeformableSettings | None = None,
                 init: np.ndarray | None = None, warm: DeformableResult | None = None,
                 progress: Progress = no_progress) -> DeformableResult:
        """Rigid, then FE-regularised fit of the organ to ``points`` (data frame, mm).

        ``init``: a known organ -> data pose to start from; ``warm``: a previous result on
        (mostly) the same data, whose pose and deformation start the fit (live increments)."""
        s = settings or DeformableSettings()
        s.check()
        t0 = time.perf_counter()
        pts = check_points(points, self.name)
        sigma = s.noise_mm
        if warm is not None:
            T0, a0 = warm.state.T, warm.state.a
        else:
            T0 = np.linalg.inv(np.asarray(init, dtype=float)) if init is not None else np.eye(4)
            a0 = np.zeros(self.reduced.m)
            if s.rigid:
                progress(0.05, "Rigid alignment")
                T0 = point_to_mesh_icp(pts, self.reference, T0,
                                       max_distance=max(0.25 * self.size, 10 * sigma),
                                       min_distance=3.0 * sigma, max_iterations=40,
                                       tolerance=1e-7).matrix
        rigid_only = T0.copy()
        progress(0.2, "Fitting the organ's deformation")
        iterations = s.max_iterations if warm is None else s.live_iterations
        X, cells = self.mesh.points, self.mesh.cells
        nl = warm.nonlinear if warm is not None else None
        if nl is None:
            state = self.reduced.fit(pts, sigma, T0, a0, iterations,
                                     progress=sub_progress(progress, 0.2, 0.6))
        else:  # warm co-rotational start: continue on its tangent
            state = self.reduced.fit(pts, sigma, T0, a0, 0, lam=warm.state.lam)
        corot = s.material_model in ("corotational", "neo-hookean") or nl is not None or (
            s.material_model == "auto" and _max_rotation(
                X, X + self.basis.displacement(state.a), cells) > AUTO_ROTATION_DEG)
        if corot:
            progress(0.6, "Co-rotational fit (large motion)")
            state, nl = corotational_fit(self, pts, sigma, state, nl, iterations)

        def deformation(st):
            return nl.u if corot else self.basis.displacement(st.a)

        wanted = float(strains(X, X + deformation(state), cells).max())
        strain, elastic = wanted, True
        if strain > s.max_strain:
            elastic = False
            progress(0.8, "Limiting the strain")
            state, nl, strain = self._limit_strain(pts, sigma, state, nl, corot, s)
        warning, checks = "", None
        if s.material_model == "neo-hookean":
            progress(0.85, "Neo-Hookean equilibrium (large strain)")
            state, nl, strain, warning, checks = self._neo_hookean_step(
                pts, sigma, state, nl, strain, iterations, s.max_strain)
        progress(1.0, "Deformable registration done")
        return DeformableResult(self, state, pts, sigma, elastic, strain, wanted, s.max_strain,
                                np.linalg.inv(rigid_only), time.perf_counter() - t0,
                                nl if corot else None, warning, checks)

    def _limit_strain(self, pts: np.ndarray, sigma: float, state: FitState,
                      nl: NonlinearDeformation | None, corot: bool, s: DeformableSettings
                      ) -> tuple[FitState, NonlinearDeformation | None, float]:
        """Stiffen the prior (raise lambda) to the smallest value, within a factor of about
        2, that keeps the largest strain within ``s.max_strain``: decades up from the
        evidence's choice, then two halvings of the last decade in log scale. With large
        motion the decade is first bracketed by the linear fit (a fraction of a second per
        try), so only about four co-rotational fits are paid: the plain x3 ladder took 14,
        over a minute, on data no elastic organ explains."""
        X, cells = self.mesh.points, self.mesh.cells

        def fit(lam: float, st: FitState, nl0):
            if corot:
                st, nl1 = corotational_fit(self, pts, sigma, st, nl0, s.max_iterations, lam=lam)
                return st, nl1, float(strains(X, X + nl1.u, cells).max())
            st = self.reduced.fit(pts, sigma, st.T, st.a, s.max_iterations, lam=lam)
            return st, nl0, float(strains(X, X + self.basis.displacement(st.a), cells).max())

        lam = state.lam
        if corot:  # the linear fit's decade; the co-rotational strain is never much larger
            lin, lin_lam = state, lam
            while lin_lam < 1e8:
                lin_lam *= 10.0
                lin = self.reduced.fit(pts, sigma, lin.T, lin.a, s.max_iterations, lam=lin_lam)
                if strains(X, X + self.basis.displacement(lin.a), cells).max() <= s.max_strain:
                    break
            lam = max(lam, lin_lam / 100.0)
        strain = math.inf
        while lam < 1e8:
            lam *= 10.0
            state, nl, strain = fit(lam, state, nl)
            if strain <= s.max_strain:
                break
        low, high = lam / 10.0, lam  # low fails (or is the evidence's), high passes
        for _ in range(2):
            if strain > s.max_strain:
                break
            mid = math.sqrt(low * high)
            trial, trial_nl, trial_strain = fit(mid, state, nl)
            if trial_strain <= s.max_strain:
                high, state, nl, strain = mid, trial, trial_nl, trial_strain
            else:
                low = mid
        return state, nl, strain

    def _neo_hookean_step(self, pts: np.ndarray, sigma: float, state: FitState,
                          nl: NonlinearDeformation, strain: float, iterations: int,
                          limit: float) -> tuple:
        """The neo-Hookean correction of the co-rotational fit, or that fit and a warning."""
        X, cells = self.mesh.points, self.mesh.cells
        try:
            nh_state, nh, checks = neo_hookean_fit(self, pts, sigma, state, nl.u, iterations)
        except NeoHookeanFailed as exc:
            return state, nl, strain, (f"The neo-Hookean equilibrium could not be solved ({exc}); "
                                       "the result is the co-rotational fit."), None
        nh_strain = float(strains(X, X + nh.u, cells).max())
        if nh_strain > max(limit, strain):
            return state, nl, strain, (f"The neo-Hookean equilibrium strains the organ by "
                                       f"{100 * nh_strain:.0f} % (limit {100 * limit:.0f} %); the "
                                       "result is the co-rotational fit."), None
        return nh_state, nh, nh_strain, "", checks


def _max_rotation(X: np.ndarray, x: np.ndarray, cells: np.ndarray) -> float:
    """Largest element rotation (degrees) of the deformation X -> x."""
    from sim.registration.fe_fit_corotational import rotation_angles

    dm = (X[cells[:, 1:]] - X[cells[:, :1]]).transpose(0, 2, 1)
    ds = (x[cells[:, 1:]] - x[cells[:, :1]]).transpose(0, 2, 1)
    u, _, vt = np.linalg.svd(ds @ np.linalg.inv(dm))
    R = u @ vt
    return float(rotation_angles(R).max())


def check_points(points: np.ndarray, name: str) -> np.ndarray:
    """Finite (n, 3) points, enough of them and not all on one line."""
    try:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError):
        raise InputError("The points must be rows of x, y, z numbers.") from None
    if not np.isfinite(p).all():
        raise InputError("Some points have NaN or infinite coordinates.")
    if len(p) < MIN_POINTS:
        raise InputError(f"Only {len(p)} point(s) were given; deforming '{name}' needs at least "
                         f"{MIN_POINTS} spread over its surface.")
    sv = np.linalg.svd(p - p.mean(axis=0), compute_uv=False)
    if sv[0] == 0 or sv[1] < 0.02 * sv[0]:
        raise InputError(f"The points lie on one line; they cannot fix the pose or shape of "
                         f"'{name}'. Digitise points spread over an area of its surface.")
    return p


