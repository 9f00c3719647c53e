"""Run an analysis spec end to end: mesh, problem, solve, results summary and result grid."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from sim.fem.dynamic import DynamicSettings, solve_dynamic
from sim.fem.results import compute_fields, probe, to_grid, von_mises
from sim.fem.spec import AnalysisSpec, build_problem, load_mesh, read_spec
from sim.fem.static import NewtonSettings, solve_linear, solve_nonlinear
from sim.progress import Progress, no_progress, sub_progress


@dataclass
class AnalysisResult:
    summary: dict[str, Any]
    grid: pv.UnstructuredGrid


def run_analysis(spec: AnalysisSpec | str | Path, progress: Progress = no_progress) -> AnalysisResult:
    t0 = time.perf_counter()
    if not isinstance(spec, AnalysisSpec):
        spec = read_spec(spec)
    analysis = spec.analysis
    mesh, mesh_info = load_mesh(spec, sub_progress(progress, 0.0, 0.3))
    problem = build_problem(spec, mesh)
    solve_progress = sub_progress(progress, 0.3, 0.95)
    kind = analysis["type"]
    extra: dict[str, Any] = {}
    if kind == "static_linear":
        sol = solve_linear(problem, solve_progress)
        u, iterations, reactions, converged = sol.u, sol.iterations, sol.reactions, sol.converged
        extra["relative_residual"] = sol.residual
    elif kind == "static_nonlinear":
        settings = NewtonSettings(steps=int(analysis.get("steps", 5)),
                                  max_iterations=int(analysis.get("max_iterations", 25)),
                                  tolerance=float(analysis.get("tolerance", 1e-8)))
        sol = solve_nonlinear(problem, settings, solve_progress)
        u, iterations, reactions, converged = sol.u, sol.iterations, sol.reactions, sol.converged
        extra["relative_residual"] = sol.residual
        extra["load_steps"] = sum(1 for h in sol.history if "iterations" in h)
        extra["rejected_steps"] = sum(1 for h in sol.history if "rejected" in h)
    else:
        alpha, beta = (analysis.get("rayleigh") or [0.0, 0.0])[:2]
        settings = DynamicSettings(dt=float(analysis.get("dt", 0.01)),
                                   duration=float(analysis.get("duration", 1.0)),
                                   rayleigh_mass=float(alpha), rayleigh_stiffness=float(beta))
        traj = solve_dynamic(problem, settings, solve_progress)
        u, iterations, reactions, converged = traj.u, traj.iterations, traj.reactions, True
        extra["time_steps"] = len(traj.times) - 1
        extra["rejected_steps"] = traj.rejected_steps
        tip = [float(np.linalg.norm(d.reshape(-1, 3), axis=1).max()) for d in traj.displacements]
        extra["max_displacement_history_mm"] = tip
    progress(0.96, "Computing stresses")
    fields = compute_fields(problem.body, u)
    grid = to_grid(problem.body, fields)
    vm = fields.von_mises
    summary = {
        "name": spec.name,
        "analysis": kind,
        "law": problem.body.law,
        "material": {"name": problem.body.material.name,
                     "youngs_modulus_mpa": problem.body.material.youngs_modulus,
                     "poisson_ratio": problem.body.material.poisson_ratio,
                     "density_t_per_mm3": problem.body.material.density},
        "mesh": mesh_info,
        "converged": bool(converged),
        "iterations": int(iterations),
        "wall_time_s": round(time.perf_counter() - t0, 4),
        "max_displacement_mm": fields.max_displacement(),
        "max_von_mises_mpa": float(vm.max()),
        "max_element_von_mises_mpa": float(von_mises(fields.element_stress).max()),
        "inverted_elements": int(fields.inverted.sum()),
        "reactions_n": reactions,
        "total_load_n": problem.external_force().reshape(-1, 3).sum(axis=0).tolist(),
        "probes": probe(problem.body, fields, spec.probes),
        **extra,
    }
    progress(1.0, "Done")
    return AnalysisResult(summary, grid)
