"""Live values spread over a surface between its sensors, with a legend.

Inverse-distance weighting (power 2) from each sensor's anchor: vertices of a
sensor's region take its value exactly; elsewhere the value blends the sensors by
1/d². The weights depend only on geometry, so they are computed once and each update
is one small matrix-vector product (fast enough for every incoming value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import InputError
from sim.twin.sensors import Sensor


@dataclass(frozen=True)
class Legend:
    quantity: str
    unit: str
    low: float
    high: float
    normal: tuple[float, float]

    @property
    def title(self) -> str:
        return f"{self.quantity} ({self.unit})" if self.unit else self.quantity


class SurfaceField:
    """Interpolates one quantity's sensor values over a surface's vertices."""

    def __init__(self, vertices: np.ndarray, sensors: list[Sensor], power: float = 2.0) -> None:
        if not sensors:
            raise InputError("A surface field needs at least one sensor.")
        quantities = {s.quantity for s in sensors}
        if len(quantities) != 1:
            raise InputError(f"One field shows one quantity, got {sorted(quantities)}.")
        self.sensors = sensors
        self.ids = [s.id for s in sensors]
        v = np.asarray(vertices, dtype=float)
        anchors = np.array([self._anchor(s, v) for s in sensors])
        d = np.linalg.norm(v[:, None, :] - anchors[None, :, :], axis=2)
        w = 1.0 / np.maximum(d, 1e-6) ** power
        for j, s in enumerate(sensors):  # region vertices belong to their sensor alone
            if s.region:
                w[s.region, :] = 0.0
                w[s.region, j] = 1.0
        self.weights = w
        lo = min(s.normal[0] for s in sensors)
        hi = max(s.normal[1] for s in sensors)
        s0 = sensors[0]
        self.legend = Legend(s0.quantity, s0.unit, lo, hi, (lo, hi))

    @staticmethod
    def _anchor(sensor: Sensor, vertices: np.ndarray) -> np.ndarray:
        if sensor.region:
            idx = np.asarray(sensor.region)
            if idx.min() < 0 or idx.max() >= len(vertices):
                raise InputError(f"Sensor '{sensor.id}' region refers to missing vertices.")
            return vertices[idx].mean(axis=0)
        if sensor.point is None:
            raise InputError(f"Sensor '{sensor.id}' has neither a point nor a region.")
        return np.asarray(sensor.point, dtype=float)

    def evaluate(self, values: dict[str, float]) -> np.ndarray | None:
        """Per-vertex values from the sensors that have one (None if none has)."""
        mask = np.array([i in values for i in self.ids])
        if not mask.any():
            return None
        v = np.array([values.get(i, 0.0) for i in self.ids])
        w = self.weights[:, mask]
        return (w @ v[mask]) / w.sum(axis=1)

    def colour_range(self, field: np.ndarray | None) -> tuple[float, float]:
        """The legend's range: the normal band widened to include what is shown."""
        lo, hi = self.legend.low, self.legend.high
        if field is not None and field.size:
            lo, hi = min(lo, float(field.min())), max(hi, float(field.max()))
        return lo, hi
