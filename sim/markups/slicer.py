"""3D Slicer markups JSON (``.mrk.json``) import and export.

Follows Slicer's published markups schema (v1.0.0-v1.0.3): ``markups`` is a list of
nodes (``Fiducial``, ``Line``, ``Angle``, ``Curve``, ``ClosedCurve``, ``Plane``,
``ROI``), each with ``controlPoints`` whose positions are in ``coordinateSystem``
(LPS, the schema's default, or RAS) and ``coordinateUnits`` (mm or um). Twinsight
keeps LPS millimetres; RAS files are converted on the way in and, on request, out.

Planes are read the way Slicer's ``vtkMRMLMarkupsPlaneJsonStorageNode`` reads them:
the plane's frame is ``baseToNode @ objectToBase`` (in an LPS file Slicer negates the
first two rows of each matrix, so the reader undoes that), its extent comes from
``planeBounds`` (``[xmin, xmax, ymin, ymax]`` in the plane's own frame; its middle is the
plane's centre) or else ``size``. Files without the matrices (hand-written or older
ones) fall back to ``orientation``, then ``normal``, then the control points following
``planeType``: ``3Points`` (Slicer's default when ``planeType`` is absent), ``planeFit``
(least-squares plane through the points, origin at their centroid) or ``pointNormal``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.geometry.rigid import nearest_rotation
from sim.io.json_file import read_json
from sim.markups.model import POINT_COUNT, Markup, MarkupType
from sim.model.atomic import write_file_atomic

SCHEMA_URL = ("https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/"
              "Markups/Resources/Schema/markups-schema-v1.0.3.json#")
TO_SLICER = {MarkupType.POINT: "Fiducial", MarkupType.LINE: "Line", MarkupType.ANGLE: "Angle",
             MarkupType.PLANE: "Plane", MarkupType.ROI: "ROI", MarkupType.CURVE: "Curve",
             MarkupType.CLOSED_CURVE: "ClosedCurve"}
FROM_SLICER = {v: k for k, v in TO_SLICER.items()}
# LPS <-> RAS: negate x and y (the same matrix both ways; determinant +1).
FLIP = np.diag([-1.0, -1.0, 1.0])
FLIP4 = np.diag([-1.0, -1.0, 1.0, 1.0])
UNITS = {"mm": 1.0, "um": 1e-3}
MAX_BYTES = 64 << 20


def _frame(system: Any, where: Path, name: str) -> np.ndarray:
    system = "LPS" if system is None else str(system).upper()
    if system == "LPS":
        return np.eye(3)
    if system == "RAS":
        return FLIP
    raise FileFormatError(where, f"markup '{name}' uses coordinate system '{system}' "
                                 "(only LPS and RAS are defined)")


def _units(value: Any, where: Path, name: str) -> float:
    if isinstance(value, list) and value:
        value = value[0]
    value = "mm" if value is None else str(value)
    if value not in UNITS:
        raise FileFormatError(where, f"markup '{name}' uses unknown units '{value}'")
    return UNITS[value]


def _vec(value: Any, n: int, where: Path, what: str) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        v = np.zeros(0)
    if v.size != n or not np.isfinite(v).all():
        raise FileFormatError(where, f"{what} must be {n} finite numbers")
    return v


def _orthonormal(z: np.ndarray, x_hint: np.ndarray | None = None) -> np.ndarray:
    """Axes (columns) with ``z`` as the third; x follows the hint where it can."""
    z = z / np.linalg.norm(z)
    if x_hint is None or np.linalg.norm(np.cross(z, x_hint)) < 1e-6:
        x_hint = np.eye(3)[int(np.argmin(np.abs(z)))]
    x = x_hint - np.dot(x_hint, z) * z
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def _import_one(node: dict, index: int, where: Path, notes: list[str]) -> Markup | None:
    if not isinstance(node, dict):
        raise FileFormatError(where, f"markup {index + 1} is not an object")
    kind = node.get("type")
    name = str(node.get("name") or f"{kind or 'Markup'}")
    if kind not in FROM_SLICER:
        notes.append(f"skipped '{name}': Slicer type '{kind}' is not supported")
        return None
    mtype = FROM_SLICER[kind]
    frame = _frame(node.get("coordinateSystem"), where, name)
    scale = _units(node.get("coordinateUnits"), where, name)
    points, labels = [], []
    cps = node.get("controlPoints", [])
    if not isinstance(cps, list):
        raise FileFormatError(where, f"markup '{name}': controlPoints must be a list")
    for j, cp in enumerate(cps):
        if not isinstance(cp, dict):
            raise FileFormatError(where, f"markup '{name}': control point {j + 1} is invalid")
        if cp.get("positionStatus", "defined") != "defined" or "position" not in cp:
            continue  # Slicer keeps placeholders for points not placed yet
        p = _vec(cp["position"], 3, where, f"markup '{name}' point {j + 1}")
        points.append(tuple(float(x) for x in frame @ p * scale))
        labels.append(str(cp.get("label", "")))
    display = node.get("display") if isinstance(node.get("display"), dict) else {}
    color = display.get("selectedColor", display.get("color", (1.0, 0.5, 0.5)))
    kwargs: dict[str, Any] = {
        "color": tuple(float(np.clip(c, 0, 1)) for c in _vec(color, 3, where, "colour")),
        "visible": bool(display.get("visibility", True)),
        "locked": bool(node.get("locked", False)),
    }
    if mtype is MarkupType.PLANE:
        center, axes, size = _plane(node, frame, scale, points, where, name, notes)
        kwargs |= {"size": tuple(float(abs(x)) for x in size),
                   "orientation": tuple(axes.reshape(-1))}
        points, labels = [tuple(float(x) for x in center)], labels[:1]
    elif mtype is MarkupType.ROI:
        center = (frame @ _vec(node["center"], 3, where, f"markup '{name}' centre") * scale
                  if "center" in node else (np.asarray(points[0]) if points else None))
        if center is None:
            raise FileFormatError(where, f"markup '{name}' has neither a centre nor a point")
        axes = np.eye(3)
        if node.get("roiType", "Box") == "BoundingBox" and points:
            p = np.asarray(points)
            center, size = (p.min(0) + p.max(0)) / 2, p.max(0) - p.min(0)
        else:
            size = _vec(node.get("size", (50.0, 50.0, 50.0)), 3, where,
                        f"markup '{name}' size") * scale
            if "orientation" in node:
                axes = nearest_rotation(frame @ _vec(node["orientation"], 9, where,
                                              f"markup '{name}' orientation").reshape(3, 3))
        kwargs |= {"size": tuple(float(abs(x)) for x in size),
                   "orientation": tuple(axes.reshape(-1))}
        points, labels = [tuple(float(x) for x in center)], labels[:1]
    limit = {MarkupType.LINE: 2, MarkupType.ANGLE: 3}.get(mtype)
    if limit is not None and len(points) > limit:
        notes.append(f"'{name}': kept the first {limit} of {len(points)} points")
        points, labels = points[:limit], labels[:limit]
    return Markup(name=name, type=mtype, points=tuple(points), labels=tuple(labels), **kwargs)


def _matrix(node: dict, key: str, frame: np.ndarray, where: Path, name: str) -> np.ndarray:
    """A plane matrix as Slicer holds it (RAS): in an LPS file Slicer negated its first
    two rows (``vtkMRMLMarkupsJsonWriter::WriteMatrix4x4Property``), so negate them back."""
    m = _vec(node[key], 16, where, f"markup '{name}' {key}").reshape(4, 4)
    if np.abs(m[3] - (0, 0, 0, 1)).max() > 1e-6 or abs(np.linalg.det(m[:3, :3])) < 1e-9:
        raise FileFormatError(where, f"markup '{name}': {key} is not a 4x4 rigid transform")
    return m if frame is FLIP else FLIP4 @ m


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector ``a`` onto unit vector ``b``."""
    v, c = np.cross(a, b), float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def _base_from_points(node: dict, points: list, where: Path, name: str,
                      notes: list[str]) -> np.ndarray | None:
    """Slicer's base frame (4x4, LPS) from the control points by ``planeType``, or None."""
    ptype = str(node.get("planeType", "3Points"))  # Slicer's default for old files
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    base = np.eye(4)
    if ptype == "3Points" and len(p) >= 3:
        x, z = p[1] - p[0], np.cross(p[1] - p[0], p[2] - p[0])
        if np.linalg.norm(x) < 1e-9 or np.linalg.norm(z) < 1e-9:
            raise FileFormatError(where, f"markup '{name}': its three plane points are collinear")
        x, z = x / np.linalg.norm(x), z / np.linalg.norm(z)
        base[:3, :3], base[:3, 3] = np.column_stack([x, np.cross(z, x), z]), p[0]
        return base
    if ptype == "planeFit" and len(p) >= 3:
        c = p.mean(0)
        n = np.linalg.svd(p - c)[2][2]
        # Slicer turns its previous frame (identity in RAS) by the smallest rotation onto the
        # fitted normal, keeping the normal on the side of the previous z axis.
        n = -n if n[2] < 0 else n
        base[:3, :3], base[:3, 3] = _min_rotation(np.array([0.0, 0.0, 1.0]), n) @ FLIP, c
        return base
    if ptype in ("3Points", "planeFit") and len(p):
        notes.append(f"'{name}': a {ptype} plane with {len(p)} point(s) was read as point-normal")
    return None


