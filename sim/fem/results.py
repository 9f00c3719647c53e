"""Results of an analysis: strain, stress, von Mises, principal stresses, probes and VTU output.

Stresses are Cauchy stresses (MPa). Nodal values are recovered by evaluating each element's
field at its own nodes and averaging over the elements sharing a node (volume-weighted), which
keeps P2's linear stress variation instead of smearing it to element means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.fem.body import Body, neo_hookean_stress, polar_rotation
from sim.fem.elements import shape_functions

if TYPE_CHECKING:
    from sim.mesh.tetmesh import TetMesh

_NODE_XI = {
    1: np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    2: np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0, 0], [0.5, 0.5, 0],
                 [0, 0.5, 0], [0, 0, 0.5], [0.5, 0, 0.5], [0, 0.5, 0.5]]),
}


def nodal_gradients(mesh: TetMesh) -> np.ndarray:
    """Shape-function gradients (m, q, n, 3) in world coordinates at each element's nodes q:
    the basis for stresses recovered at the nodes."""
    _, dN = shape_functions(mesh.order, _NODE_XI[mesh.order])
    J = np.einsum("mna,qnb->mqab", mesh.points[mesh.cells], dN)
    return np.einsum("qnb,mqba->mqna", dN, np.linalg.inv(J))


def von_mises(s: np.ndarray) -> np.ndarray:
    """Von Mises equivalent stress of stress tensors (..., 3, 3)."""
    dev = s - np.trace(s, axis1=-2, axis2=-1)[..., None, None] * np.eye(3) / 3.0
    return np.sqrt(1.5 * np.einsum("...ij,...ij->...", dev, dev))


def _stress_strain(body: Body, F: np.ndarray, R: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Cauchy stress and strain at deformation gradients F (k, 3, 3)."""
    lam, mu = body.material.lame
    eye = np.eye(3)
    if body.law == "neo_hookean":
        P, _ = neo_hookean_stress(F, lam, mu, tangent=False)
        J = np.linalg.det(F)
        sigma = np.einsum("kiJ,kjJ->kij", P, F) / J[:, None, None]
        strain = 0.5 * (np.einsum("kai,kaj->kij", F, F) - eye)  # Green-Lagrange
        return sigma, strain
    if body.law == "corotational" and R is not None:
        Fl = np.einsum("kji,kjl->kil", R, F)  # R^T F
        eps = 0.5 * (Fl + Fl.transpose(0, 2, 1)) - eye
        s_local = lam * np.trace(eps, axis1=1, axis2=2)[:, None, None] * eye + 2 * mu * eps
        sigma = np.einsum("kij,kjl,kml->kim", R, s_local, R)
        strain = np.einsum("kij,kjl,kml->kim", R, eps, R)
        return sigma, strain
    eps = 0.5 * (F + F.transpose(0, 2, 1)) - eye
    return lam * np.trace(eps, axis1=1, axis2=2)[:, None, None] * eye + 2 * mu * eps, eps


@dataclass
class FieldResults:
    """Displacement and derived fields on the nodes and elements of a body."""

    displacement: np.ndarray  # (n, 3)
    stress: np.ndarray  # nodal (n, 3, 3)
    strain: np.ndarray  # nodal (n, 3, 3)
    element_stress: np.ndarray  # (m, 3, 3) element mean
    inverted: np.ndarray  # (m,) bool

    @property
    def von_mises(self) -> np.ndarray:
        return von_mises(self.stress)

    @property
    def principal(self) -> np.ndarray:
        """Principal stresses per node, descending (n, 3)."""
        return np.linalg.eigvalsh(self.stress)[:, ::-1]

    def max_displacement(self) -> float:
        return float(np.linalg.norm(self.displacement, axis=1).max())


