"""User devices: a surface from any mesh/CAD file Twinsight reads, with catalogue metadata.

A user device is described by a small JSON file (or the same fields in a placement spec)::

    {"mesh": "my_cage.stl", "name": "Interbody cage", "anchor": [0, 0, 0],
     "axis": [0, 0, 1], "margin_mm": 1.5, "host": "bone", "embedded": [0, 12],
     "params": {"length": 12}}

``anchor`` and ``axis`` are in the file's own coordinates; the surface is moved so the
anchor is the origin and the axis is +z, like every catalogue device.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.devices.catalogue import Device, frame_from_axis
from sim.errors import FileFormatError, InputError
from sim.io.json_file import read_json
from sim.model import ObjectKind

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def _surface_of(path: Path) -> pv.PolyData:
    from sim.io import load

    case = load(path)
    surfaces = [o.data for o in case.scene
                if o.kind in (ObjectKind.SURFACE, ObjectKind.PART, ObjectKind.DEVICE)
                and isinstance(o.data, pv.DataSet) and o.data.n_cells]
    if not surfaces:
        raise FileFormatError(path, "it holds no surface to use as a device")
    mesh = surfaces[0] if len(surfaces) == 1 else pv.merge(surfaces)
    if not isinstance(mesh, pv.PolyData):
        mesh = mesh.extract_surface()
    return mesh.triangulate().clean()


def load_user_device(path: str | Path, *, name: str | None = None,
                     anchor: ArrayLike = (0.0, 0.0, 0.0),
                     axis: ArrayLike = (0.0, 0.0, 1.0), margin_mm: float = 1.0, host: str | None = None,
                     embedded: tuple[float, float] | None = None,
                     params: dict[str, float] | None = None) -> Device:
    """A device from a mesh or CAD file (STL, OBJ, PLY, STEP ...), in its anchor frame."""
    path = Path(path)
    mesh = _surface_of(path)
    if not mesh.is_manifold:
        raise FileFormatError(path, "its surface is not closed (a device must be watertight; "
                                    "try 'twinsight mesh repair')")
    if not np.isfinite(margin_mm) or margin_mm < 0:
        raise InputError(f"The safety margin must be a non-negative number of mm, not {margin_mm}.")
    if host not in (None, "bone", "vessel"):
        raise InputError(f"A device's host must be 'bone', 'vessel' or none, not '{host}'.")
    to_world = frame_from_axis(anchor, axis)
    local = mesh.transform(np.linalg.inv(to_world), inplace=False)
    return Device(family="user", name=name or path.stem, params=dict(params or {}), mesh=local,
                  margin_mm=float(margin_mm), host=host,
                  embedded=tuple(map(float, embedded)) if embedded else None,
                  source=str(path))


def user_device_from_dict(spec: dict, base: Path) -> Device:
    """A user device from its description; ``mesh`` is relative to ``base``."""
    if not isinstance(spec, dict) or "mesh" not in spec:
        raise InputError("A user device needs at least a 'mesh' file.")
    allowed = {"mesh", "name", "anchor", "axis", "margin_mm", "host", "embedded", "params"}
    unknown = set(spec) - allowed
    if unknown:
        raise InputError(f"Unknown user-device field(s): {', '.join(sorted(unknown))}.")
    try:
        return load_user_device(base / spec["mesh"], name=spec.get("name"),
                                anchor=np.asarray(spec.get("anchor", (0, 0, 0)), float).reshape(3),
                                axis=np.asarray(spec.get("axis", (0, 0, 1)), float).reshape(3),
                                margin_mm=float(spec.get("margin_mm", 1.0)), host=spec.get("host"),
                                embedded=spec.get("embedded"), params=spec.get("params"))
    except (TypeError, ValueError) as exc:
        raise InputError(f"The user-device description is malformed ({exc}).") from None


def load_user_device_file(path: str | Path) -> Device:
    """A user device from its JSON description file."""
    path = Path(path)
    spec = read_json(path, "user-device description")
    return user_device_from_dict(spec, path.parent)
