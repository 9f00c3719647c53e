"""Problem: a body plus constraints, loads and extra force contributors (e.g. rigid contact).

The solvers see only :class:`Problem`: the elastic forces come from ``body``, dead loads
from ``loads``, prescribed displacements from ``constraints``, and anything else that pushes
on the body (penalty contact with a rigid tool, springs, a haptic coupling) plugs in as a
:class:`ForceContributor` with a force and optionally a stiffness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from sim.errors import InputError
from sim.fem.body import Body
from sim.fem.elements import tri_quadrature, tri_shape_functions


@runtime_checkable
class ForceContributor(Protocol):
    """Anything that adds forces (and stiffness) depending on the displacement u."""

    def force(self, u: np.ndarray) -> np.ndarray:
        """External force on every dof (ndof,), e.g. contact push-back."""

    def stiffness(self, u: np.ndarray) -> sp.spmatrix | None:
        """-d force / d u (ndof, ndof) or None if the force does not depend on u."""


@dataclass
class Constraint:
    """Prescribed displacement of ``components`` (0=x, 1=y, 2=z) of ``nodes``."""

    name: str
    nodes: np.ndarray
    components: tuple[int, ...] = (0, 1, 2)
    displacement: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        self.nodes = np.unique(np.asarray(self.nodes, dtype=np.int64))
        if len(self.nodes) == 0:
            raise InputError(f"Constraint '{self.name}' selects no nodes.")
        if not set(self.components) <= {0, 1, 2} or not self.components:
            raise InputError(f"Constraint '{self.name}' has bad components {self.components}.")

    def dofs(self) -> np.ndarray:
        return (3 * self.nodes[:, None] + np.asarray(self.components)[None]).ravel()

    def values(self) -> np.ndarray:
        d = np.asarray(self.displacement, dtype=float)
        return np.broadcast_to(d[list(self.components)], (len(self.nodes), len(self.components))).ravel()


@dataclass
class Load:
    """A dead load: its nodal force vector (ndof,) at load factor 1."""

    name: str
    kind: str
    vector: np.ndarray


def surface_traction(body: Body, faces: np.ndarray, traction: np.ndarray | None = None,
                     pressure: float | None = None) -> np.ndarray:
    """Nodal forces of a uniform traction (N/mm^2 vector) or a pressure (MPa, pushing against
    the outward normal) on boundary faces (k, 3 | 6), integrated on the reference surface."""
    order = 1 if faces.shape[1] == 3 else 2
    st, w = tri_quadrature(2 * order)
    N, dN = tri_shape_functions(order, st)
    X = body.mesh.points[faces]  # (k, n, 3)
    xs = np.einsum("kna,qn->kqa", X, dN[:, :, 0])
    xt = np.einsum("kna,qn->kqa", X, dN[:, :, 1])
    area_vec = np.cross(xs, xt) * w[None, :, None]  # n dA at each point
    if pressure is not None:
        fq = -pressure * area_vec  # (k, q, 3)
    else:
        fq = np.linalg.norm(area_vec, axis=2)[:, :, None] * np.asarray(traction)[None, None, :]
    fe = np.einsum("qn,kqa->kna", N, fq)
    dofs = (3 * faces[:, :, None] + np.arange(3)).ravel()
    return np.bincount(dofs, weights=fe.ravel(), minlength=body.ndof)


def face_areas(body: Body, faces: np.ndarray) -> np.ndarray:
    order = 1 if faces.shape[1] == 3 else 2
    st, w = tri_quadrature(2 * order)
    _, dN = tri_shape_functions(order, st)
    X = body.mesh.points[faces]
    xs = np.einsum("kna,qn->kqa", X, dN[:, :, 0])
    xt = np.einsum("kna,qn->kqa", X, dN[:, :, 1])
    return (np.linalg.norm(np.cross(xs, xt), axis=2) * w).sum(axis=1)


def rigid_modes(points: np.ndarray) -> np.ndarray:
    """The six rigid-body displacement fields (ndof, 6): 3 translations, 3 rotations."""
    n = len(points)
    c = points - points.mean(axis=0)
    modes = np.zeros((n, 3, 6))
    for k in range(3):
        modes[:, k, k] = 1.0
    for k in range(3):
        axis = np.eye(3)[k]
        modes[:, :, 3 + k] = np.cross(axis, c) / max(np.abs(c).max(), 1e-300)
    return modes.reshape(3 * n, 6)


@dataclass
class Problem:
    body: Body
    constraints: list[Constraint] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    contributors: list[ForceContributor] = field(default_factory=list)

    def external_force(self) -> np.ndarray:
        f = np.zeros(self.body.ndof)
        for load in self.loads:
            f += load.vector
        return f

    def contributed(self, u: np.ndarray) -> tuple[np.ndarray, sp.spmatrix | None]:
        f = np.zeros(self.body.ndof)
        K = None
        for c in self.contributors:
            f += c.force(u)
            k = c.stiffness(u)
            if k is not None:
                K = k if K is None else K + k
        return f, K

    def dirichlet(self) -> tuple[np.ndarray, np.ndarray]:
        """Constrained dofs and their values at load factor 1 (first constraint wins)."""
        if not self.constraints:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        dofs = np.concatenate([c.dofs() for c in self.constraints])
        vals = np.concatenate([c.values() for c in self.constraints])
        if dofs.max() >= self.body.ndof:
            raise InputError("A constraint refers to a node the mesh does not have.")
        uniq, first = np.unique(dofs, return_index=True)
        return uniq, vals[first]

    def check_supported(self) -> None:
        """Refuse a body that the constraints do not hold (it would fly away under load)."""
        if self.contributors:
            return  # a contact or spring may be what holds it; the factorisation will tell
        dofs, _ = self.dirichlet()
        modes = rigid_modes(self.body.mesh.points)
        held = modes[dofs]
        s = np.linalg.svd(held, compute_uv=False) if len(dofs) else np.zeros(0)
        rank = int((s > 1e-8 * max(s.max(initial=0.0), 1.0)).sum()) if len(s) else 0
        if rank < 6:
            names = ["x translation", "y translation", "z translation",
                     "rotation about x", "rotation about y", "rotation about z"]
            free = [names[k] for k in range(6) if np.abs(held[:, k]).max(initial=0.0) < 1e-12]
            what = ", ".join(free) if free else f"{6 - rank} rigid motion(s)"
            raise InputError(f"The body is not held: the constraints leave it free ({what}); "
                             "fix more nodes or components.")

    def reactions(self, residual: np.ndarray) -> dict[str, list[float]]:
        """Total reaction force (N) on each constraint from the out-of-balance force f_int - f_ext."""
        r = residual.reshape(-1, 3)
        out: dict[str, list[float]] = {}
        taken = np.zeros(r.shape, dtype=bool)
        for c in self.constraints:
            mask = np.zeros(r.shape, dtype=bool)
            mask[np.ix_(c.nodes, list(c.components))] = True
            mask &= ~taken
            taken |= mask
            out[c.name] = np.where(mask, r, 0.0).sum(axis=0).tolist()
        return out
