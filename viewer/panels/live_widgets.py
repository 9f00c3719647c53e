"""Small widgets of the Live panel: a GUI-thread caller, a sensor time plot (with forecast
band, anomaly markers and data-quality flags) and a remaining-life gauge."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, QPointF, Qt, pyqtSignal
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
        self.setMinimumHeight(130)  # room for the title, axis labels and the trace
        self.t = np.zeros(0)
        self.v = np.zeros(0)
        self.band: tuple[float, float] | None = None
        self.title = ""
        self.forecast = None  # (t, mean, lower, upper) arrays, or None
        self.anomalies: list[tuple[float, float]] = []  # (t, value) marked red
        self.flags: list[tuple[float, float]] = []  # (t, value) flagged readings, orange

    def set_data(self, t: np.ndarray, v: np.ndarray, band, title: str) -> None:
        self.t, self.v, self.band, self.title = t, v, band, title
        self.update()

    def set_predictions(self, forecast=None, anomalies=(), flags=()) -> None:
        """The forecast band and the marks drawn over the data (see :meth:`set_data`)."""
        self.forecast = forecast
        self.anomalies, self.flags = list(anomalies), list(flags)
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        font = p.font()
        font.setPointSizeF(max(font.pointSizeF(), 9.0))
        p.setFont(font)
        fm = p.fontMetrics()
        line = fm.height()
        p.fillRect(self.rect(), QColor("#20242c"))
        p.setPen(QColor("#e0e0e0"))
        p.drawText(6, fm.ascent() + 2, fm.elidedText(self.title, Qt.TextElideMode.ElideRight,
                                                     self.width() - 12))
        if len(self.t) < 2:
            p.end()
            return
        fc = self.forecast
        if fc is not None and (len(fc[0]) == 0 or fc[0][-1] <= self.t[0]):
            fc = None
        lo = min(self.v.min(), self.band[0] if self.band else self.v.min())
        hi = max(self.v.max(), self.band[1] if self.band else self.v.max())
        if fc is not None:
            lo, hi = min(lo, float(np.min(fc[2]))), max(hi, float(np.max(fc[3])))
        hi = hi if hi > lo else lo + 1.0
        t0 = self.t[0]
        t1 = max(self.t[-1] if fc is None else max(self.t[-1], fc[0][-1]), self.t[0] + 1e-6)
        # y labels in a left margin, the time span under the trace: nothing drawn over it
        labels = [f"{v:.4g}" for v in (lo, hi)]
        left = 8 + max(fm.horizontalAdvance(t) for t in labels)
        top = line + 6
        w, h = self.width() - left - 6, self.height() - top - line - 6

        def y(val):
            return top + h * (1.0 - (val - lo) / (hi - lo))

        if self.band:
            p.fillRect(int(left), int(y(self.band[1])), int(w),
                       int(y(self.band[0]) - y(self.band[1])), QColor(46, 125, 50, 60))
        def x(tt):
            return left + w * (tt - t0) / (t1 - t0)

        p.setPen(QPen(QColor("#5a6270"), 1))
        p.drawRect(int(left), int(top), int(w), int(h))
        p.setPen(QColor("#b0b8c4"))
        p.drawText(4, int(top + fm.ascent()), labels[1])
        p.drawText(4, int(top + h), labels[0])
        span = f"last {t1 - t0:.0f} s" if self.t[-1] - t0 > 1 else ""
        p.drawText(int(left), int(top + h + line), span)
        now = f"now {self.v[-1]:.4g}"
        p.drawText(int(left + w - fm.horizontalAdvance(now)), int(top + h + line), now)

        if fc is not None:  # the forecast's interval as a band, its mean dashed
            ft, mean, lower, upper = (np.asarray(a, float) for a in fc)
            poly = [QPointF(float(x(a)), float(y(b))) for a, b in zip(ft, upper, strict=True)]
            poly += [QPointF(float(x(a)), float(y(b))) for a, b in zip(ft[::-1], lower[::-1],
                                                                         strict=True)]
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 183, 77, 70))
            p.drawPolygon(QPolygonF(poly))
            p.setPen(QPen(QColor("#ffb74d"), 1.2, Qt.PenStyle.DashLine))
            p.drawPolyline(QPolygonF([QPointF(float(x(a)), float(y(b)))
                                      for a, b in zip(ft, mean, strict=True)]))
        xs = x(self.t)
        p.setPen(QPen(QColor("#4fc3f7"), 1.5))
        p.drawPolyline(QPolygonF([QPointF(float(a), float(y(b))) for a, b in zip(xs, self.v,
                                                                                  strict=True)]))
        p.setPen(QPen(QColor("#ff9800"), 2))  # flagged readings: ticks along the bottom
        for ft, _fv in self.flags:
            if t0 <= ft <= t1:
                p.drawLine(QPointF(float(x(ft)), top + h - 6), QPointF(float(x(ft)), top + h))
        p.setPen(QPen(QColor("#ff1744"), 1))
        p.setBrush(QColor("#ff1744"))
        for at, av in self.anomalies:
            if t0 <= at <= t1:
                p.drawEllipse(QPointF(float(x(at)), float(y(av))), 3.0, 3.0)
        p.end()


class LifeGauge(QWidget):
    """Remaining life as a bar: the estimate filled, its 10-90 % interval as a whisker."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(44)
        self.value: float | None = None
        self.low = self.high = 0.0
        self.maximum = 1.0
        self.unit = "s"
        self.text = "No remaining-life model"

    def set_life(self, value: float | None, low: float = 0.0, high: float = 0.0,
                 maximum: float | None = None, unit: str = "s", text: str = "") -> None:
        self.value, self.low, self.high, self.unit = value, low, high, unit
        if maximum is not None and maximum > 0:
            self.maximum = maximum
        self.text = text or ("—" if value is None else
                             f"Remaining life {value:.0f} {unit} (10-90 %: {low:.0f}..{high:.0f})")
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#20242c"))
        w, bar_top, bar_h = self.width() - 12, 22, self.height() - 28
        p.setPen(QColor("#ccc"))
        p.drawText(6, 15, self.text)
        p.fillRect(6, bar_top, w, bar_h, QColor("#37474f"))
        if self.value is not None:
            frac = min(max(self.value / self.maximum, 0.0), 1.0)
            colour = "#2e7d32" if frac > 0.5 else "#f9a825" if frac > 0.2 else "#c62828"
            p.fillRect(6, bar_top, int(w * frac), bar_h, QColor(colour))
            lo = 6 + w * min(max(self.low / self.maximum, 0.0), 1.0)
            hi = 6 + w * min(max(self.high / self.maximum, 0.0), 1.0)
            mid = bar_top + bar_h / 2
            p.setPen(QPen(QColor("#fff"), 2))
            p.drawLine(QPointF(lo, mid), QPointF(hi, mid))
            p.drawLine(QPointF(lo, bar_top + 2), QPointF(lo, bar_top + bar_h - 2))
            p.drawLine(QPointF(hi, bar_top + 2), QPointF(hi, bar_top + bar_h - 2))
        p.end()
