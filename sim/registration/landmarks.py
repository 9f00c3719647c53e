"""Paired-point (landmark, fiducial) registration, rigid or with uniform scale.

Umeyama's closed form (1991) of the least-squares problem; the fiducial
registration error (FRE) is the residual distance of each pair after the fit.
Pairs may come from markups, a file, or a tracked pointer.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.geometry.rigid import apply_transform, fit_rigid

MAX_LANDMARK_FILE = 10_000_000


@dataclass(frozen=True)
class LandmarkResult:
    """The fitted transform (moving -> fixed) and its fiducial registration errors."""

    matrix: np.ndarray
    scale: float
    fre: np.ndarray  # per pair, mm
    names: list[str] = field(default_factory=list)

    @property
    def fre_rms(self) -> float:
        return float(np.sqrt(np.mean(self.fre ** 2)))

    def summary(self) -> dict[str, Any]:
        names = self.names or [f"P{i + 1}" for i in range(len(self.fre))]
        return {
            "method": "paired-point (similarity)" if self.scale != 1.0 else "paired-point (rigid)",
            "matrix": self.matrix.tolist(),
            "scale": self.scale,
            "fre_rms_mm": self.fre_rms,
            "fre_max_mm": float(self.fre.max()),
            "fre_mm": {n: float(e) for n, e in zip(names, self.fre, strict=True)},
        }


def paired_point(moving: np.ndarray, fixed: np.ndarray, scale: bool = False,
                 names: list[str] | None = None) -> LandmarkResult:
    """Best rigid (or similarity, with ``scale``) transform taking ``moving`` onto ``fixed``."""
    a = np.asarray(moving, dtype=np.float64)
    b = np.asarray(fixed, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or a.shape != b.shape:
        raise InputError("Landmarks must be two equally long lists of 3D points.")
    if len(a) < 3:
        raise InputError(f"Paired-point registration needs at least 3 pairs, got {len(a)}.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputError("Landmark coordinates must be finite numbers.")
    a0, b0 = a - a.mean(axis=0), b - b.mean(axis=0)
    # Collinear points leave the rotation about their line undetermined.
    sv = np.linalg.svd(a0, compute_uv=False)
    if sv[1] <= 1e-9 * max(sv[0], 1e-300) or np.linalg.svd(b0, compute_uv=False)[1] <= 1e-9 * sv[0]:
        raise InputError("The landmarks are collinear (or coincide), so the rotation is undetermined.")
    m, c = fit_rigid(a, b, scale=scale)
    fre = np.linalg.norm(apply_transform(m, a) - b, axis=1)
    return LandmarkResult(m, c, fre, list(names or []))


def read_landmarks(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read landmark pairs: (moving (n, 3), fixed (n, 3), names).

    Accepted: JSON ``{"moving": [[x,y,z],...], "fixed": [...], "names": [...]}`` or
    ``{"pairs": [{"name":..., "moving": [...], "fixed": [...]}, ...]}``; CSV/TXT with
    six numbers a row (mx, my, mz, fx, fy, fz), optionally a leading name column and
    a header row.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such file")
    if path.stat().st_size > MAX_LANDMARK_FILE:
        raise FileFormatError(path, "it is far too large for a landmark file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FileFormatError(path, "it is not a text file") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        moving, fixed, names = _landmarks_from_json(path, text)
    else:
        moving, fixed, names = _landmarks_from_csv(path, text)
    if len(moving) < 3:
        raise FileFormatError(path, f"it holds {len(moving)} landmark pairs; at least 3 are needed")
    if not (np.isfinite(moving).all() and np.isfinite(fixed).all()):
        raise FileFormatError(path, "it contains non-finite coordinates")
    return moving, fixed, names


def _landmarks_from_json(path: Path, text: str):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(path, f"it is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise FileFormatError(path, "it must hold a JSON object with 'moving' and 'fixed' lists")
    try:
        if "pairs" in doc:
            pairs = doc["pairs"]
            names = [str(p.get("name", f"P{i + 1}")) for i, p in enumerate(pairs)]
            moving = np.array([p["moving"] for p in pairs], dtype=np.float64)
            fixed = np.array([p["fixed"] for p in pairs], dtype=np.float64)
        else:
            moving = np.array(doc["moving"], dtype=np.float64)
            fixed = np.array(doc["fixed"], dtype=np.float64)
            names = [str(n) for n in doc.get("names", [])]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise FileFormatError(path, "it needs 'moving' and 'fixed' lists of [x, y, z] "
                                    "points of equal length") from None
    if moving.ndim != 2 or moving.shape[1:] != (3,) or moving.shape != fixed.shape:
        raise FileFormatError(path, "its 'moving' and 'fixed' lists must hold the same number "
                                    "of [x, y, z] points")
    if names and len(names) != len(moving):
        raise FileFormatError(path, "its 'names' list does not match the number of pairs")
    return moving, fixed, names


def _landmarks_from_csv(path: Path, text: str):
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t ")
    except csv.Error:
        dialect = csv.excel
    rows, names = [], []
    for lineno, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells or cells[0].startswith("#"):
            continue
        name = None
        if len(cells) == 7:
            name, cells = cells[0], cells[1:]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if not rows:
                continue  # a header row
            raise FileFormatError(path, f"line {lineno} is not six numbers") from None
        if len(values) != 6:
            raise FileFormatError(path, f"line {lineno} has {len(values)} numbers; expected six "
                                        "(moving x y z, fixed x y z)")
        rows.append(values)
        names.append(name or f"P{len(rows)}")
    arr = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return arr[:, :3], arr[:, 3:], names


def pairs_from_markups(moving: Any, fixed: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Landmark pairs from two point markups (e.g. picked on the image and touched with a
    tracked pointer): matched by point label when the labels agree, else by order."""
    m_labels = [moving.label(i) for i in range(len(moving.points))]
    f_labels = [fixed.label(i) for i in range(len(fixed.points))]
    common = [n for n in m_labels if n in f_labels]
    if len(common) >= 3 and len(set(common)) == len(common):
        m = np.array([moving.points[m_labels.index(n)] for n in common], dtype=np.float64)
        f = np.array([fixed.points[f_labels.index(n)] for n in common], dtype=np.float64)
        return m, f, common
    if len(moving.points) != len(fixed.points):
        raise InputError(f"Markups '{moving.name}' and '{fixed.name}' share fewer than three "
                         "point labels and hold different numbers of points.")
    return (np.array(moving.points, dtype=np.float64).reshape(-1, 3),
            np.array(fixed.points, dtype=np.float64).reshape(-1, 3), m_labels)
