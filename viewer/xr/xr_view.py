"""Runs the headset view from the GUI thread: one XR frame per tick of a zero-interval timer.

Running on the GUI thread is what lets the headset share the scene's data objects with the
desktop view without locks: FE deformation, device moves and live instrument poses are seen
by both. ``xrWaitFrame`` paces the loop to the headset's refresh rate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from sim.model import Case, SceneObject
from viewer.xr.deform_grab import DeformationGrab
from viewer.xr.headset import HeadsetView

log = logging.getLogger(__name__)
IDLE_POLL_MS = 50


class XRViewController(QObject):
    """Start/stop the headset view of a case; ``stopped`` carries an error or None."""

    started = pyqtSignal()
    stopped = pyqtSignal(object)  # None, or the exception that ended the session
    frame_done = pyqtSignal()  # a frame was drawn into the headset

    def __init__(self, parent: QObject | None = None, resolution_scale: float = 1.0,
                 on_object_moved: Callable[[SceneObject], None] | None = None,
                 sim_rate: Callable[[], float | None] | None = None,
                 deformer: DeformationGrab | None = None) -> None:
        super().__init__(parent)
        self.resolution_scale = resolution_scale
        self.deformer = deformer
        self.on_object_moved = on_object_moved
        self.sim_rate = sim_rate
        self.view: HeadsetView | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._tick)

    @property
    def active(self) -> bool:
        return self.view is not None

    def start(self, case: Case) -> None:
        """Open the session (raises :class:`viewer.xr.runtime.XRUnavailable` with a reason)."""
        if self.view is not None:
            return
        self.view = HeadsetView(case, resolution_scale=self.resolution_scale,
                                on_object_moved=self.on_object_moved, sim_rate=self.sim_rate,
                                deformer=self.deformer)
        self.timer.start()
        self.started.emit()

    def _tick(self) -> None:
        if self.view is None:
            return
        before = self.view.session.stats.rendered
        try:
            alive = self.view.tick()
        except Exception as exc:  # a runtime error ends the visit, never the application
            log.warning("XR session failed", exc_info=True)
            self._finish(exc)
            return
        if not alive:
            self._finish(None)
            return
        # Until the runtime lets the session run (e.g. the headset is not worn), poll gently
        # instead of spinning the GUI thread; xrWaitFrame paces the loop once it runs.
        self.timer.setInterval(0 if self.view.session.running else IDLE_POLL_MS)
        if self.view.session.stats.rendered > before:
            self.frame_done.emit()  # last: a listener may stop the session

    def stop(self) -> None:
        if self.view is not None:
            self._finish(None)

    def _finish(self, error: BaseException | None) -> None:
        self.timer.stop()
        view, self.view = self.view, None
        if view is not None:
            try:
                view.stop()
            except Exception as exc:
                log.warning("XR session did not end cleanly", exc_info=True)
                error = error or exc
        self.stopped.emit(error)

    @property
    def fps(self) -> float:
        return self.view.session.stats.fps if self.view is not None else 0.0
