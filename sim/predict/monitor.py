"""The live predictive monitor of one asset: quality flags, anomalies, forecasts, remaining life.

It watches every reading the telemetry twin evaluates (``AlarmBook.observe``, on the link's
thread, O(1) work per reading):

1. flags it (:mod:`sim.predict.quality`) and stores the flags in the history beside it;
2. if no flag excludes it, keeps it for forecasts and remaining life and scores it with the
   anomaly model (trained on a healthy window); an anomaly opens an ``anomaly`` alarm naming
   the contributing sensors and their shares, which ends after ``hold_s`` quiet seconds.

:meth:`update_predictions` (called every few seconds by the monitor's thread once
:meth:`start` ran, or directly) forecasts each sensor with intervals, opens a ``forecast``
alarm ("predicted to exceed ... at t") when the forecast mean leaves the sensor's normal
range within the horizon, and predicts the asset's remaining life when a model is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.predict.rul import RulModel
    from sim.progress import Progress

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim.predict.anomaly import AnomalyEvent, AnomalyModel
from sim.predict.forecast import Forecast, forecast
from sim.predict.quality import QualityChecker, QualityRules, excluded

log = logging.getLogger(__name__)
KEEP = 20_000  # clean readings kept per sensor
MARKS = 500  # anomaly and flag marks kept per sensor for the plot


@dataclass
class LifeEstimate:
    t: float
    rul: float
    low: float
    high: float
    age: float
    ignored: int = 0  # flagged readings left out


@dataclass
class Marks:
    anomalies: deque = field(default_factory=lambda: deque(maxlen=MARKS))  # (t, v, detector)
    flags: deque = field(default_factory=lambda: deque(maxlen=MARKS))  # (t, v, flags)


class AssetMonitor:
    def __init__(self, telemetry, history=None, asset: str = "asset", hold_s: float = 5.0,
                 horizon_s: float = 60.0, forecast_step: float = 1.0, level: float = 0.9,
                 rules: dict[str, QualityRules] | None = None) -> None:
        self.telemetry = telemetry
        self.alarms = telemetry.alarms
        self.history = history
        self.asset = asset
        self.hold_s, self.horizon_s, self.step, self.level = (hold_s, horizon_s,
                                                              forecast_step, level)
        rules = rules or {}
        self.sensors = dict(telemetry.sensors)
        self.quality = {sid: QualityChecker(rules.get(sid) or QualityRules.for_sensor(s))
                        for sid, s in self.sensors.items()}
        self.names = {sid: s.name for sid, s in self.sensors.items()}
        self.clean = {sid: deque(maxlen=KEEP) for sid in self.sensors}
        self.marks = {sid: Marks() for sid in self.sensors}
        self.ignored = dict.fromkeys(self.sensors, 0)
        self.anomaly: AnomalyModel | None = None
        self._scorer = None
        self._last_event: dict[tuple[str, str], float] = {}
        self.rul_model = None
        self.life: LifeEstimate | None = None
        self.forecasts: dict[str, Forecast] = {}
        self.periods: dict[str, float | None] = {}
        self.readings = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.alarms.observe(self.on_reading)

    # -- models ---------------------------------------------------------------------------
    def set_anomaly_model(self, model: AnomalyModel | None) -> None:
        self.anomaly = model
        self._scorer = model.scorer() if model is not None else None
        self.periods = ({s: b.period for s, b in model.baselines.items()}
                        if model is not None else {})

    def set_rul_model(self, model: RulModel | None) -> None:
        self.rul_model = model
        self.life = None

    # -- every reading (link thread) --------------------------------------------------------
    def on_reading(self, sensor: Any, reading: Any) -> None:
        sid, t, v = sensor.id, reading.t, reading.value
        checker = self.quality.get(sid)
        if checker is None:
            return
        self.readings += 1
        flags = checker.check(t, v, time.time())
        if flags:
            self.marks[sid].flags.append((t, v, flags))
            if self.history is not None:
                self.history.record("flag", sid, t, v, json.dumps(list(flags)))
            if excluded(flags):
                self.ignored[sid] += 1
                return
        self.clean[sid].append((t, v))
        scorer = self._scorer
        if scorer is None:
            return
        events = scorer.update(sid, t, v)
        for e in reversed(events):  # the residual test's (most specific) message is kept
            self._raise(e, v)
        if self._last_event:
            for key, last in list(self._last_event.items()):
                if t - last > self.hold_s:
                    del self._last_event[key]
                    self.alarms.end_condition(key[0], "anomaly")

    def _raise(self, e: AnomalyEvent, v: float) -> None:
        who = e.sensors[0] if e.detector != "multivariate" else self.asset
        for s in e.sensors[:1] if e.detector != "multivariate" else [
                s for s, w in e.contributions.items() if w >= 0.05]:
            self.marks[s].anomalies.append((e.t, self._last_value(s, v), e.detector))
        self._last_event[(who, "anomaly")] = e.t
        self.alarms.raise_condition(who, "anomaly", e.describe(self.names), e.t, e.score,
                                    {"detector": e.detector, "contributions": e.contributions,
                                     "limit": e.limit})

    def _last_value(self, sid: str, default: float) -> float:
        buf = self.clean.get(sid)
        return buf[-1][1] if buf else default

    # -- periodic work ---------------------------------------------------------------------
    def series(self, sid: str) -> tuple[np.ndarray, np.ndarray]:
        data = np.array(self.clean[sid], dtype=float).reshape(-1, 2)
        return data[:, 0], data[:, 1]

    def update_predictions(self) -> None:
        """Forecast every sensor, raise or end forecast alarms, update the remaining life."""
        for sid, sensor in self.sensors.items():
            t, v = self.series(sid)
            if len(t) < 2 or t[-1] - t[0] < 12 * self.step:
                continue
            try:
                f = forecast(t, v, self.horizon_s, self.step, self.periods.get(sid), self.level)
            except Exception as exc:  # a fit that fails must not stop the monitor
                log.debug("forecast of %s failed: %s", sid, exc)
                continue
            f.ignored = self.ignored[sid]
            self.forecasts[sid] = f
            lo, hi = sensor.normal
            cross = f.crossing(lo, hi) if lo <= v[-1] <= hi else None
            if cross is not None:
                when, side, limit = cross
                verb = "exceed" if side == "high" else "fall below"
                msg = (f"{sensor.name} predicted to {verb} {limit:g} {sensor.unit} at "
                       f"{time.strftime('%H:%M:%S', time.localtime(when))} (in "
                       f"{when - t[-1]:.0f} s; {int(100 * f.level)} % interval "
                       f"{f.lower[-1]:.3g}..{f.upper[-1]:.3g} at the horizon)")
                self.alarms.raise_condition(sid, "forecast", msg, t[-1], v[-1],
                                            {"at": when, "limit": limit, "side": side})
            else:
                self.alarms.end_condition(sid, "forecast")
        if self.rul_model is not None:
            self.life = self.remaining_life()

    def remaining_life(self) -> LifeEstimate | None:
        """The asset's remaining life from its clean readings, binned as the model's fleet."""
        from sim.predict.fleet import Fleet

        model = self.rul_model
        sensors = list(model.trained_on.get("channels") or model.norm.sensors)
        step = float(model.trained_on.get("step") or self.step)
        series = {s: self.series(s) for s in sensors if s in self.clean}
        if len(series) < len(sensors) or any(len(t) < 2 for t, _v in series.values()):
            return None
        t0 = min(t[0] for t, _v in series.values())
        t1 = min(t[-1] for t, _v in series.values())
        n = int((t1 - t0) // step)
        if n < 2:
            return None
        cols = []
        for s in sensors:
            t, v = series[s]
            k = np.clip(((t - t0) // step).astype(int), 0, n)
            sums, counts = np.bincount(k, v, n + 1)[:n], np.bincount(k, None, n + 1)[:n]
            col = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
            ok = np.isfinite(col)
            col = np.interp(np.arange(n), np.flatnonzero(ok), col[ok]) if ok.any() else col
            cols.append(col)
        fleet = Fleet(np.full(n, self.asset), step * (np.arange(n) + 1.0),
                      np.column_stack(cols), sensors, [], "live")
        p = model.predict(fleet)[0]
        return LifeEstimate(t1, p.rul, p.low, p.high, p.age,
                            sum(self.ignored[s] for s in sensors if s in self.ignored))

    def start(self, every: float = 3.0) -> None:
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.update_predictions()
                except Exception:  # keep monitoring; the log says why
                    log.exception("prediction update failed")

        self._thread = threading.Thread(target=loop, daemon=True, name="predict-monitor")
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.alarms.unobserve(self.on_reading)
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    # -- training from the recorded history ---------------------------------------------------
    def train_anomaly(self, reader: Any, t0: float, t1: float, rate: float = 1e-3,
                      progress: Progress | None = None) -> tuple[AnomalyModel, int]:
        """Train on the readings of [t0, t1] in a history (flagged ones left out); returns the
        model and how many readings were ignored."""
        return train_from_history(reader, list(self.sensors), t0, t1, rate, progress)


def train_from_history(reader: Any, sensors: list[str], t0: float, t1: float,
                       rate: float = 1e-3, progress: Progress | None = None) -> tuple[AnomalyModel, int]:
    import hashlib

    from sim.errors import InputError

    if not t1 > t0:
        raise InputError("The healthy window must end after it starts.")
    series, ignored, h = {}, 0, hashlib.sha256()
    for k, s in enumerate(sensors):
        if progress is not None:
            progress(0.8 * k / max(len(sensors), 1), f"Reading {s}")
        t, v, n = reader.clean_series(s, t0, t1)
        ignored += n
        if len(t):
            series[s] = (t, v)
            h.update(s.encode() + t.tobytes() + v.tobytes())
    if progress is not None:
        progress(0.85, "Fitting baselines")
    model = AnomalyModel.train(series, rate, trained_on={
        "history": str(getattr(reader, "path", "")), "t0": t0, "t1": t1,
        "readings": int(sum(len(t) for t, _v in series.values())), "ignored": ignored,
        "sha256": h.hexdigest()})
    if progress is not None:
        progress(1.0, "Trained")
    return model, ignored
