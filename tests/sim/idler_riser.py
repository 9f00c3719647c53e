"""A real factory part for the registration and inspection tests: trimesh's idler riser, drawn in
inches, in mm (their conftests take the ``idler_riser`` fixture from here)."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.io import load

INCH = 25.4


@pytest.fixture(scope="session")
def idler_riser(shared_data) -> pv.PolyData:
    """The idler riser part scaled to millimetres (67 x 75 x 16 mm), a closed mesh."""
    case = load(shared_data / "factory" / "idler_riser.STL")
    mesh = next(iter(case.scene)).data
    return mesh.scale(INCH, inplace=False)


def sample_surface(mesh: pv.PolyData, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sim.registration.surface import _sample_surface

    return _sample_surface(mesh, n, seed)
