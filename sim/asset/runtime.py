"""The running engineering twin: readings in, loads, stresses, damage, life and alarms out.

``AssetTwin.process(t, readings)`` handles a block of samples (the live link feeds blocks of
one; replay feeds thousands): load identification, the health test, hot-spot stresses by
superposition, streaming rainflow damage, remaining life and predictive alarms. Findings go
into the link's :class:`~sim.twin.alarms.AlarmBook` (kinds ``sensor_fault``, ``structural``,
``life``, ``damage_rate``) and virtual sensors into the history like real ones.

Live samples are assembled from single readings by their sender timestamps
(:meth:`AssetTwin.on_reading`): a sample is processed when every sensor has reported, or when a
newer timestamp arrives (missing readings are NaN and the loads use the rest). A reading
older than the last processed sample is late, a second value for the same sensor and time a
duplicate: both are counted and dropped.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.asset import livestep
from sim.asset.fatigue import (
    DAY,
    SNCurve,
    StreamingDamage,
    remaining_life,
    signed_von_mises,
    sn_curve,
)
from sim.asset.health import Finding, HealthMonitor
from sim.asset.identify import Z95, LoadIdentifier
from sim.asset.model import AssetModel
from sim.fem.materials import material_from_spec


@dataclass
class TwinCounters:
    samples: int = 0
    readings: int = 0
    late: int = 0
    duplicate: int = 0
    not_finite: int = 0
    incomplete: int = 0


@dataclass
class VirtualSensor:
    name: str
    kind: str
    point: tuple[float, float, float]
    direction: tuple[float, float, float]
    row: np.ndarray  # (C,)


@dataclass
class TwinStatus:
    t: float | None = None
    loads: list[float] = field(default_factory=list)
    loads_sd: list[float] = field(default_factory=list)
    residual_rms: float | None = None
    hot_stress: list[float] = field(default_factory=list)
    damage: list[float] = field(default_factory=list)
    life_days: list[float] = field(default_factory=list)
    life_low_days: list[float] = field(default_factory=list)
    life_high_days: list[float] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    virtual: dict[str, float] = field(default_factory=dict)
    accelerations: dict[str, float] = field(default_factory=dict)  # predicted (mm/s^2)


def model_curve(model: AssetModel) -> SNCurve:
    cfg = model.config
    fat = cfg.get("fatigue") or {}
    material = fat.get("material") or cfg["fe"]["material"]
    if isinstance(material, dict):
        material = material.get("library") or material_from_spec(material).name
    return sn_curve(str(material), fat.get("curve"))


class AssetTwin:
    def __init__(self, model: AssetModel, alarms: Any = None, history: Any = None,
                 dt: float = 0.1, start_t: float | None = None) -> None:
        self.model = model
        self.alarms = alarms
        self.history = history
        cfg = model.config
        h = cfg.get("health") or {}
        fat = cfg.get("fatigue") or {}
        self.identifier = LoadIdentifier(model, float(cfg.get("regularisation", 1e-8)))
        self.health = HealthMonitor(model, self.identifier, dt, float(h.get("memory_s", 10.0)),
                                    float(h.get("false_alarms_per_day", 0.1)))
        self.curve = model_curve(model)
        self.correction = str(fat.get("mean_stress", "goodman"))
        self.hot = model.hot_stress()  # (K, 6, C)
        self.damage = StreamingDamage(len(model.hot_names), self.curve, self.correction)
        self.life_alarm_days = float(fat.get("life_alarm_days", 30.0))
        self.rate_window_s = float(fat.get("rate_window_s", 600.0))
        self.t0 = start_t
        self.t_last: float | None = None
        self._life_t = -math.inf
        self.window_start: float | None = None
        self.window_damage = np.zeros(len(model.hot_names))
        self.window_rates: list[np.ndarray] = []
        self.reference_rate: np.ndarray | None = None
        self.status = TwinStatus()
        self.counters = TwinCounters()
        self.virtual: dict[str, VirtualSensor] = {}
        self.findings: list[Finding] = []
        self._pending: dict[float, dict[str, float]] = {}
        self._index = {s: i for i, s in enumerate(model.sensor_ids)}
        self._lock = threading.Lock()
        acc = [i for i, s in enumerate(model.sensors) if s.kind == "acceleration"]
        # accelerometers: the quasi-static prediction d2/dt2 (H q), not used to identify loads
        self._acc_rows = (acc, model.H[acc] * model.gain[acc][:, None]) if acc else None
        self._q_hist: list[tuple[float, np.ndarray]] = []
        self._step = livestep.LiveStep(self)

    # -- virtual sensors ---------------------------------------------------------------------
    def add_virtual(self, name: str, kind: str, point: Any, direction: Any) -> VirtualSensor:
        """A sensor anywhere on the model; its value is recorded with every sample."""
        row = self.model.virtual_row(kind, point, direction)
        v = VirtualSensor(name, kind, tuple(map(float, point)), tuple(map(float, direction)),
                          row)
        self.virtual[name] = v
        return v

    # -- live assembly -----------------------------------------------------------------------
    def on_reading(self, sensor: Any, reading: Any) -> None:
        """AlarmBook observer: one reading of one sensor (any thread)."""
        i = self._index.get(getattr(sensor, "id", sensor))
        if i is None:
            return
        with self._lock:
            self.counters.readings += 1
            t, v = float(reading.t), float(reading.value)
            if not math.isfinite(v):
                self.counters.not_finite += 1
                return
            if self.t_last is not None and t <= self.t_last:
                if t == self.t_last:  # the sample was complete and processed already
                    self.counters.duplicate += 1
                else:
                    self.counters.late += 1
                return
            slot = self._pending.setdefault(t, {})
            if reading.sensor in slot:
                self.counters.duplicate += 1
                return
            slot[reading.sensor] = v
            ready = [tt for tt in self._pending if tt < t] + \
                ([t] if len(slot) == len(self._index) else [])
            blocks = []
            for tt in sorted(ready):
                vals = self._pending.pop(tt)
                row = np.full(len(self._index), np.nan)
                for sid, val in vals.items():
                    row[self._index[sid]] = val
                if len(vals) < len(self._index):
                    self.counters.incomplete += 1
                blocks.append((tt, row))
            if len(self._pending) > 64:  # bounded: a sensor that never reports again
                for tt in sorted(self._pending)[:-64]:
                    self._pending.pop(tt)
        if blocks:
            self.process(np.array([b[0] for b in blocks]), np.array([b[1] for b in blocks]))

    # -- the loop ------------------------------------------------------------------------------
    def stress_field(self, q: np.ndarray) -> np.ndarray:
        """Von Mises stress at every node (MPa) for loads q (C,): the physics stress map."""
        s = self.model.stress @ np.asarray(q, dtype=np.float32)  # (n, 6)
        sx, sy, sz, txy, tyz, txz = s.T
        return np.sqrt(0.5 * ((sx - sy) ** 2 + (sy - sz) ** 2 + (sz - sx) ** 2)
                       + 3.0 * (txy * txy + tyz * tyz + txz * txz))

    def process(self, t: np.ndarray, readings: np.ndarray) -> TwinStatus:
        t = np.asarray(t, dtype=float)
        Y = np.atleast_2d(np.asarray(readings, dtype=float))
        if not len(t):
            return self.status
        if self.t0 is None:
            self.t0 = float(t[0])
            self.window_start = float(t[0])
        if len(t) == 1 and Y.shape == (1, len(self._index)) and \
                self._step(Y[0]) == livestep.OK:  # the live case, in one compiled call
            step = self._step
            h = self.health
            if step.out[1] > h.threshold or h.state.findings:
                new, ended = h.decide(t, step.z[None], step.amp[None])
                for f in new:
                    self._raise(f)
                for f in ended:
                    self._end(f)
            self.counters.samples += 1
            return self._publish(t, step.q.copy()[None], step.sd, step.stress, float(step.out[0]))
        q, sd = self.identifier.identify(Y)
        ok = np.isfinite(q).all(axis=1)
        if not ok.all():
            self.counters.incomplete += int((~ok).sum())
            t, Y, q, sd = t[ok], Y[ok], q[ok], sd[ok]
            if not len(t):
                return self.status
        new, ended, _ = self.health.update(t, Y, q)
        for f in new:
            self._raise(f)
        for f in ended:
            self._end(f)
        stress = signed_von_mises(np.einsum("kvc,tc->tkv", self.hot, q))  # (T, K)
        self.damage.update(stress)
        self.counters.samples += len(t)
        m = self.model
        r = (Y[-1] - ((m.H @ q[-1]) * m.gain + m.offset)) / m.noise
        return self._publish(t, q, sd[-1].tolist(), stress,
                             float(np.sqrt(np.nanmean(r[self.identifier.use] ** 2))))

    def _publish(self, t: np.ndarray, q: np.ndarray, sd: list[float], stress: np.ndarray,
                 residual_rms: float) -> TwinStatus:
        """The status after samples t with loads q (T, C) and hot-spot stresses (T, K)."""
        self.t_last = float(t[-1])
        st = self.status
        st.t = self.t_last
        st.loads, st.loads_sd = q[-1].tolist(), list(sd)
        st.residual_rms = residual_rms
        st.hot_stress = stress[-1].tolist()
        if len(t) > 1 or self.t_last - self._life_t >= 0.25:  # life moves slowly
            self._life_t = self.t_last
            self._life(st)
        st.findings = [f.__dict__ | {"message": f.message()} for f in self.findings if f.active]
        if self._acc_rows is not None:
            self._predict_accelerations(t, q, st)
        if self.virtual:
            vals = {n: q @ v.row for n, v in self.virtual.items()}
            st.virtual = {n: float(x[-1]) for n, x in vals.items()}
            if self.history is not None:
                for n, x in vals.items():
                    for tt, xx in zip(t, x, strict=True):
                        self.history.record("value", f"virtual:{n}", float(tt), float(xx))
        return st

    def _predict_accelerations(self, t: np.ndarray, q: np.ndarray, st: TwinStatus) -> None:
        """Second time difference of the predicted displacement at the accelerometers."""
        self._q_hist = (self._q_hist + list(zip(t[-3:].tolist(), q[-3:], strict=True)))[-3:]
        if len(self._q_hist) < 3:
            return
        (t0, q0), (t1, q1), (t2, q2) = self._q_hist
        h0, h1 = t1 - t0, t2 - t1
        if h0 <= 0 or h1 <= 0:
            return
        d2q = 2.0 * ((q2 - q1) / h1 - (q1 - q0) / h0) / (h0 + h1)
        idx, rows = self._acc_rows
        a = rows @ d2q
        st.accelerations = {self.model.sensor_ids[i]: float(v)
                            for i, v in zip(idx, a, strict=True)}

    def _life(self, st: TwinStatus) -> None:
        D = self.damage.damage
        elapsed = (self.t_last or 0.0) - (self.t0 or 0.0)
        if self.window_start is not None and self.t_last - self.window_start >= \
                self.rate_window_s:
            rate = (D - self.window_damage) / (self.t_last - self.window_start) * DAY
            self.window_rates.append(rate)
            self.window_rates = self.window_rates[-100:]
            if self.reference_rate is None:
                self.reference_rate = rate
            elif self.alarms is not None:
                for k, name in enumerate(self.model.hot_names):
                    ref = self.reference_rate[k]
                    key = f"hotspot:{name}"
                    if ref > 0 and rate[k] > 2 * ref:
                        self.alarms.raise_condition(
                            key, "damage_rate", f"Damage rate at {name} doubled "
                            f"({rate[k]:.3g}/day, was {ref:.3g}/day)", st.t, float(rate[k]))
                    elif self.alarms.is_open(key, "damage_rate") and rate[k] < 1.5 * ref:
                        self.alarms.end_condition(key, "damage_rate")
            self.window_start, self.window_damage = self.t_last, D.copy()
        rates = np.array(self.window_rates) if len(self.window_rates) > 1 else None
        st.damage = D.tolist()
        st.life_days, st.life_low_days, st.life_high_days = [], [], []
        for k, name in enumerate(self.model.hot_names):
            est = remaining_life(float(D[k]), elapsed, self.curve,
                                 None if rates is None else rates[:, k])
            st.life_days.append(est.life_days)
            st.life_low_days.append(est.low_days)
            st.life_high_days.append(est.high_days)
            if self.alarms is None or elapsed < 60.0:
                continue
            key = f"hotspot:{name}"
            if est.low_days < self.life_alarm_days:
                self.alarms.raise_condition(
                    key, "life", f"Remaining life at {name} may be below "
                    f"{self.life_alarm_days:g} days ({est.low_days:.3g}-{est.high_days:.3g})",
                    st.t, est.life_days)
            elif self.alarms.is_open(key, "life"):
                self.alarms.end_condition(key, "life")

    def _raise(self, f: Finding) -> None:
        self.findings.append(f)
        if f.kind == "sensor":  # keep identifying from the healthy sensors
            self.identifier.exclude(f.name)
            self.health.reset()
        if self.alarms is not None:
            key = f.name if f.kind == "sensor" else f"region:{f.name}"
            self.alarms.raise_condition(key, "sensor_fault" if f.kind == "sensor"
                                        else "structural", f.message(), f.t, f.amplitude,
                                        {"statistic": f.statistic, "kind": f.kind})

    def _end(self, f: Finding) -> None:
        if f.kind == "sensor":
            return  # an excluded sensor stays suspect until a person looks at it
        if self.alarms is not None:
            self.alarms.end_condition(f"region:{f.name}", "structural")

    def summary(self) -> dict[str, Any]:
        st = self.status
        m = self.model

        def num(x):
            return None if x is None or not math.isfinite(x) else round(float(x), 6)

        return {
            "t": st.t, "samples": self.counters.samples,
            "counters": self.counters.__dict__,
            "calibrated": m.calibration is not None, "residual_rms": num(st.residual_rms),
            "loads": {c: {"value": num(v), "interval95": [num(v - Z95 * s), num(v + Z95 * s)],
                          "unit": u}
                      for c, v, s, u in zip(m.channels, st.loads, st.loads_sd,
                                            m.channel_units, strict=True)},
            "hot_spots": [{"name": n, "node": int(m.hot_nodes[k]),
                           "position_mm": np.round(m.points[m.hot_nodes[k]], 3).tolist(),
                           "stress_mpa": num(st.hot_stress[k]) if st.hot_stress else None,
                           "damage": num(st.damage[k]) if st.damage else None,
                           "life_days": num(st.life_days[k]) if st.life_days else None,
                           "life_band_days": [num(st.life_low_days[k]),
                                              num(st.life_high_days[k])]
                           if st.life_days else None}
                          for k, n in enumerate(m.hot_names)],
            "findings": [f.__dict__ | {"message": f.message()} for f in self.findings],
            "predicted_accelerations": st.accelerations,
            "excluded_sensors": [s for s, u in zip(m.sensor_ids, self.identifier.use,
                                                   strict=True)
                                 if not u and s in {f.name for f in self.findings}],
            "curve": {"name": self.curve.name, "source": self.curve.source},
        }
