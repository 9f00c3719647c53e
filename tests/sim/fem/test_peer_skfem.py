"""Peer check: the same linear-elastic problems solved with scikit-fem agree to 1e-6 relative."""

from __future__ import annotations

import numpy as np
import pytest

from sim.fem.body import Body
from sim.fem.materials import Material
from sim.fem.problem import Constraint, Load, Problem
from sim.fem.static import solve_linear
from sim.mesh.generators import box

skfem = pytest.importorskip("skfem")
from skfem import (  # noqa: E402  # noqa: E402
    Basis,
    ElementTetP1,
    ElementTetP2,
    ElementVector,
    LinearForm,
    MeshTet,
    asm,
    condense,
    solve,
)
from skfem.models.elasticity import lame_parameters, linear_elasticity  # noqa: E402

E, NU, RHO, G = 210.0, 0.3, 7.8e-9, np.array([0.0, -3000.0, -9810.0])


def _mesh():
    mesh = box((4.0, 1.0, 1.5), (8, 3, 4))
    rng = np.random.default_rng(3)
    inner = np.flatnonzero(~np.isin(np.arange(mesh.n_nodes), mesh.boundary_nodes))
    pts = mesh.points.copy()
    pts[inner] += rng.uniform(-0.05, 0.05, (len(inner), 3))  # not a structured mesh
    return type(mesh)(pts, mesh.cells)


@pytest.mark.parametrize("order", [1, 2])
def test_gravity_loaded_block_matches_scikit_fem(order):
    mesh = _mesh()
    ours_mesh = mesh.with_order(order)
    body = Body(ours_mesh, Material("m", E, NU, density=RHO))
    clamp = np.flatnonzero(ours_mesh.points[:, 0] < 1e-9)
    sol = solve_linear(Problem(body, [Constraint("clamp", clamp)],
                               [Load("g", "gravity", body.body_force(G))]))
    ours = sol.u.reshape(-1, 3)[: mesh.n_nodes]  # corner nodes come first

    sk_mesh = MeshTet(mesh.points.T.copy(), mesh.cells.T.copy())
    element = ElementVector(ElementTetP1() if order == 1 else ElementTetP2())
    basis = Basis(sk_mesh, element, intorder=4)
    K = asm(linear_elasticity(*lame_parameters(E, NU)), basis)

    @LinearForm
    def weight(v, w):
        return RHO * (G[0] * v[0] + G[1] * v[1] + G[2] * v[2])

    f = asm(weight, basis)
    fixed = basis.get_dofs(lambda x: x[0] < 1e-9)
    u = solve(*condense(K, f, D=fixed))
    theirs = u[basis.nodal_dofs].T  # (n_vertices, 3)
    rel = np.abs(ours - theirs).max() / np.abs(theirs).max()
    assert np.abs(theirs).max() > 0
    assert rel < 1e-6, rel
