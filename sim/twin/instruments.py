"""Instruments in the twin: OpenIGTLink messages -> scene updates, and results sent back.

``InstrumentLink`` owns one IGTL endpoint (client or server). TRANSFORMs move the
:class:`TrackedTool` bound to their device name (a tool is created on first sight
when ``auto_add`` is on); IMAGEs update an :class:`ImagePlane`; POINT and STRING
messages are kept (bounded) and recorded. Back to the peer go the planned target pose
(TRANSFORM), the tip-to-target distance (STRING, mm) and free-text commands (STRING).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from psygnal import Signal

from sim.model import Case
from sim.twin import igtl_wire as wire
from sim.twin.history import HistoryStore
from sim.twin.igtl_link import DEFAULT_PORT, IgtlClient, IgtlServer
from sim.twin.tracking import (
    Dispatch,
    ImagePlane,
    TrackedTool,
    check_rigid,
    make_tool_object,
)

log = logging.getLogger(__name__)

MAX_KEPT_STRINGS = 200  # bounded: older strings stay in the history only


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        from sim.errors import InputError

        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, str(DEFAULT_PORT)
        try:
            number = int(port)
        except ValueError:
            number = -1
        if not 0 <= number <= 65535 or not host:
            raise InputError(f"'{text}' is not HOST:PORT (for example 127.0.0.1:18944).")
        return cls(host, number)


class InstrumentLink:
    """Tracked instruments and images from an OpenIGTLink peer, bound to a case."""

    message = Signal(object)  # every accepted wire.Message, after the model is updated
    tool_added = Signal(object)

    def __init__(self, case: Case | None = None, history: HistoryStore | None = None,
                 auto_add: bool = True, dispatch: Dispatch | None = None) -> None:
        self.case = case
        # Scene changes (adding objects) must happen where the views live: a GUI passes
        # a dispatcher that runs the call on its thread; headless, it runs right here.
        self.dispatch: Dispatch = dispatch or (lambda fn: fn())
        self.history = history
        self.auto_add = auto_add
        self.tools: dict[str, TrackedTool] = {}
        self.images: dict[str, ImagePlane] = {}
        self.points: dict[str, list[wire.PointItem]] = {}
        self.strings: deque[tuple[float, str, str]] = deque(maxlen=MAX_KEPT_STRINGS)
        self.strings_received = 0
        self.patient_T_tracker = np.eye(4)
        self.calibrations: dict[str, np.ndarray] = {}  # tool_T_tip per device
        self.target: np.ndarray | None = None
        self.endpoint: IgtlClient | IgtlServer | None = None
        self._lock = threading.Lock()

    # -- configuration -----------------------------------------------------------------------
    def add_tool(self, device: str, tool_T_tip: np.ndarray | None = None,
                 length: float = 150.0) -> TrackedTool:
        existing = self._scene_object(device)
        obj = existing or make_tool_object(device, length)
        if tool_T_tip is None:
            tool_T_tip = self.calibrations.get(device)
        tool = TrackedTool(device, obj, tool_T_tip, self.patient_T_tracker,
                           dispatch=self.dispatch)
        if existing is None:
            self._add_to_scene(obj)
        self.tools[device] = tool
        self.tool_added.emit(tool)
        return tool

    def set_registration(self, patient_T_tracker: np.ndarray) -> None:
        self.patient_T_tracker = check_rigid(patient_T_tracker, "registration")
        for tool in self.tools.values():
            tool.set_registration(self.patient_T_tracker)
        for plane in self.images.values():
            plane.patient_T_tracker = self.patient_T_tracker

    def set_calibration(self, device: str, tool_T_tip: np.ndarray) -> None:
        """The tip calibration of ``device``, now and for when it (re)appears."""
        m = check_rigid(tool_T_tip, "tool-tip calibration")
        self.calibrations[device] = m
        if device in self.tools:
            self.tools[device].set_calibration(m)

    def settings(self) -> dict:
        """Registration and tip calibrations as JSON-ready lists (kept in the case, so a new
        session or a reopened case starts registered)."""
        return {"patient_T_tracker": self.patient_T_tracker.tolist(),
                "tool_T_tip": {d: m.tolist() for d, m in self.calibrations.items()}}

    def apply_settings(self, doc: dict) -> None:
        """Apply what :meth:`settings` returned; InputError for anything malformed."""
        from sim.errors import InputError

        if not isinstance(doc, dict) or not isinstance(doc.get("tool_T_tip", {}), dict):
            raise InputError("The live link settings must map 'patient_T_tracker' and "
                             "'tool_T_tip' to matrices.")
        try:
            reg = np.asarray(doc.get("patient_T_tracker", np.eye(4)), dtype=float)
            tips = {str(d): np.asarray(m, dtype=float)
                    for d, m in doc.get("tool_T_tip", {}).items()}
        except (TypeError, ValueError):
            raise InputError("The live link settings hold a matrix that is not numbers.") from None
        self.set_registration(reg)
        for device, m in tips.items():
            self.set_calibration(device, m)

    def _scene_object(self, device: str):
        """The scene's object for ``device`` from an earlier session, if there is one."""
        if self.case is None:
            return None
        return next((o for o in self.case.scene
                     if o.metadata.get("tracked_device") == device), None)

    def _add_to_scene(self, obj) -> None:
        case = self.case
        if case is not None:
            self.dispatch(lambda: case.scene.add(obj))

    # -- connection ----------------------------------------------------------------------------
    def listen(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> IgtlServer:
        self.close()
        self.endpoint = IgtlServer(host, port, on_message=self.handle)
        return self.endpoint

    def connect(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> IgtlClient:
        self.close()
        self.endpoint = IgtlClient(host, port, on_message=self.handle)
        return self.endpoint

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None

    # -- incoming -----------------------------------------------------------------------------
    def handle(self, msg: wire.Message) -> None:
        """Apply one message to the model (called on the reader thread)."""
        h = self.history
        if msg.type == "TRANSFORM":
            tool = self.tools.get(msg.device)
            if tool is None and self.auto_add:
                with self._lock:
                    tool = self.tools.get(msg.device) or self.add_tool(msg.device)
            if tool is not None:
                world = tool.update(msg.content, msg.timestamp)
                if h is not None:
                    h.record_pose(msg.device, msg.timestamp, world)
                self._send_distance(tool)
        elif msg.type == "IMAGE":
            plane = self.images.get(msg.device)
            if plane is None:
                plane = ImagePlane(msg.device, self.patient_T_tracker, dispatch=self.dispatch)
                plane.update(msg.content)  # a first frame (dispatched first) before the
                # view sees the object
                self._add_to_scene(plane.obj)
                self.images[msg.device] = plane
            else:
                plane.update(msg.content)
            if h is not None:
                h.record_json("image", msg.device, msg.timestamp,
                              {"shape": list(msg.content.pixels.shape)})
        elif msg.type == "POINT":
            self.points[msg.device] = msg.content
            if h is not None:
                h.record_json("point", msg.device, msg.timestamp,
                              [{"name": p.name, "xyz": p.position.round(4).tolist()}
                               for p in msg.content])
        elif msg.type == "STRING":
            with self._lock:  # the GUI reads them (recent_strings) while we append
                self.strings.append((msg.timestamp, msg.device, msg.content))
                self.strings_received += 1
            if h is not None:
                h.record("string", msg.device, msg.timestamp, None, msg.content)
        self.message.emit(msg)

    def recent_strings(self, n: int = 20) -> list[tuple[float, str, str]]:
        """The last ``n`` STRING messages (time, device, text), oldest first; any thread."""
        with self._lock:
            return list(self.strings)[-n:]

    # -- outgoing -----------------------------------------------------------------------------
    def _send(self, data: bytes) -> int:
        return self.endpoint.send(data) if self.endpoint is not None else 0

    def send_target(self, patient_T_target: np.ndarray, device: str = "Target") -> int:
        """Send the planned target pose (patient LPS mm) to the peer."""
        self.target = check_rigid(patient_T_target, "target pose")
        return self._send(wire.encode_transform(device, self.target))

    def distance_to_target(self, tool: TrackedTool) -> float | None:
        if self.target is None:
            return None
        return float(np.linalg.norm(tool.tip - self.target[:3, 3]))

    def _send_distance(self, tool: TrackedTool) -> None:
        d = self.distance_to_target(tool)
        if d is not None and self.endpoint is not None and self.endpoint.peers:
            self._send(wire.encode_string(f"{tool.device}Dist"[:20], f"{d:.3f}"))

    def send_command(self, text: str, device: str = "Command") -> int:
        import time

        if self.history is not None:
            self.history.record("command", device, time.time(), None, text)
        return self._send(wire.encode_string(device, text))
