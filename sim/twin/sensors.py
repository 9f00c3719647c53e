"""Sensors placed on the model, and how their MQTT payloads are read.

A sensor is a point (or a region of vertices) on a surface object with a quantity,
a unit and a normal range. Payloads are either a bare number (``"21.5"``) or a JSON
object ``{"value": 21.5, "unit": "degC", "t": 1700000000.1}``; anything else, a wrong
unit, a non-finite number or a value outside the sensor's physical limits is
rejected with :class:`PayloadError` (counted, never applied).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.twin.errors import PayloadError

MAX_PAYLOAD = 4096  # bytes; telemetry values are small, a bigger payload is not ours
CLOCK_SKEW_S = 24 * 3600.0  # sender timestamps further than this from ours are refused


@dataclass(frozen=True)
class Reading:
    sensor: str
    t: float
    value: float


@dataclass
class Sensor:
    id: str
    topic: str
    quantity: str
    unit: str
    normal: tuple[float, float]
    object_name: str | None = None  # the surface it sits on
    point: tuple[float, float, float] | None = None  # mm, on that surface
    region: list[int] = field(default_factory=list)  # vertex ids, if it covers an area
    limits: tuple[float, float] = (-1e9, 1e9)  # physically possible values
    max_rate: float | None = None  # alarm when |d value / dt| exceeds this (unit/s)
    name: str = ""

    def __post_init__(self) -> None:
        lo, hi = (float(v) for v in self.normal)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError(f"Sensor '{self.id}' needs a normal range low < high.")
        self.normal = (lo, hi)
        if not self.topic or any(c in self.topic for c in "#+"):
            raise InputError(f"Sensor '{self.id}' needs a concrete MQTT topic (no wildcards).")
        if self.point is not None:
            p = np.asarray(self.point, dtype=float)
            if p.shape != (3,) or not np.isfinite(p).all():
                raise InputError(f"Sensor '{self.id}' point must be three numbers (mm).")
            self.point = tuple(float(v) for v in p)
        self.name = self.name or self.id

    def status(self, value: float | None) -> str:
        if value is None:
            return "no data"
        lo, hi = self.normal
        return "low" if value < lo else "high" if value > hi else "normal"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "topic": self.topic,
                "quantity": self.quantity, "unit": self.unit, "normal": list(self.normal),
                "object": self.object_name, "point": list(self.point) if self.point else None,
                "region": list(self.region), "limits": list(self.limits),
                "max_rate": self.max_rate}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sensor:
        try:
            return cls(id=str(d["id"]), topic=str(d["topic"]), quantity=str(d["quantity"]),
                       unit=str(d.get("unit", "")), normal=tuple(d["normal"]),
                       object_name=d.get("object"), point=d.get("point"),
                       region=[int(i) for i in d.get("region", [])],
                       limits=tuple(d.get("limits", (-1e9, 1e9))),
                       max_rate=d.get("max_rate"), name=str(d.get("name", "")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"A sensor definition is incomplete or invalid ({exc}).") from None


def parse_payload(sensor: Sensor, payload: bytes, now: float | None = None) -> Reading:
    """Read one MQTT payload as a value of ``sensor`` (PayloadError when it is not)."""
    now = time.time() if now is None else now
    if len(payload) <= 32 and payload[:1] not in (b"{", b"["):
        try:  # fast path: the common bare number (float() accepts bytes)
            value = float(payload)
        except ValueError:
            pass
        else:
            if value != value or value in (math.inf, -math.inf):
                raise PayloadError(f"The value for '{sensor.id}' is not finite.")
            lo, hi = sensor.limits
            if not lo <= value <= hi:
                raise PayloadError(f"Value {value:g} {sensor.unit} for '{sensor.id}' is "
                                   f"outside its physical limits {lo:g}..{hi:g}.")
            return Reading(sensor.id, now, value)
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"Payload for '{sensor.id}' is {len(payload)} bytes "
                           f"(limit {MAX_PAYLOAD}).")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError(f"Payload for '{sensor.id}' is not UTF-8 text.") from None
    t = now
    try:
        doc = json.loads(text)
    except ValueError:
        raise PayloadError(f"Payload for '{sensor.id}' is neither a number nor JSON.") from None
    if isinstance(doc, dict):
        if "value" not in doc:
            raise PayloadError(f"Payload for '{sensor.id}' has no 'value'.")
        unit = doc.get("unit")
        if unit is not None and unit != sensor.unit:
            raise PayloadError(f"Payload for '{sensor.id}' is in '{unit}', expected "
                               f"'{sensor.unit}'.")
        if "t" in doc:
            t = _number(doc["t"], sensor, "timestamp")
            if abs(t - now) > CLOCK_SKEW_S:
                raise PayloadError(f"Payload for '{sensor.id}' has a timestamp a day or more "
                                   "away from this computer's clock.")
        doc = doc["value"]
    value = _number(doc, sensor, "value")
    lo, hi = sensor.limits
    if not lo <= value <= hi:
        raise PayloadError(f"Value {value:g} {sensor.unit} for '{sensor.id}' is outside its "
                           f"physical limits {lo:g}..{hi:g}.")
    return Reading(sensor.id, t, value)


def _number(v: Any, sensor: Sensor, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PayloadError(f"The {what} for '{sensor.id}' is not a number.")
    f = float(v)
    if not math.isfinite(f):
        raise PayloadError(f"The {what} for '{sensor.id}' is not finite.")
    return f
