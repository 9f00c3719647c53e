"""The small desktop window of ``twinsight xr CASE``: what is showing, frame rate, Stop."""

from __future__ import annotations

from PyQt6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from viewer.xr.xr_view import XRViewController


class XRStatusWindow(QWidget):
    def __init__(self, controller: XRViewController, case_name: str, max_frames: int = 0) -> None:
        super().__init__()
        self.setWindowTitle(f"Twinsight XR — {case_name}")
        self.controller = controller
        self.case_name = case_name
        self.max_frames = max_frames
        self.frames = 0
        self.error: BaseException | None = None
        layout = QVBoxLayout(self)
        self.label = QLabel(f"Showing {case_name} in the headset…")
        self.rate = QLabel("")
        stop = QPushButton("Stop")
        stop.clicked.connect(controller.stop)
        for w in (self.label, self.rate, stop):
            layout.addWidget(w)
        controller.frame_done.connect(self._on_frame)
        controller.stopped.connect(self._on_stopped)

    def _on_frame(self) -> None:
        self.frames += 1
        if self.frames % 30 == 0:
            self.rate.setText(f"{self.controller.fps:.0f} frames/s")
        if self.max_frames and self.frames >= self.max_frames:
            self.controller.stop()

    def _on_stopped(self, error) -> None:
        import sys

        self.error = error
        if error is not None:
            print(f"twinsight: error: the XR session ended: {error}", file=sys.stderr)
        else:
            print(f"Showed {self.case_name} in the headset: {self.frames} frames.")
        self.close()

    def closeEvent(self, event) -> None:
        if self.controller.active:
            self.controller.stop()
        super().closeEvent(event)
