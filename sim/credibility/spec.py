"""Credibility spec files (YAML or JSON) for ``twinsight credibility SPEC``. Example::

    name: Bracket under service load
    model: {fem: bracket.yaml}              # the FE analysis spec the report is about
    question_of_interest: Does the bracket stay below yield under the rated load?
    context_of_use: >
      The model predicts peak von Mises stress of the bracket for the rated 200 N load; it is
      one of two pieces of evidence, with a bench test of three brackets.
    quantities:                             # paths into the analysis result, as in sweeps
      - {name: peak stress, path: max_von_mises_mpa, unit: MPa, acceptance: "< 160 (yield / 1.5)"}
    risk: {influence: medium, consequence: high, rationale: "..."}   # low | medium | high
    refinement: {ratio: 1.5}                # calculation verification (false: skip)
    validation: {status: planned, comparator: "bench test, 3 brackets", summary: "..."}
    limitations: ["Linear elastic: no plasticity.", "Bolt preload not modelled."]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.spec_file import check_settings, read_yaml_spec
from sim.sweep.spec import qoi_entries

LEVELS = ("low", "medium", "high")
_KEYS = {"name", "model", "question_of_interest", "context_of_use", "quantities", "risk",
         "refinement", "validation", "limitations", "description"}


@dataclass
class CredibilitySpec:
    path: Path
    name: str
    model_path: Path
    model_raw: dict[str, Any]
    question: str
    context: str
    quantities: list[dict[str, Any]]
    influence: str
    consequence: str
    rationale: str
    refinement: dict[str, Any] | None
    validation: dict[str, Any] = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)

    @property
    def risk_level(self) -> int:
        """V&V 40 model risk, 1 (lowest) to 5, from influence x consequence."""
        return LEVELS.index(self.influence) + LEVELS.index(self.consequence) + 1


def _text(data: dict, key: str) -> str:
    v = data.get(key)
    if not isinstance(v, str) or not v.strip():
        raise InputError(f"The credibility spec needs '{key}' stated in words.")
    return v.strip()


def parse_credibility(data: Any, path: Path) -> CredibilitySpec:
    data = check_settings(data, "credibility spec", _KEYS)
    model = data.get("model")
    if not isinstance(model, dict) or "fem" not in model:
        raise InputError("The credibility spec needs 'model: {fem: ANALYSIS.yaml}'.")
    from sim.fem.spec import read_spec

    mpath = Path(str(model["fem"]))
    mpath = mpath if mpath.is_absolute() else path.parent / mpath
    model_raw = read_spec(mpath).raw
    quantities = data.get("quantities")
    if not isinstance(quantities, list) or not quantities:
        raise InputError("The credibility spec needs 'quantities': the quantities of interest.")
    qs = [{"name": q["name"], "path": q["path"], "unit": str(q.get("unit", "")),
           "acceptance": str(q.get("acceptance", ""))} for q in qoi_entries(quantities)]
    risk = data.get("risk") or {}
    if not isinstance(risk, dict):
        raise InputError("'risk' must map influence and consequence to low, medium or high.")
    levels = {}
    for key in ("influence", "consequence"):
        v = str(risk.get(key, "")).lower()
        if v not in LEVELS:
            raise InputError(f"The model risk's '{key}' must be low, medium or high, not '{v}'.")
        levels[key] = v
    refinement = data.get("refinement", {"ratio": 1.5})
    if refinement not in (False, None):
        if not isinstance(refinement, dict):
            raise InputError("'refinement' must be a mapping with 'ratio', or false.")
        try:
            ratio = float(refinement.get("ratio", 1.5))
        except (TypeError, ValueError):
            ratio = 0.0
        if not 1.1 <= ratio <= 4.0:
            raise InputError("The refinement ratio must be between 1.1 and 4 (1.3 or more is advised).")
        refinement = {**refinement, "ratio": ratio}
    else:
        refinement = None
    limitations = data.get("limitations") or []
    if not isinstance(limitations, list):
        raise InputError("'limitations' must be a list of sentences.")
    validation = data.get("validation") or {}
    if not isinstance(validation, dict):
        raise InputError("'validation' must be a mapping (status, comparator, summary).")
    return CredibilitySpec(path, str(data.get("name", path.stem)), mpath.resolve(), model_raw,
                           _text(data, "question_of_interest"), _text(data, "context_of_use"),
                           qs, levels["influence"], levels["consequence"],
                           str(risk.get("rationale", "")), refinement, validation,
                           [str(x) for x in limitations])


def read_credibility(path: str | Path) -> CredibilitySpec:
    path = Path(path)
    return parse_credibility(read_yaml_spec(path), path.resolve())
