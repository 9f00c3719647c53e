"""Placement spec files (YAML or JSON) for ``twinsight place SPEC``.

Paths are relative to the spec file. Example (a pedicle screw on L1)::

    case: ../data/ct/totalseg/example_seg.nii.gz   # anything `twinsight` loads (optional)
    structures:                     # what the device is judged against
      - {name: L1, label: 31, role: host, margin_mm: 1.0}     # margin of a host: breach tolerated
      - {name: spinal cord, label: 79, role: critical}         # critical: default device margin
      - {name: aorta, label: 52, role: critical, margin_mm: 3}
      - {name: liver, object: Liver}                           # a surface of the case, by name
      - {name: cage, mesh: cage.stl, role: other}              # a surface file
    device:                         # a catalogue family and size ...
      family: pedicle_screw
      size: {diameter: 6.5, length: 45}                 # or "auto": recommend a size
    # device: {user: {mesh: implant.stl, name: My implant, margin_mm: 1.5}}  # ... or your own
    trajectory: {entry: [22, -88, 130.3], target: [8, -128, 130.3], depth: 0}
    # pose: [[1,0,0,x], [0,1,0,y], [0,0,1,z], [0,0,0,1]]    # instead of a trajectory
    action: fit                     # evaluate | fit | size
    fit: {mode: 6dof, max_shift: 4, max_tilt: 12, budget: 400}
    candidates:                     # optional: more placements, compared side by side
      - {size: {diameter: 5.5, length: 40}}
      - {size: {diameter: 6.5, length: 45}, trajectory: {entry: [...], target: [...]}}

For a stent (``action: size``, ``device.family: stent``)::

    structures: [{name: vessel, mesh: aneurysm.off, role: host}]
    device: {family: stent, size: auto}
    vessel: {structure: vessel, start: [-19.6, -16, -13.3], end: [-9.3, 2.5, -4.5],
             step: 1.0, landing_mm: 5, oversize: 0.1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import InputError
from sim.spec_file import check_settings, read_yaml_spec

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

ACTIONS = ("evaluate", "fit", "size")
_KEYS = {"case", "structures", "device", "trajectory", "pose", "action", "fit", "candidates",
         "vessel", "exact_within"}


@dataclass
class PlacementSpec:
    base: Path
    case: Path | None
    structures: list[dict]
    device: dict
    action: str = "evaluate"
    trajectory: dict | None = None
    pose: np.ndarray | None = None
    fit: dict = field(default_factory=dict)
    candidates: list[dict] = field(default_factory=list)
    vessel: dict | None = None
    exact_within: float = 15.0


def _point(value, what: str) -> np.ndarray:
    try:
        p = np.asarray(value, dtype=float).reshape(3)
    except (TypeError, ValueError):
        raise InputError(f"The {what} must be three numbers [x, y, z] in mm.") from None
    if not np.isfinite(p).all():
        raise InputError(f"The {what} must be finite.")
    return p


def _number(value, what: str, allow_zero: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"The {what} must be a number, not {value!r}.") from None
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise InputError(f"The {what} must be a positive number, not {value!r}.")
    return x


def check_trajectory(t: object) -> dict:
    if not isinstance(t, dict) or "entry" not in t or "target" not in t:
        raise InputError("A trajectory needs an 'entry' and a 'target' point.")
    out = {"entry": _point(t["entry"], "trajectory entry"),
           "target": _point(t["target"], "trajectory target"),
           "depth": t.get("depth", 0.0)}
    try:
        out["depth"] = float(out["depth"])
    except (TypeError, ValueError):
        raise InputError("The trajectory depth must be a number of mm.") from None
    if np.linalg.norm(out["target"] - out["entry"]) < 1e-6:
        raise InputError("The trajectory's entry and target are the same point.")
    return out


def check_pose(value: ArrayLike) -> np.ndarray:
    from sim.placement.rigid_device import check_pose as rigid

    try:
        m = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError("A pose must be a 4x4 matrix of numbers.") from None
    return rigid(m)


def parse_spec(data: dict, base: Path) -> PlacementSpec:
    data = check_settings(data, "placement spec", _KEYS)
    structures = data.get("structures")
    if not isinstance(structures, list) or not structures:
        raise InputError("A placement spec needs a non-empty list of 'structures'.")
    device = data.get("device")
    if not isinstance(device, dict) or not ("family" in device or "user" in device):
        raise InputError("A placement spec needs a 'device' with a 'family' (or a 'user' device).")
    if "family" in device:
        from sim.devices.catalogue import family

        family(str(device["family"]))  # unknown families fail before any loading
    action = str(data.get("action", "evaluate"))
    if action not in ACTIONS:
        raise InputError(f"The action must be one of {', '.join(ACTIONS)}, not '{action}'.")
    fit = data.get("fit") or {}
    if not isinstance(fit, dict) or set(fit) - {"mode", "max_shift", "max_tilt", "budget"}:
        raise InputError("'fit' may only set mode, max_shift, max_tilt and budget.")
    for key in ("max_shift", "max_tilt", "budget"):
        if key in fit:
            fit[key] = _number(fit[key], f"fit {key}")
    vessel = data.get("vessel")
    if isinstance(vessel, dict):
        for key in ("step", "landing_mm", "oversize"):
            if key in vessel:
                vessel[key] = _number(vessel[key], f"vessel {key}", allow_zero=key == "oversize")
    spec = PlacementSpec(base=base, case=base / str(data["case"]) if data.get("case") else None,
                         structures=structures, device=device, action=action, fit=fit,
                         vessel=vessel,
                         exact_within=_number(data.get("exact_within", 15.0), "exact_within"))
    if data.get("trajectory") is not None:
        spec.trajectory = check_trajectory(data["trajectory"])
    if data.get("pose") is not None:
        spec.pose = check_pose(data["pose"])
    is_stent = device.get("family") == "stent"
    if spec.trajectory is None and spec.pose is None and not (is_stent and action == "size"):
        raise InputError("A placement spec needs a 'trajectory' (entry, target) or a 'pose'.")
    if action == "fit" and spec.trajectory is None:
        raise InputError("Fitting needs a 'trajectory' to fit around.")
    if action == "size" and not is_stent and spec.trajectory is None:
        raise InputError("Choosing a screw size needs a 'trajectory'.")
    if action == "size" and is_stent:
        v = spec.vessel
        if not isinstance(v, dict) or "start" not in v or "end" not in v or "structure" not in v:
            raise InputError("Stent sizing needs 'vessel' with a 'structure', a 'start' and an 'end'.")
        _point(v["start"], "vessel start")
        _point(v["end"], "vessel end")
    cands = data.get("candidates") or []
    if not isinstance(cands, list) or not all(isinstance(c, dict) for c in cands):
        raise InputError("'candidates' must be a list of placements.")
    for c in cands:
        if "trajectory" in c:
            c["trajectory"] = check_trajectory(c["trajectory"])
        if "pose" in c:
            c["pose"] = check_pose(c["pose"])
    spec.candidates = cands
    return spec


def read_spec(path: str | Path) -> PlacementSpec:
    """Read and check a placement spec file."""
    path = Path(path)
    data = read_yaml_spec(path, "a placement spec")
    return parse_spec(data, path.parent)
