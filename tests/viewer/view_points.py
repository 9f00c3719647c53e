"""Where a world point is drawn in a view, for tests that click or drag there like a user."""

from __future__ import annotations

from PyQt6.QtCore import QPoint


def display_point(view, world) -> tuple[float, float]:
    """The VTK display pixel (device pixels, origin bottom-left) where the world point ``world``
    is drawn in ``view`` (the 3D view or a slice view)."""
    ren = view.plotter.renderer
    ren.SetWorldPoint(*world, 1.0)
    ren.WorldToDisplay()
    x, y, _ = ren.GetDisplayPoint()
    return x, y


def widget_pos(view, x: float, y: float) -> QPoint:
    """The Qt widget position (logical pixels, origin top-left) of VTK display pixel (x, y)."""
    widget = view.plotter.interactor
    ratio = widget.devicePixelRatioF()
    return QPoint(int(round(x / ratio)), int(round(widget.height() - 1 - y / ratio)))


def widget_point(view, world) -> QPoint:
    """The Qt widget position of the world point ``world`` in ``view``."""
    return widget_pos(view, *display_point(view, world))
