"""Sensor telemetry in the twin: MQTT payloads -> readings, alarms, state, history, plots.

``TelemetryTwin.ingest`` is called on the MQTT network thread for every message. It
does a constant, small amount of work per message and keeps bounded memory:

* latest value per sensor (one entry per sensor);
* a time-plot ring buffer per sensor (``PLOT_POINTS`` samples, oldest dropped);
* the history store's bounded write buffer (see :mod:`sim.twin.history`).

Counters: ``received``, ``accepted``, ``rejected`` (payload invalid for its sensor),
``unknown_topic``. Back-pressure beyond that is TCP's: if we fall behind, the broker
queues QoS 1 messages for our persistent session.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal

from sim.errors import FileFormatError, InputError
from sim.io.json_file import read_json
from sim.twin.alarms import AlarmBook
from sim.twin.errors import PayloadError
from sim.twin.history import HistoryStore
from sim.twin.sensors import Reading, Sensor, parse_payload
from sim.twin.surface_field import SurfaceField
from sim.twin.twin_state import TwinProperty, TwinState

log = logging.getLogger(__name__)
PLOT_POINTS = 2000


@dataclass
class TwinConfig:
    """Which sensors sit where and which properties can be commanded (a JSON file)."""

    asset: str = "asset"
    base_topic: str = "twinsight/asset"
    sensors: list[Sensor] = field(default_factory=list)
    properties: list[TwinProperty] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"asset": self.asset, "base_topic": self.base_topic,
                "sensors": [s.to_dict() for s in self.sensors],
                "properties": [{"name": p.name, "unit": p.unit, "min": p.minimum,
                                "max": p.maximum} for p in self.properties]}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> TwinConfig:
        path = Path(path)
        doc = read_json(path, "twin configuration")
        if not isinstance(doc, dict) or not isinstance(doc.get("sensors", []), list):
            raise FileFormatError(path, "it is not a twin configuration")
        try:
            return cls.from_dict(doc)
        except InputError as exc:
            raise FileFormatError(path, str(exc).rstrip(".")) from None

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TwinConfig:
        try:
            props = [TwinProperty(str(p["name"]), str(p.get("unit", "")),
                                  minimum=float(p.get("min", float("-inf"))),
                                  maximum=float(p.get("max", float("inf"))))
                     for p in doc.get("properties", [])]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"A property definition is incomplete or invalid ({exc}).") \
                from None
        sensors = [Sensor.from_dict(s) for s in doc.get("sensors", [])]
        ids = [s.id for s in sensors]
        if len(set(ids)) != len(ids):
            raise InputError("Sensor ids must be unique.")
        return cls(str(doc.get("asset", "asset")), str(doc.get("base_topic", "twinsight/asset")),
                   sensors, props)


@dataclass
class TelemetryCounters:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    unknown_topic: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class TelemetryTwin:
    reading = Signal(object)  # Reading
    rejected = Signal(str, str)  # topic, reason

    def __init__(self, config: TwinConfig, history: HistoryStore | None = None,
                 publish=None) -> None:
        self.config = config
        self.history = history
        self.sensors = {s.id: s for s in config.sensors}
        self.by_topic = {s.topic: s for s in config.sensors}
        self.alarms = AlarmBook()
        self.state = TwinState(config.base_topic, publish)
        for p in config.properties:
            self.state.add(p)
        self.latest: dict[str, Reading] = {}
        self.plots: dict[str, deque[tuple[float, float]]] = {
            s.id: deque(maxlen=PLOT_POINTS) for s in config.sensors}
        self.counters = TelemetryCounters()
        self.last_rejection: str | None = None
        self._lock = threading.Lock()
        self.alarms.raised.connect(self._record_alarm)
        self.alarms.changed.connect(self._record_alarm)
        self.state.changed.connect(self._record_property)

    @property
    def topics(self) -> list[str]:
        return sorted(self.by_topic) + self.state.topics

    def ingest(self, topic: str, payload: bytes, now: float | None = None) -> Reading | None:
        """One MQTT message; returns the reading, or None if it was not a sensor value."""
        self.counters.received += 1
        sensor = self.by_topic.get(topic)
        try:
            if sensor is None:
                if self.state.handle(topic, payload, now) is None:
                    self.counters.unknown_topic += 1
                else:
                    self.counters.accepted += 1
                return None
            reading = parse_payload(sensor, payload, now)
        except PayloadError as exc:
            self.counters.rejected += 1
            self.last_rejection = str(exc)
            log.debug("%s", exc)
            self.rejected.emit(topic, str(exc))
            return None
        self.counters.accepted += 1
        with self._lock:
            self.latest[sensor.id] = reading
            self.plots[sensor.id].append((reading.t, reading.value))
        if self.history is not None:
            self.history.record("value", sensor.id, reading.t, reading.value)
        self.alarms.evaluate(sensor, reading)
        if len(self.reading):  # emitting to nobody still costs microseconds at 20k/s
            self.reading.emit(reading)
        return reading

    def show(self, reading: Reading) -> None:
        """Display a past reading (history replay) without alarms or recording."""
        with self._lock:
            self.latest[reading.sensor] = reading
        self.reading.emit(reading)

    def values(self) -> dict[str, float]:
        with self._lock:
            return {k: r.value for k, r in self.latest.items()}

    def plot(self, sensor_id: str) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            data = np.array(self.plots[sensor_id], dtype=float).reshape(-1, 2)
        return data[:, 0], data[:, 1]

    def field_for(self, quantity: str, vertices: np.ndarray,
                  object_name: str | None = None) -> SurfaceField:
        sensors = [s for s in self.sensors.values() if s.quantity == quantity
                   and (object_name is None or s.object_name in (None, object_name))]
        return SurfaceField(vertices, sensors)

    def quantities(self) -> list[str]:
        return sorted({s.quantity for s in self.sensors.values()})

    def _record_alarm(self, alarm) -> None:
        if self.history is not None:
            self.history.record_json("alarm", alarm.sensor, time.time(), alarm.to_dict(),
                                     alarm.value)

    def _record_property(self, prop: TwinProperty, what: str) -> None:
        h = self.history
        if h is None:
            return
        if what == "desired":
            h.record_json("command", prop.name, prop.sent_t or time.time(),
                          {"id": prop.command_id, "value": prop.desired}, prop.desired)
        elif what == "ack":
            h.record_json("ack", prop.name, time.time(), {"id": prop.command_id, "ack": prop.ack,
                                                          "reason": prop.ack_reason}, prop.desired)
        elif what == "reported":
            h.record("reported", prop.name, prop.reported_t or time.time(), prop.reported)
