"""One live session: instruments (OpenIGTLink) + telemetry (MQTT) + history, for a case.

This is what the CLI's ``link record`` and the GUI's Live panel drive. Topics that
are not bound to a sensor are still recorded: numbers as values, anything else as
text (cut to the payload limit), so ``record --topics`` works without a twin config.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.model import Case
from sim.twin.history import HistoryReader, HistoryStore
from sim.twin.instruments import Dispatch, InstrumentLink
from sim.twin.mqtt_link import BrokerConfig, MqttLink
from sim.twin.sensors import MAX_PAYLOAD
from sim.twin.telemetry import TelemetryTwin, TwinConfig

if TYPE_CHECKING:
    from sim.twin.igtl_link import IgtlClient, IgtlServer

log = logging.getLogger(__name__)


class LiveSession:
    def __init__(self, case: Case | None = None, config: TwinConfig | None = None,
                 history: str | Path | None = None, dispatch: Dispatch | None = None,
                 keep_seconds: float | None = None, keep_events: int | None = None,
                 max_igtl_peers: int | None = None,
                 igtl_idle_timeout: float | None = None) -> None:
        """``keep_seconds`` / ``keep_events``: the history's retention (default: keep all);
        ``max_igtl_peers`` / ``igtl_idle_timeout``: a listening OpenIGTLink server's limits
        (default :data:`sim.twin.igtl_link.MAX_CONNECTIONS` and ``IDLE_TIMEOUT_S``)."""
        self.case = case
        self.config = config or TwinConfig()
        self.history = HistoryStore(history, keep_seconds=keep_seconds,
                                    keep_events=keep_events) if history is not None else None
        self.max_igtl_peers = max_igtl_peers
        self.igtl_idle_timeout = igtl_idle_timeout
        self.instruments = InstrumentLink(case, self.history, dispatch=dispatch)
        self.telemetry = TelemetryTwin(self.config, self.history, publish=self._publish)
        self.mqtt: MqttLink | None = None
        self.raw_topics: list[str] = []
        self.raw_received = 0

    # -- connections --------------------------------------------------------------------------
    def connect_mqtt(self, broker: BrokerConfig, topics: list[str] | None = None,
                     client_id: str | None = None, wait: float = 10.0) -> MqttLink:
        """``client_id``: give the same one again to resume the broker's persistent session
        (QoS 1 messages queued while we were away are then delivered)."""
        if self.mqtt is not None:
            self.mqtt.close()
        self.raw_topics = list(topics or [])
        self.mqtt = MqttLink(broker, on_message=self._on_mqtt, client_id=client_id).start()
        self.mqtt.subscribe(self.telemetry.topics + self.raw_topics)
        if wait:
            self.mqtt.require_connected(wait)
        return self.mqtt

    def connect_igtl(self, host: str, port: int, listen: bool = False,
                     peer_frame: str | None = None,
                     image_poses: dict[str, str] | None = None) -> IgtlServer | IgtlClient:
        """Connect to (or listen for) the instrument peer. ``peer_frame`` ("lps"/"ras") and
        ``image_poses`` ({IMAGE: TRANSFORM}) override what the case's settings said."""
        if peer_frame is not None:
            self.instruments.set_peer_frame(peer_frame)
        if image_poses is not None:
            self.instruments.set_image_poses(image_poses)
        if listen:
            from sim.errors import InputError

            if self.max_igtl_peers is not None and self.max_igtl_peers < 1:
                raise InputError("The OpenIGTLink connection limit must be at least 1.")
            if self.igtl_idle_timeout is not None and not self.igtl_idle_timeout > 0:
                raise InputError("The OpenIGTLink idle timeout must be positive.")
            endpoint = self.instruments.listen(host, port)
            if self.max_igtl_peers is not None:
                endpoint.max_connections = self.max_igtl_peers
            if self.igtl_idle_timeout is not None:
                endpoint.idle_timeout = self.igtl_idle_timeout
        else:
            endpoint = self.instruments.connect(host, port)
        # A TRANSFORM placing an image may carry the pixel spacing; any other must be rigid.
        endpoint.scaled_pose = lambda device: device in self.instruments.image_poses.values()
        return endpoint

    def _publish(self, topic: str, payload: bytes) -> None:
        if self.mqtt is not None:
            self.mqtt.publish(topic, payload)

    def _on_mqtt(self, topic: str, payload: bytes) -> None:
        tel = self.telemetry
        if topic in tel.by_topic or topic.startswith(tel.state.base + "/"):
            tel.ingest(topic, payload)
            return
        self.raw_received += 1
        if self.history is None:
            return
        text = payload[:MAX_PAYLOAD].decode("utf-8", errors="replace").strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            self.history.record("value", topic, time.time(), value)
        else:
            self.history.record("string", topic, time.time(), None, text)

    # -- state ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        ep = self.instruments.endpoint
        return {
            "mqtt": None if self.mqtt is None else {
                "broker": self.mqtt.config.describe(),
                "connected": self.mqtt.connected.is_set(), **self.mqtt.counters.as_dict(),
                "last_error": self.mqtt.last_error},
            "telemetry": {**self.telemetry.counters.as_dict(), "unbound": self.raw_received},
            "igtl": None if ep is None else {
                "peers": ep.peers, **ep.counters.as_dict(), "last_error": ep.last_error,
                "peer_frame": self.instruments.peer_frame,
                "image_poses": dict(self.instruments.image_poses)},
            "tools": {d: {"updates": t.updates, "tip_mm": np.round(t.tip, 3).tolist()}
                      for d, t in self.instruments.tools.items()},
            "alarms": [a.to_dict() for a in self.telemetry.alarms.open_alarms],
            "history": None if self.history is None else {
                "path": str(self.history.path), "written": self.history.written,
                "dropped": self.history.dropped, "pending": self.history.pending,
                "pruned": self.history.pruned, "keep_seconds": self.history.keep_seconds,
                "keep_events": self.history.keep_events},
        }

    def apply_history_state(self, reader: HistoryReader, t: float) -> None:
        """Show the scene as it was at time ``t`` (timeline scrubbing)."""
        from sim.twin.sensors import Reading

        for ev in reader.state_at(t).values():
            if ev.kind == "pose" and ev.channel in self.instruments.image_poses.values():
                continue  # an image's placing transform, not a tool
            if ev.kind == "pose":
                tool = self.instruments.tools.get(ev.channel)
                if tool is None and self.case is not None:
                    tool = self.instruments.add_tool(ev.channel)
                if tool is not None:  # stored poses are already in the patient frame
                    tool.place(ev.matrix(), ev.t)
            elif ev.kind == "value" and ev.channel in self.telemetry.sensors:
                self.telemetry.show(Reading(ev.channel, ev.t, ev.value))

    def close(self) -> None:
        if self.mqtt is not None:
            self.mqtt.close()
            self.mqtt = None
        self.instruments.close()
        if self.history is not None:
            self.history.close()