def _plane(node: dict, frame: np.ndarray, scale: float, points: list, where: Path, name: str,
           notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, axes, size) of a Slicer plane in LPS mm; see the module notes."""
    def vec(key: str, n: int = 3) -> np.ndarray:
        return _vec(node[key], n, where, f"markup '{name}' {key}")

    object_to_base = (_matrix(node, "objectToBase", frame, where, name)  # RAS, like Slicer
                      if "objectToBase" in node else np.eye(4))
    if "baseToNode" in node:
        base_ras = _matrix(node, "baseToNode", frame, where, name)
        base_ras[:3, 3] *= scale
    else:
        base = _base_from_points(node, points, where, name, notes)  # LPS
        if base is None:
            base = np.eye(4)
            base[:3, :3] = FLIP  # Slicer's default frame: identity in RAS
            if "objectToBase" not in node and "orientation" in node:
                base[:3, :3] = nearest_rotation(frame @ vec("orientation", 9).reshape(3, 3))
            elif "objectToBase" not in node and "normal" in node:
                normal = frame @ vec("normal")
                if np.linalg.norm(normal) == 0:
                    raise FileFormatError(where, f"markup '{name}' has a zero normal")
                base[:3, :3] = _orthonormal(normal)
            if "center" in node:
                base[:3, 3] = frame @ vec("center") * scale
            elif points:
                base[:3, 3] = points[0]
            else:
                raise FileFormatError(where, f"markup '{name}' has neither a centre nor a point")
        base_ras = FLIP4 @ base
    object_to_base[:3, 3] *= scale
    m = FLIP4 @ base_ras @ object_to_base  # object -> LPS
    if "planeBounds" in node:
        b = vec("planeBounds", 4) * scale
        if b[1] < b[0] or b[3] < b[2]:
            raise FileFormatError(where, f"markup '{name}': planeBounds must be "
                                         "[xmin, xmax, ymin, ymax] with min <= max")
        size = np.array([b[1] - b[0], b[3] - b[2], 0.0])
        middle = np.array([(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, 0.0])
    elif "size" in node:
        raw = node["size"]
        if isinstance(raw, list) and len(raw) == 2:
            raw = [*raw, 0.0]
        size, middle = np.abs(_vec(raw, 3, where, f"markup '{name}' size")) * scale, np.zeros(3)
    elif len(points) >= 3:  # Slicer's automatic size: twice the farthest point on each axis
        local = (np.asarray(points) - m[:3, 3]) @ m[:3, :3]
        size = np.array([2 * np.abs(local[:, 0]).max(), 2 * np.abs(local[:, 1]).max(), 0.0])
        middle = np.zeros(3)
    else:
        size, middle = np.array([50.0, 50.0, 0.0]), np.zeros(3)
    return m[:3, :3] @ middle + m[:3, 3], nearest_rotation(m[:3, :3]), size


def import_markups(path: str | Path) -> tuple[list[Markup], list[str]]:
    """The markups in a Slicer ``.mrk.json`` file (LPS mm), and notes on what was adapted."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such file")
    doc = read_json(path, "markups", max_bytes=MAX_BYTES)
    if not isinstance(doc, dict) or not isinstance(doc.get("markups"), list):
        raise FileFormatError(path, "it is not a Slicer markups file (no 'markups' list)")
    notes: list[str] = []
    out = []
    for i, node in enumerate(doc["markups"]):
        try:
            m = _import_one(node, i, path, notes)
        except InputError as exc:
            if isinstance(exc, FileFormatError):
                raise
            raise FileFormatError(path, f"markup {i + 1} is invalid ({exc})") from None
        if m is not None:
            out.append(m)
    return out, notes


