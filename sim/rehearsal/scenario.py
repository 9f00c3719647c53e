"""Scenarios: what a trainee rehearses, how it is judged. JSON, versioned, validated strictly.

Format (``"format": "twinsight-scenario"``, ``"version": 1``; documented in the README)::

    {"format": "twinsight-scenario", "version": 1, "name": "Liver retraction and L1 screw",
     "time_limit_s": 300,
     "simulation": {"body": "Liver", "edge_length": 10, "mesher": "sparse",
                    "setup": {... a sim.interaction SessionSetup: material, fixed, dt, instruments}},
     "structures": [{"name": "Aorta", "contact": true, "margin_mm": 0},
                    {"name": "Liver", "max_von_mises_kpa": 7.0}],
     "devices": [{"name": "Pedicle screw", "entry": [..], "target": [..], "depth": 0,
                  "start_pose": 4x4}],
     "steps": [{"id": "retract", "title": "Retract the liver", "instructions": "...",
                "objects": ["Liver", "Aorta"], "instruments": ["retractor"], "devices": [],
                "criteria": [{"type": "retraction", "min_mm": 15}, {"type": "no_damage"}],
                "time_limit_s": 60, "bands": {"time_s": [10, 40]}}],
     "scoring": {"weights": {"time_s": 1, ...}, "bands": {"path_mm": [60, 400], ...}}}

A structure named like the simulated body is judged by stress, strain and contact force (the
tissue being handled); any other structure is rigid and judged by contact with the instruments
and devices (closer than ``margin_mm``). A damaged structure fails the step it happens in.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.interaction.session import SessionSetup
from sim.io.json_file import read_json
from sim.model.atomic import write_text_atomic

if TYPE_CHECKING:
    from sim.model import Case

FORMAT = "twinsight-scenario"
VERSION = 1
SECTION = "rehearsal"  # case.sections key
CRITERIA = {
    "retraction": {"min_mm"},  # peak tissue displacement in the step >= min_mm
    "no_damage": {"max_s"},  # time above the body's damage thresholds <= max_s (default 0)
    "no_contact": {"structure"},  # no contact with this structure in the step
    "on_plan": {"device", "max_entry_mm", "max_angle_deg", "max_tip_mm"},  # device at step end
    "max_force": {"max_n"},  # peak contact force in the step
    "time": {"max_s"},  # the step takes at most max_s
}
MESHERS = ("engine", "sparse")


def _where(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _required_text(d: Any, keys: set[str], where: str, key: str, needs: str) -> str:
    """The text ``key`` of the mapping ``d`` (whose fields must be among ``keys``); an
    InputError saying ``where`` needs it (``needs``: "an 'id'") when it is missing or empty."""
    _check_keys(d, keys, where)
    value = _text(d, key, where, None)
    if not value:
        raise InputError(f"'{where}' needs {needs}.")
    return value


def _check_keys(d: Any, known: set[str], where: str) -> dict:
    if not isinstance(d, dict):
        raise InputError(f"'{where}' must be an object.")
    unknown = set(d) - known
    if unknown:
        raise InputError(f"'{where}' has unknown field(s) {sorted(unknown)} "
                         f"(known: {sorted(known)}).")
    return d


def _number(d: dict, key: str, where: str, default=None, lo: float = 0.0,
            hi: float = 1e9) -> float | None:
    v = d.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
            or not lo <= v <= hi:
        raise InputError(f"'{_where(where, key)}' must be a number between {lo:g} and {hi:g}, "
                         f"not {v!r}.")
    return float(v)


def _text(d: dict, key: str, where: str, default: str | None = "") -> str | None:
    v = d.get(key, default)
    if v is None and default is None:
        return None
    if not isinstance(v, str):
        raise InputError(f"'{_where(where, key)}' must be text.")
    return v


def _names(d: dict, key: str, where: str) -> list[str]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InputError(f"'{_where(where, key)}' must be a list of names.")
    return list(v)


def _point(v: Any, where: str) -> list[float]:
    a = np.asarray(v, dtype=float) if isinstance(v, list | tuple) else None
    if a is None or a.shape != (3,) or not np.isfinite(a).all():
        raise InputError(f"'{where}' must be a point [x, y, z] in mm.")
    return a.tolist()


def _pose(v: Any, where: str) -> list[list[float]]:
    from sim.interaction.tools import pose_from_spec

    try:
        return pose_from_spec(v).tolist()
    except (InputError, ValueError, TypeError) as exc:
        raise InputError(f"'{where}': {str(exc).rstrip('.')}.") from None


def _bands(d: Any, where: str) -> dict[str, list[float]]:
    from sim.rehearsal.scoring import METRICS

    if not isinstance(d, dict):
        raise InputError(f"'{where}' must be an object of metric: [good, bad].")
    out = {}
    for k, v in d.items():
        if k not in METRICS:
            raise InputError(f"'{where}' names an unknown metric '{k}' "
                             f"(known: {', '.join(METRICS)}).")
        if (not isinstance(v, list) or len(v) != 2 or any(
                isinstance(x, bool) or not isinstance(x, int | float) for x in v)
                or not 0 <= v[0] < v[1]):
            raise InputError(f"'{where}.{k}' must be [good, bad] with 0 <= good < bad.")
        out[k] = [float(v[0]), float(v[1])]
    return out


def _proficiency(d: Any) -> dict[str, float]:
    """``scoring.proficiency``: {"score": 0-100, "consecutive": 1-20} (both optional)."""
    _check_keys(d, {"score", "consecutive"}, "scoring.proficiency")
    out = {}
    if "score" in d:
        out["score"] = _number(d, "score", "scoring.proficiency", hi=100.0)
    if "consecutive" in d:
        n = d["consecutive"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
            raise InputError("'scoring.proficiency.consecutive' must be a whole number "
                             "from 1 to 20.")
        out["consecutive"] = n
    return out


@dataclass
class SuccessCriterion:
    type: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> SuccessCriterion:
        if not isinstance(d, dict) or d.get("type") not in CRITERIA:
            raise InputError(f"'{where}' needs a 'type' (one of {', '.join(CRITERIA)}).")
        kind = d["type"]
        _check_keys(d, CRITERIA[kind] | {"type"}, where)
        p = {k: v for k, v in d.items() if k != "type"}
        for k in ("min_mm", "max_s", "max_entry_mm", "max_angle_deg", "max_tip_mm", "max_n"):
            if k in p:
                _number(p, k, where)
        if kind == "retraction" and "min_mm" not in p:
            raise InputError(f"'{where}': a retraction criterion needs 'min_mm'.")
        if kind in ("max_force", "time") and not ({"max_n", "max_s"} & set(p)):
            raise InputError(f"'{where}': a {kind} criterion needs its maximum.")
        if kind == "no_contact" and not isinstance(p.get("structure"), str):
            raise InputError(f"'{where}': a no_contact criterion names a 'structure'.")
        if kind == "on_plan":
            if not isinstance(p.get("device"), str):
                raise InputError(f"'{where}': an on_plan criterion names a 'device'.")
            if not {"max_entry_mm", "max_angle_deg", "max_tip_mm"} & set(p):
                raise InputError(f"'{where}': an on_plan criterion needs max_entry_mm, "
                                 "max_angle_deg or max_tip_mm.")
        return cls(kind, p)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.params}

    def describe(self) -> str:
        p = self.params
        if self.type == "retraction":
            return f"retract by at least {p['min_mm']:g} mm"
        if self.type == "no_damage":
            return ("no tissue above the damage threshold" if not p.get("max_s")
                    else f"at most {p['max_s']:g} s above the damage threshold")
        if self.type == "no_contact":
            return f"do not touch the {p['structure']}"
        if self.type == "on_plan":
            parts = [f"{p[k]:g} {u}" for k, u in (("max_entry_mm", "mm at the entry"),
                                                  ("max_angle_deg", "degrees"),
                                                  ("max_tip_mm", "mm at the tip")) if k in p]
            return f"{p['device']} on the planned trajectory within " + ", ".join(parts)
        if self.type == "max_force":
            return f"contact force at most {p['max_n']:g} N"
        return f"finish within {p['max_s']:g} s"


@dataclass
class CriticalStructure:
    """A structure with damage thresholds (None: not judged on that quantity)."""

    name: str
    contact: bool = False  # any contact is damage (rigid structures)
    margin_mm: float = 0.0  # contact = an instrument or device closer than this
    max_contact_force_n: float | None = None  # the simulated body only
    max_von_mises_kpa: float | None = None  # the simulated body only
    max_strain_pct: float | None = None  # the simulated body only

    KEYS = {"name", "contact", "margin_mm", "max_contact_force_n", "max_von_mises_kpa",
            "max_strain_pct"}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> CriticalStructure:
        name = _required_text(d, cls.KEYS, where, "name", "the 'name' of a case object")
        contact = d.get("contact", False)
        if not isinstance(contact, bool):
            raise InputError(f"'{where}.contact' must be true or false.")
        s = cls(name, contact, _number(d, "margin_mm", where, 0.0, hi=100.0),
                _number(d, "max_contact_force_n", where), _number(d, "max_von_mises_kpa", where),
                _number(d, "max_strain_pct", where))
        if not (s.contact or s.tissue_thresholds or s.max_contact_force_n is not None):
            raise InputError(f"'{where}' ({name}) has no damage threshold: set 'contact' or a "
                             "maximum force, stress or strain.")
        return s

    @property
    def tissue_thresholds(self) -> bool:
        return self.max_von_mises_kpa is not None or self.max_strain_pct is not None

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "contact": self.contact, "margin_mm": self.margin_mm}
        for k in ("max_contact_force_n", "max_von_mises_kpa", "max_strain_pct"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d


@dataclass
class DevicePlan:
    """A device the trainee places: the planned trajectory and where the device starts."""

    name: str
    entry: list[float]
    target: list[float]
    depth: float = 0.0  # anchor this far past the entry along the trajectory (mm)
    start_pose: list[list[float]] | None = None  # world_T_anchor at the start; None: planned

    KEYS = {"name", "entry", "target", "depth", "start_pose"}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> DevicePlan:
        name = _required_text(d, cls.KEYS, where, "name", "the 'name' of a device in the case")
        entry, target = _point(d.get("entry"), f"{where}.entry"), _point(d.get("target"),
                                                                           f"{where}.target")
        if np.linalg.norm(np.subtract(target, entry)) < 1e-6:
            raise InputError(f"'{where}': entry and target are the same point.")
        start = d.get("start_pose")
        return cls(name, entry, target, _number(d, "depth", where, 0.0, lo=-1000.0, hi=1000.0),
                   None if start is None else _pose(start, f"{where}.start_pose"))

    @property
    def planned_pose(self) -> np.ndarray:
        from sim.devices import pose_on_trajectory

        return pose_on_trajectory(self.entry, self.target, depth=self.depth)

    def start_offset_pose(self, back_mm: float, aside_mm: float = 0.0,
                          tilt_deg: float = 0.0) -> np.ndarray:
        """A start pose off the plan: the planned pose held ``back_mm`` back along the
        trajectory, ``aside_mm`` to the side (the plan's x axis) and its axis tilted
        ``tilt_deg`` about the plan's y axis (turning the tip further aside), about its anchor."""
        planned = self.planned_pose
        x, z = planned[:3, 0].copy(), planned[:3, 2].copy()
        a = math.radians(tilt_deg)
        pose = planned.copy()
        pose[:3, 0] = math.cos(a) * x - math.sin(a) * z
        pose[:3, 2] = math.cos(a) * z + math.sin(a) * x
        pose[:3, 3] = planned[:3, 3] - back_mm * z + aside_mm * x
        return pose

    def start_offsets(self) -> tuple[float, float, float] | None:
        """(held back mm, aside mm, tilt degrees) of the start pose as
        :meth:`start_offset_pose` makes it (zeros without one), or None for any other start
        pose (a custom one)."""
        if self.start_pose is None:
            return 0.0, 0.0, 0.0
        start, planned = np.asarray(self.start_pose, float), self.planned_pose
        d = start[:3, 3] - planned[:3, 3]
        back = round(float(-d @ planned[:3, 2]), 6)
        aside = round(float(d @ planned[:3, 0]), 6)
        tilt = round(math.degrees(math.atan2(float(start[:3, 2] @ planned[:3, 0]),
                                             float(start[:3, 2] @ planned[:3, 2]))), 6)
        if back < 0 or not np.allclose(start, self.start_offset_pose(back, aside, tilt),
                                       atol=1e-5):
            return None
        return back, aside, tilt

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "entry": self.entry, "target": self.target, "depth": self.depth}
        if self.start_pose is not None:
            d["start_pose"] = self.start_pose
        return d


