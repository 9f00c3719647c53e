"""Shared by the image readers: wrap a volume as a scan or a label map scene object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from sim.imaging.lut import LabelTable, label_info, sidecar_lut
from sim.imaging.volume import is_rgb, looks_like_labels, voxel_array
from sim.io.registry import Loaded
from sim.model import ObjectKind, SceneObject


def image_loaded(path: Path, stem: str, image: pv.ImageData, notes: list[str],
                 table: LabelTable | None = None, force_labels: bool = False,
                 is_labels: bool | None = None) -> Loaded:
    """A volume, or a label map (with names and colours) when its values look like labels.

    ``is_labels`` settles it when the file says what it is (e.g. a DICOM modality)."""
    metadata: dict = {"source_format": path.name[len(stem):].lstrip(".").upper() or "image",
                      "notes": list(notes)}
    if is_rgb(image):  # a colour picture: shown as it is, never a label map
        metadata.update({"color": "RGB", "range": [0.0, 255.0]})
        return Loaded([SceneObject(stem, ObjectKind.VOLUME, image, metadata=metadata)],
                      anatomical=True, notes=notes)
    values = voxel_array(image)
    labels = is_labels if is_labels is not None else (force_labels or looks_like_labels(values))
    if labels:
        present = np.flatnonzero(np.bincount(values.ravel().astype(np.int64)))
        obj = SceneObject(stem, ObjectKind.LABELMAP, image, metadata=metadata,
                          label_table=label_info(present, table or sidecar_lut(path, stem)))
    else:
        lo, hi = float(values.min()), float(values.max())
        metadata["range"] = [lo, hi]
        obj = SceneObject(stem, ObjectKind.VOLUME, image, metadata=metadata)
    return Loaded([obj], anatomical=True, notes=notes)
