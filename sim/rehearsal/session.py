"""A rehearsal attempt running: the case's interactive simulation plus steps, devices, metrics.

:class:`RehearsalWorld` prepares once what every attempt of a scenario on a case shares (the
body's tetrahedra, the critical structures' points, the devices as rigid shapes).
:class:`RehearsalSession` is an :class:`~sim.interaction.session.InteractionSession` (so the
GUI's simulation loop and display drive it unchanged) that also understands two events:

- ``{"type": "device", "device": NAME, "pose": 4x4 | {"position", "direction"}}`` moves a
  device being placed (world_T_anchor);
- ``{"type": "next"}`` ends the current step (the last one ends the attempt).

Only the current step's instruments and devices may move. Every event is recorded with its
step index, so replaying the same events on the same mesh reproduces the metrics exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.fem.embedding import Embedding, embed
from sim.interaction.body_setup import pick_body, prepare_body, world_surface
from sim.interaction.session import InteractionSession
from sim.interaction.tools import Instrument, pose_from_spec
from sim.progress import Progress, no_progress
from sim.rehearsal.metrics import MetricTracker
from sim.rehearsal.scenario import Scenario

if TYPE_CHECKING:
    from sim.interaction.session import Snapshot
    from sim.model import SceneObject
    from sim.rehearsal.scenario import Step

REHEARSAL_EVENTS = ("device", "next")


def anchor_pose(obj: SceneObject) -> np.ndarray:
    """Where a device's anchor is now (world_T_anchor). Devices added by the Place panel keep
    their surface in the anchor frame and carry the pose as transform; the demo's screw has its
    surface placed along its ``trajectory``."""
    from sim.devices import pose_on_trajectory

    if obj.has_transform:
        return obj.transform
    if obj.trajectory is not None:
        return pose_on_trajectory(obj.trajectory.entry, obj.trajectory.target)
    return np.eye(4)


def _object(case, name: str, what: str):
    try:
        return case.scene[name]
    except KeyError:
        names = ", ".join(o.name for o in case.scene) or "none"
        raise InputError(f"The scenario's {what} '{name}' is not in the case "
                         f"(objects: {names}).") from None


class RehearsalWorld:
    """The scenario's world built from the case: body mesh, rigid structures, devices."""

    def __init__(self, scenario: Scenario, case, progress: Progress = no_progress) -> None:
        self.scenario = scenario
        self.case = case
        self.body_obj = pick_body(case, scenario.body)
        self.mesh, self.visual, self.mesh_report = prepare_body(
            self.body_obj, scenario.edge_length, progress, mesher=scenario.mesher)
        self.mesh = self.mesh.with_order(1)
        self.element_volumes = np.abs(self.mesh.volumes)
        self.structure_points: dict[str, tuple[np.ndarray, float]] = {}
        for s in scenario.structures:
            if s.name != scenario.body:
                obj = _object(case, s.name, "structure")
                self.structure_points[s.name] = (np.asarray(world_surface(obj).points, float),
                                                 s.margin_mm)
        self.devices: dict[str, Instrument] = {}
        self.device_meshes: dict[str, pv.PolyData] = {}  # in the anchor frame
        self._lengths: dict[str, float] = {}
        for plan in scenario.devices:
            obj = _object(case, plan.name, "device")
            local = world_surface(obj).transform(np.linalg.inv(anchor_pose(obj)), inplace=False)
            self.device_meshes[plan.name] = local
            self.devices[plan.name] = Instrument(plan.name, "mesh", {}, surface=local)
            self._lengths[plan.name] = float(max(np.asarray(local.points)[:, 2].max(), 0.0))
        progress(1.0, "Rehearsal ready")

    def device_length(self, name: str) -> float:
        return self._lengths[name]

    def device_contacts(self, name: str, pose: np.ndarray) -> set[str]:
        """Structures the device at ``pose`` touches (closer than their margin)."""
        tool = self.devices[name]
        tool.pose = pose
        local = self.device_meshes[name]
        b = np.asarray(local.points)
        lo, hi = b.min(axis=0), b.max(axis=0)
        centre = pose[:3, :3] @ (0.5 * (lo + hi)) + pose[:3, 3]
        radius = 0.5 * float(np.linalg.norm(hi - lo))
        out = set()
        for sname, (pts, margin) in self.structure_points.items():
            near = pts[np.linalg.norm(pts - centre, axis=1) <= radius + margin + 1e-6]
            # A point closer than the margin lies in the device's own box grown by the margin:
            # a long screw's sphere holds many more points, each an exact distance query.
            q, pad = tool.to_local(near), margin + 1e-6
            near = near[np.all((q >= lo - pad) & (q <= hi + pad), axis=1)]
            if len(near) and (tool.signed_distance(near, -np.inf)[0] < margin).any():
                out.add(sname)
        return out

    def rigid_contacts(self, session: RehearsalSession) -> set[tuple[str, str]]:
        """(structure, instrument or device) pairs in contact now."""
        out = set()
        for sname, (pts, margin) in self.structure_points.items():
            for tname, tool in session.instruments.items():
                centre, radius = tool.bounding_sphere()  # cheap test first
                near = pts[np.linalg.norm(pts - centre, axis=1) <= radius + margin + 1e-6]
                if len(near) and (tool.signed_distance(near, -np.inf)[0] < margin).any():
                    out.add((sname, tname))
        for dname, touched in session.device_touching.items():
            out |= {(sname, dname) for sname in touched}
        return out

    def session(self) -> RehearsalSession:
        return RehearsalSession(self)

    def embedding(self) -> Embedding:
        """The visual surface's points in the simulation mesh, made once per world (every
        attempt, replay and reset starts a session on the same body)."""
        if getattr(self, "_embedding", None) is None:
            self._embedding = embed(self.mesh, np.asarray(self.visual.points))
        return self._embedding


