"""Richardson extrapolation and the grid convergence index (GCI) of three solutions on
systematically refined meshes, following Celik et al., "Procedure for estimation and reporting
of uncertainty due to discretization in CFD applications", ASME J. Fluids Eng. 130 (2008),
the procedure ASME V&V 20 and the FDA reporting guidance point to.

h is the representative cell size, (total volume / elements)^(1/3) for a 3D mesh.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from sim.errors import InputError


@dataclass
class GciResult:
    h: tuple[float, float, float]  # fine, medium, coarse
    f: tuple[float, float, float]
    r21: float
    r32: float
    order: float
    extrapolated: float
    e_a21: float  # approximate relative error fine-medium
    e_ext21: float  # extrapolated relative error of the fine solution
    gci_fine: float  # relative, e.g. 0.012 = 1.2 %
    gci_medium: float
    asymptotic_ratio: float  # GCI32 / (r21^p GCI21): near 1 in the asymptotic range
    oscillatory: bool
    safety_factor: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def representative_h(volume: float, elements: int) -> float:
    return (float(volume) / int(elements)) ** (1.0 / 3.0)


def grid_convergence(h: tuple[float, float, float] | list[float],
                     f: tuple[float, float, float] | list[float],
                     safety_factor: float = 1.25, max_iterations: int = 100) -> GciResult:
    """GCI of solutions ``f`` on meshes of size ``h`` ordered fine, medium, coarse."""
    h1, h2, h3 = (float(x) for x in h)
    f1, f2, f3 = (float(x) for x in f)
    if not h1 < h2 < h3:
        raise InputError("Grid convergence needs three meshes ordered fine, medium, coarse "
                         "(h1 < h2 < h3).")
    r21, r32 = h2 / h1, h3 / h2
    e21, e32 = f2 - f1, f3 - f2
    if e21 == 0 or e32 == 0:
        raise InputError("Two refinement levels give the same value: the order of convergence "
                         "cannot be estimated (converged to round-off, or the quantity does not "
                         "depend on the mesh).")
    s = 1.0 if e32 / e21 > 0 else -1.0
    try:
        p = abs(math.log(abs(e32 / e21))) / math.log(r21)
        for _ in range(max_iterations):  # fixed point of p = |ln|e32/e21| + q(p)| / ln r21
            q = math.log((r21 ** p - s) / (r32 ** p - s))
            p_new = abs(math.log(abs(e32 / e21)) + q) / math.log(r21)
            if abs(p_new - p) < 1e-12:
                p = p_new
                break
            p = p_new
        if not 0.0 < p < 20.0:
            raise ValueError(p)
    except (OverflowError, ValueError, ZeroDivisionError):
        raise InputError("The three solutions do not converge at any order (the observed-order "
                         "iteration diverges): the meshes are not in the asymptotic range, or the "
                         "quantity is singular (e.g. a peak stress at a corner).") from None
    ext = (r21 ** p * f1 - f2) / (r21 ** p - 1)
    ea21 = abs((f1 - f2) / f1) if f1 else float("inf")
    ea32 = abs((f2 - f3) / f2) if f2 else float("inf")
    gci21 = safety_factor * ea21 / (r21 ** p - 1)
    gci32 = safety_factor * ea32 / (r32 ** p - 1)
    return GciResult((h1, h2, h3), (f1, f2, f3), r21, r32, p, ext,
                     ea21, abs((ext - f1) / ext) if ext else float("inf"), gci21, gci32,
                     gci32 / (r21 ** p * gci21) if gci21 else float("inf"), s < 0, safety_factor)
