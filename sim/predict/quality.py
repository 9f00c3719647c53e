"""Data quality flags for a sensor's readings, checked as they arrive.

Each reading gets a (possibly empty) tuple of flags:

* ``stuck``: the value has not changed (within ``stuck_tolerance``) for ``stuck_count``
  readings in a row - a frozen or flat-lined sensor;
* ``gap``: the reading came after a hole of more than ``gap_factor`` times the nominal
  interval (a dropout); the reading itself is fine;
* ``out_of_range``: outside the sensor's measurement range (``limits``);
* ``non_physical``: not a finite number, or a step faster than ``max_step`` per second;
* ``duplicate``: the same timestamp as the previous reading;
* ``out_of_order``: a timestamp earlier than the previous one (by less than a clock jump);
* ``clock_jump``: the sender's clock stepped: its timestamps moved by more than
  ``jump_s`` differently from the arrival times (live), or backwards by more than ``jump_s``.

Predictions ignore readings carrying an :data:`EXCLUDING` flag and say how many they
ignored. The checker does O(1) work per reading (a live stream at 20,000 readings/s).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

import math
from dataclasses import dataclass

FLAGS = ("stuck", "gap", "out_of_range", "non_physical", "duplicate", "out_of_order",
         "clock_jump")
EXCLUDING = frozenset(FLAGS) - {"gap"}  # a reading after a gap is itself valid
LEARN_INTERVALS = 20  # readings used to learn the nominal interval


@dataclass
class QualityRules:
    limits: tuple[float, float] = (-math.inf, math.inf)
    max_step: float | None = None  # largest physically possible change per second
    stuck_count: int = 20
    stuck_tolerance: float = 0.0
    gap_factor: float = 5.0
    jump_s: float = 5.0

    @classmethod
    def for_sensor(cls, sensor: Any, **overrides: Any) -> QualityRules:
        return cls(limits=tuple(sensor.limits), **overrides)


class QualityChecker:
    """Flags one sensor's readings in arrival order."""

    __slots__ = ("rules", "_t", "_v", "_arrival", "_same", "_dts", "interval", "counts")

    def __init__(self, rules: QualityRules | None = None) -> None:
        self.rules = rules or QualityRules()
        self._t: float | None = None
        self._v: float | None = None
        self._arrival: float | None = None
        self._same = 0
        self._dts: list[float] = []
        self.interval: float | None = None  # nominal interval between readings (s)
        self.counts = dict.fromkeys(FLAGS, 0)

    def check(self, t: float, v: float, arrival: float | None = None) -> tuple[str, ...]:
        r = self.rules
        flags: list[str] = []
        if not (v == v and -math.inf < v < math.inf):
            flags.append("non_physical")
        elif not r.limits[0] <= v <= r.limits[1]:
            flags.append("out_of_range")
        pt = self._t
        if pt is not None:
            dt = t - pt
            jumped = False
            if arrival is not None and self._arrival is not None:
                jumped = abs(dt - (arrival - self._arrival)) > r.jump_s
            elif dt < -r.jump_s:
                jumped = True
            if jumped:
                flags.append("clock_jump")
            elif dt == 0.0:
                flags.append("duplicate")
            elif dt < 0.0:
                flags.append("out_of_order")
            else:
                if self.interval is not None and dt > r.gap_factor * self.interval:
                    flags.append("gap")
                elif self.interval is None:
                    self._dts.append(dt)
                    if len(self._dts) >= LEARN_INTERVALS:
                        self._dts.sort()
                        self.interval = self._dts[len(self._dts) // 2]
                if (r.max_step is not None and not flags and self._v is not None
                        and abs(v - self._v) > r.max_step * dt):
                    flags.append("non_physical")
        if "non_physical" not in flags and "out_of_range" not in flags:
            pv = self._v
            if pv is not None and abs(v - pv) <= r.stuck_tolerance:
                self._same += 1
                if self._same + 1 >= r.stuck_count:
                    flags.append("stuck")
            else:
                self._same = 0
            self._v = v
        if "clock_jump" in flags or "out_of_order" not in flags and "duplicate" not in flags:
            self._t = t  # an out-of-order or repeated stamp does not move the clock back
            self._arrival = arrival
        for f in flags:
            self.counts[f] += 1
        return tuple(flags)


def excluded(flags: Iterable[str]) -> bool:
    """True when a reading with these flags must not feed a model."""
    return any(f in EXCLUDING for f in flags)


def check_series(t: ArrayLike, v: ArrayLike, rules: QualityRules | None = None) -> list[tuple[str, ...]]:
    """Flags of a recorded series (in its stored order)."""
    checker = QualityChecker(rules)
    return [checker.check(float(a), float(b)) for a, b in zip(t, v, strict=True)]
