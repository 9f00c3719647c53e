"""Calculation verification of a user's FE model: the analysis solved on three systematically
refined meshes (the spec's mesh and two finer ones), each quantity's grid convergence index,
and the solver's residuals.

How a mesh is refined depends on where it comes from: a box generator's divisions are
multiplied by the ratio (rounded), a gmsh generator's element sizes and a surface file's
tetrahedralisation edge length are divided by it. A ready-made volume mesh (.vtu) cannot be
refined here: the study says so instead of pretending.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from sim.credibility.gci import grid_convergence, representative_h
from sim.errors import InputError, TwinsightError
from sim.progress import Progress, no_progress, sub_progress
from sim.sweep.paths import lookup


def refined_mesh(mesh: Any, factor: float) -> dict[str, Any]:
    """The spec's ``mesh`` entry refined by ``factor`` (> 1: smaller elements)."""
    m = {"path": mesh} if isinstance(mesh, str) else copy.deepcopy(mesh)
    if not isinstance(m, dict):
        raise InputError("The model's 'mesh' entry cannot be refined.")
    if factor == 1.0:
        return m
    gen = m.get("generator")
    if gen == "box":
        m["divisions"] = [max(1, math.ceil(int(d) * factor - 1e-9)) for d in m["divisions"]]
    elif gen in ("tube", "sphere_shell"):
        m["element_size"] = float(m["element_size"]) / factor
        if m.get("inner_element_size") is not None:
            m["inner_element_size"] = float(m["inner_element_size"]) / factor
    elif "path" in m and Path(str(m["path"])).suffix.lower() not in (".vtu", ".vtk"):
        if m.get("edge_length") is None:
            raise InputError("The model's surface mesh has no 'edge_length' to refine; set one in "
                             "the analysis spec for a mesh-refinement study.")
        m["edge_length"] = float(m["edge_length"]) / factor
    else:
        raise InputError("The model's mesh is a ready-made volume mesh: it cannot be refined here "
                         "(give a surface with edge_length, or a generator).")
    return m


def refinement_study(raw: dict[str, Any], folder: Path, quantities: list[dict[str, Any]],
                     ratio: float = 1.5, progress: Progress = no_progress) -> dict[str, Any]:
    """Three levels (spec mesh, x ratio, x ratio^2), a GCI per quantity."""
    from sim.fem.analysis import run_analysis
    from sim.fem.spec import AnalysisSpec

    levels = []
    for k, factor in enumerate((1.0, ratio, ratio * ratio)):
        spec = copy.deepcopy(raw)
        spec["mesh"] = refined_mesh(raw["mesh"], factor)
        s = run_analysis(AnalysisSpec(spec, folder, str(raw.get("name", "model"))),
                         sub_progress(progress, k / 3, (k + 1) / 3)).summary
        mesh = s["mesh"]
        levels.append({"factor": factor, "elements": mesh["elements"], "nodes": mesh["nodes"],
                       "h_mm": representative_h(mesh["total_volume_mm3"], mesh["elements"]),
                       "relative_residual": s.get("relative_residual"),
                       "converged": s.get("converged"), "iterations": s.get("iterations"),
                       "wall_time_s": s.get("wall_time_s"),
                       "values": {q["name"]: lookup(s, q["path"]) for q in quantities}})
    fine, med, coarse = levels[2], levels[1], levels[0]
    gci: dict[str, Any] = {}
    for q in quantities:
        vals = [lv["values"][q["name"]] for lv in (fine, med, coarse)]
        try:
            if any(not isinstance(v, int | float) for v in vals):
                raise InputError("the analysis did not produce this quantity as a number")
            gci[q["name"]] = grid_convergence([fine["h_mm"], med["h_mm"], coarse["h_mm"]],
                                              vals).to_dict()
        except TwinsightError as exc:
            gci[q["name"]] = {"error": str(exc)}
    progress(1.0, "Mesh refinement done")
    return {"ratio": ratio, "levels": levels, "gci": gci}
