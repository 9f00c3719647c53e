"""The cine bar under the slice views: steps a 4D (time series) volume through its time
points (play/pause, a slider, the frame number and time shown).

The frame shown is the volume's active array (see :mod:`sim.imaging.timeseries`), so the
slice views, the 3D view's slices (they follow ``frame_events``), segmentation and a saved
case all see the same time point. Stepping is a view action, not an edit: it is not undone
and does not mark the case modified.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QWidget

from sim.imaging.timeseries import (
    TIMES_KEY,
    current_frame,
    frame_count,
    frame_label,
    set_frame,
)
from sim.model import SceneObject

DEFAULT_FPS = 5


class CineBar(QWidget):
    """Play/pause, time slider, speed and the frame label for the viewer's volume; hidden
    for ordinary volumes. ``viewer`` is the :class:`~viewer.views.slice_view.SliceViewer`."""

    def __init__(self, viewer) -> None:
        super().__init__(viewer)
        self.viewer = viewer
        self.obj: SceneObject | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("play the time series in a loop (again: pause)")
        self.play_button.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("time point shown in the slice views")
        self.slider.valueChanged.connect(self.show_frame)
        self.fps_box = QSpinBox()
        self.fps_box.setRange(1, 30)
        self.fps_box.setValue(DEFAULT_FPS)
        self.fps_box.setSuffix(" fps")
        self.fps_box.setToolTip("playback speed, time points per second")
        self.fps_box.valueChanged.connect(self._on_speed)
        self.label = QLabel()
        for w in (self.slider, self.fps_box):
            w.setProperty("noSave", True)  # a view position and a playback speed, not the case
        row.addWidget(QLabel("Time"))
        row.addWidget(self.play_button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(self.fps_box)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.step)
        self._on_speed(DEFAULT_FPS)
        self.hide()

    def set_volume(self, obj: SceneObject | None) -> None:
        """Follow ``obj``: shown (at its current frame) when it is a time series."""
        self.play_button.setChecked(False)
        self.obj = obj
        n = frame_count(obj.data) if obj is not None else 1
        self.setVisible(n > 1)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setValue(current_frame(obj.data) if obj is not None else 0)
        self.slider.blockSignals(False)
        self._update_label()

    def show_frame(self, t: int) -> None:
        """Show time point ``t`` (0-based) in the slice views and the 3D view."""
        if self.obj is None or frame_count(self.obj.data) < 2:
            return
        t = set_frame(self.obj.data, t)
        if self.slider.value() != t:
            self.slider.blockSignals(True)
            self.slider.setValue(t)
            self.slider.blockSignals(False)
        self._update_label()
        viewer = self.viewer
        for v in viewer.views:
            if v.image is self.obj.data:
                v._render_slice()
                v.plotter.render()
        viewer._update_3d()
        if viewer.render_box.isChecked():
            viewer._update_volume_rendering()

    def step(self) -> None:
        """The next time point (after the last: the first)."""
        if self.obj is not None:
            self.show_frame((current_frame(self.obj.data) + 1) % frame_count(self.obj.data))

    def _update_label(self) -> None:
        if self.obj is None or frame_count(self.obj.data) < 2:
            self.label.setText("")
            return
        self.label.setText(frame_label(self.obj.data, self.obj.metadata.get(TIMES_KEY)))

    def _on_play(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on and self.obj is not None and frame_count(self.obj.data) > 1:
            self.timer.start()
        else:
            self.timer.stop()

    def _on_speed(self, fps: int) -> None:
        self.timer.setInterval(int(1000 / max(fps, 1)))
