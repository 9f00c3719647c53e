"""A first scenario from a case's plan, for the instructor to edit.

From the case: the soft organ to retract (a closed surface named like the liver, else the
first closed surface), every planned device (a device with a ``trajectory`` or a placement
transform) and the critical structures (vessels, cord, nerves by name). Steps: retract the
organ with a spatula by ``retraction_mm`` without damage, then place each device on its
planned trajectory; touching a critical structure fails the step.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import InputError
from sim.interaction.body_setup import closed_surfaces, world_surface
from sim.interaction.session import SessionSetup
from sim.model import ObjectKind
from sim.rehearsal.scenario import (
    CriticalStructure,
    DevicePlan,
    Scenario,
    Step,
    SuccessCriterion,
)
from sim.rehearsal.session import anchor_pose

if TYPE_CHECKING:
    from sim.model import Case, SceneObject

CRITICAL = re.compile(r"aorta|vena|cava|ivc|arter|vein|cord|nerve|carotid|portal", re.I)
SOFT = re.compile(r"liver|spleen|kidney|lung|bowel|stomach", re.I)
# Where a planned device starts: 40 mm back, 10 mm aside and tilted 12 degrees off its plan,
# so pressing Advance alone misses (entry 10 mm, axis 12 degrees off; the step allows 2 mm
# and 5 degrees) and the trainee must steer it onto the plan.
START_OFFSET = (40.0, 10.0, 12.0)  # held back mm, aside mm, tilt degrees


def device_plan(obj: SceneObject) -> DevicePlan:
    """The plan of one case device (its trajectory, else its placement), starting off it
    (:data:`START_OFFSET`; also what the authoring dialog's *Add device* proposes)."""
    traj = obj.trajectory
    if traj is not None and not obj.has_transform:
        entry, target = np.asarray(traj.entry, float), np.asarray(traj.target, float)
    else:
        pose = anchor_pose(obj)
        local = world_surface(obj).transform(np.linalg.inv(pose), inplace=False)
        length = max(float(np.asarray(local.points)[:, 2].max()), 1.0)
        entry, target = pose[:3, 3], pose[:3, 3] + length * pose[:3, 2]
    plan = DevicePlan(obj.name, entry.tolist(), target.tolist())
    plan.start_pose = plan.start_offset_pose(*START_OFFSET).tolist()
    return plan


def build_scenario(case: Case, body: str | None = None, retraction_mm: float = 15.0,
                   damage_kpa: float = 8.0, edge_length: float = 10.0,
                   name: str | None = None) -> Scenario:
    """A scenario rehearsing the case's plan (see the module docstring)."""
    bodies = closed_surfaces(case)
    if body is None:
        soft = [o for o in bodies if SOFT.search(o.name) and o.kind == ObjectKind.SURFACE]
        if not soft:
            raise InputError("The case has no soft organ (liver, kidney ...) to retract; "
                             "name the body to simulate.")
        body_obj = soft[0]
    else:
        body_obj = next((o for o in bodies if o.name == body), None)
        if body_obj is None:
            raise InputError(f"'{body}' is not a closed surface of the case.")
    b = world_surface(body_obj).bounds
    cx, cz = 0.5 * (b[0] + b[1]), 0.5 * (b[4] + b[5])
    span_y = b[3] - b[2]
    # Held at the back (posterior 20 %); the retractor's blade faces the front surface.
    fixed = {"box": [None, None, b[3] - 0.2 * span_y, None, None, None]}
    retractor = {"name": "retractor", "type": "spatula", "width": 30.0, "thickness": 8.0,
                 "pose": {"position": [cx, b[2] - 15.0, cz - 20.0], "direction": [0, 0, 1]}}
    setup = SessionSetup(material="liver", fixed=fixed, dt=0.05, instruments=[retractor])
    devices = [device_plan(o) for o in case.scene
               if o.kind == ObjectKind.DEVICE and (o.trajectory is not None or o.has_transform)]
    rigid = [o.name for o in case.scene if o is not body_obj and CRITICAL.search(o.name)
             and o.kind == ObjectKind.SURFACE]
    structures = [CriticalStructure(n, contact=True) for n in rigid]
    structures.append(CriticalStructure(body_obj.name, max_von_mises_kpa=damage_kpa))
    no_touch = [SuccessCriterion("no_contact", {"structure": n}) for n in rigid]
    steps = [Step("retract", f"Retract the {body_obj.name.lower()}",
                  f"Push the {body_obj.name.lower()} back with the retractor by at least "
                  f"{retraction_mm:g} mm without overstretching it; keep clear of "
                  f"{', '.join(rigid) or 'the vessels'}. Press Next when done.",
                  objects=[body_obj.name] + rigid, instruments=["retractor"],
                  criteria=[SuccessCriterion("retraction", {"min_mm": retraction_mm}),
                            SuccessCriterion("no_damage", {})] + no_touch,
                  time_limit_s=90.0, bands={"time_s": [8.0, 60.0], "path_mm": [40.0, 400.0],
                                            "movements": [2.0, 20.0], "idle_s": [5.0, 45.0]})]
    for plan in devices:
        host = [o.name for o in case.scene if o.kind == ObjectKind.SURFACE
                and re.search(r"vertebra|^[LTC]\d+$|bone", o.name, re.I)]
        steps.append(Step(
            f"place-{len(steps)}", f"Place the {plan.name}",
            f"The {plan.name} starts off the plan: turn and move it onto the planned "
            "trajectory (the dashed line), then drive it to its planned depth (entry within "
            "2 mm, axis within 5 degrees). Press Next when done.",
            objects=host + rigid + [plan.name], devices=[plan.name],
            criteria=[SuccessCriterion("on_plan", {"device": plan.name, "max_entry_mm": 2.0,
                                                   "max_angle_deg": 5.0})] + no_touch,
            time_limit_s=120.0, bands={"time_s": [10.0, 90.0], "path_mm": [60.0, 400.0],
                                       "movements": [2.0, 20.0], "idle_s": [5.0, 60.0]}))
    return Scenario(name or f"Rehearsal: {case.name}", body_obj.name, setup, steps,
                    description=f"Built from the plan of {case.name}.",
                    edge_length=edge_length, mesher="sparse", structures=structures,
                    devices=devices, time_limit_s=300.0)
