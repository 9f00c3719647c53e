"""The placement the workbench runs: prepared structures, one device, its latest evaluation.

The Place panel, a script or the headset move the device (its scene object's transform);
:meth:`PlacementRun.evaluate` says how safe the pose is, and :meth:`show_clearance` puts the
clearance maps in the case as overlays, so they are saved and seen in every view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.devices.placed import device_of_object
from sim.errors import InputError
from sim.model import SceneObject
from sim.model import overlays as ov
from sim.placement import Evaluation, PlacementScene, RigidDevice, evaluate
from sim.progress import Progress, no_progress

PREFIX = "placement:"  # the ids of the overlays a placement owns


def clearance_overlays(device: SceneObject | None, critical: list[SceneObject],
                       max_distance: float = 10.0) -> list:
    """The overlays of a placement's clearance maps: one map per critical structure (its exact
    distance to ``device``) and their legend; none without a device."""
    if device is None or not critical:
        return []
    maps: list = [ov.ClearanceMap(id=f"{PREFIX}{obj.uid}", label=f"Clearance of {obj.name}",
                                  structure=obj.uid, device=device.uid, max_distance=max_distance)
                  for obj in critical]
    return maps + [ov.Legend(id=f"{PREFIX}legend", title="Clearance", range=(0.0, max_distance),
                             units="mm")]


def prepare_structures(chosen: list[tuple[SceneObject, str, float | None]],
                       around: np.ndarray | None = None, reach: float = 60.0,
                       progress: Progress = no_progress) -> PlacementScene:
    """A placement scene of ``(object, role, margin_mm)``: each object's world surface
    (transform applied) under the object's name."""
    items = [(o.name, o.data.transform(o.transform, inplace=False) if o.has_transform else o.data,
              role, margin) for o, role, margin in chosen]
    return PlacementScene.from_surfaces(items, around=around, reach=reach, progress=progress)


class PlacementRun:
    """Structures of a case prepared for placement, and the device placed against them (set
    when the device is added or chosen; one device at a time)."""

    def __init__(self, case: Any, scene: PlacementScene, structures: dict[str, SceneObject],
                 device: SceneObject | None = None) -> None:
        self.case = case
        self.scene = scene
        self.structures = structures  # structure name -> scene object
        self.device: SceneObject | None = None
        self.rigid: RigidDevice | None = None
        self.last: Evaluation | None = None
        self.set_device(device)

    def set_device(self, device: SceneObject | None) -> None:
        """Place ``device`` (a DEVICE scene object) from now on; None: no device."""
        if device is self.device:
            return
        self.rigid = RigidDevice(device_of_object(device)) if device is not None else None
        self.device, self.last = device, None

    def evaluate(self) -> Evaluation:
        """Clearances, collisions and purchase of the device at its current pose."""
        if self.device is None or self.rigid is None:
            raise InputError("Add a device to place first.")
        self.last = evaluate(self.scene, self.rigid, self.device.transform)
        return self.last

    def show_clearance(self, on: bool = True, max_distance: float = 10.0) -> list[str]:
        """Clearance maps of the critical structures (and their legend) as case overlays, one
        undoable step; ``on=False`` removes them. Returns the overlay ids shown."""
        critical = [self.structures[st.name] for st in self.scene.structures
                    if st.role == "critical" and st.name in self.structures] if on else []
        new = clearance_overlays(self.device, critical, max_distance)
        ov.replace_overlays(self.case, PREFIX, new,
                            "Show clearance maps" if on else "Hide clearance maps")
        return [o.id for o in new]
