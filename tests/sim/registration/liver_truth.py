"""Synthetic intra-operative ground truth on SOFA's liver, made by the FE engine.

The truth is deformed with loads of another kind than the registration uses: gravity turned
to a new direction (body force) plus a retractor indentation (prescribed displacement of a
surface patch), with ligament supports (fixed nodes), solved as a *neo-Hookean* body on a
*different* mesh (a sparse grid built on the liver turned 25 degrees, so no node or element of
the registration's mesh coincides with it). Data are sampled on a connected patch of the
anterior (-y, LPS) surface with Gaussian noise; targets are points deep inside the liver.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyvista as pv

from sim.fem.body import Body
from sim.fem.embedding import embed
from sim.fem.materials import library_material
from sim.fem.problem import Constraint, Load, Problem
from sim.fem.static import NewtonSettings, solve_nonlinear
from sim.geometry.rigid import rotation_about
from sim.geometry.triangles import points_on_triangles
from sim.interaction.sparse_grid import sparse_grid
from sim.io import load
from sim.mesh.tetmesh import TetMesh

GRAVITY = 9810.0  # mm/s^2


def liver_surface(shared_data: Path) -> pv.PolyData:
    """SOFA's liver surface (mm, 194 x 154 x 156 mm, 10,000 triangles), cleaned."""
    obj = next(iter(load(Path(shared_data) / "anatomy" / "sofa-liver.vtk").scene))
    return obj.data.clean().triangulate()


@dataclass
class Truth:
    mesh: TetMesh  # the deformed-truth body (reference positions)
    u: np.ndarray  # (n, 3) its displacement
    surface: pv.PolyData  # pre-op surface
    deformed: pv.PolyData  # the liver as it is "intra-operatively"

    def move(self, points: np.ndarray) -> np.ndarray:
        """Where pre-op points are after the deformation."""
        return np.asarray(points) + embed(self.mesh, points).map(self.u)


@cache
def _truth_cached(path: str, gravity_dir: tuple, g_scale: float, indent_mm: float) -> Truth:
    surface = liver_surface(Path(path))
    rot = rotation_about(np.array([1.0, 1.0, 0.0]), np.radians(25.0))
    centre = np.asarray(surface.center)
    turned = surface.copy()
    turned.points = (np.asarray(surface.points) - centre) @ rot.T + centre
    grid = sparse_grid(turned, target_tets=6000, name="truth")
    mesh = TetMesh((grid.points - centre) @ rot + centre, grid.cells, "truth")
    body = Body(mesh, library_material("liver", "neo_hookean"))
    X = mesh.points
    lo, hi = X.min(axis=0), X.max(axis=0)
    # Ligament supports: the posterior-superior bare area (IVC, coronary ligament) is held.
    lig = np.flatnonzero((X[:, 1] > hi[1] - 0.22 * (hi[1] - lo[1]))
                         & (X[:, 2] > hi[2] - 0.35 * (hi[2] - lo[2])))
    # Retractor: a blade lifts the anterior-inferior edge of the right lobe.
    tip = X[np.argmin(X[:, 2] - 0.5 * X[:, 1] + 0.3 * X[:, 0])]
    blade = np.flatnonzero(np.linalg.norm(X - tip, axis=1) < 18.0)
    g = np.asarray(gravity_dir, float)
    g = g_scale * GRAVITY * g / np.linalg.norm(g)
    problem = Problem(body, [Constraint("ligaments", lig),
                             Constraint("retractor", blade,
                                        displacement=(0.0, 0.4 * indent_mm, indent_mm))],
                      [Load("gravity", "body", body.body_force(g))])
    sol = solve_nonlinear(problem, NewtonSettings(steps=4, tolerance=1e-7))
    u = sol.u.reshape(-1, 3)
    deformed = surface.copy()
    deformed.points = np.asarray(surface.points) + embed(mesh, surface.points).map(u)
    return Truth(mesh, u, surface, deformed)


def liver_truth(shared_data: Path, gravity_dir=(0.6, -0.5, -1.0), g_scale: float = 0.2,
                indent_mm: float = 12.0) -> Truth:
    return _truth_cached(str(shared_data), tuple(gravity_dir), g_scale, indent_mm)


def anterior_patch(surface: pv.PolyData, coverage: float) -> np.ndarray:
    """Triangle ids of a connected patch of the anterior surface covering ``coverage`` of the
    whole surface area (grown from the most anterior point, anterior-facing triangles first)."""
    s = surface.compute_normals(cell_normals=True, point_normals=False, auto_orient_normals=True)
    normals = np.asarray(s.cell_data["Normals"])
    centres = np.asarray(s.cell_centers().points)
    area = np.asarray(s.compute_cell_sizes(length=False, volume=False).cell_data["Area"])
    seed = centres[np.argmin(centres[:, 1])]
    # Distance from the seed, penalising triangles that face away from the anterior side.
    score = np.linalg.norm(centres - seed, axis=1) * (1.0 + 2.0 * np.clip(normals[:, 1], 0, None))
    order = np.argsort(score)
    n = int(np.searchsorted(np.cumsum(area[order]), coverage * area.sum())) + 1
    return order[:n]


def sample_patch(surface: pv.PolyData, tris: np.ndarray, n: int, noise: float,
                 rng: np.random.Generator) -> np.ndarray:
    """``n`` area-uniform points on triangles ``tris`` with isotropic Gaussian noise (mm)."""
    faces = np.asarray(surface.faces).reshape(-1, 4)[:, 1:][tris]
    _, p = points_on_triangles(np.asarray(surface.points)[faces], n, rng)
    return p + rng.normal(scale=noise, size=p.shape)


def interior_targets(surface: pv.PolyData, n: int, depth: float, rng: np.random.Generator
                     ) -> np.ndarray:
    """``n`` random points at least ``depth`` mm inside the surface."""
    from sim.inspection.distance import MeshDistance

    md = MeshDistance.from_mesh(surface)
    lo, hi = np.asarray(surface.bounds)[0::2], np.asarray(surface.bounds)[1::2]
    out = []
    while sum(len(o) for o in out) < n:
        p = rng.uniform(lo, hi, size=(4 * n, 3))
        d = md.signed_distance(p)
        out.append(p[d < -depth])
    return np.concatenate(out)[:n]
