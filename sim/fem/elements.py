"""Tetrahedral elements P1 / P2: shape functions, quadrature and physical gradients.

Everything is vectorised over elements and quadrature points. P2 elements are
isoparametric (curved edges allowed): the Jacobian is evaluated at every point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from sim.errors import InputError
from sim.mesh.tetmesh import P2_EDGES, TetMesh


def _gauss_jacobi_tet(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Collapsed (Duffy) Gauss rule on the unit tetrahedron, exact to degree 2n-3 or better."""
    g, w = np.polynomial.legendre.leggauss(n)
    g, w = 0.5 * (g + 1.0), 0.5 * w
    u, v, s = np.meshgrid(g, g, g, indexing="ij")
    wu, wv, ws = np.meshgrid(w, w, w, indexing="ij")
    x = u
    y = v * (1 - u)
    z = s * (1 - u) * (1 - v)
    weight = wu * wv * ws * (1 - u) ** 2 * (1 - v)
    return np.column_stack([x.ravel(), y.ravel(), z.ravel()]), weight.ravel()


@cache
def tet_quadrature(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (reference coords) and weights (summing to 1/6) exact for polynomials of ``degree``."""
    if degree <= 1:
        return np.array([[0.25, 0.25, 0.25]]), np.array([1.0 / 6.0])
    if degree == 2:
        a, b = 0.5854101966249685, 0.1381966011250105
        pts = np.array([[b, b, b], [a, b, b], [b, a, b], [b, b, a]])
        return pts, np.full(4, 1.0 / 24.0)
    return _gauss_jacobi_tet(int(np.ceil((degree + 3) / 2)))


@cache
def tri_quadrature(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (s, t) and weights (summing to 1/2) on the reference triangle (Duffy-Gauss)."""
    n = max(1, int(np.ceil((degree + 2) / 2)))
    g, w = np.polynomial.legendre.leggauss(n)
    g, w = 0.5 * (g + 1.0), 0.5 * w
    u, v = np.meshgrid(g, g, indexing="ij")
    wu, wv = np.meshgrid(w, w, indexing="ij")
    return np.column_stack([u.ravel(), (v * (1 - u)).ravel()]), (wu * wv * (1 - u)).ravel()


def shape_functions(order: int, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values (q, n) and reference derivatives (q, n, 3) of the tet shape functions at ``xi``."""
    xi = np.atleast_2d(xi)
    L = np.column_stack([1.0 - xi.sum(axis=1), xi])  # barycentric (q, 4)
    dL = np.array([[-1.0, -1.0, -1.0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])  # (4, 3)
    return _simplex_lagrange(order, L, dL, P2_EDGES)


def tri_shape_functions(order: int, st: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values (q, n) and derivatives (q, n, 2) of triangle shape functions (P2 mids: ab, bc, ca)."""
    L = np.column_stack([1.0 - st.sum(axis=1), st])
    dL = np.array([[-1.0, -1.0], [1, 0], [0, 1]])
    return _simplex_lagrange(order, L, dL, ((0, 1), (1, 2), (2, 0)))


def _simplex_lagrange(order: int, L: np.ndarray, dL: np.ndarray,
                      edges: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """P1 or P2 Lagrange functions of a simplex from its barycentric coordinates ``L`` (q, v)
    and their constant derivatives ``dL`` (v, d): values (q, n) and derivatives (q, n, d); P2
    adds one function per edge (i, j), in the order of ``edges``."""
    q, v = L.shape
    if order == 1:
        return L, np.broadcast_to(dL, (q, v, dL.shape[1])).copy()
    N = np.empty((q, v + len(edges)))
    dN = np.empty((q, v + len(edges), dL.shape[1]))
    N[:, :v] = L * (2 * L - 1)
    dN[:, :v] = (4 * L - 1)[:, :, None] * dL[None]
    for k, (i, j) in enumerate(edges):
        N[:, v + k] = 4 * L[:, i] * L[:, j]
        dN[:, v + k] = 4 * (L[:, i, None] * dL[j] + L[:, j, None] * dL[i])
    return N, dN


@dataclass
class ElementGeometry:
    """Per element and quadrature point: gradients dN/dx (m, q, n, 3) and weights*detJ (m, q)."""

    grads: np.ndarray
    dvol: np.ndarray
    N: np.ndarray  # (q, n) shape function values at the quadrature points
    xi: np.ndarray  # (q, 3) quadrature points


def element_geometry(mesh: TetMesh, degree: int | None = None) -> ElementGeometry:
    """Physical shape-function gradients; raises if an element is inverted at a quadrature point."""
    order = mesh.order
    degree = (0 if order == 1 else 2) if degree is None else degree
    xi, w = tet_quadrature(degree)
    N, dN = shape_functions(order, xi)
    X = mesh.points[mesh.cells]  # (m, n, 3)
    J = np.einsum("mna,qnb->mqab", X, dN)  # dx_a/dxi_b
    det = np.linalg.det(J)
    if (det <= 0).any():
        bad = int(np.flatnonzero((det <= 0).any(axis=1))[0])
        raise InputError(f"Element {bad} of '{mesh.name}' is inverted or degenerate "
                         "(non-positive Jacobian); the mesh cannot be simulated.")
    Jinv = np.linalg.inv(J)
    grads = np.einsum("qnb,mqba->mqna", dN, Jinv)
    return ElementGeometry(grads, det * w[None, :], N, xi)


def mesh_geometry(mesh: TetMesh, degree: int | None = None) -> ElementGeometry:
    """:func:`element_geometry`, cached on the mesh (the reference geometry never changes)."""
    key = ("geometry", degree)
    if key not in mesh._cache:
        mesh._cache[key] = element_geometry(mesh, degree)
    return mesh._cache[key]