@dataclass
class Step:
    id: str
    title: str
    instructions: str = ""
    image: str | None = None  # a PNG/JPEG path (relative to the scenario file) or data: URI
    objects: list[str] = field(default_factory=list)  # shown in the view; empty: all
    instruments: list[str] = field(default_factory=list)  # in play (movable)
    devices: list[str] = field(default_factory=list)  # placed in this step
    criteria: list[SuccessCriterion] = field(default_factory=list)
    time_limit_s: float | None = None
    bands: dict[str, list[float]] = field(default_factory=dict)  # metric: [good, bad]
    weight: float = 1.0

    KEYS = {"id", "title", "instructions", "image", "objects", "instruments", "devices",
            "criteria", "time_limit_s", "bands", "weight"}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Step:
        sid = _required_text(d, cls.KEYS, where, "id", "an 'id'")
        crit = d.get("criteria", [])
        if not isinstance(crit, list):
            raise InputError(f"'{where}.criteria' must be a list.")
        return cls(sid, _text(d, "title", where, sid) or sid, _text(d, "instructions", where),
                   _text(d, "image", where, None), _names(d, "objects", where),
                   _names(d, "instruments", where), _names(d, "devices", where),
                   [SuccessCriterion.from_dict(c, f"{where}.criteria[{i}]")
                    for i, c in enumerate(crit)],
                   _number(d, "time_limit_s", where, None, lo=0.1, hi=1e5),
                   _bands(d.get("bands", {}), f"{where}.bands"),
                   _number(d, "weight", where, 1.0, hi=1000.0))

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "title": self.title, "instructions": self.instructions,
             "objects": self.objects, "instruments": self.instruments, "devices": self.devices,
             "criteria": [c.to_dict() for c in self.criteria], "weight": self.weight}
        if self.image:
            d["image"] = self.image
        if self.time_limit_s is not None:
            d["time_limit_s"] = self.time_limit_s
        if self.bands:
            d["bands"] = self.bands
        return d


