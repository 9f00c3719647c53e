"""The selection outline is a view of the selected object: it moves with it, follows new
geometry and hides with it."""

from __future__ import annotations

import numpy as np

from sim.geometry.rigid import from_parts
from tests.viewer.case_window import shared_window_fixture, win_fixture  # noqa: F401


def _bounds(actor) -> np.ndarray:
    return np.asarray(actor.GetBounds(), dtype=float)


def _around(outline, body) -> bool:
    """The outline (the silhouette's edges: inside the object's bounds) is on the object."""
    o, b = _bounds(outline), _bounds(body)
    centre = np.allclose((o[::2] + o[1::2]) / 2, (b[::2] + b[1::2]) / 2, atol=1.0)
    return centre and bool(np.all(o[::2] >= b[::2] - 0.5) and np.all(o[1::2] <= b[1::2] + 0.5))


def test_outline_follows_a_moved_device(win, qtbot):
    screw = win.case.scene["Screw"]
    ren = win.view.renderer
    win.case.scene.select(screw)
    win.view.plotter.render()
    outline = ren.highlight_actor
    assert outline is not None and outline.GetVisibility()
    body = ren.adapters[screw.uid].actors[0]
    assert _around(outline, body)
    before = _bounds(outline)
    screw.transform = from_parts((60.0, 25.0, -40.0), (0.0, 90.0, 0.0))  # the device moves
    win.view.plotter.render()
    moved = _bounds(ren.highlight_actor)
    assert _around(ren.highlight_actor, body)  # the outline went with it
    assert np.abs(moved - before).max() > 30.0
    win.case.history.undo()  # back where it was: so is the outline
    win.view.plotter.render()
    assert np.allclose(_bounds(ren.highlight_actor), before, atol=1e-6)
    screw.visible = False
    assert ren.highlight_actor is None  # a hidden object shows no outline
    screw.visible = True
    assert ren.highlight_actor is not None
    win.case.scene.select(None)
    screw.transform = np.eye(4)
    assert ren.highlight_actor is None


def test_outline_follows_new_geometry(win):
    import pyvista as pv

    liver = win.case.scene["Liver"]
    liver.visible = True
    win.case.scene.select(liver)
    win.view.plotter.render()
    liver.data = pv.Sphere(radius=10.0, center=(100.0, 0.0, 0.0))
    win.view.plotter.render()
    b = _bounds(win.view.renderer.highlight_actor)
    assert b[0] > 85.0 and b[1] < 115.0
