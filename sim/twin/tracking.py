"""Tracked instruments and live image planes driven by OpenIGTLink poses.

Frames: the tracker reports ``tracker_T_tool``; the tool-tip calibration is
``tool_T_tip`` (pivot calibration result); the registration is
``patient_T_tracker`` (LPS mm). The instrument mesh is modelled in its tip frame
(tip at the origin, shaft along +z), so its world pose is
``patient_T_tracker @ tracker_T_tool @ tool_T_tip``.

Threading: poses and frames arrive on the link's reader thread, but a scene object's
mesh may be drawn by VTK on the GUI thread, so the reader never writes it. It
*publishes* the latest pose (or frame) under a lock and hands ``sync_mesh`` to the
owner's ``dispatch`` (a queued call to the GUI thread; headless, a direct call). Only
the newest pending pose is kept and only one call is queued at a time, so a 1 kHz
stream costs the GUI one mesh update per event-loop pass, never a growing queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv
from psygnal import Signal

from sim.errors import InputError
from sim.geometry import rigid
from sim.model import ObjectKind, SceneObject
from sim.model.object_fields import LiveSource, Tracking
from sim.twin.igtl_wire import ImageFrame

if TYPE_CHECKING:
    from typing import Protocol

    class _Posed(Protocol):
        """Anything a tracked tool can drive: a world_T_tip pose (4x4 mm)."""

        pose: np.ndarray


Dispatch = Callable[[Callable[[], object]], None]


def _direct(fn: Callable[[], object]) -> None:
    fn()


def check_rigid(matrix: np.ndarray, what: str, tol: float = 1e-3) -> np.ndarray:
    """A 4x4 rigid transform as float64, or InputError naming ``what``."""
    m = np.asarray(matrix, dtype=float)
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise InputError(f"The {what} must be a finite 4x4 matrix.")
    r = m[:3, :3]
    if not np.allclose(r.T @ r, np.eye(3), atol=tol) or np.linalg.det(r) < 0:
        raise InputError(f"The {what} is not a rigid transform (rotation + translation).")
    if not np.allclose(m[3], (0, 0, 0, 1)):
        raise InputError(f"The {what} must end with the row 0 0 0 1.")
    return m


def instrument_mesh(length: float = 150.0, radius: float = 1.0) -> pv.PolyData:
    """A stylus: a conical tip at the origin and a shaft along +z (mm)."""
    tip = pv.Cone(center=(0, 0, 2.5), direction=(0, 0, -1), height=5.0, radius=radius,
                  resolution=24)
    shaft = pv.Cylinder(center=(0, 0, 5.0 + (length - 5.0) / 2), direction=(0, 0, 1),
                        radius=radius, height=length - 5.0, resolution=24)
    handle = pv.Cylinder(center=(0, 0, length - 20.0), direction=(0, 0, 1), radius=radius * 4,
                         height=40.0, resolution=24)
    return tip.merge(shaft).merge(handle).triangulate().clean()


class TrackedTool:
    """An instrument whose scene object follows the tracker in real time.

    ``update`` runs on the link's reader thread: it publishes the pose and emits
    ``moved(world_matrix, sender_timestamp)`` there; the mesh follows in ``sync_mesh``
    on the ``dispatch`` thread (vectorised, from a pristine copy so errors never
    accumulate). ``shown`` counts mesh updates, for views deciding to re-render.
    """

    moved = Signal(object, float)

    def __init__(self, device: str, obj: SceneObject,
                 tool_T_tip: np.ndarray | None = None,
                 patient_T_tracker: np.ndarray | None = None,
                 dispatch: Dispatch | None = None) -> None:
        self.device = device
        self.obj = obj
        self.dispatch: Dispatch = dispatch or _direct
        self._lock = threading.Lock()
        self._pending: np.ndarray | None = None  # newest pose not yet in the mesh
        self.shown = 0
        self.tool_T_tip = check_rigid(np.eye(4) if tool_T_tip is None else tool_T_tip,
                                      "tool-tip calibration")
        self.patient_T_tracker = check_rigid(
            np.eye(4) if patient_T_tracker is None else patient_T_tracker, "registration")
        pts = np.asarray(obj.data.points, dtype=float)
        last = None if obj.tracking is None else obj.tracking.matrix  # moved by a past session
        self.pose = np.eye(4) if last is None else last  # patient_T_tip
        # The mesh in the tip frame: undo the last pose (rigid, so R^T (p - t)).
        self._local = (pts - self.pose[:3, 3]) @ self.pose[:3, :3]
        self.updates = 0
        self.last_sender_time = 0.0
        self.last_latency_s = 0.0
        if obj.tracking is None or obj.tracking.device != device:  # may be the reader thread:
            obj.set_live(tracking=Tracking(device=device, pose=last))  # quiet, see set_live

    @property
    def tip(self) -> np.ndarray:
        return self.pose[:3, 3].copy()

    @property
    def direction(self) -> np.ndarray:
        """Unit vector from the tip back along the shaft (+z of the tip frame)."""
        return self.pose[:3, 2].copy()

    def drive(self, instrument: _Posed) -> None:
        """Make a rigid instrument follow this tool (e.g. the deformation tools of
        :mod:`sim.interaction.tools`, which share the tip-frame convention): anything with
        a ``pose`` attribute (world_T_tip, 4x4 mm) gets each new pose."""
        if not hasattr(instrument, "pose"):
            raise InputError(f"'{type(instrument).__name__}' has no pose to drive.")

        def follow(world: np.ndarray, _t: float) -> None:
            instrument.pose = world.copy()

        self.moved.connect(follow)
        if self.updates:
            follow(self.pose, self.last_sender_time)

    def set_calibration(self, tool_T_tip: np.ndarray) -> None:
        self.tool_T_tip = check_rigid(tool_T_tip, "tool-tip calibration")

    def set_registration(self, patient_T_tracker: np.ndarray) -> None:
        self.patient_T_tracker = check_rigid(patient_T_tracker, "registration")

    def update(self, tracker_T_tool: np.ndarray, sender_time: float) -> np.ndarray:
        """Apply a tracker pose; returns the tip's pose in the patient frame."""
        world = self.patient_T_tracker @ tracker_T_tool @ self.tool_T_tip
        return self.place(world, sender_time)

    def place(self, world: np.ndarray, sender_time: float) -> np.ndarray:
        """Put the tip at ``world`` (patient frame), e.g. when replaying a history.

        Any thread; the mesh follows on the dispatch thread (see the module notes)."""
        world = np.array(world, dtype=float)  # our own copy: published, never mutated
        with self._lock:
            self.pose = world
            self.updates += 1
            self.last_sender_time = sender_time
            self.last_latency_s = time.time() - sender_time
            queued, self._pending = self._pending is not None, world
        if not queued:
            self.dispatch(self.sync_mesh)
        self.moved.emit(world, sender_time)
        return world

    def sync_mesh(self) -> bool:
        """Move the mesh to the newest published pose; False if it is already there.
        Call it only where the scene's views live (the dispatch thread)."""
        with self._lock:
            world, self._pending = self._pending, None
        if world is None:
            return False
        pts = self.obj.data.points
        pts[:] = self._local @ world[:3, :3].T + world[:3, 3]
        self.obj.data.Modified()
        # Made exactly rigid here, so built unchecked: validating every pose of a flood
        # (~0.1 ms each) slowed the reader thread's 20,000 poses by 2.5x.
        pose = tuple(map(tuple, _rigid_part(world).tolist()))
        self.obj.set_live(tracking=Tracking.model_construct(device=self.device, pose=pose))
        self.shown += 1
        return True


