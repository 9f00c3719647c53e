"""Predictive models saved in the case (section ``predict``), versioned with their data.

``case.sections["predict"]`` holds ``{"anomaly": MODEL, "rul": MODEL}``: each model's own
JSON (no pickle) plus ``revision`` (1, 2, ... each time that kind is retrained in the case)
and ``trained_on`` (the data's source, window or units, and SHA-256), so a case says which
model it used and what it was trained on. Setting them is one undoable step.
"""

from __future__ import annotations

from typing import Any

from sim.predict.anomaly import AnomalyModel
from sim.predict.rul import RulModel

SECTION = "predict"


def save_model(case: Any, model: AnomalyModel | RulModel) -> int:
    """Store ``model`` in ``case``; returns its revision."""
    from sim.model.sections import set_section

    kind = "anomaly" if isinstance(model, AnomalyModel) else "rul"
    stored = dict(case.sections.get(SECTION) or {})
    revision = int((stored.get(kind) or {}).get("revision", 0)) + 1
    stored[kind] = {**model.to_dict(), "revision": revision}
    label = "Train anomaly model" if kind == "anomaly" else "Train remaining-life model"
    set_section(case, SECTION, stored, label)
    return revision


def load_models(case: Any) -> tuple[AnomalyModel | None, RulModel | None]:
    stored = case.sections.get(SECTION) or {}
    where = f"the case's {SECTION} section"
    anomaly = AnomalyModel.from_dict(stored["anomaly"], where) if stored.get("anomaly") else None
    rul = RulModel.from_dict(stored["rul"], where) if stored.get("rul") else None
    return anomaly, rul


def revision(case: Any, kind: str) -> int:
    return int(((case.sections.get(SECTION) or {}).get(kind) or {}).get("revision", 0))
