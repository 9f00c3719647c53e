"""Live overlays: what a running link draws over the scene for as long as it runs.

Sensor markers coloured by their alarm state, the alarm banner, the live field's colour bar
and the tracked tools' tips are the same kind of typed overlay document as a clearance map
(:mod:`sim.model.overlays`), drawn by the same overlay layer (:mod:`sim.render.overlays`) in
the window, offscreen images and the headset. They differ in where they live:
:class:`LiveOverlays`, owned by the workbench (``Workbench.live_overlays``), not the case.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from psygnal import Signal
from pydantic import BaseModel, ConfigDict, Field

from sim.errors import InputError
from sim.model.overlays import Colour, Finite, Legend, Vec3, _Overlay

# Colours of a sensor marker by the sensor's state (sim.twin.sensors.Sensor.status).
STATE_COLOURS: dict[str, tuple[float, float, float]] = {
    "normal": (0.18, 0.75, 0.3), "high": (0.9, 0.15, 0.15), "low": (0.2, 0.45, 0.95),
    "no data": (0.6, 0.6, 0.6)}
SensorState = Literal["normal", "high", "low", "no data"]
Severity = Literal["alarm", "warning", "info"]
SEVERITY_COLOURS: dict[str, tuple[float, float, float]] = {
    "alarm": (1.0, 0.3, 0.3), "warning": (1.0, 0.75, 0.2), "info": (0.85, 0.9, 1.0)}
Matrix4 = tuple[tuple[Finite, Finite, Finite, Finite], tuple[Finite, Finite, Finite, Finite],
                tuple[Finite, Finite, Finite, Finite], tuple[Finite, Finite, Finite, Finite]]


class SensorMark(BaseModel):
    """One sensor's marker: where it sits, what it reads and its state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    point: Vec3
    value: Finite | None = None
    unit: str = ""
    state: SensorState = "no data"

    @property
    def color(self) -> tuple[float, float, float]:
        return STATE_COLOURS[self.state]

    @property
    def text(self) -> str:
        value = "—" if self.value is None else f"{self.value:.4g} {self.unit}".rstrip()
        return f"{self.name}: {value}"


class SensorMarkers(_Overlay):
    """A sphere per sensor on the asset, coloured by its state, with its reading beside it."""

    kind: Literal["sensors"] = "sensors"
    marks: Annotated[list[SensorMark], Field(max_length=10_000)]
    radius: Annotated[float, Field(gt=0.0, le=1e4)] = 1.0
    labels: bool = True


class AlarmBanner(_Overlay):
    """A line of text across the top of the view while an alarm needs someone's attention."""

    kind: Literal["banner"] = "banner"
    text: Annotated[str, Field(min_length=1, max_length=500)]
    severity: Severity = "alarm"

    @property
    def color(self) -> tuple[float, float, float]:
        return SEVERITY_COLOURS[self.severity]


class ToolGlyph(_Overlay):
    """A tracked tool's tip and aim: a sphere at the tip and its trajectory ``reach`` mm ahead
    (along -z of the tip frame, the direction the tool points), from the tip pose."""

    kind: Literal["tool"] = "tool"
    name: str
    pose: Matrix4  # patient_T_tip, mm (sim.twin.tracking.TrackedTool.pose)
    reach: Annotated[float, Field(ge=0.0, le=1e4)] = 50.0
    tip_radius: Annotated[float, Field(gt=0.0, le=100.0)] = 1.5
    color: Colour = (0.2, 0.9, 1.0)

    @property
    def tip(self) -> np.ndarray:
        return np.asarray(self.pose, dtype=float)[:3, 3]

    @property
    def aim(self) -> np.ndarray:
        """The point ``reach`` mm ahead of the tip."""
        m = np.asarray(self.pose, dtype=float)
        return m[:3, 3] - self.reach * m[:3, 2]


LiveOverlay = SensorMarkers | AlarmBanner | ToolGlyph | Legend


class LiveOverlays:
    """The live overlays shown now, by id, with an event per change.

    Deliberately not in the case and not in its undo history: they mirror readings that
    change many times a second and mean nothing once the link is gone, so saving them
    would store stale alarms in a plan and flood undo with steps nobody made. What the
    link *decides* (registration, tip calibrations) is saved in the case's "link" section.
    Changed only on the thread the views live on (the GUI thread; headless, any one thread).
    """

    changed = Signal(str)  # the id that was set, replaced or removed
    settled = Signal()  # after each call that changed anything: views render once

    def __init__(self) -> None:
        self._items: dict[str, LiveOverlay] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, overlay_id: object) -> bool:
        return overlay_id in self._items

    def get(self, overlay_id: str) -> LiveOverlay | None:
        return self._items.get(overlay_id)

    def items(self) -> dict[str, LiveOverlay]:
        """A copy of what is shown, by id."""
        return dict(self._items)

    def set(self, overlay: LiveOverlay) -> bool:
        """Show ``overlay`` (replacing one with its id); False, and no event, if unchanged."""
        return self._settle(self._set(overlay))

    def remove(self, overlay_id: str) -> bool:
        return self._settle(self._remove(overlay_id))

    def replace(self, prefix: str, new: list[LiveOverlay]) -> bool:
        """Make the overlays whose ids start with ``prefix`` exactly ``new``: a ``changed``
        event for each that changed, one ``settled`` at the end; False if nothing changed."""
        bad = [o for o in new if not isinstance(o, LiveOverlay) or not o.id.startswith(prefix)]
        if bad:
            raise InputError(f"Live overlay '{getattr(bad[0], 'id', bad[0])}' is not a live "
                             f"overlay with an id starting '{prefix}'.")
        keep = {o.id for o in new}
        changed = [self._remove(k) for k in list(self._items)
                   if k.startswith(prefix) and k not in keep]
        changed += [self._set(o) for o in new]
        return self._settle(any(changed))

    def clear(self) -> bool:
        return self._settle(any([self._remove(k) for k in list(self._items)]))

    def _set(self, overlay: LiveOverlay) -> bool:
        if not isinstance(overlay, LiveOverlay):
            raise InputError(f"'{type(overlay).__name__}' is not a live overlay.")
        if self._items.get(overlay.id) == overlay:
            return False
        self._items[overlay.id] = overlay
        self.changed.emit(overlay.id)
        return True

    def _remove(self, overlay_id: str) -> bool:
        if self._items.pop(overlay_id, None) is None:
            return False
        self.changed.emit(overlay_id)
        return True

    def _settle(self, changed: bool) -> bool:
        if changed:
            self.settled.emit()
        return changed
