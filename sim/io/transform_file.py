"""Transform files: ``{"format": "twinsight-transform", "matrix": 4x4, ...}`` JSON.

The matrices themselves are handled by :mod:`sim.geometry.rigid`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import FileFormatError, InputError
from sim.geometry.rigid import check_matrix
from sim.io.json_file import read_json
from sim.model.atomic import write_text_atomic


def save_transform(path: str | Path, matrix: np.ndarray, **info: Any) -> Path:
    """Write ``{"matrix": 4x4, ...info}`` as JSON crash-safely (owner-only)."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"Folder '{path.parent}' does not exist.")
    doc = {"format": "twinsight-transform", "version": 1,
           "matrix": np.asarray(matrix, float).tolist(), **info}
    return write_text_atomic(path, json.dumps(doc, indent=2, default=float))


def load_transform(path: str | Path) -> np.ndarray:
    """Read a 4x4 matrix from a transform JSON file (ours, or a bare 4x4 list)."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such file")
    doc = read_json(path, "transform", max_bytes=1_000_000)
    matrix = doc.get("matrix") if isinstance(doc, dict) else doc
    try:
        return check_matrix(matrix)
    except InputError as exc:
        raise FileFormatError(path, str(exc).rstrip(".")) from None
