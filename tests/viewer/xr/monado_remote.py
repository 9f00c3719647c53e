"""Script head and controller poses and buttons through Monado's remote driver.

The runtime (``P_OVERRIDE_ACTIVE_CONFIG=remote``) listens on a TCP port and reads
``struct r_remote_data`` (src/xrt/drivers/remote/r_interface.h, Monado 25.0.0) frames.
"""

from __future__ import annotations

import ctypes
import json
import socket
import time
from pathlib import Path

HEADER = int.from_bytes(b"mndrmt3\0", "little")


class Quat(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float), ("z", ctypes.c_float),
                ("w", ctypes.c_float)]


class Vec3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float), ("z", ctypes.c_float)]


class XrtPose(ctypes.Structure):
    _fields_ = [("orientation", Quat), ("position", Vec3)]


class XrtFov(ctypes.Structure):
    _fields_ = [("angle_left", ctypes.c_float), ("angle_right", ctypes.c_float),
                ("angle_up", ctypes.c_float), ("angle_down", ctypes.c_float)]


class HeadView(ctypes.Structure):
    _fields_ = [("fov", XrtFov), ("pose", XrtPose), ("_pad", ctypes.c_uint32)]


class HeadData(ctypes.Structure):
    _fields_ = [("views", HeadView * 2), ("center", XrtPose),
                ("per_view_data_valid", ctypes.c_bool), ("_pad", ctypes.c_bool * 3)]


_BOOLS = ["hand_tracking_active", "active", "system_click", "system_touch", "a_click",
          "a_touch", "b_click", "b_touch", "trigger_click", "trigger_touch", "thumbstick_click",
          "thumbstick_touch", "trackpad_touch", "_pad0", "_pad1", "_pad2"]


class ControllerData(ctypes.Structure):
    _fields_ = [("pose", XrtPose), ("linear_velocity", Vec3), ("angular_velocity", Vec3),
                ("hand_curl", ctypes.c_float * 5), ("trigger_value", ctypes.c_float),
                ("squeeze_value", ctypes.c_float), ("squeeze_force", ctypes.c_float),
                ("thumbstick", ctypes.c_float * 2), ("trackpad_force", ctypes.c_float),
                ("trackpad", ctypes.c_float * 2)] + [(b, ctypes.c_bool) for b in _BOOLS]


class RemoteData(ctypes.Structure):
    _fields_ = [("header", ctypes.c_uint64), ("head", HeadData), ("left", ControllerData),
                ("right", ControllerData)]


assert ctypes.sizeof(RemoteData) == 8 + 128 + 2 * 120, "r_remote_data layout changed"


def write_remote_config(config_home: Path, port: int) -> None:
    """Monado reads the remote driver's port from $XDG_CONFIG_HOME/monado/config_v0.json."""
    folder = Path(config_home) / "monado"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config_v0.json").write_text(json.dumps(
        {"remote": {"version": 0, "port": int(port), "view_count": 2}}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RemoteRig:
    """A connection to the runtime's remote driver; edit :attr:`data` then :meth:`send`."""

    def __init__(self, port: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=2.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.data = RemoteData()
        # The runtime first sends its reset state and its latest state.
        for _ in range(2):
            self._read_into(self.data)
        self.data.header = HEADER

    def _read_into(self, data: RemoteData) -> None:
        size = ctypes.sizeof(RemoteData)
        buf = bytearray()
        while len(buf) < size:
            chunk = self.sock.recv(size - len(buf))
            if not chunk:
                raise ConnectionError("Monado closed the remote connection")
            buf += chunk
        ctypes.memmove(ctypes.addressof(data), bytes(buf), size)

    def hand(self, side: str) -> ControllerData:
        return getattr(self.data, side)

    def set_position(self, side: str, xyz) -> None:
        pose = self.hand(side).pose
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in xyz)

    def send(self) -> None:
        self.data.header = HEADER
        self.sock.sendall(bytes(self.data))

    def close(self) -> None:
        self.sock.close()
