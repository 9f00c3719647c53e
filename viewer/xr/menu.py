"""View > Enter XR and View > XR Preview in the main window.

Kept here so the main window only adds the menu entries; the XR stack (pyopenxr, PyOpenGL)
is imported the first time it is used.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QMainWindow, QMenu, QMessageBox

from viewer.errors import show_error

log = logging.getLogger(__name__)
DESKTOP_REFRESH_MS = 150  # how often the desktop view catches up with moves made in XR


class XRMenu(QObject):
    """The XR entries of the View menu and the state behind them."""

    def __init__(self, window: QMainWindow, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.controller = None
        self.preview = None
        self.enter_action = QAction("Enter &XR", window)
        self.enter_action.setCheckable(True)
        self.enter_action.setShortcut(QKeySequence("Ctrl+Shift+X"))
        self.enter_action.setStatusTip("Show the case in the OpenXR headset")
        self.enter_action.toggled.connect(self._toggled)
        self.preview_action = QAction("XR Pre&view (Side by Side)", window)
        self.preview_action.setStatusTip("Stereo preview of the headset view, no headset needed")
        self.preview_action.triggered.connect(self.open_preview)
        menu.addSeparator()
        menu.addAction(self.enter_action)
        menu.addAction(self.preview_action)
        self._desktop_dirty = False
        self._desktop_timer = QTimer(self)
        self._desktop_timer.setInterval(DESKTOP_REFRESH_MS)
        self._desktop_timer.timeout.connect(self._refresh_desktop)
        window.installEventFilter(self)

    # -- headset ---------------------------------------------------------------------------------
    def _toggled(self, on: bool) -> None:
        if on:
            self.enter()
        elif self.controller is not None and self.controller.active:
            self.controller.stop()

    def enter(self) -> bool:
        case = getattr(self.window, "case", None)
        if case is None:
            QMessageBox.information(self.window, "Enter XR", "Open a case first.")
            self._set_checked(False)
            return False
        from viewer.xr.sim_link import SimulationLink
        from viewer.xr.xr_view import XRViewController

        if self.controller is None:
            bench = getattr(self.window, "workbench", None)  # whatever simulation it runs
            link = SimulationLink(bench) if bench is not None else None
            self.controller = XRViewController(self, on_object_moved=self._on_object_moved,
                                               deformer=link)
            self.controller.stopped.connect(self._on_stopped)
        try:
            self.controller.start(case)
        except Exception as exc:  # no runtime / no headset: say so, keep the desktop going
            self.window.last_error = show_error(self.window, "Cannot enter XR", exc)
            self._set_checked(False)
            return False
        self._desktop_timer.start()
        self._status(f"Showing {case.name} in the headset")
        return True

    def _on_stopped(self, error) -> None:
        self._desktop_timer.stop()
        self._set_checked(False)
        self._refresh_desktop()
        if error is not None:
            self.window.last_error = show_error(self.window, "The XR session ended", error)
        else:
            self._status("Left XR")

    def _on_object_moved(self, _obj) -> None:
        self._desktop_dirty = True

    def _refresh_desktop(self) -> None:
        if self._desktop_dirty:
            self._desktop_dirty = False
            self.window.view.renderer.request_render()
        if self.controller is not None and self.controller.active:
            self._status(f"XR: {self.controller.fps:.0f} frames/s")

    # -- preview ---------------------------------------------------------------------------------
    def open_preview(self) -> None:
        case = getattr(self.window, "case", None)
        if case is None:
            QMessageBox.information(self.window, "XR Preview", "Open a case first.")
            return
        from viewer.xr.preview import XRPreviewWindow
        from viewer.xr.sim_link import SimulationLink

        if self.preview is not None:
            self.preview.close()
        bench = getattr(self.window, "workbench", None)  # trigger-drag pulls simulated tissue
        self.preview = XRPreviewWindow(case, deformer=SimulationLink(bench) if bench is not None else None)
        self.preview.show()

    # -- housekeeping ----------------------------------------------------------------------------
    def _set_checked(self, on: bool) -> None:
        self.enter_action.blockSignals(True)
        self.enter_action.setChecked(on)
        self.enter_action.blockSignals(False)

    def _status(self, text: str) -> None:
        label = getattr(self.window, "status_label", None)
        if label is not None:
            label.setText(text)

    def shutdown(self) -> None:
        if self.controller is not None and self.controller.active:
            self.controller.stop()
        if self.preview is not None:
            self.preview.close()
            self.preview = None

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False
