"""Sweep base "an interaction script on a case": ``base: {interaction: SCRIPT.json, case: CASE}``.

Parameters are paths into the script (``setup.material.youngs_modulus``, ``setup.friction``,
``actions[2].pose.position[1]``); each sample runs the script headless on the case's body, as
``twinsight simulate`` does, and reports its summary plus quantities a sweep asks about: the
peak force on each instrument, the peak element max principal strain and the time the peak
von Mises stress first reached a damage threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError

MESHERS = ("engine", "sparse")
OPTIONS = {"interaction", "case", "body", "mesher", "edge_length", "damage_kpa"}
_bodies: dict[tuple, tuple] = {}  # per worker process: the body is meshed once per sweep
_MAX_BODIES = 4  # bounded memory on a worker that sees several cases (a cohort)


def parse_options(base: dict[str, Any], folder: Path, script: dict[str, Any]) -> dict[str, Any]:
    """Check the base's settings and the script; paths resolved against the sweep's folder."""
    from sim.interaction.fields import FIELDS
    from sim.interaction.script import timeline_from_dict

    unknown = set(base) - OPTIONS
    if unknown:
        raise InputError(f"Unknown setting(s) {', '.join(sorted(unknown))} of the interaction "
                         f"base (known: {', '.join(sorted(OPTIONS))}).")
    if not base.get("case"):
        raise InputError("The interaction base needs 'case': the case or mesh holding the body.")
    case = Path(str(base["case"]))
    case = case if case.is_absolute() else folder / case
    if not case.exists():
        raise InputError(f"The case '{case}' of the interaction base does not exist.")
    mesher = str(base.get("mesher", "engine"))
    if mesher not in MESHERS:
        raise InputError(f"The interaction base's mesher must be one of {', '.join(MESHERS)}, "
                         f"not '{mesher}'.")
    opts = {"case": str(case.resolve()), "body": base.get("body"), "mesher": mesher,
            "edge_length": base.get("edge_length"),
            "damage_kpa": base.get("damage_kpa", FIELDS["von_mises"].damage)}
    for key in ("edge_length", "damage_kpa"):
        v = opts[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or v <= 0):
            raise InputError(f"'{key}' of the interaction base must be a positive number.")
    try:
        timeline_from_dict(script)
    except InputError as exc:
        raise FileFormatError(Path(str(base["interaction"])), str(exc).rstrip(".")) from None
    return opts


def _body(case: str, body: str | None, mesher: str, edge: float | None) -> tuple:
    key = (case, body, mesher, edge)
    if key not in _bodies:
        from sim.interaction.body_setup import pick_body, prepare_body
        from sim.io import load

        obj = pick_body(load(case), body)
        mesh, visual, _ = prepare_body(obj, edge, mesher=mesher)
        if len(_bodies) >= _MAX_BODIES:
            _bodies.pop(next(iter(_bodies)))
        _bodies[key] = (obj.name, mesh, visual)
    return _bodies[key]


def run_interaction(payload: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Run one sample's script headless; its summary and sweep quantities (see module doc)."""
    from sim.interaction.recording import run_timeline
    from sim.interaction.script import timeline_from_dict

    opts = payload["options"]
    case = raw.pop("case", None) or opts["case"]  # a cohort member's case replaces the base's
    timeline = timeline_from_dict(raw)
    name, mesh, visual = _body(str(case), opts["body"] or timeline.body, opts["mesher"],
                               opts["edge_length"] or timeline.edge_length)
    damage_mpa = float(opts["damage_kpa"]) / 1000.0
    peak_force: dict[str, float] = {}
    track: dict[str, Any] = {"strain": 0.0, "damage_time_s": None}

    def on_step(session: Any) -> None:
        for tool in session.instruments:
            f = float(np.linalg.norm(session.sim.contact_force(tool)))
            peak_force[tool] = max(peak_force.get(tool, 0.0), f)
        eps = session.fields.element_strain(session.sim.x, session.sim.R)
        track["strain"] = max(track["strain"], float(np.linalg.eigvalsh(eps)[:, -1].max()))
        if track["damage_time_s"] is None and \
                session.metrics["peak_von_mises_kpa"] >= 1000.0 * damage_mpa:
            track["damage_time_s"] = session.time

    session = run_timeline(timeline, mesh, visual, on_step=on_step)
    summary = session.summary()
    summary.update({"body": name, "peak_force_n": peak_force,
                    "max_force_n": max(peak_force.values(), default=0.0),
                    "max_von_mises_kpa": summary["peak_von_mises_kpa"],
                    "max_principal_strain_pct": 100.0 * track["strain"],
                    "damage_time_s": track["damage_time_s"],
                    "damaged": track["damage_time_s"] is not None})
    return summary
