"""Analytic test models for sweeps (``base: {python: "sim.sweep.functions:ishigami"}``):
known answers for checking a sensitivity analysis, and a CPU burner for sizing a cluster."""

from __future__ import annotations

import math
import time


def ishigami(x1: float, x2: float, x3: float, a: float = 7.0, b: float = 0.1) -> dict[str, float]:
    """The Ishigami function (Ishigami & Homma 1990), inputs uniform on [-pi, pi]."""
    return {"y": math.sin(x1) + a * math.sin(x2) ** 2 + b * x3 ** 4 * math.sin(x1)}


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, list[float]]:
    """Analytic first-order and total Sobol indices of :func:`ishigami`."""
    v1 = 0.5 * (1 + b * math.pi ** 4 / 5) ** 2
    v2 = a * a / 8
    v13 = b * b * math.pi ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"S1": [v1 / v, v2 / v, 0.0], "ST": [(v1 + v13) / v, v2 / v, v13 / v]}


def spin(x: float = 0.0, seconds: float = 0.1) -> dict[str, float]:
    """Burn one CPU for ``seconds`` (no sleeping: it measures compute capacity), return x^2."""
    end = time.perf_counter() + float(seconds)
    acc = 0.0
    while time.perf_counter() < end:
        for k in range(2000):
            acc += k * 1e-9
    return {"y": float(x) ** 2, "work": acc}
