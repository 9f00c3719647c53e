"""Load one DICOM series into a volume with its true geometry (LPS mm).

Slices are ordered by their position along the slice normal (never by instance
number). Uneven slice spacing is resampled to the median spacing; a gantry tilt
(slices offset sideways) is removed by shifting each slice in its plane; both are
recorded in the notes. Pixel values are rescaled (slope/intercept, or the Modality LUT
Sequence where a file has one) so CT is in HU. Colour images (RGB, YBR, palette colour)
become 8-bit RGB volumes (:mod:`sim.io.dicom_colour`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvista as pv

from sim.errors import FileFormatError, InputError
from sim.imaging.volume import make_image, make_rgb_image
from sim.io.dicom_colour import colour_plane
from sim.io.dicom_scan import Frame, Series
from sim.progress import Progress, no_progress

SPACING_TOLERANCE = 0.01  # relative: gaps differing more than this are "non-uniform"
TILT_TOLERANCE_DEG = 0.05
MAX_GAP_RATIO = 4.0  # a gap this many times the median is a missing stretch: refuse


@dataclass
class LoadedSeries:
    image: pv.ImageData
    notes: list[str] = field(default_factory=list)
    window: tuple[float, float] | None = None  # (level, width) from the file, if any


def _rescale(ds, frame_index: int | None) -> tuple[float, float]:
    slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if (slope is None or inter is None) and "PerFrameFunctionalGroupsSequence" in ds:
        groups = [ds.PerFrameFunctionalGroupsSequence[frame_index or 0]]
        if "SharedFunctionalGroupsSequence" in ds:
            groups.append(ds.SharedFunctionalGroupsSequence[0])
        for g in groups:
            if "PixelValueTransformationSequence" in g:
                t = g.PixelValueTransformationSequence[0]
                slope, inter = t.get("RescaleSlope", 1), t.get("RescaleIntercept", 0)
                break
    if slope is None and ds.get("DoseGridScaling") is not None:  # RT dose: stored values -> Gy
        slope = ds.DoseGridScaling
    return float(slope if slope is not None else 1.0), float(inter if inter is not None else 0.0)


def _window(ds) -> tuple[float, float] | None:
    c, w = ds.get("WindowCenter"), ds.get("WindowWidth")
    try:
        c = float(c[0] if hasattr(c, "__len__") and not isinstance(c, str) else c)
        w = float(w[0] if hasattr(w, "__len__") and not isinstance(w, str) else w)
    except (TypeError, ValueError, IndexError):
        return None
    return (c, w) if w > 0 else None


def _modality_lut(plane: np.ndarray, ds, path) -> np.ndarray:
    """Stored values through the Modality LUT Sequence (PS3.3 C.11.1), as pydicom does."""
    from pydicom.pixels import apply_modality_lut

    try:
        out = apply_modality_lut(plane, ds)
    except Exception as exc:  # a malformed LUT (wrong length, bad descriptor)
        raise FileFormatError(path, f"its modality LUT cannot be applied ({_reason(exc)})") from None
    return out


def _reason(exc: Exception) -> str:
    """A decoder's complaint as one short phrase (pydicom lists every plugin's, one a line)."""
    from sim.io.vtk_safe import clean_message

    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[1] if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "")
    return clean_message(text, 120) or type(exc).__name__


def _decode(frames: list[Frame], progress: Progress,
            cache: dict | None = None) -> tuple[list[np.ndarray], list[tuple], object]:
    """Pixel arrays (rows x columns) and rescale of each frame, in the given order. ``cache``
    keeps the last decoded file between calls (the time points of one multi-frame file)."""
    import pydicom

    from sim.io.dicom_codecs import register

    register()  # 12-bit JPEG that pydicom's own plugins refuse
    cache = {} if cache is None else cache
    arrays, rescales, first = [], [], None
    for n, frame in enumerate(frames):
        if n % 8 == 0:
            progress(0.1 + 0.7 * n / len(frames), f"Decoding {frame.path.name}")
        try:
            if frame.path not in cache:
                cache.clear()  # keep one multi-frame file in memory at a time
                ds = pydicom.dcmread(frame.path)
                pixels = ds.pixel_array
                cache[frame.path] = (ds, pixels)
            ds, pixels = cache[frame.path]
        except MemoryError:
            raise FileFormatError(frame.path, "its pixel data needs more memory than this "
                                              "machine has") from None
        except Exception as exc:  # pydicom/pylibjpeg raise many kinds for corrupt pixel data
            raise FileFormatError(frame.path, f"its pixel data cannot be decoded "
                                              f"({_reason(exc)})") from None
        if first is None:
            first = ds
        plane = pixels[frame.index] if frame.index is not None else pixels
        if frame.tile is not None and frame.tile_shape is not None and plane.ndim == 2:
            tr, tc = frame.tile_shape  # Siemens mosaic: tiles row by row from the top left
            across = plane.shape[1] // tc
            r0, c0 = (frame.tile // across) * tr, (frame.tile % across) * tc
            plane = plane[r0:r0 + tr, c0:c0 + tc]
            if plane.shape != (tr, tc):
                raise FileFormatError(frame.path, f"its mosaic has no room for slice {frame.tile + 1}")
        colour = colour_plane(plane, ds, frame.path)
        if colour is not None:  # RGB: no rescale or modality LUT (a picture, not values)
            arrays.append(colour)
            rescales.append((1.0, 0.0))
            continue
        if plane.ndim != 2:
            raise FileFormatError(frame.path, f"its frame has shape {plane.shape}, not rows x columns")
        if "ModalityLUTSequence" in ds and "RescaleSlope" not in ds:
            plane = _modality_lut(plane, ds, frame.path)
            rescales.append((1.0, 0.0))
        else:
            rescales.append(_rescale(ds, frame.index))
        arrays.append(plane)
    return arrays, rescales, first


def _slice_geometry(series: Series) -> tuple[list[Frame], np.ndarray, np.ndarray, np.ndarray, bool]:
    """Frames sorted along the normal, (row dir, col dir, normal), pixel spacing, normal, and
    whether the images carry patient geometry at all (secondary captures often do not)."""
    frames = series.frames
    if all(f.orientation is None and f.position is None for f in frames):
        spacing = frames[0].pixel_spacing or (1.0, 1.0)
        return frames, np.eye(3), np.asarray(spacing, dtype=float), np.array([0, 0, 1.0]), False
    ori = frames[0].orientation
    if ori is None or any(f.orientation is None or not np.allclose(f.orientation, ori, atol=1e-3)
                          for f in frames):
        raise InputError(f"Series {series.id} has missing or mixed image orientations.")
    row, col = ori[:3] / np.linalg.norm(ori[:3]), ori[3:] / np.linalg.norm(ori[3:])
    normal = np.cross(row, col)
    if len(frames) > 1 and any(f.position is None for f in frames):
        raise InputError(f"Series {series.id} has images without a position; cannot stack them.")
    if len(frames) > 1:
        frames = sorted(frames, key=lambda f: float(f.position @ normal))
    spacing = frames[0].pixel_spacing
    if spacing is None or min(spacing) <= 0:
        raise InputError(f"Series {series.id} has no valid pixel spacing.")
    return frames, np.array([row, col, normal]), np.asarray(spacing, dtype=float), normal, True


def load_series(series: Series, progress: Progress = no_progress,
                cache: dict | None = None) -> LoadedSeries:
    """The volume of ``series``: array axes (column, row, slice), world LPS mm. Pass one
    ``cache`` dict to successive calls to decode a shared multi-frame file once."""
    frames, axes, pixel_spacing, normal, placed = _slice_geometry(series)
    notes: list[str] = []
    if placed:
        positions = np.array([f.position if f.position is not None else np.zeros(3) for f in frames])
    else:
        notes.append("the images carry no patient position; stacked in file order at the origin")
        positions = np.outer(np.arange(len(frames), dtype=float), normal)
    along = positions @ normal
    if len(frames) > 1:
        gaps = np.diff(along)
        if (gaps < 1e-3).any():
            raise InputError(f"Series {series.id} has several images at the same position "
                             "(several phases or echoes?); split it before loading.")
        dz = float(np.median(gaps))
        if gaps.max() > MAX_GAP_RATIO * dz:
            raise InputError(f"Series {series.id} has a gap of {gaps.max():.1f} mm between slices "
                             f"(usual spacing {dz:.2f} mm): slices are missing.")
    else:
        dz = float(getattr(series, "thickness", 0) or 1.0)
    arrays, rescales, first = _decode(frames, progress, cache)
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise InputError(f"Series {series.id} mixes image sizes.")
    if len(shape) == 3:  # colour: each of R, G, B placed like a greyscale stack
        channels = [_place(np.stack([a[..., c] for a in arrays]), positions, along, axes,
                           pixel_spacing, normal, dz, notes if c == 0 else [], progress)
                    for c in range(3)]
        stack = np.stack([ch[0] for ch in channels], axis=-1).astype(np.uint8)
        origin = channels[0][1]
        volume = np.transpose(stack, (2, 1, 0, 3))
        direction = np.column_stack([axes[0], axes[1], normal])
        image = make_rgb_image(volume, (pixel_spacing[1], pixel_spacing[0], dz), origin, direction)
        progress(1.0, "Series loaded")
        return LoadedSeries(image, notes, None)
    slopes = np.array([r[0] for r in rescales])
    inters = np.array([r[1] for r in rescales])
    integral = np.allclose(slopes, np.round(slopes)) and np.allclose(inters, np.round(inters))
    stack = np.stack(arrays, axis=0).astype(np.float32 if not integral else np.int32)
    stack = stack * slopes[:, None, None].astype(stack.dtype) + inters[:, None, None].astype(stack.dtype)
    if integral and stack.min() >= -32768 and stack.max() <= 32767:
        stack = stack.astype(np.int16)
    elif integral:
        stack = stack.astype(np.float32)
    stack, origin = _place(stack, positions, along, axes, pixel_spacing, normal, dz, notes, progress)
    # pixel_array is [slice, row, column]; our arrays are [i=column, j=row, k=slice].
    volume = np.transpose(stack, (2, 1, 0))
    direction = np.column_stack([axes[0], axes[1], normal])
    image = make_image(volume, (pixel_spacing[1], pixel_spacing[0], dz), origin, direction)
    progress(1.0, "Series loaded")
    return LoadedSeries(image, notes, _window(first))


def _place(stack: np.ndarray, positions: np.ndarray, along: np.ndarray, axes: np.ndarray,
           pixel_spacing: np.ndarray, normal: np.ndarray, dz: float, notes: list[str],
           progress: Progress) -> tuple[np.ndarray, np.ndarray]:
    """A [slice, row, column] stack on a regular grid: gantry tilt removed, uneven spacing
    resampled (what was done goes in ``notes``). Returns it and the first voxel's position."""
    progress(0.85, "Placing slices")
    shape = stack.shape[1:]
    # Gantry tilt: successive slice origins drift sideways within the slice plane.
    if len(stack) > 1:
        drift = positions - positions[0] - np.outer(along - along[0], normal)
        total = positions[-1] - positions[0]
        tilt = np.degrees(np.arccos(min(1.0, abs(float(total @ normal)) / np.linalg.norm(total))))
        if tilt > TILT_TOLERANCE_DEG:
            stack, grown = _untilt(stack, drift, axes, pixel_spacing)
            positions = positions.copy()
            positions[0] = positions[0] - grown[0] * pixel_spacing[0] * axes[1] \
                - grown[1] * pixel_spacing[1] * axes[0]
            notes.append(f"gantry tilt of {tilt:.2f} degrees removed by shifting slices in-plane"
                         + (f"; the grid grew to {stack.shape[2]} x {stack.shape[1]} pixels so "
                            "no tissue is cut" if grown.any() or stack.shape[1:] != shape
                            else ""))
        gaps = np.diff(along)
        if gaps.max() - gaps.min() > SPACING_TOLERANCE * dz:
            stack, along = _resample_uniform(stack, along, dz)
            notes.append(f"uneven slice spacing ({gaps.min():.3f}-{gaps.max():.3f} mm) resampled "
                         f"to {dz:.3f} mm")
    return stack, positions[0]


