"""Fixtures of the scan-to-model benchmarks (registration, deviation)."""

from __future__ import annotations

import pytest
import pyvista as pv

from sim.io import load


@pytest.fixture(scope="module")
def model(shared_data) -> pv.PolyData:
    part = next(iter(load(shared_data / "factory" / "idler_riser.STL").scene)).data
    mesh = part.scale(25.4, inplace=False).triangulate().subdivide(3, "linear").clean()
    assert 100_000 <= mesh.n_cells <= 101_000
    return mesh
