"""What a live session shows over the scene, as live overlays (:mod:`sim.model.live_overlays`).

The Live panel, a script or a recording's playback call :func:`live_overlays_of` with the
session's current state and hand the result to ``Workbench.show_live``; every view then draws
the same markers, banner, colour bar and tool tips.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sim.model import SceneObject
from sim.model.live_overlays import AlarmBanner, LiveOverlay, SensorMark, SensorMarkers, ToolGlyph
from sim.model.overlays import Legend

PREFIX = "live:"
LIVE_CMAP = "jet"  # the live field's colours, on the asset and in its colour bar alike


def sensor_markers(asset: SceneObject, sensors: Iterable[Any],
                   values: dict[str, float]) -> SensorMarkers:
    """A marker per sensor on ``asset`` (at its point, or its region's centre) in world mm,
    coloured by the sensor's state for its current value."""
    pts = np.asarray(asset.data.points, dtype=float)
    marks = []
    for s in sensors:
        if s.object_name not in (None, asset.name):
            continue
        if s.region and max(s.region) < len(pts):
            local = pts[s.region].mean(axis=0)
        elif s.point is not None:
            local = np.asarray(s.point, dtype=float)
        elif len(pts):
            local = pts[0]
        else:
            continue
        world = asset.transform[:3, :3] @ local + asset.transform[:3, 3]
        value = values.get(s.id)
        value = float(value) if value is not None and np.isfinite(value) else None
        marks.append(SensorMark(name=s.name, point=tuple(float(v) for v in world), value=value,
                                unit=s.unit, state=s.status(value)))
    return SensorMarkers(id=PREFIX + "sensors", label=f"{asset.name} sensors", marks=marks,
                         radius=max(float(asset.data.length) * 0.03, 0.5))


def alarm_banner(alarms: Iterable[Any]) -> AlarmBanner | None:
    """The banner while any alarm is active and unacknowledged (None otherwise)."""
    urgent = [a for a in alarms if a.condition_active and not a.acknowledged]
    if not urgent:
        return None
    more = f"  (+{len(urgent) - 1} more)" if len(urgent) > 1 else ""
    return AlarmBanner(id=PREFIX + "alarm", label="Alarm",
                       text=f"ALARM: {urgent[0].message}{more}"[:500], severity="alarm")


def tool_glyphs(tools: Iterable[Any]) -> list[ToolGlyph]:
    """A tip glyph per tracked tool that has had a pose."""
    return [ToolGlyph(id=PREFIX + "tool:" + t.device, label=t.device, name=t.device,
                      pose=tuple(tuple(float(v) for v in row) for row in t.pose))
            for t in tools if t.updates > 0 and np.isfinite(t.pose).all()]


def field_legend(title: str, low: float, high: float) -> Legend:
    return Legend(id=PREFIX + "legend", label="Live field", title=title, units="",
                  cmap=LIVE_CMAP, range=(float(low), float(high)), placement="bottom")


def live_overlays_of(session: Any, asset: SceneObject | None,
                     legend: Legend | None = None) -> list[LiveOverlay]:
    """Everything a live session shows now: its asset's sensor markers, the alarm banner,
    its tools' tips and (if the asset is coloured by a field) that field's colour bar."""
    tel = session.telemetry
    shown: list[LiveOverlay] = []
    if asset is not None:
        shown.append(sensor_markers(asset, tel.sensors.values(), tel.values()))
    banner = alarm_banner(tel.alarms.open_alarms)
    if banner is not None:
        shown.append(banner)
    shown += tool_glyphs(list(session.instruments.tools.values()))
    if legend is not None:
        shown.append(legend)
    return shown