def _untilt(stack: np.ndarray, drift: np.ndarray, axes: np.ndarray,
            pixel_spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift each slice in-plane by its sideways drift onto one grid large enough for all
    of them (rounded to the stored integer type, never truncated). Returns the new stack
    and how many (rows, columns) were added before the first row/column."""
    from scipy.ndimage import shift

    d = np.column_stack([drift @ axes[1] / pixel_spacing[0], drift @ axes[0] / pixel_spacing[1]])
    before = np.ceil(np.maximum(0.0, -d.min(axis=0)) - 1e-6).astype(int)
    after = np.ceil(np.maximum(0.0, d.max(axis=0)) - 1e-6).astype(int)
    n, rows, cols = stack.shape
    fill = float(stack.min())
    out = np.full((n, rows + before[0] + after[0], cols + before[1] + after[1]), fill,
                  dtype=stack.dtype)
    integral = np.issubdtype(stack.dtype, np.integer)
    for k in range(n):
        padded = np.full(out.shape[1:], fill, dtype=np.float32)
        padded[before[0]:before[0] + rows, before[1]:before[1] + cols] = stack[k]
        moved = shift(padded, d[k], order=1, cval=fill)
        out[k] = np.round(moved) if integral else moved
    return out, before


def _resample_uniform(stack: np.ndarray, along: np.ndarray, dz: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of slices onto positions along[0] + k * dz."""
    n = int(np.floor((along[-1] - along[0]) / dz + 1e-6)) + 1
    target = along[0] + dz * np.arange(n)
    upper = np.clip(np.searchsorted(along, target, side="right"), 1, len(along) - 1)
    lower = upper - 1
    w = ((target - along[lower]) / (along[upper] - along[lower])).astype(np.float32)
    out = stack[lower] * (1 - w)[:, None, None] + stack[upper] * w[:, None, None]
    if np.issubdtype(stack.dtype, np.integer):
        out = np.round(out).astype(stack.dtype)
    return out, target
