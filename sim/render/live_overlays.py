"""Adapters of the live overlay kinds (:mod:`sim.model.live_overlays`) for the overlay layer.

Each function turns one overlay into the actors it needs in a plotter: the desktop view, an
offscreen plotter or the headset's two-eye shim (which draws 3D actors in both eyes and has
no 2D labels; a banner goes to both eyes as head-locked text through ``add_eye_prop``).
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkTextActor

from sim.model import live_overlays as lo
from sim.render.adapters import vtk_matrix

BANNER_CHARS = 36  # per line: about 400 pixels at the banner's 20-point bold


def sensor_actors(plotter: Any, o: lo.SensorMarkers, common: dict) -> list:
    """The markers as one mesh of spheres coloured by state, and their readings as labels
    where the plotter can draw labels."""
    if not o.marks:
        return []
    centres = pv.PolyData(np.array([m.point for m in o.marks], dtype=float))
    centres.point_data["state_rgb"] = np.round(
        np.array([m.color for m in o.marks]) * 255).astype(np.uint8)
    spheres = centres.glyph(geom=pv.Sphere(radius=o.radius), scale=False, orient=False)
    actors = [plotter.add_mesh(spheres, scalars="state_rgb", rgb=True, **common)]
    add_labels = getattr(plotter, "add_point_labels", None)
    if o.labels and add_labels is not None:
        # Beside the sphere, not over it: a step off every axis, so no standard view (which
        # looks along one axis) puts the label's corner on the marker.
        lift = np.full(3, 1.6 * o.radius)
        actors.append(add_labels(centres.points + lift, [m.text for m in o.marks],
                                 name=common["name"] + ":labels", font_size=12,
                                 text_color="white", shape_color=(0.1, 0.1, 0.12),
                                 shape_opacity=0.6, show_points=False, pickable=False,
                                 render=False, reset_camera=False))
    return actors


def banner_actor(plotter: Any, o: lo.AlarmBanner, name: str) -> list:
    """Bold text on a dark band at the top centre of the view (of each eye in the headset)."""
    text = vtkTextActor()
    # Wrapped, so a narrow view (a side-docked window, one eye) shows all of it.
    text.SetInput("\n".join(textwrap.wrap(o.text, BANNER_CHARS)))
    prop = text.GetTextProperty()
    prop.SetFontSize(20)
    prop.SetBold(True)
    prop.SetColor(*o.color)
    prop.SetBackgroundColor(0.08, 0.08, 0.1)
    prop.SetBackgroundOpacity(0.75)
    prop.SetJustificationToCentered()
    prop.SetVerticalJustificationToTop()
    text.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    text.SetPosition(0.5, 0.95)
    add_eye_prop = getattr(plotter, "add_eye_prop", None)
    if add_eye_prop is not None:
        add_eye_prop(text)
    elif getattr(plotter, "add_actor", None) is not None:
        plotter.add_actor(text, name=name, pickable=False, render=False, reset_camera=False)
    else:
        return []
    return [text]


def tool_actors(plotter: Any, o: lo.ToolGlyph, common: dict) -> list:
    """A sphere at the tip and the trajectory ahead of it, drawn in the tip frame and placed
    by the pose (so a new pose only moves them, see :func:`move_tool`)."""
    tip = pv.Sphere(radius=o.tip_radius, center=(0.0, 0.0, 0.0))
    actors = [plotter.add_mesh(tip, color=o.color, **common)]
    if o.reach > 0:
        aim = pv.Line((0.0, 0.0, 0.0), (0.0, 0.0, -o.reach))
        actors.append(plotter.add_mesh(aim, color=o.color, line_width=3,
                                       **{**common, "name": common["name"] + ":aim"}))
    move_tool(actors, o)
    return actors


def move_tool(actors: list, o: lo.ToolGlyph) -> None:
    matrix = vtk_matrix(np.asarray(o.pose, dtype=float))
    for actor in actors:
        actor.SetUserMatrix(matrix)


def only_moved(old: Any, new: Any) -> bool:
    """True if ``new`` is ``old`` at another pose (its actors can stay and just move)."""
    return (isinstance(old, lo.ToolGlyph) and isinstance(new, lo.ToolGlyph)
            and old.model_copy(update={"pose": new.pose}) == new)
