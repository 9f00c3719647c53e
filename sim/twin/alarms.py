"""Alarms: threshold and rate-of-change rules per sensor, with acknowledge and clear.

Life of an alarm (after ISA-18.2, simplified): it is raised *active* and
*unacknowledged*; the user acknowledges it; when the value is back in range its
condition ends; a user may clear it only once its condition has ended (clearing a
still-active alarm would hide a real problem). A sensor has at most one open alarm
per rule kind, so a noisy signal does not flood the list.

Data-driven rules (:mod:`sim.predict.monitor`: anomalies, forecasts crossing a limit) share
this book: they watch every evaluated reading through :meth:`AlarmBook.observe` and open or
end their own kinds of condition with :meth:`AlarmBook.raise_condition` and
:meth:`AlarmBook.end_condition`, so they are acknowledged, cleared and recorded alike.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from psygnal import Signal

from sim.errors import InputError
from sim.twin.sensors import Reading, Sensor

log = logging.getLogger("twinsight.alarms")
_ids = itertools.count(1)
RATE_WINDOW_S = 5.0  # rate-of-change is measured over this window
HYSTERESIS = 0.02  # of the normal span: a threshold alarm clears this far inside
RATE_CLEAR = 0.6  # a rate alarm clears below this fraction of its limit
MAX_CLEARED = 500  # cleared alarms kept in memory (bounded over long sessions)


@dataclass
class Alarm:
    id: int
    sensor: str
    kind: str  # "high", "low", "rate"; "anomaly", "forecast" (sim.predict.monitor)
    message: str
    t: float
    value: float
    condition_active: bool = True
    acknowledged: bool = False
    cleared: bool = False
    details: dict | None = None  # e.g. an anomaly's sensor contributions

    @property
    def state(self) -> str:
        if self.cleared:
            return "cleared"
        if self.condition_active:
            return "active, acknowledged" if self.acknowledged else "active"
        return "returned to normal" if not self.acknowledged else "acknowledged, normal"

    def to_dict(self) -> dict:
        return {**asdict(self), "state": self.state}


class AlarmBook:
    """Evaluates readings against each sensor's rules and keeps the open alarms."""

    raised = Signal(object)
    changed = Signal(object)

    def __init__(self) -> None:
        self.alarms: dict[int, Alarm] = {}
        self._recent: dict[str, deque[tuple[float, float]]] = {}
        self._open: dict[tuple[str, str], Alarm] = {}
        self._observers: list = []

    def observe(self, fn: Callable[[Any, Any], None]) -> None:
        """Call ``fn(sensor, reading)`` for every reading evaluated (on the link's thread)."""
        self._observers.append(fn)

    def unobserve(self, fn: Callable[[Any, Any], None]) -> None:
        if fn in self._observers:
            self._observers.remove(fn)

    def raise_condition(self, sensor_id: str, kind: str, message: str, t: float,
                        value: float, details: dict | None = None) -> Alarm | None:
        """Open an alarm of ``kind`` on ``sensor_id``; the new alarm, or None when one is
        already open (its message and details are brought up to date)."""
        key = (sensor_id, kind)
        alarm = self._open.get(key)
        if alarm is not None:
            alarm.message, alarm.details = message, details
            return None
        alarm = Alarm(next(_ids), sensor_id, kind, message, t, value, details=details)
        self.alarms[alarm.id] = alarm
        self._open[key] = alarm
        log.warning("ALARM %s: %s", alarm.id, message)
        self.raised.emit(alarm)
        return alarm

    def end_condition(self, sensor_id: str, kind: str) -> Alarm | None:
        """The condition of the open ``kind`` alarm on ``sensor_id`` has ended."""
        alarm = self._open.pop((sensor_id, kind), None)
        if alarm is not None and alarm.condition_active:
            alarm.condition_active = False
            log.info("Alarm %s returned to normal", alarm.id)
            self.changed.emit(alarm)
        return alarm

    def is_open(self, sensor_id: str, kind: str) -> bool:
        return (sensor_id, kind) in self._open

    @property
    def open_alarms(self) -> list[Alarm]:
        return [a for a in self.alarms.values() if not a.cleared]

    def evaluate(self, sensor: Sensor, reading: Reading) -> list[Alarm]:
        """Apply the rules to one reading; returns alarms raised by it."""
        v, t = reading.value, reading.t
        if self._observers:
            for fn in self._observers:
                fn(sensor, reading)
        lo, hi = sensor.normal
        if sensor.max_rate is None and lo <= v <= hi and not self._open_for(sensor.id):
            return []  # the common case, kept cheap
        # An open alarm stays active until the value is clearly back (hysteresis), so
        # a signal hovering at a limit raises one alarm, not one per sample.
        band = HYSTERESIS * (hi - lo)
        is_open = {k: (sensor.id, k) in self._open for k in ("high", "low", "rate")}
        conditions: dict[str, str | None] = {
            "high": f"{sensor.name} {v:g} {sensor.unit} is above {hi:g}"
            if v > hi - (band if is_open["high"] else 0.0) else None,
            "low": f"{sensor.name} {v:g} {sensor.unit} is below {lo:g}"
            if v < lo + (band if is_open["low"] else 0.0) else None,
            "rate": None,
        }
        rate = self._rate(sensor, t, v) if sensor.max_rate is not None else None
        if rate is not None:
            limit = sensor.max_rate * (RATE_CLEAR if is_open["rate"] else 1.0)
            if abs(rate) > limit:
                conditions["rate"] = (f"{sensor.name} changes at {rate:+.3g} {sensor.unit}/s "
                                      f"(limit {sensor.max_rate:g})")
        raised = []
        for kind, message in conditions.items():
            key = (sensor.id, kind)
            alarm = self._open.get(key)
            if message is not None and alarm is None:
                alarm = Alarm(next(_ids), sensor.id, kind, message, t, v)
                self.alarms[alarm.id] = alarm
                self._open[key] = alarm
                raised.append(alarm)
                log.warning("ALARM %s: %s", alarm.id, message)
                self.raised.emit(alarm)
            elif message is None and alarm is not None and alarm.condition_active:
                alarm.condition_active = False
                self._open.pop(key)
                log.info("Alarm %s returned to normal", alarm.id)
                self.changed.emit(alarm)
        return raised

    def _open_for(self, sensor_id: str) -> bool:
        o = self._open
        return (sensor_id, "high") in o or (sensor_id, "low") in o or (sensor_id, "rate") in o

    def _rate(self, sensor: Sensor, t: float, v: float) -> float | None:
        """Change per second over the last ``RATE_WINDOW_S`` (None until it spans half of it).

        Differencing two consecutive noisy samples would amplify noise by 1/dt; over a
        window the noise is divided by the window's length instead.
        """
        recent = self._recent.setdefault(sensor.id, deque(maxlen=4096))
        recent.append((t, v))
        while len(recent) > 2 and t - recent[1][0] >= RATE_WINDOW_S:
            recent.popleft()
        t0, v0 = recent[0]
        if t - t0 < RATE_WINDOW_S / 2:
            return None
        return (v - v0) / (t - t0)

    def _get(self, alarm_id: int) -> Alarm:
        try:
            return self.alarms[alarm_id]
        except KeyError:
            raise InputError(f"There is no alarm {alarm_id}.") from None

    def acknowledge(self, alarm_id: int) -> Alarm:
        alarm = self._get(alarm_id)
        if not alarm.acknowledged:
            alarm.acknowledged = True
            self.changed.emit(alarm)
        return alarm

    def clear(self, alarm_id: int) -> Alarm:
        alarm = self._get(alarm_id)
        if alarm.condition_active:
            raise InputError(f"Alarm {alarm_id} cannot be cleared while its condition is still "
                             "active; acknowledge it instead.")
        alarm.cleared = True
        self.changed.emit(alarm)
        cleared = [k for k, a in self.alarms.items() if a.cleared]
        for k in cleared[:max(0, len(cleared) - MAX_CLEARED)]:  # the history keeps them all
            del self.alarms[k]
        return alarm
