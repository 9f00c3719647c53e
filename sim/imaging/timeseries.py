"""Time series (4D) volumes: several volumes on one grid, one of them shown at a time.

A 4D volume is one :class:`pyvista.ImageData` holding one point array per time point
(``frame_0001``, ``frame_0002``, ...); the *active* scalars are the time point shown, so
everything that reads a volume (slice views, segmentation, export) works on the frame on
screen, and a saved case (VTK XML keeps every array and which one is active) reopens with
all frames and the same one shown. The times (s, from the first frame) live in the scene
object's metadata under ``frame_times_s`` (None where the files give none).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyvista as pv
from psygnal import Signal

from sim.errors import InputError
from sim.imaging.volume import MAX_VOXELS, make_image

FRAME_PREFIX = "frame_"
TIMES_KEY = "frame_times_s"
_FRAME = re.compile(rf"^{FRAME_PREFIX}\d{{4,}}$")


class FrameEvents:
    """``changed(image)`` when the time point shown of a 4D image changes (views redraw; it
    is not an edit of the case, so the undo history does not see it)."""

    changed = Signal(object)


frame_events = FrameEvents()


def frame_name(t: int) -> str:
    """The point array name of time point ``t`` (0-based)."""
    return f"{FRAME_PREFIX}{t + 1:04d}"


def make_time_series(volumes: Sequence[np.ndarray], spacing: Sequence[float],
                     origin: Sequence[float], direction: np.ndarray) -> pv.ImageData:
    """One image holding ``volumes`` (each [i, j, k], same shape and dtype) as its frames,
    the first one active."""
    if len(volumes) < 2:
        raise InputError("A time series needs at least two volumes.")
    shape = volumes[0].shape
    if any(v.shape != shape for v in volumes):
        raise InputError("The volumes of a time series differ in size.")
    if int(np.prod(shape)) * len(volumes) > MAX_VOXELS:
        raise InputError(f"A time series of {len(volumes)} volumes of {shape} voxels is too large.")
    image = make_image(volumes[0], spacing, origin, direction, name=frame_name(0))
    for t, vol in enumerate(volumes[1:], 1):
        image.point_data[frame_name(t)] = np.ravel(vol.astype(volumes[0].dtype, copy=False),
                                                   order="F")
    image.point_data.active_scalars_name = frame_name(0)
    return image


def frame_names(image: pv.DataSet) -> list[str]:
    """The frame arrays of a 4D volume in time order ([] for an ordinary volume)."""
    if not isinstance(image, pv.ImageData):
        return []
    names = sorted(n for n in image.point_data if _FRAME.match(n))
    return names if len(names) > 1 else []


def frame_count(image: pv.DataSet) -> int:
    """How many time points ``image`` holds (1 for an ordinary volume)."""
    return len(frame_names(image)) or 1


def current_frame(image: pv.DataSet) -> int:
    """The time point shown (0-based; 0 for an ordinary volume)."""
    names = frame_names(image)
    active = image.active_scalars_name if names else None
    return names.index(active) if active in names else 0


def set_frame(image: pv.ImageData, t: int) -> int:
    """Show time point ``t`` (clamped to the series); returns the frame now active."""
    names = frame_names(image)
    if not names:
        return 0
    t = int(np.clip(t, 0, len(names) - 1))
    if image.active_scalars_name != names[t]:
        image.point_data.active_scalars_name = names[t]
        frame_events.changed.emit(image)
    return t


def frame_values(image: pv.ImageData, t: int) -> np.ndarray:
    """The [i, j, k] array of time point ``t`` (a view)."""
    names = frame_names(image)
    if not names:
        if t != 0:
            raise InputError(f"The volume has one time point, not {t + 1}.")
        return np.asarray(image.active_scalars).reshape(image.dimensions, order="F")
    if not 0 <= t < len(names):
        raise InputError(f"The time series has {len(names)} time points, not {t + 1}.")
    return np.asarray(image.point_data[names[t]]).reshape(image.dimensions, order="F")


def frame_label(image: pv.DataSet, times: Sequence[float | None] | None, t: int | None = None) -> str:
    """'frame 3/20, t = 1.50 s' for time point ``t`` (default: the one shown)."""
    n = frame_count(image)
    t = current_frame(image) if t is None else t
    text = f"frame {t + 1}/{n}"
    if times and t < len(times) and times[t] is not None:
        text += f", t = {float(times[t]):.2f} s"
    return text