class RehearsalSession(InteractionSession):
    def __init__(self, world: RehearsalWorld) -> None:
        self.world = world
        self.scenario = world.scenario
        super().__init__(world.mesh, world.scenario.setup, world.visual, world.embedding())
        self._start_rehearsal()

    def _start_rehearsal(self) -> None:
        self.step_number = 0
        self.finished = False
        self.events_applied_at = -1  # replays: the last step whose recorded events ran
        self.device_poses = {p.name: np.asarray(p.start_pose if p.start_pose is not None
                                                else p.planned_pose, float)
                             for p in self.scenario.devices}
        self.device_touching = {n: self.world.device_contacts(n, p)
                                for n, p in self.device_poses.items()}
        self.keyframes: list[dict[str, Any]] = [self._keyframe("start")]
        self.tracker = MetricTracker(self)

    @property
    def current_step(self) -> Step:
        return self.scenario.steps[self.step_number]

    def _keyframe(self, label: str) -> dict[str, Any]:
        return {"step": self.step_index, "time": self.time, "label": label,
                "state": self.state_digest(),
                "device_poses": {k: v.tolist() for k, v in self.device_poses.items()}}

    # -- events -----------------------------------------------------------------------------------
    def apply(self, event: dict[str, Any], record: bool = True) -> None:
        if not isinstance(event, dict):
            raise InputError(f"An event must be an object, not {str(event)[:60]!r}.")
        kind = event.get("type")
        if self.finished:
            raise InputError("The attempt is finished; start a new one.")
        if kind in ("pose", "param"):
            name = event.get("instrument")
            if name in self.instruments and name not in self.current_step.instruments:
                raise InputError(f"'{name}' is not in play in step '{self.current_step.title}'.")
        if kind not in REHEARSAL_EVENTS:
            super().apply(event, record)
            return
        if kind == "device":
            name = event.get("device")
            if name not in self.device_poses:
                raise InputError(f"No device named {name!r} in this scenario.")
            if name not in self.current_step.devices:
                raise InputError(f"'{name}' is not placed in step '{self.current_step.title}'.")
            pose = pose_from_spec(event.get("pose"))
            self.device_poses = {**self.device_poses, name: pose}  # a new dict: readers see
            self.device_touching = {**self.device_touching,       # old or new, never half
                                    name: self.world.device_contacts(name, pose)}
        else:
            self.tracker.end_step(completed=True)
            self.keyframes.append(self._keyframe(f"end of {self.current_step.id}"))
            if self.step_number + 1 < len(self.scenario.steps):
                self.step_number += 1
                self.tracker.begin_step(self.step_number)
            else:
                self.finished = True
        if record:
            import time

            plain = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in event.items()}
            self.events.append({**plain, "step": self.step_index, "time": self.time,
                                "wall_time": time.time() - self.wall_start})

    def snapshot(self, field_name: str | None = None) -> Snapshot:
        snap = super().snapshot(field_name)
        snap.device_poses = {k: v.copy() for k, v in self.device_poses.items()}
        return snap

    def step(self) -> None:
        if self.finished:  # the attempt is over: its state (and length) stays as it ended
            return
        super().step()
        self.tracker.after_step()

    def reset(self) -> None:
        super().reset()
        self._start_rehearsal()

    def finish(self) -> None:
        """End the attempt now (the current step counts as not completed)."""
        if not self.finished:
            self.tracker.end_step(completed=False)
            self.keyframes.append(self._keyframe("stopped"))
            self.finished = True

    def result(self) -> dict[str, Any]:
        return self.tracker.result()
