"""TetMesh basics: quality report, P1 <-> P2, boundary, VTK round trip."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.mesh.generators import box, from_spec, quarter_annulus
from sim.mesh.quality import aspect_ratios, dihedral_angles
from sim.mesh.tetmesh import TetMesh


def test_regular_tetrahedron_quality():
    pts = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    cells = np.array([[0, 1, 2, 3]])
    if np.linalg.det(pts[1:] - pts[0]) < 0:
        cells = cells[:, [0, 2, 1, 3]]
    ang = dihedral_angles(pts, cells)
    assert np.allclose(ang, np.degrees(np.arccos(1 / 3)))
    assert aspect_ratios(pts, cells)[0] == pytest.approx(1.0)


def test_box_quality_report_and_volume():
    mesh = box((2.0, 3.0, 4.0), (2, 3, 4))
    q = mesh.quality()
    assert q["elements"] == 6 * 24 and q["nodes"] == 3 * 4 * 5
    assert q["total_volume_mm3"] == pytest.approx(24.0)
    assert q["min_dihedral_deg"] == pytest.approx(45.0) and q["max_dihedral_deg"] == pytest.approx(90.0)


def test_p2_conversion_shares_mid_nodes_and_round_trips():
    p1 = box((1, 1, 1), (2, 2, 2))
    p2 = p1.with_order(2)
    edges = set()
    for c in p1.cells:
        for i in range(4):
            for j in range(i + 1, 4):
                edges.add(tuple(sorted((c[i], c[j]))))
    assert p2.n_nodes == p1.n_nodes + len(edges)
    back = p2.with_order(1)
    assert np.allclose(back.points, p1.points) and np.array_equal(back.cells, p1.cells)
    grid = p2.to_pyvista()
    again = TetMesh.from_pyvista(grid)
    assert again.order == 2 and np.array_equal(again.cells, p2.cells)


def test_boundary_faces_point_outwards_and_close_the_surface():
    mesh = box((1, 2, 3), (2, 2, 3))
    n, area, centre = mesh.boundary_normals()
    assert area.sum() == pytest.approx(2 * (1 * 2 + 2 * 3 + 1 * 3))
    inward = (centre - mesh.points.mean(axis=0)) * n
    assert (inward.sum(axis=1) > 0).all()
    assert mesh.surface().is_manifold


def test_curved_p2_tube_has_mid_nodes_on_the_circles():
    mesh = quarter_annulus(10.0, 20.0, 2.0, 2.0, order=2)
    r = np.hypot(mesh.points[:, 0], mesh.points[:, 1])
    faces, _ = mesh.boundary
    inner = faces[np.all(np.abs(r[faces[:, :3]] - 10.0) < 1e-6, axis=1)]
    assert len(inner) and np.allclose(r[inner], 10.0, atol=1e-6)  # incl. mid-edge nodes


def test_generator_spec_errors_are_plain():
    with pytest.raises(InputError, match="needs the setting"):
        from_spec({"generator": "box", "size": [1, 1, 1]})
    with pytest.raises(InputError, match="Unknown mesh generator"):
        from_spec({"generator": "torus"})
    with pytest.raises(InputError, match="positive"):
        box((1, -1, 1), (1, 1, 1))
    with pytest.raises(InputError, match="5 million"):
        box((1, 1, 1), (200, 200, 200))
