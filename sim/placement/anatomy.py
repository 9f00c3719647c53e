"""Placement scenes from a case: label-map labels, surface objects or mesh files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.model import Case, ObjectKind
from sim.placement.evaluate import PlacementScene
from sim.progress import Progress, no_progress


def labelmap_of(case: Case) -> pv.ImageData:
    """The case's (first) label map image."""
    for obj in case.scene:
        if obj.kind == ObjectKind.LABELMAP:
            return obj.data
    raise InputError(f"The case '{case.name}' has no label map to take labels from.")


def label_surface(labels: pv.ImageData, value: int, **kwargs: Any) -> pv.PolyData:
    """Smooth surface of one label (sim.imaging.surface), or InputError if it is absent."""
    from sim.imaging.surface import mask_to_surface

    arr = np.asarray(labels.active_scalars if labels.active_scalars is not None
                     else labels.point_data[labels.array_names[0]])
    mask = arr.reshape(labels.dimensions, order="F") == int(value)
    if not mask.any():
        raise InputError(f"The label map has no voxels with label {value}.")
    surf = mask_to_surface(labels, mask, **kwargs)
    if surf.n_cells == 0:
        raise InputError(f"Label {value} gives no surface.")
    return surf


def object_surface(case: Case, name: str) -> pv.PolyData:
    for obj in case.scene:
        if obj.name == name:
            if not isinstance(obj.data, pv.DataSet) or obj.kind in (ObjectKind.VOLUME,
                                                                     ObjectKind.LABELMAP):
                raise InputError(f"'{name}' is not a surface.")
            data = obj.data
            if obj.transform is not None and not np.allclose(obj.transform, np.eye(4)):
                data = data.transform(np.asarray(obj.transform), inplace=False)
            return data if isinstance(data, pv.PolyData) else data.extract_surface(algorithm=None)
    raise InputError(f"The case has no object named '{name}'.")


def mesh_file_surface(path: str | Path) -> pv.PolyData:
    from sim.io import load

    case = load(path)
    for obj in case.scene:
        if obj.kind in (ObjectKind.SURFACE, ObjectKind.PART, ObjectKind.DEVICE):
            data = obj.data
            return data if isinstance(data, pv.PolyData) else data.extract_surface(algorithm=None)
    raise InputError(f"'{path}' holds no surface.")


def scene_from_case(case: Case | None, structures: list[dict], base: Path = Path("."),
                    progress: Progress = no_progress) -> PlacementScene:
    """A placement scene from structure descriptions (see sim.placement.spec).

    Each entry has a ``name``, a ``role`` (critical/host/other), optionally ``margin_mm``,
    and exactly one source: ``label`` (of the case's label map), ``object`` (a case
    surface by name) or ``mesh`` (a surface file, relative to ``base``).
    """
    scene = PlacementScene()
    labels = None
    for i, st in enumerate(structures):
        if not isinstance(st, dict) or "name" not in st:
            raise InputError("Each structure needs at least a 'name'.")
        sources = [k for k in ("label", "object", "mesh") if k in st]
        if len(sources) != 1:
            raise InputError(f"Structure '{st['name']}' needs exactly one of label, object or mesh.")
        progress(i / max(len(structures), 1), f"Surface of {st['name']}")
        if "label" in st:
            if case is None:
                raise InputError(f"Structure '{st['name']}' takes a label but no case was given.")
            labels = labels if labels is not None else labelmap_of(case)
            try:
                value = int(st["label"])
            except (TypeError, ValueError):
                raise InputError(f"The label of '{st['name']}' must be an integer.") from None
            surf = label_surface(labels, value)
        elif "object" in st:
            if case is None:
                raise InputError(f"Structure '{st['name']}' names a case object but no case was given.")
            surf = object_surface(case, str(st["object"]))
        else:
            surf = mesh_file_surface(base / str(st["mesh"]))
        margin = st.get("margin_mm")
        if margin is not None and (not isinstance(margin, int | float) or margin < 0):
            raise InputError(f"The margin of '{st['name']}' must be a non-negative number of mm.")
        scene.add(str(st["name"]), surf, role=str(st.get("role", "other")), margin_mm=margin)
    progress(1.0, "Structures ready")
    return scene
