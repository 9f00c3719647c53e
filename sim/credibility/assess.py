"""Gather the credibility evidence for a spec: the model solved as given, code verification
run now, the mesh-refinement study, the sweep's uncertainty analysis, and provenance."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from sim.credibility.provenance import environment, input_hashes
from sim.credibility.refinement import refinement_study
from sim.credibility.spec import CredibilitySpec
from sim.credibility.verification import run_code_verification
from sim.errors import InputError, TwinsightError
from sim.progress import Progress, no_progress, sub_progress
from sim.sweep.paths import lookup

RISK_WORDS = {1: "low", 2: "low to medium", 3: "medium", 4: "medium to high", 5: "high"}


def _mesh_file(spec: CredibilitySpec) -> Path | None:
    m = spec.model_raw.get("mesh")
    p = m if isinstance(m, str) else (m.get("path") if isinstance(m, dict) else None)
    if not p:
        return None
    p = Path(str(p))
    return p if p.is_absolute() else spec.model_path.parent / p


def assess(spec: CredibilitySpec, sweep: str | Path | None = None,
           progress: Progress = no_progress) -> dict[str, Any]:
    """Every section's data, JSON-ready."""
    from sim.fem.analysis import run_analysis
    from sim.fem.spec import AnalysisSpec

    progress(0.0, "Solving the model")
    summary = run_analysis(AnalysisSpec(spec.model_raw, spec.model_path.parent,
                                        str(spec.model_raw.get("name", spec.name))),
                           sub_progress(progress, 0.0, 0.15)).summary
    results = [{**q, "value": lookup(summary, q["path"])} for q in spec.quantities]
    code = [c.to_dict() for c in run_code_verification(sub_progress(progress, 0.15, 0.45))]
    calc: dict[str, Any] | None = None
    if spec.refinement is not None:
        try:
            calc = refinement_study(spec.model_raw, spec.model_path.parent, spec.quantities,
                                    spec.refinement["ratio"], sub_progress(progress, 0.45, 0.9))
        except TwinsightError as exc:
            calc = {"error": str(exc)}
    uq = None
    if sweep is not None:
        uq = _sweep_analysis(sweep)
    progress(0.95, "Provenance")
    return {"name": spec.name, "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "question_of_interest": spec.question, "context_of_use": spec.context,
            "risk": {"influence": spec.influence, "consequence": spec.consequence,
                     "level": spec.risk_level, "level_words": RISK_WORDS[spec.risk_level],
                     "rationale": spec.rationale},
            "model": {"spec": str(spec.model_path), "summary": summary},
            "quantities": results, "code_verification": code, "calculation_verification": calc,
            "uncertainty": uq, "validation": spec.validation, "limitations": spec.limitations,
            "provenance": {"environment": environment(),
                           "inputs": input_hashes({"credibility spec": spec.path,
                                                   "analysis spec": spec.model_path,
                                                   "mesh": _mesh_file(spec),
                                                   "sweep results": Path(sweep) if sweep else None})}}


def _sweep_analysis(folder: str | Path) -> dict[str, Any]:
    from sim.sweep.analysis import analyse
    from sim.sweep.store import read_results, spec_of_results

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"There are no sweep results at '{folder}'.")
    sweep = spec_of_results(folder)
    return {"folder": str(folder), "analysis": analyse(sweep, read_results(folder))}
