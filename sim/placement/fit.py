"""Automatic fitting: the pose that best meets an objective, and a plain account of why.

The pose is parametrised around a planned trajectory (entry -> target): depth along
the axis, and in ``"6dof"`` mode also a sideways shift of the entry, a tilt of the axis
and (for devices that are not round) a roll. The objective (smaller is better) is

    - purchase * 100                  maximise bone purchase (percent of the embedded part)
    + 200 * sum(margin shortfall + penetration)   over critical structures
    +  50 * breach beyond tolerance   keep the embedded part inside the host
    + 0.02 * (shift^2 + tilt^2)       stay near the surgeon's plan unless it pays

Search: a stratified sample of the box of allowed moves, then Nelder-Mead from the best
few. Derivative-free on purpose: clearance and purchase are piecewise smooth at best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc

from sim.devices.catalogue import pose_on_trajectory
from sim.errors import InputError
from sim.placement.evaluate import PlacementScene, evaluate
from sim.placement.report import Evaluation
from sim.placement.rigid_device import RigidDevice
from sim.progress import Progress, no_progress

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

ROUND_FAMILIES = {"pedicle_screw", "bolt", "stent"}


@dataclass
class Objective:
    """Weights of the fitting objective (see the module docstring)."""

    purchase: float = 100.0
    critical: float = 200.0
    breach: float = 50.0
    stay_near_plan: float = 0.02

    def score(self, ev: Evaluation, shift: float = 0.0, tilt: float = 0.0) -> float:
        s = self.stay_near_plan * (shift ** 2 + tilt ** 2)
        for r in ev.structures:
            if r.role == "critical":
                s += self.critical * (max(r.margin_mm - r.clearance_mm, 0.0) + r.penetration_mm)
            elif r.role == "host":
                s -= self.purchase * (r.purchase or 0.0)
                s += self.breach * max((r.breach_mm or 0.0) - r.margin_mm, 0.0)
            elif r.collision:
                s += self.critical * (r.penetration_mm + 0.1)
        return s


@dataclass
class FitResult:
    pose: np.ndarray
    evaluation: Evaluation
    start: Evaluation
    params: dict[str, float]
    score: float
    evaluations: int
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"params": {k: round(v, 4) for k, v in self.params.items()},
                "score": round(self.score, 4), "evaluations": self.evaluations,
                "reasons": self.reasons, "start": self.start.to_dict(),
                "result": self.evaluation.to_dict()}


@dataclass
class TrajectoryFrame:
    """Entry, unit axis and two unit normals of a planned trajectory."""

    entry: np.ndarray
    target: np.ndarray

    def __post_init__(self) -> None:
        self.entry = np.asarray(self.entry, float).reshape(3)
        self.target = np.asarray(self.target, float).reshape(3)
        if not (np.isfinite(self.entry).all() and np.isfinite(self.target).all()):
            raise InputError("Entry and target must be finite points.")
        self.length = float(np.linalg.norm(self.target - self.entry))
        if self.length < 1e-6:
            raise InputError("Entry and target must be two different points.")
        base = pose_on_trajectory(self.entry, self.target)
        self.u, self.v, self.axis = base[:3, 0], base[:3, 1], base[:3, 2]

    def pose(self, depth: float = 0.0, shift_u: float = 0.0, shift_v: float = 0.0,
             tilt_u: float = 0.0, tilt_v: float = 0.0, roll: float = 0.0) -> np.ndarray:
        """Pose for the parameters: tilt in degrees about v (toward u) and about u (toward v)."""
        a, b = np.radians(tilt_u), np.radians(tilt_v)
        axis = self.axis * np.cos(a) * np.cos(b) + self.u * np.sin(a) * np.cos(b) + self.v * np.sin(b)
        entry = self.entry + shift_u * self.u + shift_v * self.v
        return pose_on_trajectory(entry, entry + axis, depth=depth, roll_deg=roll)


def fit_on_trajectory(scene: PlacementScene, device: RigidDevice, entry: ArrayLike,
                      target: ArrayLike, *,
                      mode: str = "6dof", max_shift: float = 4.0, max_tilt: float = 12.0,
                      depth_range: tuple[float, float] = (-5.0, 5.0),
                      objective: Objective | None = None, budget: int = 400,
                      seed: int = 0, progress: Progress = no_progress) -> FitResult:
    """Optimise the device pose near the entry->target plan (see the module docstring).

    ``mode`` is ``"trajectory"`` (slide along and, for non-round devices, roll about the
    planned axis only) or ``"6dof"`` (also shift the entry and tilt the axis).
    """
    if mode not in ("trajectory", "6dof"):
        raise InputError(f"The fitting mode must be 'trajectory' or '6dof', not '{mode}'.")
    if budget < 20:
        raise InputError("A fit needs a budget of at least 20 evaluations.")
    frame = TrajectoryFrame(entry, target)
    objective = objective or Objective()
    names = ["depth"]
    lo, hi = [depth_range[0]], [depth_range[1]]
    if mode == "6dof":
        names += ["shift_u", "shift_v", "tilt_u", "tilt_v"]
        lo += [-max_shift, -max_shift, -max_tilt, -max_tilt]
        hi += [max_shift, max_shift, max_tilt, max_tilt]
    if device.device.family not in ROUND_FAMILIES:
        names.append("roll")
        lo.append(-180.0)
        hi.append(180.0)
    lo_a, hi_a = np.array(lo), np.array(hi)
    count = {"n": 0}
    cache: dict[tuple, tuple[float, Evaluation]] = {}

    def run(x: np.ndarray) -> tuple[float, Evaluation]:
        x = np.clip(x, lo_a, hi_a)
        key = tuple(np.round(x, 6))
        if key in cache:
            return cache[key]
        p = dict(zip(names, x, strict=True))
        ev = evaluate(scene, device, frame.pose(**p))
        sc = objective.score(ev, np.hypot(p.get("shift_u", 0), p.get("shift_v", 0)),
                             np.hypot(p.get("tilt_u", 0), p.get("tilt_v", 0)))
        # Leaving the box costs, so the simplex comes back instead of sticking to the wall.
        sc += 10.0 * float(np.sum(np.abs(np.clip(key, lo_a, hi_a) - key)))
        count["n"] += 1
        # Every pose: a cancel stops the fit within one evaluation (a few ms).
        progress(min(count["n"] / budget, 0.99), f"Fitting ({count['n']} of {budget} poses tried)")
        cache[key] = (sc, ev)
        return sc, ev

    progress(0.0, "Fitting")
    x0 = np.zeros(len(names))
    start_score, start_ev = run(x0)
    n_init = max(8, min(budget // 3, 16 * len(names)))
    sampler = qmc.Sobol(len(names), scramble=True, seed=seed)
    pts = qmc.scale(sampler.random(int(2 ** np.ceil(np.log2(n_init)))), lo_a, hi_a)
    scored = [(start_score, x0)] + [(run(p)[0], p) for p in pts]
    scored.sort(key=lambda t: t[0])
    remaining = budget - count["n"]
    for _, x_start in scored[:2]:
        if remaining <= 0:
            break
        step = (hi_a - lo_a) * 0.15
        simplex = np.vstack([x_start] + [x_start + np.eye(len(names))[i] * step[i]
                                         for i in range(len(names))])
        minimize(lambda x: run(x)[0], x_start, method="Nelder-Mead",
                 options={"maxfev": remaining // 2 + 1, "initial_simplex": simplex,
                          "xatol": 0.02, "fatol": 1e-3})
        remaining = budget - count["n"]
    best_key = min(cache, key=lambda k: cache[k][0])
    best_score, best_ev = cache[best_key]
    params = dict(zip(names, map(float, best_key), strict=True))
    progress(1.0, "Fit done")
    return FitResult(pose=best_ev.pose, evaluation=best_ev, start=start_ev, params=params,
                     score=best_score, evaluations=count["n"],
                     reasons=explain(start_ev, best_ev, params))


def explain(start: Evaluation, best: Evaluation, params: dict[str, float]) -> list[str]:
    """Plain sentences on what the fit changed and what limits it."""
    out = []
    shift = np.hypot(params.get("shift_u", 0.0), params.get("shift_v", 0.0))
    tilt = np.hypot(params.get("tilt_u", 0.0), params.get("tilt_v", 0.0))
    moves = []
    if shift > 0.05:
        moves.append(f"shifted the entry {shift:.1f} mm")
    if tilt > 0.1:
        moves.append(f"tilted the axis {tilt:.1f} deg")
    if abs(params.get("depth", 0.0)) > 0.05:
        moves.append(f"{'advanced' if params['depth'] > 0 else 'backed out'} "
                     f"{abs(params['depth']):.1f} mm along it")
    out.append(("The fit " + ", ".join(moves) + " from the plan.") if moves
               else "The planned pose was already the best found.")
    for r0, r1 in zip(start.structures, best.structures, strict=True):
        if r1.role == "critical":
            if r0.violation and not r1.violation:
                out.append(f"{r1.name}: fixed ({r0.violation}); now {r1.clearance_mm:.2f} mm clear "
                           f"(margin {r1.margin_mm:g} mm).")
            elif r1.violation:
                out.append(f"{r1.name}: still violated: {r1.violation}.")
            elif r1.clearance_mm < r1.margin_mm + 1.0:
                out.append(f"{r1.name}: limiting, {r1.clearance_mm:.2f} mm clear "
                           f"(margin {r1.margin_mm:g} mm).")
            else:
                out.append(f"{r1.name}: {r1.clearance_mm:.2f} mm clear (margin {r1.margin_mm:g} mm).")
        elif r1.role == "host" and r1.purchase is not None:
            out.append(f"{r1.name}: bone purchase {100 * r1.purchase:.0f} % (was "
                       f"{100 * (r0.purchase or 0):.0f} %), breach {r1.breach_mm or 0:.2f} mm "
                       f"(tolerance {r1.margin_mm:g} mm).")
    out.append("Verdict: safe." if best.safe else "Verdict: NOT safe: " + "; ".join(best.violations) + ".")
    return out
