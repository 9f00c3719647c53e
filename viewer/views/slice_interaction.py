"""Mouse and keyboard of a slice view, taken at the Qt level before VTK sees them.

The wheel and the arrow/page keys scroll (the steps that arrive in one event-loop turn as one
scroll), a left click moves the crosshair (Shift+click, or any click in seed mode, sets the
segmentation seed), a left drag that starts on a markup point moves
that point (through the markup, so the 3D view and Undo follow), Ctrl+left drag changes
window/level (right: wider, up: brighter level) and Alt+left drag turns the plane (up/down: tilt,
right/left: spin). While an editing tool is set (``tool``: the Segment editor's brush), plain
left presses, drags and releases go to it. Moving the mouse shows the value under it. Right drag
zooms and middle drag pans as VTK's image style does.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QEvent, Qt, QTimer

from viewer.views.slice_geometry import SPIN_LIMIT, TILT_LIMIT

WL_PIXELS = 250  # dragging this many pixels changes window/level by the current width
TURN_DEG_PER_PIXEL = 0.5  # Alt+drag: degrees of tilt/spin per pixel of mouse travel
GRAB_PIXELS = 8  # a press this close to a markup point grabs it
SCROLL_KEYS = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: 10, Qt.Key.Key_PageDown: -10}


class SliceInteraction:
    """Event handling mixed into :class:`~viewer.views.slice_view.SliceView`, which provides
    ``plotter``, ``axis``, ``clim``, ``seed_mode``, the ``tilt_box``/``spin_box``,
    ``slice_plane()``, ``set_oblique()`` and the signals ``scrolled``, ``cursor_picked``,
    ``seed_picked`` and ``window_dragged``."""

    _wl_drag: tuple[float, float, float, float] | None = None  # x, y, level, width
    _turn_drag: tuple[float, float, int, int] | None = None  # x, y, tilt, spin
    _point_drag: tuple | None = None  # (markup, point index) being dragged
    _tool_drag = False
    _pending_scroll = 0  # wheel/key steps not scrolled yet (see _queue_scroll)
    tool = None  # an editing tool: press(view, world), drag(view, world), release(view)

    def _world_of(self, event) -> np.ndarray | None:
        return self.world_at(*self._to_display(event.position()))

    def pixel_mm(self) -> float:
        """World millimetres per widget pixel at the current zoom."""
        height = max(self.plotter.interactor.height(), 1)
        return 2.0 * float(self.plotter.camera.parallel_scale) / height

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        plain = kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                         QEvent.Type.MouseButtonRelease) and not (
            event.modifiers() & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ControlModifier
                                 | Qt.KeyboardModifier.ShiftModifier))
        if kind == QEvent.Type.MouseMove and not event.buttons():
            self.hover_at(self._world_of(event))  # the value under the mouse
            return False
        if (plain and self.tool is not None and kind == QEvent.Type.MouseButtonPress
                and event.button() == Qt.MouseButton.LeftButton):
            world = self._world_of(event)
            if world is not None:
                self._tool_drag = True
                self.tool.press(self, world)
            return True
        if self._tool_drag:
            if kind == QEvent.Type.MouseMove:
                world = self._world_of(event)
                if world is not None:
                    self.tool.drag(self, world)
                return True
            if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
                self._tool_drag = False
                self.tool.release(self)
                return True
        if (plain and kind == QEvent.Type.MouseButtonPress and not self.seed_mode
                and event.button() == Qt.MouseButton.LeftButton):
            world = self._world_of(event)
            grab = None if world is None else self.plan.markup_near(world, GRAB_PIXELS * self.pixel_mm())
            if grab is not None:
                self._point_drag = grab
                return True
        if self._point_drag is not None:
            if kind == QEvent.Type.MouseMove:
                world = self._world_of(event)
                if world is not None:
                    markup, index = self._point_drag
                    markup.move_point(index, world)  # evented: every view and Undo follow
                return True
            if kind == QEvent.Type.MouseButtonRelease:
                self._point_drag = None
                return True
        if kind == QEvent.Type.Wheel:
            self._queue_scroll(1 if event.angleDelta().y() > 0 else -1)
            return True
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.AltModifier:  # turn the plane (oblique reformat)
                pos = event.position()
                self._turn_drag = (pos.x(), pos.y(), self.tilt_box.value(), self.spin_box.value())
                return True
            if mods & Qt.KeyboardModifier.ControlModifier:  # window/level drag, like Slicer
                lo, hi = self.clim
                pos = event.position()
                self._wl_drag = (pos.x(), pos.y(), (lo + hi) / 2.0, hi - lo)
                return True
            world = self.world_at(*self._to_display(event.position()))
            if world is not None:
                seed = self.seed_mode or bool(mods & Qt.KeyboardModifier.ShiftModifier)
                (self.seed_picked if seed else self.cursor_picked).emit(world)
            return True
        if kind == QEvent.Type.MouseMove and self._wl_drag is not None:
            x0, y0, level, width = self._wl_drag
            pos = event.position()
            per_pixel = max(width, 1.0) / WL_PIXELS
            self.window_dragged.emit(level + (y0 - pos.y()) * per_pixel,
                                     max(1.0, width + (pos.x() - x0) * per_pixel))
            return True
        if kind == QEvent.Type.MouseMove and self._turn_drag is not None:
            self._turn(event.position())
            return True
        if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            self._wl_drag = self._turn_drag = None
            return True
        if kind == QEvent.Type.MouseMove and event.buttons() & Qt.MouseButton.LeftButton:
            return True
        if kind == QEvent.Type.KeyPress and event.key() in SCROLL_KEYS:
            self._queue_scroll(SCROLL_KEYS[event.key()])
            return True
        return False

    def _queue_scroll(self, step: int) -> None:
        """Add ``step`` to the slices to scroll; they are scrolled together once the events
        already queued are handled (a fast wheel or a held key sends many per frame, and
        each slice drawn in between would be thrown away)."""
        first = not self._pending_scroll
        self._pending_scroll += step
        if first:
            QTimer.singleShot(0, self._flush_scroll)

    def _flush_scroll(self) -> None:
        step, self._pending_scroll = self._pending_scroll, 0
        if step:
            self.scrolled.emit(self.axis, step)

    def _turn(self, pos) -> None:
        """Alt+drag: tilt follows the vertical mouse travel (up: more), spin the horizontal
        (right: more), from the values the drag started at; the boxes show the result."""
        x0, y0, tilt0, spin0 = self._turn_drag
        tilt = int(np.clip(round(tilt0 + (y0 - pos.y()) * TURN_DEG_PER_PIXEL), -TILT_LIMIT, TILT_LIMIT))
        spin = int(round(spin0 + (pos.x() - x0) * TURN_DEG_PER_PIXEL))
        spin = (spin + SPIN_LIMIT) % (2 * SPIN_LIMIT) - SPIN_LIMIT  # past 180 degrees wraps round
        if (tilt, spin) != (self.tilt_box.value(), self.spin_box.value()):
            self.set_oblique(tilt, spin)

    def _to_display(self, pos) -> tuple[int, int]:
        ratio = self.plotter.interactor.devicePixelRatioF()
        height = self.plotter.interactor.height()
        return int(round(pos.x() * ratio)), int(round((height - pos.y() - 1) * ratio))

    def world_at(self, x: int, y: int) -> np.ndarray | None:
        """The slice point under display pixel (x, y) (VTK coordinates); None outside the image.

        The view is a parallel projection along the slice normal, so the pixel's world point at
        any depth, moved along the normal onto the current plane, is the point under the mouse.
        """
        if self.image is None:
            return None
        ren = self.plotter.renderer
        ren.SetDisplayPoint(float(x), float(y), 0.5)
        ren.DisplayToWorld()
        hx, hy, hz, hw = ren.GetWorldPoint()
        return self.slice_plane().snap(np.array([hx, hy, hz]) / (hw or 1.0))

    def pick(self, x: int, y: int) -> None:
        """Move the crosshair to the slice point under display pixel (x, y)."""
        world = self.world_at(x, y)
        if world is not None:
            self.cursor_picked.emit(world)
