"""Shared builders for the FEM verification tests (small meshes, analytic set-ups)."""

from __future__ import annotations

import numpy as np

from sim.fem.body import Body
from sim.fem.materials import Material
from sim.fem.problem import Constraint, Load, Problem, surface_traction
from sim.mesh.generators import box


def faces_where(mesh, predicate) -> np.ndarray:
    faces, _ = mesh.boundary
    return faces[np.all(predicate(mesh.points[faces]), axis=1)]


def cantilever(order: int, divisions, law: str = "linear", load: float = 1.0) -> Problem:
    """L=10, 1x1 section, E=1000, nu=0.3, clamped at x=0, end shear P (traction on x=10)."""
    mesh = box((10.0, 1.0, 1.0), divisions, order=order)
    body = Body(mesh, Material("beam", 1000.0, 0.3, law=law))
    clamp = np.flatnonzero(mesh.points[:, 0] < 1e-9)
    end = faces_where(mesh, lambda x: x[..., 0] > 10 - 1e-9)
    f = surface_traction(body, end, traction=np.array([0.0, 0.0, -load]))
    return Problem(body, [Constraint("clamp", clamp)], [Load("tip", "surface_force", f)])


def tip_deflection(problem: Problem, u: np.ndarray) -> float:
    tip = np.abs(problem.body.mesh.points[:, 0] - 10.0) < 1e-9
    return float(-u.reshape(-1, 3)[tip, 2].mean())
