"""Size recommendation: the largest pedicle screw that fits safely; a stent for a vessel."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from sim.devices.catalogue import family, make
from sim.errors import InputError
from sim.placement.evaluate import PlacementScene, evaluate
from sim.placement.fit import FitResult, TrajectoryFrame, fit_on_trajectory
from sim.placement.report import Evaluation
from sim.placement.rigid_device import RigidDevice
from sim.placement.vessel import VesselProfile
from sim.progress import Progress, no_progress, sub_progress

if TYPE_CHECKING:
    from collections.abc import Iterable

    from numpy.typing import ArrayLike


@lru_cache(maxsize=128)
def rigid_device(family_id: str, items: tuple) -> RigidDevice:
    """Prepared catalogue device, cached: preparing one costs a few tens of ms."""
    return RigidDevice(make(family_id, **dict(items)))


@dataclass
class ScrewRecommendation:
    diameter: float | None
    length: float | None
    fit: FitResult | None
    table: list[dict] = field(default_factory=list)  # every size at the corridor pose
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"diameter_mm": self.diameter, "length_mm": self.length, "reasons": self.reasons,
                "sizes": self.table, "fit": self.fit.to_dict() if self.fit else None}


def _row(d: float, length: float, ev: Evaluation) -> dict:
    host = ev.host
    return {"diameter_mm": d, "length_mm": length, "safe": ev.safe,
            "min_critical_clearance_mm": round(ev.min_critical_clearance, 3),
            "purchase": None if host is None or host.purchase is None else round(host.purchase, 4),
            "breach_mm": None if host is None or host.breach_mm is None else round(host.breach_mm, 3),
            "violations": ev.violations}


def recommend_screw(scene: PlacementScene, entry: ArrayLike, target: ArrayLike, *,
                    diameters: Iterable[float] | None = None,
                    lengths: Iterable[float] | None = None,
                    budget: int = 250, progress: Progress = no_progress) -> ScrewRecommendation:
    """The largest catalogue pedicle screw that fits safely near the entry->target plan.

    1. Fit the thinnest screw of middle length: that finds the safe corridor's axis.
    2. Evaluate every size on that axis (anchor at the fitted entry): the largest
       diameter, then the longest length, with no violation wins.
    3. Try each larger diameter with its own fit (a wider screw may need a
       slightly different axis) until one fails; keep the largest that fits.
    """
    series = family("pedicle_screw")["sizes"]
    diameters = sorted(float(d) for d in (diameters or series["diameter"]))
    lengths = sorted(float(v) for v in (lengths or series["length"]))
    if not diameters or not lengths:
        raise InputError("A screw recommendation needs at least one diameter and one length.")
    mid = lengths[len(lengths) // 2]
    probe = rigid_device("pedicle_screw", (("diameter", diameters[0]), ("length", mid)))
    fit0 = fit_on_trajectory(scene, probe, entry, target, budget=budget,
                             progress=sub_progress(progress, 0.0, 0.4))
    axis_entry = fit0.pose[:3, 3]
    axis_dir = fit0.pose[:3, 2]
    frame = TrajectoryFrame(axis_entry, axis_entry + axis_dir * 40.0)
    pose = frame.pose()
    table, safe = [], {}
    n_sizes = len(diameters) * len(lengths)
    for i, d in enumerate(diameters):
        for j, length in enumerate(lengths):
            progress(0.4 + 0.3 * (i * len(lengths) + j) / n_sizes,
                     f"Trying a {d:g} x {length:g} mm screw on the corridor")
            ev = evaluate(scene, rigid_device("pedicle_screw", (("diameter", d), ("length", length))), pose)
            table.append(_row(d, length, ev))
            if ev.safe:
                safe[(d, length)] = ev
    best: tuple[float, float] | None = max(safe) if safe else None
    best_fit = fit0 if best is None else None
    reasons = []
    if best is not None:
        reasons.append(f"On the fitted corridor the largest safe size is {best[0]:g} x {best[1]:g} mm.")
    larger = [d for d in diameters if best is None or d > best[0]]
    for k, d in enumerate(larger):
        length = max([v for (dd, v) in safe if dd == d], default=None) or \
            (best[1] if best else lengths[0])
        lo, hi = 0.7 + 0.2 * k / len(larger), 0.7 + 0.2 * (k + 1) / len(larger)
        progress(lo, f"Fitting a {d:g} mm screw")
        dev = rigid_device("pedicle_screw", (("diameter", d), ("length", length)))
        f = fit_on_trajectory(scene, dev, axis_entry, axis_entry + axis_dir * 40.0,
                              budget=budget // 2, max_shift=2.0, max_tilt=6.0,
                              progress=sub_progress(progress, lo, hi))
        if f.evaluation.safe:
            best, best_fit = (d, length), f
            reasons.append(f"A {d:g} x {length:g} mm screw also fits after re-fitting its axis.")
        else:
            reasons.append(f"{d:g} mm does not fit: " + "; ".join(f.evaluation.violations) + ".")
            break
    if best is None:
        progress(1.0, "No size fits")
        return ScrewRecommendation(None, None, fit0, table,
                                   ["No catalogue screw fits safely near this trajectory."] + fit0.reasons)
    if best_fit is None:
        dev = rigid_device("pedicle_screw", (("diameter", best[0]), ("length", best[1])))
        best_fit = fit_on_trajectory(scene, dev, axis_entry, axis_entry + axis_dir * 40.0,
                                     budget=budget // 2, max_shift=1.0, max_tilt=3.0,
                                     progress=sub_progress(progress, 0.9, 0.99))
        if not best_fit.evaluation.safe:  # the corridor pose itself was safe: keep it
            ev = safe[best]
            best_fit = FitResult(ev.pose, ev, fit0.start, {}, 0.0, 1, [])
    progress(1.0, "Size chosen")
    return ScrewRecommendation(best[0], best[1], best_fit, table, reasons + best_fit.reasons)


@dataclass
class StentRecommendation:
    diameter: float | None
    length: float | None
    landing_proximal_mm: tuple[float, float]  # min, max diameter in the landing zone
    landing_distal_mm: tuple[float, float]
    reasons: list[str]
    profile: VesselProfile

    def to_dict(self) -> dict:
        return {"diameter_mm": self.diameter, "length_mm": self.length,
                "landing_proximal_mm": [round(v, 3) for v in self.landing_proximal_mm],
                "landing_distal_mm": [round(v, 3) for v in self.landing_distal_mm],
                "reasons": self.reasons, "profile": self.profile.to_dict()}


def size_stent(profile: VesselProfile, *, landing_mm: float = 5.0, oversize: float = 0.1,
               family_id: str = "stent") -> StentRecommendation:
    """Diameter and length for a stent covering the measured path.

    The first and last ``landing_mm`` of the path are the landing zones: the stent must be
    oversized (``oversize``, e.g. 10 %) against the widest landing diameter to anchor,
    so the diameter is the smallest catalogue size >= that. The length is the smallest
    catalogue length covering the whole path (both landing zones included).
    """
    if profile.length < 2 * landing_mm:
        raise InputError(f"The measured path ({profile.length:.1f} mm) is shorter than its two "
                         f"{landing_mm:g} mm landing zones.")
    s, d = profile.arclength, profile.diameters
    ok = np.isfinite(d)
    prox = ok & (s <= landing_mm)
    dist = ok & (s >= profile.length - landing_mm)
    if not prox.any() or not dist.any():
        raise InputError("The landing zones have no measurable cross-section.")
    lp = (float(d[prox].min()), float(d[prox].max()))
    ld = (float(d[dist].min()), float(d[dist].max()))
    need_d = max(lp[1], ld[1]) * (1.0 + oversize)
    series = family(family_id)["sizes"]
    dia = next((float(x) for x in sorted(series["diameter"]) if x >= need_d - 1e-9), None)
    length = next((float(x) for x in sorted(series["length"]) if x >= profile.length - 1e-9), None)
    reasons = [f"Proximal landing zone diameter {lp[0]:.2f}-{lp[1]:.2f} mm, distal "
               f"{ld[0]:.2f}-{ld[1]:.2f} mm (first and last {landing_mm:g} mm of the path)."]
    if dia is None:
        reasons.append(f"No catalogue diameter reaches {need_d:.2f} mm "
                       f"({100 * oversize:.0f} % over the widest landing zone).")
    else:
        reasons.append(f"Diameter {dia:g} mm: the smallest size at least {100 * oversize:.0f} % over "
                       f"the widest landing zone ({max(lp[1], ld[1]):.2f} mm -> {need_d:.2f} mm).")
        small = min(lp[0], ld[0])
        if dia > 1.5 * small:
            reasons.append(f"Caution: {dia:g} mm is over 50 % above the narrowest landing "
                           f"diameter ({small:.2f} mm); consider a tapered device.")
    if length is None:
        reasons.append(f"No catalogue length covers the {profile.length:.1f} mm path.")
    else:
        reasons.append(f"Length {length:g} mm: the shortest size covering the "
                       f"{profile.length:.1f} mm path including both landing zones.")
    return StentRecommendation(dia, length, lp, ld, reasons, profile)
