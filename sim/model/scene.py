"""Scene objects and the scene that holds them.

Views subscribe to the events here and never own state: a ``SceneObject``
emits ``obj.events.<field>`` when a field changes, and a ``Scene`` emits
``added``/``removed``/``selection_changed``. Scripts drive the same objects.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv
from psygnal import Signal, evented

from sim.errors import InputError
from sim.geometry import rigid
from sim.markups.model import MarkupList
from sim.model import object_fields as of
from sim.model import transform as tf
from sim.model.display import FIELDS, Display, as_display, split_legacy
from sim.named_list import NamedList

if TYPE_CHECKING:
    from sim.model.undo import CaseHistory

_ids = itertools.count(1)
LEGACY_KEYS = frozenset(FIELDS) | {"transform", "texture_shown"}


class ObjectKind(StrEnum):
    """What an object is; each kind has one render adapter."""

    VOLUME = "volume"  # a scalar image (CT, MR) in world LPS mm
    LABELMAP = "labelmap"  # an integer label image
    SURFACE = "surface"  # a triangulated surface (anatomy or imported mesh)
    DEVICE = "device"  # an implant or instrument
    PART = "part"  # a factory part or asset
    POINTS = "points"  # a point cloud (3D scan, measured points)


def _identity() -> np.ndarray:
    return _frozen(np.eye(4))


def _frozen(m: np.ndarray) -> np.ndarray:
    m = np.array(m, dtype=float)
    m.flags.writeable = False  # moved only by assignment, so every move is an event
    return m


@evented
@dataclass(eq=False)
class SceneObject:
    """One named thing in a case: data plus how it is shown.

    ``transform`` (a rigid 4x4, LPS mm) places the data in the world without touching
    it; ``display`` holds how it is drawn (colour field, colour range, window ...);
    ``label_table`` names a label map's values, ``trajectory`` is a planned device's entry
    and target, ``tracking`` the live tracker device driving it, ``texture`` an image
    drawn on it, ``live_source`` the live stream that made it and ``segmentation_of`` the
    uid of the scan a segmentation belongs to (see :mod:`sim.model.object_fields`);
    ``metadata`` is free-form provenance
    (source format, modality, what it was made from). Every field is evented
    (``obj.events.transform`` ...), checked on assignment and recorded by the undo history.
    """

    name: str
    kind: ObjectKind
    data: pv.DataSet = field(repr=False)
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    opacity: float = 1.0
    visible: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    # Globally unique, so objects from different cases never collide when combined.
    uid: str = field(default_factory=lambda: f"obj-{uuid.uuid4().hex[:12]}")
    transform: np.ndarray = field(default_factory=_identity, repr=False)
    display: Display = field(default_factory=Display)
    label_table: of.LabelTable = field(default_factory=of.LabelTable)
    trajectory: of.Trajectory | None = None
    tracking: of.Tracking | None = None
    texture: np.ndarray | None = field(default=None, repr=False)
    live_source: of.LiveSource | None = None
    segmentation_of: str | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "transform":  # checked here, so no caller can store a shear or a list
            value = _frozen(rigid.check_rigid(value))
        elif name == "display":
            value = as_display(value)
        elif name in of.CHECKS:
            value = of.CHECKS[name](value)
        object.__setattr__(self, name, value)

    def set_live(self, **changes: Any) -> None:
        """Apply a live stream's update (``tracking`` pose, ``texture`` frame): checked like
        an assignment, but no event and no undo step. The stream moves the mesh in place too,
        which neither records (views follow the data's ``Modified()``), and undoing one frame
        of a 60 Hz stream would leave the field and the mesh disagreeing."""
        for name, value in changes.items():
            if name not in of.LIVE_FIELDS:
                raise InputError(f"'{name}' is not a field a live stream sets.")
            object.__setattr__(self, name, of.CHECKS[name](value))

    def __post_init__(self) -> None:
        self.kind = ObjectKind(self.kind)
        if any(k in self.metadata for k in LEGACY_KEYS):  # built the pre-schema-3 way
            self.metadata, display, transform = split_legacy(self.metadata)
            self.display = self.display.replace(**display)
            if transform is not None:
                self.transform = transform
        if any(k in self.metadata for k in of.LEGACY_KEYS):  # built the pre-schema-4 way
            self.metadata, typed = of.split_typed(self.metadata)
            for key, value in typed.items():
                current = getattr(self, key)
                if current is None or (key == "label_table" and not current):  # typed wins
                    setattr(self, key, value)
        if not 0.0 <= self.opacity <= 1.0:
            raise InputError(f"Opacity of '{self.name}' must be between 0 and 1.")

    @property
    def has_transform(self) -> bool:
        return not rigid.is_identity(self.transform)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (sizes, bounds in mm)."""
        d = self.data
        out: dict[str, Any] = {
            "name": self.name,
            "kind": str(self.kind),
            "points": int(d.n_points),
            "cells": int(d.n_cells),
            "bounds_mm": [round(float(b), 3) for b in d.bounds],
        }
        if isinstance(d, pv.ImageData):
            out["dimensions"] = [int(n) for n in d.dimensions]
            out["spacing_mm"] = [round(float(s), 4) for s in d.spacing]
            scalars = d.active_scalars
            if scalars is not None and scalars.size:
                out["range"] = [float(scalars.min()), float(scalars.max())]
            from sim.imaging.timeseries import frame_count

            if frame_count(d) > 1:  # a time series (4D): the range is of the frame shown
                out["time_points"] = frame_count(d)
        elif isinstance(d, pv.PolyData) and d.n_cells:
            out["triangles"] = int(d.n_cells)
            out["area_mm2"] = round(float(d.area), 3)
        return out


class Scene(NamedList[SceneObject]):
    """An ordered collection of scene objects with a single selection."""

    selection_changed = Signal(object)
    UID_PREFIX = "obj"

    def __init__(self) -> None:
        super().__init__()
        self._selected: SceneObject | None = None

    def __getitem__(self, name: str) -> SceneObject:
        for obj in self._items:
            if obj.name == name:
                return obj
        raise KeyError(name)

    def remove(self, obj: SceneObject) -> None:
        if obj is self._selected:
            self.select(None)
        super().remove(obj)

    def _already_in(self, obj: SceneObject) -> str:
        return f"'{obj.name}' is already in this scene."

    @property
    def selected(self) -> SceneObject | None:
        return self._selected

    def select(self, obj: SceneObject | None) -> None:
        if obj is not None and obj not in self._items:
            raise InputError(f"'{obj.name}' is not in this scene.")
        if obj is not self._selected:
            self._selected = obj
            self.selection_changed.emit(obj)

    def bounds(self, visible_only: bool = True) -> tuple[float, ...] | None:
        """Axis-aligned world bounds (mm) of the (visible) objects, transforms applied, or
        None if empty."""
        objs = [o for o in self._items if o.visible or not visible_only]
        if not objs:
            return None
        b = [tf.world_bounds(o.data.bounds, o.transform) for o in objs]
        return (
            min(x[0] for x in b), max(x[1] for x in b),
            min(x[2] for x in b), max(x[3] for x in b),
            min(x[4] for x in b), max(x[5] for x in b),
        )


@dataclass(eq=False)
class Case:
    """A scene plus what it is about.

    ``anatomical`` cases live in patient LPS millimetres and show L/R/A/P/S/I
    orientation labels; factory cases live in the part's own frame (mm).
    """

    name: str = "Untitled"
    anatomical: bool = True
    scene: Scene = field(default_factory=Scene)
    source: str | None = None
    description: str = ""
    markups: MarkupList = field(default_factory=MarkupList)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: datetime | None = None  # when the case was first saved
    # Named JSON-compatible documents saved with the case (e.g. "plans", "scenarios",
    # "link"): each is written as sections/<name>.json. Not tracked by undo.
    sections: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._history = None

    @property
    def history(self) -> CaseHistory:
        """The case's undo history (:class:`sim.model.undo.CaseHistory`), made on first use.

        It records every edit made from then on, by the GUI or by a script.
        """
        if self._history is None:
            from sim.model.undo import CaseHistory

            self._history = CaseHistory(self)
        return self._history

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "anatomical": self.anatomical,
            "frame": "LPS (mm)" if self.anatomical else "part (mm)",
            "description": self.description,
            "objects": [o.summary() for o in self.scene],
            "markups": [m.summary() for m in self.markups],
        }
