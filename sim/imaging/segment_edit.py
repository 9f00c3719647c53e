"""Editing segments by hand, where thresholds cannot separate structures (a spinal cord, one
vertebra from the next): a sphere brush, scissors through the view, islands, logical
operations and grow-from-seeds, each one undoable step of the case history.

A segmentation is one label-map scene object on the scan's grid. Each segment is its own
uint8 mask array in the image (``segment-<value>``), so segments may overlap and logical
operations between them mean what they say; the active ``labels`` array is the exclusive
label map made from them (a later segment wins where they overlap), which the slice views
draw and which every label-map tool (surfaces from labels, Dice, export) reads. The segment
names and colours are its ``label_table`` like an imported label map's.

An edit changes a few masks inside a box; its undo step keeps only that box of each changed
mask before and after, so a long editing session holds little memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv
from psygnal import Signal
from scipy import ndimage

from sim.errors import InputError
from sim.imaging.grow import SMOOTH_MM, grow_labels
from sim.imaging.segment import _structure, world_to_index
from sim.imaging.volume import affine_of, voxel_array
from sim.model import Case, ObjectKind, SceneObject
from sim.model.undo import FunctionCommand

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

LABELS = "labels"
PALETTE = ((0.9, 0.3, 0.3), (0.3, 0.8, 0.3), (0.3, 0.5, 1.0), (1.0, 0.85, 0.2),
           (0.8, 0.4, 0.9), (0.2, 0.85, 0.85), (1.0, 0.55, 0.2), (0.6, 0.6, 0.6))
GROW_MARGIN_MM = 15.0  # grow-from-seeds works in the seeds' box widened by this

Box = tuple[slice, slice, slice]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap 2|A∩B| / (|A| + |B|) of two masks (1.0 when both are empty)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def _array_name(value: int) -> str:
    return f"segment-{value}"


def _box_of(changed: np.ndarray) -> Box | None:
    boxes = ndimage.find_objects(changed.view(np.uint8))
    return boxes[0] if boxes else None


def sphere_box(image: pv.ImageData, center: ArrayLike, radius_mm: float) -> tuple[Box, np.ndarray] | None:
    """(box of voxels, boolean ball inside the box) of the voxels whose centres lie within
    ``radius_mm`` of the world point ``center``; None when the ball misses the image."""
    aff = affine_of(image)
    ijk = np.linalg.solve(aff, np.append(np.asarray(center, dtype=float), 1.0))[:3]
    reach = radius_mm / np.asarray(image.spacing)
    dims = np.asarray(image.dimensions)
    lo = np.maximum(np.floor(ijk - reach).astype(int), 0)
    hi = np.minimum(np.ceil(ijk + reach).astype(int) + 1, dims)
    if (hi <= lo).any():
        return None
    grids = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij")
    offsets = np.stack([g - c for g, c in zip(grids, ijk, strict=True)], axis=-1)
    world = offsets @ (np.asarray(image.direction_matrix) * np.asarray(image.spacing)).T
    ball = (world**2).sum(axis=-1) <= radius_mm**2
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True)), ball  # type: ignore[return-value]


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which 2D ``points`` (n x 2) lie inside the closed ``polygon`` (k x 2): even-odd rule."""
    from matplotlib.path import Path

    return Path(np.asarray(polygon, dtype=float)).contains_points(np.asarray(points, dtype=float))


def project(image: pv.ImageData, box: Box, world_to_screen: np.ndarray) -> np.ndarray:
    """Screen (x, y) of the centre of every voxel in ``box`` through a 4x4 world -> screen
    matrix (a view's projection, perspective or parallel), voxels in C order of the box."""
    idx = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"), -1)
    idx = idx.reshape(-1, 3).astype(float)
    world = np.c_[idx, np.ones(len(idx))] @ affine_of(image).T
    screen = world @ np.asarray(world_to_screen, dtype=float).T
    return screen[:, :2] / screen[:, 3:4]


