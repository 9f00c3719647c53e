"""Demo parts, taken from the device catalogue: a pedicle screw and an L-bracket (mm)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyvista as pv

from sim.devices import make, pose_on_trajectory
from sim.devices.generators import l_bracket, pedicle_screw


def make_pedicle_screw(diameter: float = 6.5, length: float = 45.0, pitch: float = 2.8,
                       entry: Sequence[float] = (18.0, 88.0, 0.0),
                       target: Sequence[float] = (11.0, 62.0, 0.0)) -> pv.PolyData:
    """A threaded pedicle screw placed from ``entry`` towards ``target`` (LPS mm).

    The screw is the catalogue's (sim.devices): its anchor (where the shaft meets the
    head) goes on ``entry`` and its insertion axis (+z) points at ``target``.
    """
    if pitch == 2.8:
        screw = make("pedicle_screw", diameter=diameter, length=length, custom=True).mesh
    else:
        screw = pedicle_screw(diameter, length, pitch)
    return screw.transform(pose_on_trajectory(entry, target), inplace=False)


def make_bracket(width: float = 40.0, leg: float = 50.0, thickness: float = 6.0,
                 origin: Sequence[float] = (40.0, 118.0, -25.0)) -> pv.PolyData:
    """A watertight L-bracket (a table mount under the patient), the catalogue's shape."""
    return l_bracket(width, leg, thickness).translate(np.asarray(origin, float), inplace=False)
