"""Markups: named points, lines, angles, planes and boxes placed in world LPS millimetres.

A markup is an evented object like a scene object, so the 3D view, the table and the
undo history all follow its edits. Control points are stored as tuples (cheap to
compare, safe to share with an undo record); measurements are derived, never stored.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from psygnal import evented

from sim.errors import InputError
from sim.named_list import NamedList

Vec3 = tuple[float, float, float]
MIN_SIZE_MM = 1.0  # a resized plane or ROI never collapses below this
PLANE_CORNERS = ((-1, -1), (1, -1), (1, 1), (-1, 1))
IDENTITY3: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


class MarkupType(StrEnum):
    POINT = "point"  # any number of named points
    LINE = "line"  # two points: a distance
    ANGLE = "angle"  # three points: the angle at the middle one
    PLANE = "plane"  # a centre point plus an orientation (normal = third axis)
    ROI = "roi"  # a box: centre point, orientation and edge lengths
    CURVE = "curve"  # an open path through any number of points
    CLOSED_CURVE = "closed_curve"  # a closed loop through any number of points


# How many control points a complete markup has (None: any number).
POINT_COUNT: dict[MarkupType, int | None] = {
    MarkupType.POINT: None, MarkupType.LINE: 2, MarkupType.ANGLE: 3,
    MarkupType.PLANE: 1, MarkupType.ROI: 1, MarkupType.CURVE: None,
    MarkupType.CLOSED_CURVE: None,
}
CURVES = (MarkupType.CURVE, MarkupType.CLOSED_CURVE)


def _vec3(value: Any, what: str) -> Vec3:
    try:
        v = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be three numbers.") from None
    if len(v) != 3 or not all(math.isfinite(x) for x in v):
        raise InputError(f"{what} must be three finite numbers.")
    return v  # type: ignore[return-value]


def _orientation(value: Any) -> tuple[float, ...]:
    m = np.asarray(value, dtype=float).reshape(-1)
    if m.size != 9 or not np.isfinite(m).all():
        raise InputError("A markup orientation must be a 3x3 matrix of finite numbers.")
    r = m.reshape(3, 3)
    if not np.allclose(r.T @ r, np.eye(3), atol=1e-5):
        raise InputError("A markup orientation must be a rotation (orthonormal axes).")
    return tuple(float(x) for x in m)


@evented
@dataclass(eq=False)
class Markup:
    """One named markup. ``orientation`` is row-major 3x3 whose columns are its axes in LPS."""

    name: str
    type: MarkupType
    points: tuple[Vec3, ...] = ()
    labels: tuple[str, ...] = ()
    color: Vec3 = (1.0, 0.5, 0.5)
    visible: bool = True
    locked: bool = False
    size: Vec3 = (50.0, 50.0, 50.0)
    orientation: tuple[float, ...] = IDENTITY3
    description: str = ""
    uid: str = field(default_factory=lambda: f"mrk-{uuid.uuid4().hex[:12]}")

    def __post_init__(self) -> None:
        try:
            self.type = MarkupType(self.type)
        except ValueError:
            raise InputError(f"'{self.type}' is not a markup type "
                             f"({', '.join(t.value for t in MarkupType)}).") from None
        self.points = tuple(_vec3(p, f"A point of markup '{self.name}'") for p in self.points)
        limit = POINT_COUNT[self.type]
        if limit is not None and len(self.points) > limit:
            raise InputError(f"A {self.type} markup has at most {limit} point(s); "
                             f"'{self.name}' has {len(self.points)}.")
        self.labels = tuple(str(x) for x in self.labels)
        self.color = _vec3(self.color, f"The colour of markup '{self.name}'")
        self.size = _vec3(self.size, f"The size of markup '{self.name}'")
        self.orientation = _orientation(self.orientation)

    def label(self, index: int) -> str:
        """The label of control point ``index``: its own, or ``<name>-<n>``."""
        if index < len(self.labels) and self.labels[index]:
            return self.labels[index]
        return f"{self.name}-{index + 1}"

    # -- geometry -----------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        need = POINT_COUNT[self.type]
        return len(self.points) >= (1 if need is None else need)

    @property
    def axes(self) -> np.ndarray:
        """3x3 array whose columns are the markup's x, y, z axes in LPS."""
        return np.asarray(self.orientation, dtype=float).reshape(3, 3)

    @property
    def normal(self) -> np.ndarray:
        return self.axes[:, 2].copy()

    def measurement(self) -> dict[str, Any] | None:
        """What this markup measures (name, value, units), or None while incomplete."""
        if not self.complete:
            return None
        p = np.asarray(self.points, dtype=float)
        if self.type is MarkupType.LINE:
            return {"name": "length", "value": float(np.linalg.norm(p[1] - p[0])), "units": "mm"}
        if self.type in CURVES:
            return {"name": "length", "value": self.path_length(), "units": "mm"}
        if self.type is MarkupType.ANGLE:
            return {"name": "angle", "value": angle_deg(p[0], p[1], p[2]), "units": "deg"}
        if self.type is MarkupType.ROI:
            return {"name": "volume", "value": float(np.prod(self.size)), "units": "mm3"}
        if self.type is MarkupType.PLANE:
            return {"name": "normal", "value": [round(float(x), 6) for x in self.normal],
                    "units": ""}
        return {"name": "count", "value": len(self.points), "units": "points"}

    def measurement_text(self) -> str:
        m = self.measurement()
        if m is None:
            return "(placing…)"
        if m["name"] == "length":
            return f"{m['value']:.2f} mm"
        if m["name"] == "angle":
            return f"{m['value']:.1f}°"
        if m["name"] == "volume":
            return f"{m['value'] / 1000.0:.2f} cm³"
        if m["name"] == "normal":
            return "normal (" + ", ".join(f"{v:.2f}" for v in m["value"]) + ")"
        return f"{m['value']} point(s)"

    def path_points(self) -> np.ndarray:
        """The points a curve passes through in order (a closed curve repeats its first)."""
        p = np.asarray(self.points, dtype=float).reshape(-1, 3)
        if self.type is MarkupType.CLOSED_CURVE and len(p) > 2:
            p = np.vstack([p, p[:1]])
        return p

    def path_length(self) -> float:
        """Length of the straight segments joining the control points, in mm."""
        p = self.path_points()
        return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0

    # -- editing helpers (each is one evented assignment, so one undo step) -------------
    def add_point(self, position: Any) -> int:
        """Append a control point; returns its index. (Labels default to ``<name>-<n>``.)"""
        limit = POINT_COUNT[self.type]
        if limit is not None and len(self.points) >= limit:
            raise InputError(f"Markup '{self.name}' already has its {limit} point(s).")
        self.points = (*self.points, _vec3(position, "A markup point"))
        return len(self.points) - 1

    def move_point(self, index: int, position: Any) -> None:
        if not 0 <= index < len(self.points):
            raise InputError(f"Markup '{self.name}' has no point {index}.")
        pts = list(self.points)
        pts[index] = _vec3(position, "A markup point")
        self.points = tuple(pts)

    # -- resizing (planes and ROIs) -----------------------------------------------------
    def resize_handles(self) -> np.ndarray:
        """World positions (k x 3) of the handles that resize a plane (its four corners) or
        an ROI (its six face centres: -x, +x, -y, +y, -z, +z of its own axes)."""
        if not self.points or self.type not in (MarkupType.PLANE, MarkupType.ROI):
            return np.zeros((0, 3))
        c, ax, half = np.asarray(self.points[0]), self.axes, np.asarray(self.size) / 2.0
        if self.type is MarkupType.PLANE:
            return np.array([c + sx * half[0] * ax[:, 0] + sy * half[1] * ax[:, 1]
                             for sx, sy in PLANE_CORNERS])
        return np.array([c + s * half[i] * ax[:, i] for i in range(3) for s in (-1, 1)])

    def resized(self, handle: int, position: Any, centre: Any = None,
                size: Any = None) -> tuple[Vec3, Vec3]:
        """(centre, size) after dragging resize handle ``handle`` to ``position``.

        ``centre``/``size``: the markup's when the drag began (defaults: now). A plane
        stays centred (a corner sets width and height); an ROI keeps the opposite face
        where it was, so its centre follows half-way.
        """
        c = np.asarray(self.points[0] if centre is None else centre, dtype=float)
        new = np.asarray(self.size if size is None else size, dtype=float).copy()
        p, ax = np.asarray(_vec3(position, "A handle position")), self.axes
        if self.type is MarkupType.PLANE:
            d = p - c
            new[0] = max(MIN_SIZE_MM, 2.0 * abs(float(d @ ax[:, 0])))
            new[1] = max(MIN_SIZE_MM, 2.0 * abs(float(d @ ax[:, 1])))
        elif self.type is MarkupType.ROI and 0 <= handle < 6:
            i, s = handle // 2, (1.0 if handle % 2 else -1.0)
            opposite = c - s * new[i] / 2.0 * ax[:, i]
            new[i] = max(MIN_SIZE_MM, s * float((p - opposite) @ ax[:, i]))
            c = opposite + s * new[i] / 2.0 * ax[:, i]
        else:
            raise InputError(f"Markup '{self.name}' has no resize handle {handle}.")
        return _vec3(c, "A centre"), _vec3(new, "A size")

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "type": str(self.type), "points": [list(p) for p in self.points],
                "measurement": self.measurement()}


def angle_deg(a: np.ndarray, vertex: np.ndarray, b: np.ndarray) -> float:
    """The angle at ``vertex`` between the rays to ``a`` and ``b``, in degrees."""
    u, v = np.asarray(a) - vertex, np.asarray(b) - vertex
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        return 0.0
    # atan2 of cross/dot stays accurate near 0 and 180 degrees where acos does not.
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v)), np.dot(u, v))))


class MarkupList(NamedList[Markup]):
    """The case's ordered markups, evented like :class:`~sim.model.scene.Scene`."""

    UID_PREFIX = "mrk"

    def __getitem__(self, key: int | str) -> Markup:
        if isinstance(key, int):
            return self._items[key]
        for m in self._items:
            if m.name == key:
                return m
        raise KeyError(key)

    def _already_in(self, markup: Markup) -> str:
        return f"Markup '{markup.name}' is already in the case."