class SegmentEditor:
    """The segments of one segmentation object, edited as undoable steps of ``case.history``.

    ``changed(box)`` fires after every edit, undo and redo with the box of voxels touched
    (None: everything, e.g. a segment added or removed).
    """

    changed = Signal(object)

    def __init__(self, case: Case, obj: SceneObject) -> None:
        if not isinstance(obj.data, pv.ImageData):
            raise InputError(f"'{obj.name}' is not an image, so it cannot hold segments.")
        self.case, self.obj = case, obj
        self._stroke: dict | None = None

    # -- making one -----------------------------------------------------------------------
    @classmethod
    def create(cls, case: Case, volume: SceneObject, name: str = "Segmentation") -> SegmentEditor:
        """A new, empty segmentation on ``volume``'s grid, added to the case (one undo step)."""
        image = volume.data
        if not isinstance(image, pv.ImageData):
            raise InputError(f"'{volume.name}' is not a scan, so it cannot be segmented.")
        grid = pv.ImageData(dimensions=image.dimensions, spacing=image.spacing,
                            origin=image.origin, direction_matrix=image.direction_matrix)
        grid.point_data[LABELS] = np.zeros(image.n_points, dtype=np.uint8)
        grid.point_data.active_scalars_name = LABELS
        obj = SceneObject(case.scene.unique_name(name), ObjectKind.LABELMAP, grid, visible=False,
                          segmentation_of=volume.uid)
        case.scene.add(obj)
        return cls(case, obj)

    # -- segments -------------------------------------------------------------------------
    @property
    def image(self) -> pv.ImageData:
        return self.obj.data

    def segments(self) -> dict[int, dict[str, Any]]:
        """value -> {"name", "color"} in order of value."""
        return self.obj.label_table.as_info()

    def value_of(self, name: str) -> int:
        for v, info in self.segments().items():
            if info["name"] == name:
                return v
        raise InputError(f"There is no segment called '{name}'.")

    def mask(self, value: int) -> np.ndarray:
        """Segment ``value``'s voxels as an [i, j, k] uint8 array (a view: edit through steps)."""
        name = _array_name(value)
        if name not in self.image.point_data:
            raise InputError(f"There is no segment {value} in '{self.obj.name}'.")
        return np.asarray(self.image.point_data[name]).reshape(self.image.dimensions, order="F")

    @property
    def labels(self) -> np.ndarray:
        """The exclusive label map drawn on the slices ([i, j, k] view)."""
        return voxel_array(self.image, LABELS)

    def add_segment(self, name: str, color: tuple[float, float, float] | None = None) -> int:
        """A new empty segment; returns its value (one undo step)."""
        segs = self.segments()
        if any(info["name"] == name for info in segs.values()):
            raise InputError(f"There is already a segment called '{name}'.")
        value = max(segs, default=0) + 1
        if value > 255:
            raise InputError("A segmentation holds at most 255 segments.")
        color = tuple(float(c) for c in (color or PALETTE[(value - 1) % len(PALETTE)]))

        def put() -> None:  # an empty mask changes no label: nothing to recompose
            self._put_mask(value, np.zeros(self.image.n_points, np.uint8), recompose=False)

        self._segments_step(f"Add segment '{name}'", put, lambda: self._drop_mask(value), {
            **segs, value: {"name": name, "color": color}})
        return value

    def remove_segment(self, value: int) -> None:
        segs = self.segments()
        if value not in segs:
            raise InputError(f"There is no segment {value} in '{self.obj.name}'.")
        kept = self.mask(value).copy()
        self._segments_step(f"Remove segment '{segs[value]['name']}'",
                            lambda: self._drop_mask(value),
                            lambda: self._put_mask(value, kept.ravel(order="F")),
                            {k: v for k, v in segs.items() if k != value})

    def _segments_step(self, title: str, do: Callable[[], None], undo: Callable[[], None],
                       labels: dict) -> None:
        """Do ``do`` and the new segment table ``labels`` as one undo step."""
        with self.case.history.macro(title):
            do()
            self.case.history.push(FunctionCommand("", undo, do))
            self.obj.label_table = labels

    def _put_mask(self, value: int, flat: np.ndarray, recompose: bool = True) -> None:
        """Segment ``value``'s mask (``flat``, in point order) into the image."""
        self.image.point_data[_array_name(value)] = flat
        self.image.point_data.active_scalars_name = LABELS
        if recompose:
            self._recompose(None)
        self.changed.emit(None)

    def _drop_mask(self, value: int) -> None:
        """Segment ``value``'s mask out of the image."""
        self.image.point_data.pop(_array_name(value), None)
        self._recompose(None)
        self.changed.emit(None)

    # -- the one way masks change ---------------------------------------------------------
    def _recompose(self, box: Box | None) -> None:
        """Rebuild the exclusive label map inside ``box`` (None: everywhere) from the masks."""
        box = box or (slice(None),) * 3
        out = np.zeros(self.labels[box].shape, dtype=np.uint8)
        for value in self.segments():
            if _array_name(value) in self.image.point_data:
                out[self.mask(value)[box] > 0] = value
        self.labels[box] = out
        self.image.Modified()  # saves and views see the change

    @contextmanager
    def step(self, text: str, values: list[int]) -> Iterator[None]:
        """Edit the masks of ``values`` in place inside the block; it becomes one undo step
        holding only the changed box of each mask."""
        before = {v: self.mask(v).copy() for v in values}
        yield
        self._record(text, before)

    def _record(self, text: str, before: dict[int, np.ndarray]) -> Box | None:
        saved, union = [], None
        for v, old in before.items():
            new = self.mask(v)
            box = _box_of(old != new)
            if box is None:
                continue
            saved.append((v, box, old[box].copy(), new[box].copy()))
            union = box if union is None else tuple(
                slice(min(a.start, b.start), max(a.stop, b.stop)) for a, b in zip(union, box, strict=True))
        if not saved:
            return None
        self._recompose(union)
        self.changed.emit(union)

        def apply(which: int) -> Callable[[], None]:
            def run() -> None:
                for v, box, *arrays in saved:
                    self.mask(v)[box] = arrays[which]
                self._recompose(union)
                self.changed.emit(union)
            return run

        self.case.history.push(FunctionCommand(text, apply(0), apply(1)))
        return union

    # -- brush ----------------------------------------------------------------------------
    def begin_stroke(self, value: int, erase: bool = False) -> None:
        """Start a brush stroke on segment ``value`` (erase: take voxels away); every
        :meth:`stroke_to` until :meth:`end_stroke` is one undo step."""
        self._stroke = {"value": value, "erase": erase, "before": self.mask(value).copy(),
                        "box": None}

    def stroke_to(self, center: ArrayLike, radius_mm: float) -> Box | None:
        """Paint (or erase) a ball of ``radius_mm`` at world point ``center``; returns the box
        touched. Views can redraw that box at once; the step is recorded at the end."""
        if self._stroke is None:
            raise InputError("A brush stroke must begin before it paints.")
        hit = sphere_box(self.image, center, radius_mm)
        if hit is None:
            return None
        box, ball = hit
        region = self.mask(self._stroke["value"])[box]
        region[ball] = 0 if self._stroke["erase"] else 1
        self._recompose(box)
        self.changed.emit(box)
        return box

    def end_stroke(self) -> None:
        if self._stroke is None:
            return
        stroke, self._stroke = self._stroke, None
        verb = "Erase" if stroke["erase"] else "Paint"
        name = self.segments().get(stroke["value"], {}).get("name", "?")
        self._record(f"{verb} '{name}'", {stroke["value"]: stroke["before"]})

    def paint(self, value: int, center: ArrayLike, radius_mm: float, erase: bool = False) -> None:
        """One dab of the brush as its own step."""
        self.begin_stroke(value, erase)
        self.stroke_to(center, radius_mm)
        self.end_stroke()

    # -- scissors -------------------------------------------------------------------------
    def scissors(self, values: list[int], polygon: ArrayLike, world_to_screen: ArrayLike, *,
                 inside: bool = True) -> int:
        """Cut segments ``values`` with a polygon drawn on a view: erase every voxel whose centre
        projects inside (``inside``) or outside the polygon (screen coordinates of the view's
        ``world_to_screen`` 4x4 projection), through the whole depth. Returns voxels erased."""
        polygon = np.asarray(polygon, dtype=float)
        if polygon.ndim != 2 or polygon.shape[0] < 3 or polygon.shape[1] != 2:
            raise InputError("Scissors need a polygon of at least three screen points.")
        erased = 0
        with self.step("Scissors", list(values)):
            for v in values:
                m = self.mask(v)
                box = ndimage.find_objects(m)
                if not box or box[0] is None:
                    continue
                box = box[0]
                sub = m[box]
                on = sub.ravel(order="C") > 0
                idx = np.flatnonzero(on)
                xy = project(self.image, box, np.asarray(world_to_screen))[idx]
                cut = inside_polygon(xy, polygon) == inside
                flat = sub.reshape(-1)  # a C-order view of the box copy
                flat[idx[cut]] = 0
                m[box] = flat.reshape(sub.shape)
                erased += int(cut.sum())
        return erased

    # -- islands --------------------------------------------------------------------------
    def islands(self, value: int, connectivity: int = 6) -> tuple[np.ndarray, int]:
        """(island labels, count) of segment ``value``'s connected parts."""
        return ndimage.label(self.mask(value), structure=_structure(connectivity))

    def keep_island(self, value: int, seed: ArrayLike, connectivity: int = 6) -> None:
        """Keep only the island of ``value`` that holds the world point ``seed``."""
        ijk = world_to_index(self.image, seed)
        lab, _ = self.islands(value, connectivity)
        if lab[ijk] == 0:
            raise InputError("The point picked is not in the segment.")
        with self.step("Keep island", [value]):
            self.mask(value)[lab != lab[ijk]] = 0

    def keep_largest_island(self, value: int, connectivity: int = 6) -> None:
        lab, n = self.islands(value, connectivity)
        if n <= 1:
            return
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        with self.step("Keep largest island", [value]):
            self.mask(value)[lab != int(np.argmax(sizes))] = 0

    def remove_small_islands(self, value: int, min_voxels: int, connectivity: int = 6) -> int:
        """Drop the islands smaller than ``min_voxels``; returns how many were dropped."""
        lab, n = self.islands(value, connectivity)
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        small = sizes < min_voxels
        small[0] = False
        if small.any():
            with self.step("Remove small islands", [value]):
                self.mask(value)[small[lab]] = 0
        return int(small.sum())

    def split_islands(self, value: int, min_voxels: int = 1, connectivity: int = 6) -> list[int]:
        """Each island of ``value`` (largest first) becomes its own segment named after it;
        the first stays in ``value``. Returns the values holding the islands."""
        lab, n = self.islands(value, connectivity)
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        order = [int(i) for i in np.argsort(-sizes[1:]) + 1 if sizes[i] >= min_voxels]
        if len(order) <= 1:
            return [value]
        name = self.segments()[value]["name"]
        with self.case.history.macro(f"Split '{name}' into islands"):
            made = [value] + [self.add_segment(f"{name} {i + 2}") for i in range(len(order) - 1)]
            with self.step("Split islands", made):
                m = self.mask(value)
                for target, island in zip(made[1:], order[1:], strict=True):
                    where = lab == island
                    self.mask(target)[where] = 1
                    m[where] = 0
        return made

    # -- logical operations ----------------------------------------------------------------
    def logical(self, op: str, target: int, modifier: int) -> None:
        """``target`` becomes target ∪ modifier ("union"), target ∩ modifier ("intersect") or
        target − modifier ("subtract"); ``modifier`` is left as it was."""
        ops = {"union": np.logical_or, "intersect": np.logical_and,
               "subtract": lambda a, b: a & ~b}
        if op not in ops:
            raise InputError(f"Unknown logical operation '{op}' (choose from {', '.join(ops)}).")
        if target == modifier:
            raise InputError("A logical operation needs two different segments.")
        a, b = self.mask(target) > 0, self.mask(modifier) > 0
        with self.step(f"{op.capitalize()} segments", [target]):
            self.mask(target)[...] = ops[op](a, b)

    # -- grow from seeds --------------------------------------------------------------------
    def grow_from_seeds(self, volume: pv.ImageData, values: list[int] | None = None, *,
                        margin_mm: float = GROW_MARGIN_MM, smoothing_mm: float = SMOOTH_MM) -> Box:
        """Fill the box around the painted seeds with the segments grown from them (two or more
        segments; paint a segment named 'background' round what you want, else the last
        segment is the background): each voxel goes to the segment whose seeds it is nearest
        to along the image (geodesic competitive growing, see :mod:`sim.imaging.grow`), a
        structure only over intensities like its seeds'. Seeds are kept."""
        box, grown = self.compute_grow(volume, values, margin_mm=margin_mm,
                                       smoothing_mm=smoothing_mm)
        self.apply_grown(box, grown)
        return box

    def apply_grown(self, box: Box, grown: dict[int, np.ndarray]) -> None:
        """Put the regions :meth:`compute_grow` made into their segments (one undo step)."""
        with self.step("Grow from seeds", list(grown)):
            for v, region in grown.items():
                self.mask(v)[box] = region

    def compute_grow(self, volume: pv.ImageData, values: list[int] | None = None, *,
                     margin_mm: float = GROW_MARGIN_MM,
                     smoothing_mm: float = SMOOTH_MM) -> tuple[Box, dict[int, np.ndarray]]:
        """The work of :meth:`grow_from_seeds` without changing anything (safe off the GUI
        thread): (box, value -> uint8 region in the box)."""
        values = list(self.segments()) if values is None else list(values)
        seeds = [v for v in values if self.mask(v).any()]
        if len(seeds) < 2:
            raise InputError("Grow from seeds needs at least two painted segments "
                             "(e.g. the structure and a background around it).")
        if tuple(volume.dimensions) != tuple(self.image.dimensions):
            raise InputError("The scan and the segmentation are on different grids.")
        any_seed = np.zeros(self.image.dimensions, dtype=bool)
        for v in seeds:
            any_seed |= self.mask(v) > 0
        (box,) = ndimage.find_objects(any_seed.view(np.uint8))
        pad = np.ceil(margin_mm / np.asarray(self.image.spacing)).astype(int)
        box = tuple(slice(max(s.start - p, 0), min(s.stop + p, n)) for s, p, n in
                    zip(box, pad, self.image.dimensions, strict=True))
        names = self.segments()
        background = [v for v in seeds if "background" in str(names[v].get("name", "")).lower()]
        seeds = [v for v in seeds if v not in background[:1]] + background[:1]  # it goes last
        hu = voxel_array(volume)[box]
        markers = np.zeros(hu.shape, dtype=np.int16)
        for i, v in enumerate(seeds, start=1):
            markers[self.mask(v)[box] > 0] = i  # a later seed wins on overlap
        grown = grow_labels(hu, markers, tuple(self.image.spacing), smooth_mm=smoothing_mm)
        return box, {v: (grown == i).astype(np.uint8) for i, v in enumerate(seeds, start=1)}  # type: ignore[return-value]
