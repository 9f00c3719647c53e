"""Joining the engineering twin to a running live session (CLI recorder or the GUI)."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from sim.asset.runtime import AssetTwin
from sim.asset.truth import link_sensors


class LinkedTwin:
    """An :class:`AssetTwin` fed by a :class:`sim.twin.session.LiveSession`: the twin's
    sensors are added to the session's telemetry (and subscribed to), every reading reaches
    the twin, its alarms go into the session's alarm book, virtual sensors into its history.
    Keeps the last ``keep`` identified samples for what-if questions."""

    def __init__(self, session: Any, twin_model: Any, dt: float = 0.1,
                 keep: int = 6000) -> None:
        self.session = session
        tel = session.telemetry
        self.twin = AssetTwin(twin_model, tel.alarms, session.history, dt=dt)
        added = []
        for s in link_sensors(twin_model):
            if s.topic not in tel.by_topic:
                tel.sensors[s.id] = s
                tel.by_topic[s.topic] = s
                tel.plots[s.id] = deque(maxlen=2000)
                added.append(s.topic)
        if added and session.mqtt is not None:
            session.mqtt.subscribe(added)
        self.recent: deque[tuple[float, np.ndarray]] = deque(maxlen=keep)
        self._process = self.twin.process
        self.twin.process = self._process_and_keep  # type: ignore[method-assign]
        tel.alarms.observe(self.twin.on_reading)

    def _process_and_keep(self, t: np.ndarray, readings: np.ndarray) -> Any:
        st = self._process(t, readings)
        if st.t is not None and st.loads:
            self.recent.append((st.t, np.array(st.loads)))
        return st

    def window(self) -> tuple[np.ndarray, np.ndarray]:
        """Times and identified loads (T, C) of the recent samples."""
        items = list(self.recent)
        if not items:
            return np.zeros(0), np.zeros((0, len(self.twin.model.channels)))
        return np.array([a for a, _ in items]), np.array([b for _, b in items])

    def detach(self) -> None:
        self.session.telemetry.alarms.unobserve(self.twin.on_reading)
