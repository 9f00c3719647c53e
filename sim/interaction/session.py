"""An interaction session: one deformable body, rigid instruments, a grab, and its recording.

Everything a user (GUI, script, tracked tool) does goes through :meth:`InteractionSession.apply`
as a small JSON-friendly event, applied *between* steps and recorded with its step index and
timestamps. Replaying the events at the same step indices on the same mesh reproduces the run
bit for bit (the solver is deterministic), which is what :mod:`sim.interaction.recording` uses.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyvista as pv

from sim.errors import InputError
from sim.fem.body import Body
from sim.fem.embedding import Embedding, embed
from sim.fem.materials import Material, material_from_spec
from sim.fem.selection import select_nodes
from sim.interaction.contact import CollisionSurface, ContactSimulator
from sim.interaction.fields import FieldEvaluator
from sim.interaction.grab import GrabSpring
from sim.interaction.tools import instrument_from_dict, pose_from_spec
from sim.mesh.tetmesh import TetMesh

EVENT_TYPES = ("pose", "grab", "drag", "release", "param")


@dataclass
class SessionSetup:
    """Everything that defines a run besides the mesh and the events (JSON-friendly)."""

    material: dict[str, Any] | str = "liver"
    fixed: dict[str, Any] | None = None  # a selector (sim.fem.selection); None: nothing fixed
    gravity: bool = False
    dt: float = 1.0 / 60.0
    damping: float = 2.0  # Rayleigh mass coefficient (1/s)
    friction: float = 0.0
    grab_stiffness: float | None = None  # N/mm in total; None: from the body's stiffness
    grab_radius: float | None = None  # mm; None: from the mesh size
    instruments: list[dict[str, Any]] = field(default_factory=list)
    tolerance: float = 1e-3
    threads: int = 1  # numba threads for the solver: 1 leaves a core to the renderer

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionSetup:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"Unknown simulation setting(s) {sorted(unknown)} "
                             f"(known: {sorted(known)}).")
        setup = cls(**d)
        if not (isinstance(setup.dt, int | float) and 1e-5 <= setup.dt <= 1.0):
            raise InputError(f"The time step dt must be between 1e-5 and 1 s, not {setup.dt!r}.")
        if not (isinstance(setup.friction, int | float) and 0 <= setup.friction <= 10):
            raise InputError("Friction must be a coefficient between 0 and 10.")
        if not isinstance(setup.instruments, list):
            raise InputError("'instruments' must be a list of objects.")
        return setup

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mesh_digest(mesh: TetMesh) -> str:
    h = hashlib.sha256(mesh.points.tobytes())
    h.update(mesh.cells.tobytes())
    return h.hexdigest()[:16]


@dataclass
class Snapshot:
    """What a renderer needs, copied out of the simulation (safe to read on another thread)."""

    step: int
    time: float
    positions: np.ndarray  # simulation nodes (n, 3)
    poses: dict[str, np.ndarray]
    params: dict[str, dict[str, Any]]
    forces: dict[str, np.ndarray]  # N, on each instrument
    grab_target: np.ndarray | None
    field_name: str | None = None
    field_values: np.ndarray | None = None  # on the visual points (else the sim nodes)
    sim_field_values: np.ndarray | None = None  # on the simulation nodes
    # Rigid devices moved by events, not simulated as instruments (a rehearsal's screw):
    # world_T_anchor by name.
    device_poses: dict[str, np.ndarray] = field(default_factory=dict)
    applied_event: int = 0  # id of the last posted event applied (see SimulationLoop)
    posted_at: float | None = None  # perf_counter() when that event was posted
    created: float = field(default_factory=time.perf_counter)
    # The embedded fine surface is computed when first read, from this snapshot's own copies:
    # the solver publishes every step, a display reads a few of them per second.
    visual_source: Callable[[], np.ndarray] | None = field(default=None, repr=False)
    _visual: np.ndarray | None = field(default=None, repr=False)

    @property
    def visual_points(self) -> np.ndarray | None:
        """The embedded fine surface (k, 3) in this state, or None without an embedding."""
        if self._visual is None and self.visual_source is not None:
            self._visual = self.visual_source()
        return self._visual


class InteractionSession:
    """A deformable body driven by instruments and a grab; records every event it applies."""

    def __init__(self, mesh: TetMesh, setup: SessionSetup | None = None,
                 visual: pv.PolyData | None = None,
                 embedding: Embedding | None = None) -> None:
        """``embedding``: ``visual``'s points in ``mesh`` when the caller already has it (a
        world starting many sessions on the same body embeds once)."""
        self.setup = setup or SessionSetup()
        self.mesh = mesh.with_order(1)
        material: Material = material_from_spec(self.setup.material)
        self.material = material.with_law("corotational")
        self.body = Body(self.mesh, self.material)
        if self.setup.fixed:
            fixed = select_nodes(self.mesh, self.setup.fixed, "fixed region")
        else:
            fixed = np.zeros(0, dtype=np.int64)
        self.fixed_nodes = fixed
        gravity = (0.0, 0.0, -9810.0) if self.setup.gravity else (0.0, 0.0, 0.0)
        self.instruments = {s["name"]: instrument_from_dict(s) for s in self.setup.instruments}
        self._initial_instruments = [dict(s) for s in self.setup.instruments]
        self.visual = visual
        if embedding is None and visual is not None:
            embedding = embed(self.mesh, np.asarray(visual.points))
        self.embedding: Embedding | None = embedding if visual is not None else None
        # The fine surface is also the collision surface: tools thinner than the simulation
        # mesh's spacing still push the tissue (see sim.interaction.contact).
        surface = None if self.embedding is None else CollisionSurface(
            np.asarray(visual.points, dtype=float), self.embedding.matrix)
        self.sim = ContactSimulator(self.body, fixed, list(self.instruments.values()),
                                    friction=self.setup.friction, dt=self.setup.dt,
                                    gravity=gravity, rayleigh_mass=self.setup.damping,
                                    tolerance=self.setup.tolerance, threads=self.setup.threads,
                                    collision_surface=surface)
        self.fields = FieldEvaluator(self.mesh, self.material)
        size = float(np.ptp(self.mesh.points, axis=0).max())
        edge = float(np.cbrt(np.abs(self.mesh.volumes).mean() * 6 * np.sqrt(2)))
        self.grab_radius = self.setup.grab_radius or 1.2 * edge
        self.grab_stiffness = self.setup.grab_stiffness or 20.0 * material.youngs_modulus * size
        self.grab_spring: GrabSpring | None = None
        self.digest = mesh_digest(self.mesh)
        self.events: list[dict[str, Any]] = []
        self.step_index = 0
        self.wall_start = time.time()
        self.metrics = {"max_displacement_mm": 0.0, "peak_contact_force_n": 0.0,
                        "peak_von_mises_kpa": 0.0, "max_penetration_mm": 0.0,
                        "cg_iterations": 0, "solver_time_s": 0.0}
        self.last_report = None
        self.stress_every = 1  # peak-stress tracking period (steps); the GUI loop samples less

    # -- events ----------------------------------------------------------------------------------
    @property
    def time(self) -> float:
        return self.step_index * self.sim.h

    def apply(self, event: dict[str, Any], record: bool = True) -> None:
        """Apply one event now (between steps): pose, grab, drag, release or param."""
        if not isinstance(event, dict):
            raise InputError(f"An event must be an object, not {str(event)[:60]!r}.")
        try:
            self._apply(event)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise InputError(f"Bad {event.get('type', 'untyped')} event "
                             f"{str(event)[:80]!r}: {exc}.") from None
        if record:
            self.events.append({**_plain(event), "step": self.step_index, "time": self.time,
                                "wall_time": time.time() - self.wall_start})

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            raise InputError(f"Unknown event type {kind!r} (use {', '.join(EVENT_TYPES)}).")
        if kind in ("pose", "param"):
            tool = self.instruments.get(event.get("instrument"))
            if tool is None:
                raise InputError(f"No instrument named {event.get('instrument')!r} "
                                 f"(known: {', '.join(self.instruments) or 'none'}).")
            if kind == "pose":
                tool.pose = pose_from_spec(event["pose"])
            else:
                tool.set_param(str(event["key"]), event["value"])
        elif kind == "grab":
            self.release_grab()
            self.grab_spring = GrabSpring(self.mesh.points, self.sim.x, event["point"],
                                          self.grab_stiffness, self.grab_radius)
            self.sim.contributors.append(self.grab_spring)
            self.sim.set_spring_diagonal(self.grab_spring.diagonal())
        elif kind == "drag":
            if self.grab_spring is not None:
                self.grab_spring.move(event["target"])
        else:
            self.release_grab()

    def release_grab(self) -> None:
        if self.grab_spring is not None:
            self.sim.contributors.remove(self.grab_spring)
            self.grab_spring = None
            self.sim.set_spring_diagonal(None)

    def set_pose(self, name: str, pose: np.ndarray) -> None:
        self.apply({"type": "pose", "instrument": name, "pose": np.asarray(pose).tolist()})

    # -- stepping ---------------------------------------------------------------------------------
    def step(self) -> None:
        report = self.sim.step()
        self.step_index += 1
        self.last_report = report
        m = self.metrics
        u = self.sim.displacement
        m["max_displacement_mm"] = max(m["max_displacement_mm"],
                                       float(np.linalg.norm(u, axis=1).max()))
        force = max((float(np.linalg.norm(self.sim.contact_force(n))) for n in self.instruments),
                    default=0.0)
        m["peak_contact_force_n"] = max(m["peak_contact_force_n"], force)
        if self.step_index % self.stress_every == 0:
            m["peak_von_mises_kpa"] = max(
                m["peak_von_mises_kpa"], 1000.0 * self.fields.peak_von_mises(self.sim.x, self.sim.R))
        m["cg_iterations"] += report.iterations
        m["solver_time_s"] += report.wall_time_s

    def reset(self) -> None:
        """Back to the rest state; instruments to their initial poses; the recording restarts."""
        self.release_grab()
        self.sim.reset_state()
        for spec in self._initial_instruments:
            fresh = instrument_from_dict(spec)
            tool = self.instruments[spec["name"]]
            tool.params, tool.pose = fresh.params, fresh.pose
        self.events.clear()
        self.step_index = 0
        self.wall_start = time.time()
        for k in self.metrics:
            self.metrics[k] = 0 if k == "cg_iterations" else 0.0

    # -- outputs -----------------------------------------------------------------------------------
    def visual_points(self) -> np.ndarray | None:
        """The fine surface, deformed with the simulation mesh (see :meth:`_visual_at`)."""
        if self.embedding is None:
            return None
        return self._visual_at(self.sim.x, {n: t.pose for n, t in self.instruments.items()})

    def _visual_at(self, x: np.ndarray, poses: dict[str, np.ndarray]) -> np.ndarray:
        """The fine surface for node positions ``x`` and tool ``poses``. Contact is resolved on
        the simulation nodes; a fine vertex that the interpolation leaves inside a tool (between
        coarse nodes) is shown on the tool's surface, so no tool is seen through the tissue."""
        pts = np.asarray(self.visual.points) + self.embedding.map(x - self.sim.X)
        for name, pose in poses.items():
            tool = self.instruments.get(name)
            if tool is None:  # removed since
                continue
            d, n = tool.signed_distance(pts, 0.0, pose=pose)
            inside = d < 0.0
            if inside.any():
                pts[inside] -= d[inside, None] * n[inside]
        return pts

    def snapshot(self, field_name: str | None = None) -> Snapshot:
        x = self.sim.x.copy()
        poses = {n: t.pose.copy() for n, t in self.instruments.items()}
        snap = Snapshot(
            self.step_index, self.time, x, poses,
            {n: dict(t.params) for n, t in self.instruments.items()},
            {n: self.sim.contact_force(n) for n in self.instruments},
            None if self.grab_spring is None else self.grab_spring.target.copy())
        if self.embedding is not None:
            if any(t.kind == "mesh" for t in self.instruments.values()):
                snap._visual = self._visual_at(x, poses)  # a VTK distance: this thread only
            else:
                snap.visual_source = lambda: self._visual_at(x, poses)
        if field_name:
            nodal = self.fields.evaluate(field_name, self.sim.x, self.sim.X, self.sim.R)
            snap.field_name, snap.sim_field_values = field_name, nodal
            snap.field_values = self.embedding.map(nodal) if self.embedding is not None else nodal
        return snap

    def state_digest(self) -> str:
        return hashlib.sha256(self.sim.x.tobytes() + self.sim.v.tobytes()).hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        m = dict(self.metrics)
        m["max_penetration_mm"] = self.sim.penetration()
        m["steps"] = self.step_index
        m["simulated_time_s"] = self.time
        m["final_max_displacement_mm"] = float(np.linalg.norm(self.sim.displacement, axis=1).max())
        m["steps_per_second"] = (self.step_index / m["solver_time_s"]) if m["solver_time_s"] else 0.0
        m["contact_force_n"] = {n: self.sim.contact_force(n).tolist() for n in self.instruments}
        m["nodes"], m["tetrahedra"] = self.mesh.n_nodes, self.mesh.n_elements
        return m

    def result_grid(self) -> pv.UnstructuredGrid:
        grid = self.mesh.to_pyvista()
        grid.point_data["displacement"] = self.sim.displacement
        for name in ("von_mises", "max_principal_strain"):
            grid.point_data[name] = self.fields.evaluate(name, self.sim.x, self.sim.X, self.sim.R)
        grid.point_data["contact_reaction"] = self.sim.reaction
        return grid


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    """The event with numpy values turned into lists (JSON)."""
    out = {}
    for k, v in event.items():
        out[k] = v.tolist() if isinstance(v, np.ndarray) else v
    return out
