"""Small widgets of the Live panel: a GUI-thread caller and a sensor time plot."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, QPointF, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPen, QPolygonF
from PyQt6.QtWidgets import QWidget


class MainThreadCaller(QObject):
    """Runs callables on the GUI thread: a signal emitted from a link thread is queued."""

    call = pyqtSignal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.call.connect(self._run)

    @staticmethod
    def _run(fn) -> None:
        fn()

    def __call__(self, fn) -> None:
        self.call.emit(fn)


class SparkPlot(QWidget):
    """A small time plot of one sensor with its normal band shaded."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(90)
        self.t = np.zeros(0)
        self.v = np.zeros(0)
        self.band: tuple[float, float] | None = None
        self.title = ""

    def set_data(self, t: np.ndarray, v: np.ndarray, band, title: str) -> None:
        self.t, self.v, self.band, self.title = t, v, band, title
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#20242c"))
        p.setPen(QColor("#ccc"))
        p.drawText(6, 14, self.title)
        if len(self.t) < 2:
            p.end()
            return
        lo = min(self.v.min(), self.band[0] if self.band else self.v.min())
        hi = max(self.v.max(), self.band[1] if self.band else self.v.max())
        hi = hi if hi > lo else lo + 1.0
        t0, t1 = self.t[0], max(self.t[-1], self.t[0] + 1e-6)
        w, h, top = self.width() - 8, self.height() - 24, 20

        def y(val):
            return top + h * (1.0 - (val - lo) / (hi - lo))

        if self.band:
            p.fillRect(4, int(y(self.band[1])), w, int(y(self.band[0]) - y(self.band[1])),
                       QColor(46, 125, 50, 60))
        xs = 4 + w * (self.t - t0) / (t1 - t0)
        p.setPen(QPen(QColor("#4fc3f7"), 1.5))
        p.drawPolyline(QPolygonF([QPointF(float(a), float(y(b))) for a, b in zip(xs, self.v,
                                                                                  strict=True)]))
        p.setPen(QColor("#aaa"))
        p.drawText(6, self.height() - 4, f"{lo:.4g} .. {hi:.4g}   last {self.v[-1]:.4g}")
        p.end()