@dataclass
class Scenario:
    name: str
    body: str
    setup: SessionSetup
    steps: list[Step]
    description: str = ""
    edge_length: float | None = None
    mesher: str = "sparse"
    structures: list[CriticalStructure] = field(default_factory=list)
    devices: list[DevicePlan] = field(default_factory=list)
    time_limit_s: float | None = None
    weights: dict[str, float] = field(default_factory=dict)  # metric: weight (default 1)
    bands: dict[str, list[float]] = field(default_factory=dict)  # metric: [good, bad]
    # The instructor's proficiency level: {"score": 0-100, "consecutive": attempts in a row}
    proficiency: dict[str, float] = field(default_factory=dict)

    KEYS = {"format", "version", "name", "description", "time_limit_s", "simulation",
            "structures", "devices", "steps", "scoring"}

    # -- lookups ------------------------------------------------------------------------------
    def structure(self, name: str) -> CriticalStructure | None:
        return next((s for s in self.structures if s.name == name), None)

    def device(self, name: str) -> DevicePlan | None:
        return next((d for d in self.devices if d.name == name), None)

    @property
    def instrument_names(self) -> list[str]:
        return [str(s.get("name")) for s in self.setup.instruments]

    def digest(self) -> str:
        """A short hash of the scenario: an attempt records which scenario it was scored on."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- JSON ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Any) -> Scenario:
        check_format(d, "scenario", FORMAT, VERSION)
        _check_keys(d, cls.KEYS, "scenario")
        name = _text(d, "name", "scenario", None)
        if not name:
            raise InputError("A scenario needs a 'name'.")
        simd = _check_keys(d.get("simulation"), {"body", "edge_length", "mesher", "setup"},
                           "simulation")
        body = _text(simd, "body", "simulation", None)
        if not body:
            raise InputError("'simulation.body' must name the case's surface to simulate.")
        mesher = simd.get("mesher", "sparse")
        if mesher not in MESHERS:
            raise InputError(f"'simulation.mesher' must be one of {', '.join(MESHERS)}.")
        setup_d = simd.get("setup", {})
        if not isinstance(setup_d, dict):
            raise InputError("'simulation.setup' must be an object.")
        setup = SessionSetup.from_dict(copy.deepcopy(setup_d))
        from sim.interaction.tools import instrument_from_dict

        for spec in setup.instruments:
            instrument_from_dict(spec)  # bad instruments refused at load
        steps_d = d.get("steps")
        if not isinstance(steps_d, list) or not steps_d:
            raise InputError("A scenario needs a non-empty list of 'steps'.")
        steps = [Step.from_dict(s, f"steps[{i}]") for i, s in enumerate(steps_d)]
        structs_d = d.get("structures", [])
        devs_d = d.get("devices", [])
        if not isinstance(structs_d, list) or not isinstance(devs_d, list):
            raise InputError("'structures' and 'devices' must be lists.")
        scoring = _check_keys(d.get("scoring", {}), {"weights", "bands", "proficiency"},
                              "scoring")
        weights = scoring.get("weights", {})
        from sim.rehearsal.scoring import METRICS

        if not isinstance(weights, dict) or any(
                k not in METRICS or isinstance(v, bool) or not isinstance(v, int | float) or v < 0
                for k, v in weights.items()):
            raise InputError("'scoring.weights' maps metric names "
                             f"({', '.join(METRICS)}) to weights >= 0.")
        sc = cls(name, body, setup, steps, _text(d, "description", "scenario"),
                 _number(simd, "edge_length", "simulation", None, lo=0.1, hi=1000.0), mesher,
                 [CriticalStructure.from_dict(s, f"structures[{i}]")
                  for i, s in enumerate(structs_d)],
                 [DevicePlan.from_dict(x, f"devices[{i}]") for i, x in enumerate(devs_d)],
                 _number(d, "time_limit_s", "scenario", None, lo=0.1, hi=1e5),
                 {k: float(v) for k, v in weights.items()},
                 _bands(scoring.get("bands", {}), "scoring.bands"),
                 _proficiency(scoring.get("proficiency", {})))
        sc._check_references()
        return sc

    def _check_references(self) -> None:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise InputError("Step ids must be unique.")
        tools, devices = set(self.instrument_names), {x.name for x in self.devices}
        structures = {s.name for s in self.structures}
        for s in self.steps:
            for t in s.instruments:
                if t not in tools:
                    raise InputError(f"Step '{s.id}' uses instrument '{t}', which the setup "
                                     f"does not have (instruments: {', '.join(tools) or 'none'}).")
            for x in s.devices:
                if x not in devices:
                    raise InputError(f"Step '{s.id}' places device '{x}', which 'devices' "
                                     "does not plan.")
            for c in s.criteria:
                if c.type == "no_contact" and c.params["structure"] not in structures:
                    raise InputError(f"Step '{s.id}': '{c.params['structure']}' is not one of "
                                     "the critical 'structures'.")
                if c.type == "on_plan" and c.params["device"] not in devices:
                    raise InputError(f"Step '{s.id}': device '{c.params['device']}' is not "
                                     "planned in 'devices'.")
        for st in self.structures:
            if st.name != self.body and (st.tissue_thresholds or
                                         st.max_contact_force_n is not None):
                raise InputError(f"Structure '{st.name}' is rigid in this scenario (only "
                                 f"'{self.body}' deforms): judge it by contact, not by force, "
                                 "stress or strain.")

    def to_dict(self) -> dict[str, Any]:
        sim = {"body": self.body, "mesher": self.mesher, "setup": self.setup.to_dict()}
        if self.edge_length is not None:
            sim["edge_length"] = self.edge_length
        return {"format": FORMAT, "version": VERSION, "name": self.name,
                "description": self.description, "time_limit_s": self.time_limit_s,
                "simulation": sim, "structures": [s.to_dict() for s in self.structures],
                "devices": [x.to_dict() for x in self.devices],
                "steps": [s.to_dict() for s in self.steps],
                "scoring": {"weights": dict(self.weights), "bands": dict(self.bands),
                            **({"proficiency": dict(self.proficiency)}
                               if self.proficiency else {})}}


# -- instruction images ---------------------------------------------------------------------------
IMAGE_MAX_BYTES = 5_000_000
_IMAGE_KINDS = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _image_kind(data: bytes, where: str) -> str:
    for magic, mime in _IMAGE_KINDS.items():
        if data.startswith(magic):
            return mime
    raise InputError(f"{where} is not a PNG or JPEG image.")


def image_data_uri(path: str | Path) -> str:
    """A PNG/JPEG file as a data: URI, so the step carries its picture inside the case."""
    import base64

    path = Path(path)
    data = _read_image_file(path, "image")
    mime = _image_kind(data, f"'{path}'")
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def image_bytes(image: str, base: str | Path | None = None) -> bytes:
    """The PNG/JPEG bytes of a step's ``image``: a data: URI, or a file path (relative to
    ``base``, the scenario's or case's folder)."""
    import base64
    import binascii

    if image.startswith("data:"):
        head, _, payload = image.partition(",")
        if not head.endswith(";base64"):
            raise InputError("An instruction image data: URI must be base64 encoded.")
        if len(payload) > (IMAGE_MAX_BYTES * 4) // 3 + 4:
            raise InputError(f"The instruction image is larger than "
                             f"{IMAGE_MAX_BYTES // 1_000_000} MB.")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("The instruction image's data: URI is not valid base64.") from None
        _image_kind(data, "The instruction image")
        return data
    path = _image_path(image, base)
    return _read_image_file(path, "instruction image")


def _image_path(image: str, base: str | Path | None) -> Path:
    """Where a step's picture file is: a relative path must stay inside ``base`` (the case
    or scenario folder) - ``../../../dev/zero`` is refused, as is a link leading out."""
    path = Path(image)
    if path.is_absolute():
        return path
    if base is None:
        raise InputError(f"The instruction image '{image}' is a relative path, but the case "
                         f"is not a folder it could be in; embed the picture instead.")
    root = Path(base).resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise InputError(f"The instruction image '{image}' is outside the case folder.")
    return target


def _read_image_file(path: Path, what: str) -> bytes:
    """A picture file's bytes: a regular file (never a FIFO or device) of bounded size."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError(f"The {what} '{path}' is not a regular file.")
            data = fh.read(IMAGE_MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"Cannot read the {what} '{path}': {exc.strerror or exc}.") from None
    if len(data) > IMAGE_MAX_BYTES:
        raise InputError(f"The {what} '{path}' is larger than "
                         f"{IMAGE_MAX_BYTES // 1_000_000} MB.")
    _image_kind(data, f"'{path}'")
    return data