def compute_fields(body: Body, u: np.ndarray) -> FieldResults:
    mesh = body.mesh
    cells = mesh.cells
    m, n = cells.shape
    grads = nodal_gradients(mesh)
    ue = u.reshape(-1, 3)[cells]
    F = np.eye(3) + np.einsum("mni,mqnj->mqij", ue, grads)  # (m, n, 3, 3)
    R = None
    if body.law == "corotational":
        R = np.repeat(polar_rotation(F.mean(axis=1))[:, None], n, axis=1).reshape(-1, 3, 3)
    inverted = ~(np.linalg.det(F) > 0).all(axis=1)
    Fs = F.reshape(-1, 3, 3).copy()
    Fs[np.repeat(inverted, n)] = np.eye(3)  # inverted elements are flagged, not evaluated
    sigma, strain = _stress_strain(body, Fs, R)
    w = np.repeat(np.abs(mesh.volumes), n)
    idx = cells.ravel()
    count = np.bincount(idx, weights=w, minlength=mesh.n_nodes)
    count[count == 0] = 1.0

    def nodal(t):
        flat = t.reshape(len(idx), 9) * w[:, None]
        out = np.stack([np.bincount(idx, weights=flat[:, k], minlength=mesh.n_nodes)
                        for k in range(9)], axis=1)
        return (out / count[:, None]).reshape(-1, 3, 3)

    return FieldResults(u.reshape(-1, 3).copy(), nodal(sigma), nodal(strain),
                        sigma.reshape(m, n, 3, 3).mean(axis=1), inverted)


def to_grid(body: Body, fields: FieldResults) -> pv.UnstructuredGrid:
    """The body as a VTK grid carrying every result array (for .vtu output and rendering)."""
    grid = body.mesh.to_pyvista()
    grid.point_data["displacement"] = fields.displacement
    grid.point_data["von_mises"] = fields.von_mises
    grid.point_data["principal_stress"] = fields.principal
    voigt = [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2)]
    grid.point_data["stress"] = np.stack([fields.stress[:, i, j] for i, j in voigt], axis=1)
    grid.point_data["strain"] = np.stack([fields.strain[:, i, j] for i, j in voigt], axis=1)
    grid.cell_data["von_mises"] = von_mises(fields.element_stress)
    grid.cell_data["inverted"] = fields.inverted.astype(np.uint8)
    return grid


def locate(body: Body, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Element containing each point (nearest if outside) and its reference coordinates."""
    mesh = body.mesh
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    grid = mesh.with_order(1).to_pyvista() if mesh.order == 2 else mesh.to_pyvista()
    cell = np.asarray(grid.find_closest_cell(pts), dtype=np.int64).reshape(-1)
    corners = mesh.points[mesh.cells[cell, :4]]  # (k, 4, 3)
    T = (corners[:, 1:] - corners[:, :1]).transpose(0, 2, 1)
    xi = np.linalg.solve(T, (pts - corners[:, 0])[:, :, None])[:, :, 0]
    bary = np.column_stack([1 - xi.sum(axis=1), xi])
    bary = np.clip(bary, 0.0, None)  # points just outside snap onto the element
    bary /= bary.sum(axis=1, keepdims=True)
    return cell, bary[:, 1:]


def interpolate(body: Body, nodal: np.ndarray, cell: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Values of a nodal field (n, ...) at located points, with the element's shape functions."""
    N, _ = shape_functions(body.mesh.order, xi)  # (k, nn)
    vals = nodal[body.mesh.cells[cell]]  # (k, nn, ...)
    return np.einsum("kn,kn...->k...", N, vals)


def probe(body: Body, fields: FieldResults, points: dict[str, list[float]]) -> dict[str, dict]:
    """Displacement (mm) and von Mises stress (MPa) at named points."""
    if not points:
        return {}
    names = list(points)
    cell, xi = locate(body, np.array([points[k] for k in names], dtype=float))
    disp = interpolate(body, fields.displacement, cell, xi)
    vm = interpolate(body, fields.von_mises, cell, xi)
    return {k: {"position_mm": list(map(float, points[k])), "displacement_mm": disp[i].tolist(),
                "von_mises_mpa": float(vm[i]), "element": int(cell[i])}
            for i, k in enumerate(names)}
