"""Overlays: what is drawn over the scene without being a scene object of its own.

A clearance map on a structure, a section plane, a planned trajectory, a colour legend: each is
a small typed document kept in the case (section ``overlays``), so it is saved, undoable, and
drawn by the one overlay layer (:mod:`sim.render.overlays`) that the window, offscreen
screenshots and the headset all use. Panels and scripts change overlays only through
:func:`set_overlay` / :func:`remove_overlay`; views follow the section's events.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sim.errors import InputError
from sim.model.sections import set_section

SECTION = "overlays"
MAX_OVERLAYS = 10_000  # a case with more is damaged or hostile, not a plan

Finite = Annotated[float, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Colour = tuple[Unit, Unit, Unit]


class _Overlay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=200)]
    label: str = ""
    visible: bool = True


class ClearanceMap(_Overlay):
    """A structure coloured by its exact distance to a device (red touching, green clear)."""

    kind: Literal["clearance"] = "clearance"
    structure: str  # scene object uid
    device: str  # scene object uid of a DEVICE
    max_distance: Annotated[float, Field(gt=0.0, le=1000.0)] = 10.0


class SectionPlane(_Overlay):
    kind: Literal["plane"] = "plane"
    origin: Vec3
    normal: Vec3
    size: Annotated[float, Field(gt=0.0, le=1e5)] = 100.0
    color: Colour = (1.0, 0.84, 0.31)
    opacity: Unit = 0.2


class PlanLine(_Overlay):
    """A planned trajectory or path, optionally dashed, from its first point to its last."""

    kind: Literal["line"] = "line"
    points: Annotated[list[Vec3], Field(min_length=2, max_length=100_000)]
    color: Colour = (1.0, 1.0, 0.0)
    width: Annotated[float, Field(gt=0.0, le=50.0)] = 3.0
    dashed: bool = False


class Legend(_Overlay):
    """A colour bar naming what a colour map means, with its range and units."""

    kind: Literal["legend"] = "legend"
    title: str
    cmap: str = "RdYlGn"
    range: tuple[Finite, Finite] = (0.0, 10.0)
    units: str = "mm"
    placement: Literal["right", "bottom"] = "right"  # bottom: wide, as live fields show it


Overlay = Annotated[ClearanceMap | SectionPlane | PlanLine | Legend, Field(discriminator="kind")]
_OVERLAYS = TypeAdapter(dict[str, Overlay])


def parse_overlays(raw: Any) -> dict[str, Overlay]:
    """The overlays section's document, validated (ValidationError or ValueError if not)."""
    if isinstance(raw, dict) and len(raw) > MAX_OVERLAYS:
        raise ValueError(f"{len(raw)} overlays (at most {MAX_OVERLAYS})")
    return _OVERLAYS.validate_python(raw)


def overlays(case: Any) -> dict[str, Overlay]:
    """The case's overlays by id (an unreadable section reads as none: opening a case drops it
    with a warning, see :func:`sim.model.section_docs.opened_sections`, and it must never
    stop the scene drawing)."""
    try:
        return parse_overlays(case.sections.get(SECTION) or {})
    except (ValidationError, ValueError):
        return {}


def set_overlay(case: Any, overlay: Overlay, text: str | None = None) -> Overlay:
    """Add or replace one overlay as one undoable step of the case."""
    try:
        _OVERLAYS.validate_python({overlay.id: overlay.model_dump()})
    except ValidationError as exc:
        raise InputError(f"Overlay '{overlay.id}' is not valid: {exc.errors()[0]['msg']}.") from None
    current = {k: v.model_dump(mode="json") for k, v in overlays(case).items()}
    new = overlay.model_dump(mode="json")
    if current.get(overlay.id) == new:
        return overlay
    current[overlay.id] = new
    set_section(case, SECTION, current, text or f"Show {overlay.label or overlay.kind}")
    return overlay


def remove_overlay(case: Any, overlay_id: str, text: str | None = None) -> bool:
    """Remove an overlay (one undoable step); False if there was none with that id."""
    current = {k: v.model_dump(mode="json") for k, v in overlays(case).items()}
    gone = current.pop(overlay_id, None)
    if gone is None:
        return False
    set_section(case, SECTION, current, text or f"Hide {gone.get('label') or gone['kind']}")
    return True


def replace_overlays(case: Any, prefix: str, new: list[Overlay], text: str) -> bool:
    """Replace every overlay whose id starts with ``prefix`` by ``new`` in one undoable step
    (one redraw); False if nothing changed."""
    current = {k: v.model_dump(mode="json") for k, v in overlays(case).items()
               if not k.startswith(prefix)}
    for overlay in new:
        if not overlay.id.startswith(prefix):
            raise InputError(f"Overlay '{overlay.id}' does not start with '{prefix}'.")
        current[overlay.id] = overlay.model_dump(mode="json")
    return set_section(case, SECTION, current, text)


def remove_overlays(case: Any, prefix: str, text: str | None = None) -> int:
    """Remove every overlay whose id starts with ``prefix`` in one step; how many went."""
    before = len(overlays(case))
    replace_overlays(case, prefix, [], text or "Hide overlays")
    return before - len(overlays(case))
