"""Instruments in the twin: OpenIGTLink messages -> scene updates, and results sent back.

``InstrumentLink`` owns one IGTL endpoint (client or server). TRANSFORMs move the
:class:`TrackedTool` bound to their device name (a tool is created on first sight
when ``auto_add`` is on); IMAGEs update an :class:`ImagePlane`; POINT and STRING
messages are kept (bounded) and recorded. Back to the peer go the planned target pose
(TRANSFORM), the tip-to-target distance (STRING, mm) and free-text commands (STRING).

Peer frame: our scene is patient LPS, 3D Slicer works in RAS. A connection whose
``peer_frame`` is ``"ras"`` converts every pose that carries no frame of its own
(TRANSFORM, POINT) on the way in and the target TRANSFORM on the way out with
``F T F``, F = diag(-1, -1, 1, 1) (points: ``F p``). An IMAGE header names its own
frame (1 = RAS, 2 = LPS) and is converted by the decoder whatever the setting.

Image poses (PLUS style): ``image_poses`` maps an IMAGE device to a TRANSFORM device
(``{"Image_Reference": "ImageToReference"}``); that image is placed at
``patient_T_tracker @ transform @ header geometry`` and follows each new transform.
It appears once both have arrived. Such a transform drives the image, not a tool.
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
PEER_FRAMES = ("lps", "ras")
_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS <-> LPS (its own inverse)


def ras_to_lps(matrix: np.ndarray) -> np.ndarray:
    """A pose between two RAS frames as the same pose between LPS frames (F T F; also
    the way back, F being its own inverse)."""
    return _FLIP @ np.asarray(matrix, dtype=float) @ _FLIP


def check_peer_frame(frame: str) -> str:
    from sim.errors import InputError

    f = str(frame).strip().lower()
    if f not in PEER_FRAMES:
        raise InputError(f"The peer frame must be LPS or RAS, not '{frame}'.")
    return f


def parse_image_poses(text: str | list[str] | None) -> dict[str, str]:
    """``"Image_Reference=ImageToReference, B=T2"`` (or a list of ``IMAGE=TRANSFORM``)
    as ``{image device: transform device}``; InputError for anything else."""
    from sim.errors import InputError

    items = text if isinstance(text, list) else (text or "").replace(";", ",").split(",")
    out: dict[str, str] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        image, sep, transform = (x.strip() for x in item.partition("="))
        if not sep or not image or not transform or len(image) > 20 or len(transform) > 20:
            raise InputError(f"'{item}' is not IMAGE=TRANSFORM (device names of up to 20 "
                             "characters, e.g. Image_Reference=ImageToReference).")
        out[image] = transform
    return out


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
        self.peer_frame = "lps"  # the frame the peer's poses are in (see the module notes)
        self.image_poses: dict[str, str] = {}  # IMAGE device -> TRANSFORM placing it
        self.image_pose_values: dict[str, np.ndarray] = {}  # TRANSFORM device -> last pose
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

    def set_peer_frame(self, frame: str) -> None:
        """``"lps"`` (poses taken as they come) or ``"ras"`` (3D Slicer; converted)."""
        self.peer_frame = check_peer_frame(frame)

    def set_image_poses(self, mapping: dict[str, str]) -> None:
        """Which IMAGE devices are placed by which TRANSFORM (see the module notes)."""
        if not isinstance(mapping, dict):
            raise TypeError("image poses must map image device names to transform names")
        self.image_poses = {str(k): str(v) for k, v in mapping.items()}
        for device, plane in self.images.items():
            source = self.image_poses.get(device)
            if source in self.image_pose_values:
                plane.set_pose(self.image_pose_values[source])

    def settings(self) -> dict:
        """Registration, tip calibrations, peer frame and image poses, JSON-ready (kept in
        the case, so a new session or a reopened case starts registered)."""
        return {"patient_T_tracker": self.patient_T_tracker.tolist(),
                "tool_T_tip": {d: m.tolist() for d, m in self.calibrations.items()},
                "peer_frame": self.peer_frame, "image_poses": dict(self.image_poses)}

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
        poses = doc.get("image_poses", {})
        if not isinstance(poses, dict) or not all(isinstance(v, str) for v in poses.values()):
            raise InputError("The live link settings' 'image_poses' must map image names to "
                             "transform names.")
        frame = check_peer_frame(doc.get("peer_frame", "lps"))
        self.set_registration(reg)
        for device, m in tips.items():
            self.set_calibration(device, m)
        self.peer_frame = frame
        self.set_image_poses(poses)

    def _scene_object(self, device: str):
        """The scene's object for ``device`` from an earlier session, if there is one."""
        if self.case is None:
            return None
        return next((o for o in self.case.scene
                     if o.tracking is not None and o.tracking.device == device), None)

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
            pose = self.incoming_pose(msg.content)
            tool = self.tools.get(msg.device)
            placed = self._place_images(msg.device, pose)
            if tool is None and self.auto_add and not placed:
                with self._lock:
                    tool = self.tools.get(msg.device) or self.add_tool(msg.device)
            if tool is not None:
                world = tool.update(pose, msg.timestamp)
                if h is not None:
                    h.record_pose(msg.device, msg.timestamp, world)
                self._send_distance(tool)
            elif placed and h is not None:
                h.record_pose(msg.device, msg.timestamp, self.patient_T_tracker @ pose)
        elif msg.type == "IMAGE":
            plane = self.images.get(msg.device)
            source = self.image_poses.get(msg.device)
            if plane is None:
                plane = ImagePlane(msg.device, self.patient_T_tracker, dispatch=self.dispatch)
                if source in self.image_pose_values:
                    plane.set_pose(self.image_pose_values[source])
                plane.update(msg.content)  # a first frame (dispatched first) before the
                # view sees the object
                self.images[msg.device] = plane
            else:
                plane.update(msg.content)
            self._show_image(plane)
            if h is not None:
                h.record_json("image", msg.device, msg.timestamp,
                              {"shape": list(msg.content.pixels.shape)})
        elif msg.type == "POINT":
            if self.peer_frame == "ras":
                for p in msg.content:
                    p.position = _FLIP[:3, :3] @ p.position
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
        elif msg.type == "STATUS":  # listed with the peer's strings, kept in the history too
            st = msg.content
            text = f"STATUS {st.name}" + (f" ({st.error_name})" if st.error_name else "") + (
                f": {st.text}" if st.text else "")
            with self._lock:
                self.strings.append((msg.timestamp, msg.device, text))
                self.strings_received += 1
            if h is not None:
                h.record("string", msg.device, msg.timestamp, None, text)
        self.message.emit(msg)

    def incoming_pose(self, matrix: np.ndarray) -> np.ndarray:
        """A pose from the peer in our (LPS) frame."""
        return ras_to_lps(matrix) if self.peer_frame == "ras" else np.asarray(matrix, float)

    def outgoing_pose(self, matrix: np.ndarray) -> np.ndarray:
        """A pose of ours (LPS) in the peer's frame."""
        return ras_to_lps(matrix) if self.peer_frame == "ras" else np.asarray(matrix, float)

    def _place_images(self, transform: str, pose: np.ndarray) -> bool:
        """Move the images placed by ``transform``; False when none is (the transform is
        then a tool's)."""
        images = [i for i, t in self.image_poses.items() if t == transform]
        if not images:
            return False
        self.image_pose_values[transform] = pose
        for device in images:
            plane = self.images.get(device)
            if plane is not None:
                plane.set_pose(pose)
                self._show_image(plane)
        return True

    def _show_image(self, plane: ImagePlane) -> None:
        """Add ``plane`` to the scene once it has a frame and, if it takes its pose from a
        transform, that pose (never at a provisional place)."""
        with self._lock:
            if plane.added or plane.last_frame is None or (
                    plane.device in self.image_poses and plane.tracker_T_image is None):
                return
            plane.added = True
        self._add_to_scene(plane.obj)

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
        return self._send(wire.encode_transform(device, self.outgoing_pose(self.target)))

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
