"""Instrument shapes: signed distances, normals, meshes agree with the SDF, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.interaction.tools import (
    Instrument,
    frame_from_direction,
    instrument_from_dict,
    pose_from_spec,
)


@pytest.mark.parametrize("kind", ["probe", "spatula", "grasper"])
def test_mesh_vertices_lie_on_the_zero_level(kind):
    tool = Instrument("t", kind)
    tool.pose = pose_from_spec({"position": [5, -3, 2], "direction": [1, 1, 0]})
    mesh = tool.mesh()
    d, _ = tool.signed_distance(np.asarray(mesh.points))
    assert np.abs(d).max() < 1e-6  # the display mesh is the collision shape


def test_probe_distance_and_normal():
    tool = Instrument("p", "probe", {"radius": 2.0, "length": 50.0})
    tool.pose[:3, 3] = [0, 0, 10]  # tip at z = 10, shaft up
    d, n = tool.signed_distance(np.array([[0, 0, 9.0], [0, 0, 10.5], [3.0, 0, 20], [0, 0, 30]]))
    np.testing.assert_allclose(d, [1.0, -0.5, 1.0, -2.0], atol=1e-9)
    np.testing.assert_allclose(n[0], [0, 0, -1], atol=1e-6)  # below the flat tip: down
    np.testing.assert_allclose(n[2], [1, 0, 0], atol=1e-6)


def test_grasper_opening_changes_the_gap():
    g = Instrument("g", "grasper", {"opening": 10.0, "jaw_thickness": 2.0})
    centre = np.array([[0.0, 0.0, 5.0]])
    assert g.signed_distance(centre)[0][0] == pytest.approx(5.0)
    g.set_param("opening", 4.0)
    assert g.signed_distance(centre)[0][0] == pytest.approx(2.0)


def test_bad_instruments_are_input_errors():
    with pytest.raises(InputError, match="Unknown instrument type"):
        Instrument("x", "scalpel")
    with pytest.raises(InputError, match="radius"):
        Instrument("x", "probe", {"radius": -1})
    with pytest.raises(InputError, match="name"):
        instrument_from_dict({"type": "probe"})
    with pytest.raises(InputError, match="rotation"):
        pose_from_spec([[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    with pytest.raises(InputError):
        frame_from_direction(np.zeros(3))


def test_imported_mesh_instrument(tmp_path):
    import pyvista as pv

    pv.Cube(x_length=4, y_length=4, z_length=10, center=(0, 0, 5)).triangulate().save(
        tmp_path / "tool.stl")
    tool = instrument_from_dict({"name": "block", "type": "mesh", "path": str(tmp_path / "tool.stl")})
    tool.pose[:3, 3] = [1.0, 2.0, 3.0]
    d, n = tool.signed_distance(np.array([[1.0, 2.0, 2.0], [1.0, 2.0, 4.0], [4.0, 2.0, 8.0]]))
    np.testing.assert_allclose(d, [1.0, -1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(n[0], [0, 0, -1], atol=1e-3)
    assert np.abs(tool.signed_distance(np.asarray(tool.mesh().points))[0]).max() < 1e-6
    with pytest.raises(InputError, match="path"):
        Instrument("x", "mesh")
    pv.Plane().triangulate().save(tmp_path / "open.stl")
    with pytest.raises(InputError, match="not closed"):
        instrument_from_dict({"name": "o", "type": "mesh", "path": str(tmp_path / "open.stl")})