def check_format(d: Any, what: str, fmt: str, newest: int) -> None:
    """``d`` is a JSON object of our ``fmt`` with a version this Twinsight reads."""
    a = "An" if what[:1] in "aeiou" else "A"
    if not isinstance(d, dict):
        raise InputError(f"{a} {what} must be a JSON object.")
    if d.get("format") != fmt:
        raise InputError(f"This is not a rehearsal {what} ('format' must be '{fmt}').")
    version = d.get("version")
    if not isinstance(version, int) or version < 1:
        raise InputError(f"{a} {what} needs an integer 'version'.")
    if version > newest:
        raise InputError(f"The {what} has format version {version}; this Twinsight reads "
                         f"up to {newest}. Update Twinsight.")


# -- files and cases ------------------------------------------------------------------------------
def read_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    data = read_json(path, "scenario", 20_000_000)
    try:
        return Scenario.from_dict(data)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None


def write_json(data: dict, path: str | Path) -> Path:
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"Folder '{path.parent}' does not exist.")
    return write_text_atomic(path, json.dumps(data, indent=1))


def save_scenario(scenario: Scenario, path: str | Path) -> Path:
    return write_json(scenario.to_dict(), path)


def store_in_case(case: Case, scenario: Scenario, text: str = "Change rehearsal scenario") -> bool:
    """Keep the scenario in the case bundle (saved as sections/rehearsal.json), as one
    undoable step that marks the case modified; False if the case already held it."""
    from sim.model.sections import set_section

    return set_section(case, SECTION, scenario.to_dict(), text)


def scenario_from_case(case: Case) -> Scenario | None:
    data = case.sections.get(SECTION)
    if data is None:
        return None
    return Scenario.from_dict(data)
