"""Objective metrics of an attempt, measured after every simulation step.

All times are *simulated* time (step index x dt), so a replay of the same inputs measures
exactly the same numbers. Per scenario step:

- ``time_s``: from the step's start to its end ("next");
- ``path_mm``: distance travelled by every instrument tip, placed device anchor and grab point;
- ``movements``: motion episodes (tip speed rising above ``MOVE_SPEED``), ``idle_s`` the time
  nothing moved;
- ``peak_force_n`` / ``mean_force_n``: total contact force on the instruments (mean while in
  contact);
- ``damage_time_s`` / ``damage_volume_mm3``: time any tissue of the body exceeds its damage
  thresholds (von Mises stress, max principal strain) and the largest volume above them;
- ``critical_contacts`` and ``contacts`` per structure: contact episodes (an instrument or
  device closer than the structure's margin, or the body's force threshold exceeded);
- ``accuracy``: each device placed in the step against its plan at the step's end
  (``entry_mm`` anchor distance, ``angle_deg`` between axes, ``tip_mm`` at the device tip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.rehearsal.scenario import DevicePlan

MOVE_SPEED = 2.0  # mm/s: slower is holding still
FORCE_CONTACT = 0.01  # N: below this the tools are not pressing on tissue


@dataclass
class StepMetrics:
    id: str
    start_s: float
    end_s: float | None = None
    completed: bool = False
    path_mm: float = 0.0
    movements: int = 0
    idle_s: float = 0.0
    peak_force_n: float = 0.0
    force_time_s: float = 0.0
    force_integral: float = 0.0
    damage_time_s: float = 0.0
    damage_volume_mm3: float = 0.0
    peak_von_mises_kpa: float = 0.0
    peak_strain_pct: float = 0.0
    peak_displacement_mm: float = 0.0
    contacts: dict[str, int] = field(default_factory=dict)
    contact_time_s: dict[str, float] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self, now: float) -> dict[str, Any]:
        end = self.end_s if self.end_s is not None else now
        acc = self.accuracy
        worst = {k: max(a[k] for a in acc.values()) for k in ("entry_mm", "angle_deg", "tip_mm")
                 } if acc else {"entry_mm": None, "angle_deg": None, "tip_mm": None}
        return {"id": self.id, "completed": self.completed, "start_s": self.start_s,
                "end_s": end, "time_s": end - self.start_s, "path_mm": self.path_mm,
                "movements": self.movements, "idle_s": self.idle_s,
                "peak_force_n": self.peak_force_n,
                "mean_force_n": (self.force_integral / self.force_time_s
                                 if self.force_time_s else 0.0),
                "damage_time_s": self.damage_time_s, "damage_volume_mm3": self.damage_volume_mm3,
                "peak_von_mises_kpa": self.peak_von_mises_kpa,
                "peak_strain_pct": self.peak_strain_pct,
                "peak_displacement_mm": self.peak_displacement_mm,
                "critical_contacts": int(sum(self.contacts.values())),
                "contacts": dict(self.contacts), "contact_time_s": dict(self.contact_time_s),
                "damaged": list(self.damaged), "accuracy": {k: dict(v) for k, v in acc.items()},
                **worst}


def device_accuracy(plan: DevicePlan, pose: np.ndarray, length: float) -> dict[str, float]:
    """Entry (anchor) distance, axis angle and tip distance of a device pose to its plan."""
    planned = plan.planned_pose
    za, zp = pose[:3, 2], planned[:3, 2]
    cos = float(np.clip(za @ zp / (np.linalg.norm(za) * np.linalg.norm(zp)), -1.0, 1.0))
    tip = pose[:3, 3] + length * za
    tip_p = planned[:3, 3] + length * zp
    return {"entry_mm": float(np.linalg.norm(pose[:3, 3] - planned[:3, 3])),
            "angle_deg": float(np.degrees(np.arccos(cos))),
            "tip_mm": float(np.linalg.norm(tip - tip_p))}


class MetricTracker:
    """Accumulates :class:`StepMetrics` for the scenario's steps as the session runs."""

    def __init__(self, session) -> None:
        self.session = session
        self.reset()

    def reset(self) -> None:
        self.steps: list[StepMetrics] = [StepMetrics(self.session.scenario.steps[0].id, 0.0)]
        self.events: list[dict[str, Any]] = []  # damage / contact events (time, what, by)
        self._tips: np.ndarray | None = None
        self._moving = False
        self._touching: set[tuple[str, str]] = set()
        self._above = False

    @property
    def current(self) -> StepMetrics:
        return self.steps[-1]

    def _tip_positions(self) -> np.ndarray:
        s = self.session
        pts = [t.pose[:3, 3] for t in s.instruments.values()]
        pts += [p[:3, 3] for p in s.device_poses.values()]
        pts.append(s.grab_spring.target if s.grab_spring is not None else np.zeros(3))
        return np.array(pts, dtype=float)

    def after_step(self) -> None:
        s, cur = self.session, self.current
        dt, t = s.sim.h, s.time
        tips = self._tip_positions()
        moved = 0.0
        if self._tips is not None and self._tips.shape == tips.shape:
            moved = float(np.linalg.norm(tips - self._tips, axis=1).sum())
        if s.grab_spring is None and self._tips is not None:  # a release is not a movement
            moved -= float(np.linalg.norm(self._tips[-1] - tips[-1]))
        self._tips = tips
        cur.path_mm += moved
        moving = moved / dt > MOVE_SPEED
        if moving and not self._moving:
            cur.movements += 1
        if not moving:
            cur.idle_s += dt
        self._moving = moving

        force = float(sum(np.linalg.norm(s.sim.contact_force(n)) for n in s.instruments))
        cur.peak_force_n = max(cur.peak_force_n, force)
        if force > FORCE_CONTACT:
            cur.force_time_s += dt
            cur.force_integral += force * dt
        cur.peak_displacement_mm = max(cur.peak_displacement_mm,
                                       float(np.linalg.norm(s.sim.displacement, axis=1).max()))
        self._tissue(cur, dt, t, force)
        touching = s.world.rigid_contacts(s)
        for key in touching - self._touching:
            self._contact(cur, key[0], key[1], t)
        for key in touching:
            cur.contact_time_s[key[0]] = cur.contact_time_s.get(key[0], 0.0) + dt
        self._touching = touching

    def _contact(self, cur: StepMetrics, structure: str, by: str, t: float) -> None:
        cur.contacts[structure] = cur.contacts.get(structure, 0) + 1
        if structure not in cur.damaged:
            cur.damaged.append(structure)
        self.events.append({"time": t, "step": cur.id, "kind": "contact",
                            "structure": structure, "by": by})

    def _tissue(self, cur: StepMetrics, dt: float, t: float, force: float) -> None:
        s = self.session
        body = s.scenario.structure(s.scenario.body)
        if body is None:
            return
        sim = s.sim
        eps = s.fields.element_strain(sim.x, sim.R)
        above = np.zeros(len(eps), dtype=bool)
        if body.max_von_mises_kpa is not None:
            tr = np.trace(eps, axis1=1, axis2=2)
            dev = eps - (tr / 3.0)[:, None, None] * np.eye(3)
            vm = 1000.0 * 2 * s.fields.mu * np.sqrt(1.5 * (dev * dev).sum(axis=(1, 2)))
            cur.peak_von_mises_kpa = max(cur.peak_von_mises_kpa, float(vm.max()))
            above |= vm > body.max_von_mises_kpa
        if body.max_strain_pct is not None:
            strain = 100.0 * np.linalg.eigvalsh(eps)[:, -1]
            cur.peak_strain_pct = max(cur.peak_strain_pct, float(strain.max()))
            above |= strain > body.max_strain_pct
        over_force = body.max_contact_force_n is not None and force > body.max_contact_force_n
        damaged = bool(above.any()) or over_force
        if above.any():
            cur.damage_time_s += dt
            cur.damage_volume_mm3 = max(cur.damage_volume_mm3,
                                        float(s.world.element_volumes[above].sum()))
        if damaged and not self._above:
            if body.name not in cur.damaged:
                cur.damaged.append(body.name)
            self.events.append({"time": t, "step": cur.id, "kind": "damage",
                                "structure": body.name,
                                "by": "contact force" if over_force and not above.any()
                                else "stress/strain"})
        self._above = damaged

    def end_step(self, completed: bool) -> None:
        s, cur = self.session, self.current
        cur.end_s, cur.completed = s.time, completed
        step = s.scenario.steps[len(self.steps) - 1]
        for name in step.devices:
            plan = s.scenario.device(name)
            cur.accuracy[name] = device_accuracy(plan, s.device_poses[name],
                                                 s.world.device_length(name))

    def begin_step(self, index: int) -> None:
        self.steps.append(StepMetrics(self.session.scenario.steps[index].id, self.session.time))
        self._touching = set()  # a contact still held is counted again in the new step
        self._above = False

    def result(self) -> dict[str, Any]:
        """Per-step metrics, totals and the damage/contact events (JSON-ready)."""
        now = self.session.time
        steps = [m.to_dict(now) for m in self.steps]
        for sc in self.session.scenario.steps[len(steps):]:  # steps never reached
            steps.append(StepMetrics(sc.id, now, now).to_dict(now))
        total = {k: float(sum(m[k] for m in steps)) for k in
                 ("time_s", "path_mm", "idle_s", "damage_time_s")}
        total["movements"] = int(sum(m["movements"] for m in steps))
        total["critical_contacts"] = int(sum(m["critical_contacts"] for m in steps))
        for k in ("peak_force_n", "damage_volume_mm3", "peak_von_mises_kpa",
                  "peak_displacement_mm"):
            total[k] = max(m[k] for m in steps)
        ft = sum(m.force_time_s for m in self.steps)
        total["mean_force_n"] = (sum(m.force_integral for m in self.steps) / ft) if ft else 0.0
        return {"steps": steps, "total": total, "events": list(self.events)}