def _rigid_part(world: np.ndarray) -> np.ndarray:
    """``world`` with its rotation orthonormal to 1e-6: the link accepts poses a little off
    (1e-2), the typed field keeps a rigid pose. Most poses already are (float32 ones to
    ~1e-7), and the SVD costs more than the rest of a pose's handling, so it runs only
    when needed."""
    m = np.array(world, dtype=float)
    r = m[:3, :3]
    if np.abs(r.T @ r - _I3).max() > 1e-6 or np.linalg.det(r) <= 0:
        m[:3, :3] = rigid.nearest_rotation(r)
    return m


_I3 = np.eye(3)


def make_tool_object(device: str, length: float = 150.0) -> SceneObject:
    return SceneObject(name=device, kind=ObjectKind.DEVICE, data=instrument_mesh(length),
                       color=(0.85, 0.85, 0.9), live_source=LiveSource.IGTL)


def shown_slice(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2D frame shown of an IMAGE block and where it lies in voxel space.

    ``pixels`` is (k, j, i[, c]) as decoded (a bare (j, i) array is one slice). Returns
    the frame as (rows, cols, c) and a 3x3 matrix whose columns are the ijk vectors of
    its column axis, its row axis and its first pixel's centre. A volume shows its
    middle k slice; a block one voxel thick in i or j (pyigtl sends a 2D array as
    k rows by j columns) shows the plane it spans.
    """
    px = np.asarray(pixels)
    if px.ndim == 2:
        px = px[None]
    if px.ndim == 3:
        px = px[..., None]
    nk, nj, ni = px.shape[:3]
    e = np.eye(3)  # columns: i, j, k
    if (ni > 1 and nj > 1) or nk == 1:
        k = nk // 2
        return px[k], np.c_[e[:, 0], e[:, 1], (0, 0, k)]
    if ni == 1:
        return px[:, :, 0], np.c_[e[:, 1], e[:, 2], (0, 0, 0)]
    return px[:, 0, :], np.c_[e[:, 0], e[:, 2], (0, 0, 0)]


def image_rgb(frame: np.ndarray) -> np.ndarray:
    """A (rows, cols[, c]) frame as an (rows, cols, 3) uint8 texture, windowed to its range."""
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.dtype != np.uint8:
        f = frame.astype(float)
        lo, hi = float(f.min()), float(f.max())
        frame = ((f - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
    if frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    return np.ascontiguousarray(frame[..., :3])


class ImagePlane:
    """An IMAGE stream (e.g. ultrasound) shown as a textured quad at its pose.

    The scene object is a 4-point quad with texture coordinates; the current frame
    is ``obj.texture`` (rows, cols, 3 uint8), which the view maps on it.
    Like :class:`TrackedTool`, ``update`` publishes (any thread) and ``sync_mesh``
    moves the quad and swaps the texture on the dispatch thread.
    """

    changed = Signal(object)

    def __init__(self, device: str, patient_T_tracker: np.ndarray | None = None,
                 dispatch: Dispatch | None = None) -> None:
        self.device = device
        self.dispatch: Dispatch = dispatch or _direct
        self._lock = threading.Lock()
        self._pending: tuple[np.ndarray, np.ndarray] | None = None
        self.shown = 0
        self.patient_T_tracker = check_rigid(
            np.eye(4) if patient_T_tracker is None else patient_T_tracker, "registration")
        quad = pv.PolyData(np.zeros((4, 3)), faces=np.array([4, 0, 1, 2, 3]))
        quad.active_texture_coordinates = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
        self.obj = SceneObject(name=device, kind=ObjectKind.SURFACE, data=quad,
                               color=(1.0, 1.0, 1.0), live_source=LiveSource.IGTL_IMAGE)
        self.frames = 0
        # With a pose source (a separate TRANSFORM, PLUS style) the image's own geometry
        # is relative to that transform: world = patient_T_tracker @ tracker_T_image @ ijk.
        self.tracker_T_image: np.ndarray | None = None
        self.poses = 0
        self.last_frame: ImageFrame | None = None
        self.added = False  # in the scene (the link adds it once it can be placed)

    def set_pose(self, tracker_T_image: np.ndarray) -> None:
        """Place the image by a separate transform (any thread); the last frame moves too."""
        self.tracker_T_image = np.array(tracker_T_image, dtype=float)
        with self._lock:
            self.poses += 1
            frame = self.last_frame
        if frame is not None:
            self._publish(frame, count=False)

    def update(self, frame: ImageFrame) -> None:
        """Publish a frame (any thread); the quad and texture follow in ``sync_mesh``."""
        self.last_frame = frame
        self._publish(frame, count=True)

    def _publish(self, frame: ImageFrame, count: bool) -> None:
        pixels, where = shown_slice(frame.pixels)
        rows, cols = pixels.shape[:2]
        m = self.patient_T_tracker @ frame.ijk_to_lps
        if self.tracker_T_image is not None:
            m = self.patient_T_tracker @ self.tracker_T_image @ frame.ijk_to_lps
        # Pixel centres span 0..n-1; the quad covers their outer edges. Texture
        # coordinate (0, 0) is the first pixel's outer corner, s along columns.
        uv = np.array([[-0.5, -0.5], [cols - 0.5, -0.5], [cols - 0.5, rows - 0.5],
                       [-0.5, rows - 0.5]])
        ijk = uv @ where[:, :2].T + where[:, 2]
        corners = np.c_[ijk, np.ones(4)] @ m.T
        with self._lock:
            self.frames += count
            queued, self._pending = self._pending is not None, (corners[:, :3],
                                                                 image_rgb(pixels))
        if not queued:
            self.dispatch(self.sync_mesh)
        self.changed.emit(self)

    def sync_mesh(self) -> bool:
        """Put the newest frame on the quad (on the dispatch thread only)."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return False
        self.obj.data.points[:] = pending[0]
        self.obj.data.Modified()
        self.obj.set_live(texture=pending[1])
        self.shown += 1
        return True
