"""The twin config: a finite-element model of the asset bound to its sensors and load channels.

A YAML or JSON file (paths relative to it)::

    name: pump bracket
    base_topic: twinsight/pump1          # sensors publish on BASE/gauge/ID unless given a topic
    fe:                                  # the `twinsight fem solve` spec keys: mesh, order,
      mesh: {generator: l_bracket, element_size: 3}   # material, law, constraints
      order: 2
      material: aluminium
    supports:                            # elastic supports (bolts, mounts): N/mm in total
      - {name: foot bolts, select: {side: zmin, box: [25, null, null, null, null, null]},
         stiffness: [2.0e5, 2.0e5, 2.0e5]}
    channels:                            # loads whose magnitudes are unknown at run time
      - {name: pump_weight, type: surface_force, select: {...}, direction: [0, 0, -1],
         unit: N, range: [0, 1000], typical: 300}
    sensors:
      - {id: g1, type: strain, point: [x, y, z], direction: [dx, dy, dz], noise: 2.0}
      - {id: r1, type: rosette, point: [...], normal: [...], reference: [...]}  # -> r1_a/b/c
      - {id: d1, type: displacement, point: [...], direction: [...], noise: 0.001}
      - {id: a1, type: acceleration, point: [...], direction: [...]}
      - {id: lc1, type: load_cell, channel: pump_weight, noise: 2.0}
    regions: {bend: {box: [...]}}        # where structural changes are located
    hot_spots: {top: 3, points: {bend inner: [6, 20, 6]}}
    fatigue: {material: aluminium, curve: EN1999 71-7, ...}
    health: {memory_s: 10, false_alarms_per_day: 0.1}

Units: strain gauges in microstrain, displacement mm, acceleration mm/s^2, load cells in the
channel's unit (N). Each sensor reading is ``gain * physics + offset + noise``.

A bad sensor (outside the model, a zero-length direction) is reported in ``problems`` and
left out; the twin runs on the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.spec_file import read_settings_file, vector3

SENSOR_TYPES = ("strain", "rosette", "displacement", "acceleration", "load_cell")
UNITS = {"strain": "ustrain", "displacement": "mm", "acceleration": "mm/s^2"}
LOAD_TYPES = ("surface_force", "nodal_force", "pressure", "gravity")


@dataclass
class SensorDef:
    id: str
    kind: str  # strain | displacement | acceleration | load_cell (rosettes are expanded)
    point: tuple[float, float, float] | None = None
    direction: tuple[float, float, float] | None = None
    channel: str | None = None  # load cells
    noise: float = 1.0
    gain: float = 1.0
    offset: float = 0.0
    topic: str = ""
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.kind, "point": self.point,
                "direction": self.direction, "channel": self.channel, "noise": self.noise,
                "gain": self.gain, "offset": self.offset, "topic": self.topic,
                "unit": self.unit}


@dataclass
class ChannelDef:
    name: str
    load: dict[str, Any]  # a `fem solve` load of unit magnitude
    unit: str = "N"
    bounds: tuple[float, float] = (-np.inf, np.inf)
    typical: float = 1.0


@dataclass
class SupportDef:
    name: str
    select: dict[str, Any]
    stiffness: tuple[float, float, float]


@dataclass
class AssetConfig:
    name: str
    raw: dict[str, Any]
    folder: Path
    fe: dict[str, Any]
    sensors: list[SensorDef]
    channels: list[ChannelDef]
    supports: list[SupportDef] = field(default_factory=list)
    regions: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def hot_spots(self) -> dict[str, Any]:
        return dict(self.raw.get("hot_spots") or {"top": 3})

    @property
    def fatigue(self) -> dict[str, Any]:
        return dict(self.raw.get("fatigue") or {})

    @property
    def health(self) -> dict[str, Any]:
        return dict(self.raw.get("health") or {})

    @property
    def base_topic(self) -> str:
        return str(self.raw.get("base_topic", "twinsight/asset"))


def _vec3(v: Any, what: str) -> tuple[float, float, float]:
    return tuple(float(x) for x in vector3(v, what))


def _unit(v: Any, what: str) -> tuple[float, float, float]:
    d = np.asarray(_vec3(v, what))
    n = float(np.linalg.norm(d))
    if not n > 1e-12:
        raise InputError(f"{what} has zero length.")
    return tuple(float(x) for x in d / n)


def _positive(v: Any, what: str, default: float) -> float:
    try:
        f = float(default if v is None else v)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number.") from None
    if not (np.isfinite(f) and f > 0):
        raise InputError(f"{what} must be positive, not {f:g}.")
    return f


def rosette_directions(normal: tuple[float, float, float], reference: tuple[float, float, float],
                       angles: list[float]) -> list[tuple[float, float, float]]:
    """Gauge directions of a rosette: ``angles`` (degrees) from ``reference`` in the plane
    normal to ``normal``."""
    n = np.asarray(normal, float)
    r = np.asarray(reference, float)
    r = r - (r @ n) * n
    if not np.linalg.norm(r) > 1e-9:
        raise InputError("A rosette's reference direction lies along its normal.")
    r /= np.linalg.norm(r)
    s = np.cross(n, r)
    out = []
    for a in angles:
        d = np.cos(np.radians(a)) * r + np.sin(np.radians(a)) * s
        out.append(tuple(float(x) for x in d))
    return out


def _sensors(raw: list[Any], base: str, channels: set[str],
             problems: list[str]) -> list[SensorDef]:
    out: list[SensorDef] = []
    seen: set[str] = set()
    for k, s in enumerate(raw):
        sid = str(s.get("id", f"sensor{k + 1}")) if isinstance(s, dict) else f"sensor{k + 1}"
        try:
            if not isinstance(s, dict):
                raise InputError("it is not an object")
            kind = str(s.get("type", "strain"))
            if kind not in SENSOR_TYPES:
                raise InputError(f"its type '{kind}' is not one of {', '.join(SENSOR_TYPES)}")
            noise = _positive(s.get("noise"), f"Sensor '{sid}' noise", 1.0)
            gain = float(s.get("gain", 1.0))
            offset = float(s.get("offset", 0.0))
            if not (np.isfinite(gain) and gain != 0 and np.isfinite(offset)):
                raise InputError("its gain must be non-zero and its offset finite")
            common = {"noise": noise, "gain": gain, "offset": offset}
            if kind == "load_cell":
                ch = str(s.get("channel"))
                if ch not in channels:
                    raise InputError(f"its channel '{ch}' is not a load channel")
                made = [SensorDef(sid, kind, channel=ch, unit=str(s.get("unit", "N")), **common)]
            else:
                point = _vec3(s.get("point"), f"Sensor '{sid}' point")
                if kind == "rosette":
                    normal = _unit(s.get("normal"), f"Rosette '{sid}' normal")
                    ref = _unit(s.get("reference", [1, 0, 0]), f"Rosette '{sid}' reference")
                    angles = [float(a) for a in s.get("angles", [0.0, 45.0, 90.0])]
                    made = [SensorDef(f"{sid}_{'abcdefgh'[i]}", "strain", point, d,
                                      unit="ustrain", **common)
                            for i, d in enumerate(rosette_directions(normal, ref, angles))]
                else:
                    d = _unit(s.get("direction"), f"Sensor '{sid}' direction")
                    made = [SensorDef(sid, kind, point, d, unit=UNITS[kind], **common)]
            for m in made:
                if m.id in seen:
                    raise InputError(f"its id '{m.id}' is used twice")
                seen.add(m.id)
                m.topic = str(s.get("topic") or f"{base}/gauge/{m.id}") if len(made) == 1 \
                    else f"{base}/gauge/{m.id}"
            out.extend(made)
        except InputError as exc:
            problems.append(f"Sensor '{sid}' is left out: {str(exc).rstrip('.')}.")
    return out


def _channels(raw: list[Any]) -> list[ChannelDef]:
    out = []
    for k, c in enumerate(raw):
        if not isinstance(c, dict):
            raise InputError(f"Load channel {k + 1} must be an object.")
        name = str(c.get("name", f"channel{k + 1}"))
        kind = c.get("type", "surface_force")
        if kind not in LOAD_TYPES:
            raise InputError(f"Load channel '{name}' type '{kind}' is not one of "
                             f"{', '.join(LOAD_TYPES)}.")
        load: dict[str, Any] = {"name": name, "type": kind}
        if kind == "pressure":
            load["pressure"] = 1.0
        elif kind == "gravity":
            load["acceleration"] = list(_unit(c.get("direction"), f"Channel '{name}' direction"))
        else:
            load["force"] = list(_unit(c.get("direction"), f"Channel '{name}' direction"))
        if kind != "gravity":
            load["select"] = c.get("select")
        lo, hi = (c.get("range") or [None, None])[:2]
        bounds = (-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))
        if not bounds[0] < bounds[1]:
            raise InputError(f"Load channel '{name}' range must be low < high.")
        typical = _positive(c.get("typical"), f"Channel '{name}' typical magnitude", 1.0)
        out.append(ChannelDef(name, load, str(c.get("unit", "MPa" if kind == "pressure" else "N")),
                              bounds, typical))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise InputError("Load channel names must be unique.")
    if not out:
        raise InputError("A twin config needs at least one load channel.")
    return out


def config_from_dict(raw: dict[str, Any], folder: Path, name: str = "asset") -> AssetConfig:
    """Check and normalise a twin config document."""
    if not isinstance(raw, dict) or "fe" not in raw:
        raise InputError("A twin config needs an 'fe' entry (mesh, order, material).")
    fe = raw["fe"]
    if not isinstance(fe, dict) or "mesh" not in fe or "material" not in fe:
        raise InputError("The twin config's 'fe' entry needs 'mesh' and 'material'.")
    channels = _channels(list(raw.get("channels") or []))
    problems: list[str] = []
    sensors = _sensors(list(raw.get("sensors") or []), str(raw.get("base_topic",
                                                               "twinsight/asset")),
                       {c.name for c in channels}, problems)
    supports = []
    for k, s in enumerate(raw.get("supports") or []):
        sname = str(s.get("name", f"support{k + 1}"))
        k3 = np.broadcast_to(np.asarray(s.get("stiffness", 0.0), dtype=float), (3,))
        if not (np.isfinite(k3).all() and (k3 >= 0).all() and k3.sum() > 0):
            raise InputError(f"Support '{sname}' needs a positive stiffness (N/mm).")
        supports.append(SupportDef(sname, s.get("select"), tuple(float(x) for x in k3)))
    regions = raw.get("regions") or {}
    if not isinstance(regions, dict):
        raise InputError("'regions' must map names to selections.")
    return AssetConfig(str(raw.get("name", name)), raw, folder, fe, sensors, channels,
                       supports, {str(k): v for k, v in regions.items()}, problems)


def read_config(path: str | Path) -> AssetConfig:
    """Read a twin config (YAML/JSON); any problem is an error naming the file."""
    path = Path(path)
    raw = read_settings_file(path, "a twin config", 5)
    try:
        return config_from_dict(raw, path.parent.resolve(), path.stem)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None


def demo_asset_config(element_size: float | None = None, order: int | None = None
                      ) -> AssetConfig:
    """The shipped model of the demo pump bracket (coarser with ``element_size``)."""
    from sim.resources import asset_path

    cfg = read_config(asset_path("twin", "pump_bracket.yaml"))
    if element_size is not None:
        cfg.fe["mesh"] = {**cfg.fe["mesh"], "element_size": float(element_size)}
    if order is not None:
        cfg.fe["order"] = int(order)
    return cfg
