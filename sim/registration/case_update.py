"""A deformable registration applied to a case: one undoable step, saved with the case.

The updated organ becomes a new surface object beside the pre-op one (which is hidden, so the
view shows the update and a toggle brings the pre-op shape back); point, line and curve
markups inside the organ (targets, trajectories) move with it; the report is stored in the
case section ``deformable_update``. Edit > Undo takes all of it back at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import Case, ObjectKind, SceneObject
from sim.model.sections import set_section
from sim.registration.deformable_result import DeformableResult
from sim.registration.embedded import Structure, plan_report

SECTION = "deformable_update"
UPDATED_COLOUR = (0.93, 0.55, 0.25)
INSIDE_MM = 5.0  # markups up to this far outside the organ still count as embedded


def embedded_markups(case: Case, result: DeformableResult) -> list:
    """The case's markups with every control point inside (or on) the pre-op organ."""
    out = []
    for m in case.markups:
        if m.type.value not in ("point", "line", "curve", "closed_curve") or not m.points:
            continue
        d = result.model.reference.signed_distance(np.asarray(m.points, dtype=float))
        if (d <= INSIDE_MM).all():
            out.append(m)
    return out


def apply_update(case: Case, organ: SceneObject, result: DeformableResult) -> SceneObject:
    """Add the updated organ, hide the pre-op one, move embedded markups; one undo step."""
    markups = embedded_markups(case, result)
    before = [Structure(m.name, markup=m) for m in markups]
    after = [s.moved(result.move(s.points)) for s in before]
    report: dict[str, Any] = {**result.summary(), "organ": organ.name,
                              "constraint_map": result.constraint_map(),
                              "structures": plan_report(result, before, after)}
    surf = result.deformed_surface()
    surf.point_data["uncertainty_mm"] = result.surface_uncertainty()
    with case.history.macro(f"Update {organ.name} (deformable)"):
        updated = SceneObject(case.scene.unique_name(f"{organ.name} (updated)"),
                              ObjectKind.SURFACE, surf, color=UPDATED_COLOUR,
                              metadata={"updated_from": organ.uid})
        case.scene.add(updated)
        organ.visible = False
        for m, moved in zip(markups, after, strict=True):
            m.points = moved.markup.points
        report["updated_object"] = updated.uid
        set_section(case, SECTION, report, f"Update {organ.name} (deformable)")
    return updated
