"""Grab and drag: a stiff spring from a patch of tissue to the cursor point.

Pressing on the surface picks the mesh nodes within ``radius`` of the picked point; each is
tied by a spring to the cursor plus its own offset at grab time, so the patch follows the
cursor as a whole instead of one node being yanked. The springs are a
:class:`~sim.fem.problem.ForceContributor` with their (diagonal) stiffness, so the implicit
step stays stable however stiff they are. Releasing removes them and the tissue relaxes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sim.errors import InputError


class GrabSpring:
    """Springs (N/mm in total) pulling a patch of nodes towards ``target`` (mm)."""

    def __init__(self, rest_points: np.ndarray, current: np.ndarray, point: np.ndarray,
                 stiffness: float, radius: float, candidates: np.ndarray | None = None) -> None:
        point = np.asarray(point, dtype=float).reshape(3)
        if not np.isfinite(point).all():
            raise InputError("The grab point must be three finite numbers (mm).")
        if not stiffness > 0 or not radius > 0:
            raise InputError("A grab needs a positive stiffness (N/mm) and radius (mm).")
        pool = np.arange(len(current)) if candidates is None else np.asarray(candidates)
        dist = np.linalg.norm(current[pool] - point, axis=1)
        chosen = pool[dist <= radius]
        if len(chosen) == 0:  # a small patch or a coarse mesh: take the nearest node
            chosen = pool[[int(dist.argmin())]]
        w = np.exp(-((np.linalg.norm(current[chosen] - point, axis=1) / radius) ** 2))
        self.nodes = chosen
        self.n_nodes = len(rest_points)
        self.k = stiffness * w / w.sum()  # per node, N/mm
        self.offsets = current[chosen] - point
        self.target = point.copy()
        self.rest = np.asarray(rest_points, dtype=float)
        self._K = None

    def move(self, target: np.ndarray) -> None:
        t = np.asarray(target, dtype=float).reshape(3)
        if not np.isfinite(t).all():
            raise InputError("The drag target must be three finite numbers (mm).")
        self.target = t

    def force(self, u: np.ndarray) -> np.ndarray:
        x = self.rest[self.nodes] + u.reshape(-1, 3)[self.nodes]
        fn = self.k[:, None] * (self.target + self.offsets - x)
        f = np.zeros((self.n_nodes, 3))
        f[self.nodes] = fn
        return f.ravel()

    def stiffness(self, u: np.ndarray) -> sp.spmatrix:
        if self._K is None:  # constant: built once per grab
            self._K = sp.diags(self.diagonal().ravel()).tocsr()
        return self._K

    def diagonal(self) -> np.ndarray:
        """The springs' stiffness per node and component (n, 3), N/mm."""
        diag = np.zeros((self.n_nodes, 3))
        diag[self.nodes] = self.k[:, None]
        return diag

    def spring_force(self, u: np.ndarray) -> np.ndarray:
        """Total force (N) the cursor exerts on the tissue."""
        return self.force(u).reshape(-1, 3).sum(axis=0)
