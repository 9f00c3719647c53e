"""The exact point/mesh distance engines (inspection's grid, placement's BVH) against VTK.

Both share one triangle test (sim.geometry.primitives) and one sign rule (pseudo-normals).
VTK's vtkCellLocator (closest point) and vtkImplicitPolyDataDistance (sign) are the
independent references, on a real CAD part.
"""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
import vtk

from sim.geometry.bvh import PARALLEL_MIN_POINTS, TriangleTree
from sim.inspection.distance import MeshDistance
from sim.io import load
from sim.placement.field import SurfaceField, mesh_triangles


@pytest.fixture(scope="module")
def part(shared_data) -> pv.PolyData:
    mesh = next(iter(load(shared_data / "factory" / "idler_riser.STL").scene)).data
    return mesh.scale(25.4, inplace=False).triangulate().clean()


@pytest.fixture(scope="module")
def queries(part) -> np.ndarray:
    rng = np.random.default_rng(7)
    surface = np.asarray(part.points)[rng.integers(0, part.n_points, 1500)]
    near = surface + rng.normal(0, 0.5, surface.shape)
    lo, hi = np.reshape(part.bounds, (3, 2)).T
    pad = 0.3 * (hi - lo)
    box = rng.uniform(lo - pad, hi + pad, (1500, 3))
    return np.vstack([near, box])


def _vtk_closest(part: pv.PolyData, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    loc = vtk.vtkCellLocator()
    loc.SetDataSet(part)
    loc.BuildLocator()
    q = np.empty_like(pts)
    d2 = np.empty(len(pts))
    cp, cell, sub, dist2 = [0.0, 0.0, 0.0], vtk.reference(0), vtk.reference(0), vtk.reference(0.0)
    for i, p in enumerate(pts):
        loc.FindClosestPoint(p, cp, cell, sub, dist2)
        q[i], d2[i] = cp, float(dist2)
    return q, np.sqrt(d2)


def _vtk_signed(part: pv.PolyData, pts: np.ndarray) -> np.ndarray:
    f = vtk.vtkImplicitPolyDataDistance()
    f.SetInput(part.compute_normals(cell_normals=True, point_normals=True))
    return np.array([f.EvaluateFunction(p) for p in pts])


def test_both_engines_match_vtk_closest_points_and_signs(part, queries):
    q_ref, d_ref = _vtk_closest(part, queries)
    s_ref = _vtk_signed(part, queries)
    assert np.abs(np.abs(s_ref) - d_ref).max() < 1e-6  # the two VTK answers agree

    md = MeshDistance.from_mesh(part)
    grid = md.closest(queries)
    assert md._tree is not None  # the far points went to the tree: both paths are checked
    field_signed, field_q = SurfaceField(part).signed_distance(queries)
    for signed, q in ((grid.signed, grid.points), (field_signed, field_q)):
        np.testing.assert_allclose(np.abs(signed), d_ref, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(queries - q, axis=1), d_ref, atol=1e-6)
        # VTK's sign comes from the nearest cell's normal, which is ambiguous right at edges
        # and corners; away from the surface both must agree.
        clear = np.abs(s_ref) > 0.05
        assert np.mean(np.sign(signed[clear]) == np.sign(s_ref[clear])) > 0.995
        assert clear.sum() > 2500


def test_parallel_and_serial_tree_queries_agree_with_vtk(part, queries):
    v, f = mesh_triangles(part)
    tree = TriangleTree.build(v[f])
    many = np.tile(queries, (PARALLEL_MIN_POINTS // len(queries) + 1, 1))
    q_par, t_par, _ = tree.closest(many)  # the parallel kernel (large batch)
    q_ser, t_ser, _ = tree.closest(queries[:1000])  # the serial one
    _, d_ref = _vtk_closest(part, queries)
    d_par = np.linalg.norm(many - q_par, axis=1).reshape(-1, len(queries))
    np.testing.assert_allclose(d_par, np.broadcast_to(d_ref, d_par.shape), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(queries[:1000] - q_ser, axis=1), d_ref[:1000],
                               atol=1e-6)
    assert (t_par >= 0).all() and (t_ser >= 0).all()


def test_max_distance_cuts_off_in_both_engines(part, queries):
    _, d_ref = _vtk_closest(part, queries)
    limit = float(np.median(d_ref))
    grid = MeshDistance.from_mesh(part).closest(queries, max_distance=limit)
    signed, _ = SurfaceField(part).signed_distance(queries, max_distance=limit)
    far = d_ref > limit * (1 + 1e-9)
    assert np.isnan(grid.signed[far]).all() and np.isnan(signed[far]).all()
    np.testing.assert_allclose(np.abs(grid.signed[~far]), d_ref[~far], atol=1e-6)
    np.testing.assert_allclose(np.abs(signed[~far]), d_ref[~far], atol=1e-6)
