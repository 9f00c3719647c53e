"""The device catalogue: parametric families (assets/devices/catalogue.json) and user devices.

A :class:`Device` is a closed surface in its *anchor frame*: the anchor (entry point,
plate centre, stent end ...) is the origin and the insertion axis is +z, so placing a
device is one rigid 4x4 pose from anchor frame to world (LPS mm).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from sim.devices import generators
from sim.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

INSERTION_AXIS = (0.0, 0.0, 1.0)


@dataclass
class Device:
    """One device of one size, ready to place."""

    family: str
    name: str
    params: dict[str, float]
    mesh: pv.PolyData  # closed surface in the anchor frame (mm)
    margin_mm: float = 1.0  # default safety margin to critical structures
    host: str | None = None  # what it is meant to sit in: "bone", "vessel" or None
    embedded: tuple[float, float] | None = None  # z-range of the part meant to be in the host
    source: str = "catalogue"
    description: str = ""
    insertion_axis: tuple[float, float, float] = field(default=INSERTION_AXIS)

    @property
    def label(self) -> str:
        """A short size label, e.g. 'Pedicle screw 6.5x45'."""
        if "diameter" in self.params and "length" in self.params:
            return f"{self.name} {_num(self.params['diameter'])}x{_num(self.params['length'])}"
        sizes = ", ".join(f"{k} {_num(v)}" for k, v in self.params.items())
        return f"{self.name} ({sizes})" if sizes else self.name

    def placed(self, pose: np.ndarray) -> pv.PolyData:
        """The device surface moved by ``pose`` (anchor frame -> world)."""
        return self.mesh.transform(np.asarray(pose, dtype=float), inplace=False)

    def metadata(self) -> dict:
        """JSON-ready description stored with a device SceneObject."""
        return {"device_family": self.family, "device_name": self.name,
                "params": {k: float(v) for k, v in self.params.items()},
                "margin_mm": self.margin_mm, "host": self.host,
                "embedded": list(self.embedded) if self.embedded else None,
                "source": self.source, "insertion_axis": list(self.insertion_axis)}


def _num(x: float) -> str:
    return f"{x:g}"


@lru_cache(maxsize=1)
def _families() -> dict:
    from sim.resources import asset

    try:
        data = json.loads(asset("devices", "catalogue.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"The shipped device catalogue cannot be read ({exc}).") from None
    return data["families"]


def families() -> dict[str, dict]:
    """Family id -> its catalogue entry (name, generator, sizes, margin, host, anchor)."""
    return dict(_families())


def family(family_id: str) -> dict:
    fams = _families()
    if family_id not in fams:
        raise InputError(f"Unknown device family '{family_id}'; the catalogue has "
                         f"{', '.join(sorted(fams))}.")
    return fams[family_id]


def sizes(family_id: str) -> list[dict[str, float]]:
    """Every catalogue size of a family, as parameter dicts (smallest first)."""
    series = family(family_id)["sizes"]
    keys = list(series)
    return [dict(zip(keys, map(float, combo), strict=True)) for combo in product(*series.values())]


def make(family_id: str, *, custom: bool = False, **params: float) -> Device:
    """A device of the given family and size. Sizes must be in the catalogue series
    unless ``custom`` is true (then any positive values are accepted)."""
    fam = family(family_id)
    series = fam["sizes"]
    missing = [k for k in series if k not in params]
    unknown = [k for k in params if k not in series and k not in fam["fixed"]]
    if missing or unknown:
        raise InputError(f"A {fam['name'].lower()} needs the sizes {', '.join(series)}"
                         + (f"; unknown: {', '.join(unknown)}" if unknown else "") + ".")
    values = {k: float(v) for k, v in params.items()}
    for k, v in values.items():
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"The {k} of a {fam['name'].lower()} must be a positive number, not {v}.")
        if not custom and k in series and not any(abs(v - s) < 1e-9 for s in series[k]):
            raise InputError(f"{fam['name']} {k} {v:g} is not in the catalogue "
                             f"({', '.join(f'{s:g}' for s in series[k])}).")
    return _make_cached(family_id, tuple(sorted(values.items())))


@lru_cache(maxsize=256)
def _make_cached(family_id: str, items: tuple) -> Device:
    fam = family(family_id)
    params = dict(items)
    kwargs = {**fam["fixed"], **params}
    mesh = getattr(generators, fam["generator"])(**kwargs)
    embedded = None
    if fam["embedded"] == "shaft":
        embedded = (0.0, float(params["length"]))
    elif fam["embedded"] == "all":
        zmin, zmax = mesh.bounds[4], mesh.bounds[5]
        embedded = (float(zmin), float(zmax))
    return Device(family=family_id, name=fam["name"], params={k: params[k] for k in fam["sizes"]},
                  mesh=mesh, margin_mm=float(fam["margin_mm"]), host=fam["host"],
                  embedded=embedded, description=fam.get("anchor", ""))


def frame_from_axis(origin: ArrayLike, axis: ArrayLike) -> np.ndarray:
    """4x4 rigid pose taking the anchor origin to ``origin`` and +z to ``axis``."""
    z = np.asarray(axis, dtype=float)
    n = np.linalg.norm(z)
    if not np.isfinite(n) or n < 1e-12:
        raise InputError("An insertion axis needs two distinct points (or a non-zero direction).")
    z = z / n
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, np.asarray(origin, dtype=float)
    return m


def pose_on_trajectory(entry: ArrayLike, target: ArrayLike, depth: float = 0.0,
                       roll_deg: float = 0.0) -> np.ndarray:
    """Pose putting the anchor on the entry->target line, ``depth`` mm past the entry,
    with +z along the trajectory, rolled ``roll_deg`` about it."""
    entry, target = np.asarray(entry, float), np.asarray(target, float)
    axis = target - entry
    base = frame_from_axis(entry, axis)
    base[:3, 3] = entry + base[:3, 2] * depth
    if roll_deg:
        c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
        roll = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
        base = base @ roll
    return base