def _measurement(m: Markup) -> list[dict[str, Any]]:
    meas = m.measurement()
    if meas is None or m.type not in (MarkupType.LINE, MarkupType.ANGLE, MarkupType.ROI):
        return []
    units = {"deg": "deg", "mm": "mm", "mm3": "mm3"}[meas["units"]]
    return [{"name": meas["name"], "enabled": True, "value": meas["value"], "units": units,
             "printFormat": "%-#4.4g%s"}]


def _node(m: Markup, flip: np.ndarray, system: str) -> dict[str, Any]:
    cps = [{"id": str(i + 1), "label": m.label(i), "description": "", "associatedNodeID": "",
            "position": [float(x) for x in flip @ np.asarray(p)],
            "orientation": [float(x) for x in (flip @ np.eye(3)).reshape(-1)],
            "selected": True, "locked": m.locked, "visibility": True,
            "positionStatus": "defined"} for i, p in enumerate(m.points)]
    node: dict[str, Any] = {
        "type": TO_SLICER[m.type], "name": m.name, "coordinateSystem": system,
        "coordinateUnits": "mm", "locked": m.locked,
        "fixedNumberOfControlPoints": POINT_COUNT[m.type] is not None,
        "labelFormat": "%N-%d", "lastUsedControlPointNumber": len(cps), "controlPoints": cps,
        "measurements": _measurement(m),
        "display": {"visibility": m.visible, "opacity": 1.0, "color": list(m.color),
                    "selectedColor": list(m.color), "pointLabelsVisibility": True,
                    "propertiesLabelVisibility": True, "glyphType": "Sphere3D"},
    }
    axes = flip @ m.axes
    if m.type in (MarkupType.PLANE, MarkupType.ROI) and m.points:
        center = [float(x) for x in flip @ np.asarray(m.points[0])]
        node["center"] = center
        node["size"] = list(m.size)
        node["orientation"] = [float(x) for x in axes.reshape(-1)]
        if m.type is MarkupType.PLANE:
            base = np.eye(4)
            base[:3, :3], base[:3, 3] = axes, center
            w, h = m.size[0] / 2.0, m.size[1] / 2.0
            node |= {"planeType": "pointNormal", "sizeMode": "absolute",
                     "autoScalingSizeFactor": 1.0, "normal": [float(x) for x in axes[:, 2]],
                     # Slicer negates the first two rows of its (RAS) matrices in LPS files.
                     "planeBounds": [-w, w, -h, h],
                     "objectToBase": (np.eye(4) if system == "RAS" else FLIP4).reshape(-1)
                     .tolist(),
                     "baseToNode": base.reshape(-1).tolist()}
        else:
            node["roiType"] = "Box"
            node["insideOut"] = False
    return node


def export_markups(markups: list[Markup], path: str | Path, coordinate_system: str = "LPS") -> Path:
    """Write ``markups`` as a Slicer ``.mrk.json`` (atomically), in LPS or RAS."""
    system = coordinate_system.upper()
    if system not in ("LPS", "RAS"):
        raise InputError("The coordinate system must be LPS or RAS.")
    flip = FLIP if system == "RAS" else np.eye(3)
    doc = {"@schema": SCHEMA_URL, "markups": [_node(m, flip, system) for m in markups]}
    text = json.dumps(doc, indent=2, allow_nan=False)
    return write_file_atomic(Path(path), lambda fh: fh.write(text.encode("utf-8")))
