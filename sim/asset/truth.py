"""The simulated asset behind the twin: a true load history through the FE model to gauges.

Operating cycles of the pump: it runs for 45 s of every minute; when running, thrust grows
with the square of the speed and wobbles, an unbalance side load beats slowly, the pipe
support load follows a slow thermal swing; the pump's weight is always there. Readings are
the true model's predictions with each sensor's gain, offset and Gaussian noise, plus
optional faults: one gauge drifts from ``drift_at`` (``drift_rate`` units/s) and a region loses
``crack_loss`` of its stiffness at ``crack_at`` (the true influence matrix switches to the
cracked model's). Time is simulated: a day of data is generated in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.asset.config import AssetConfig
from sim.asset.influence import Params
from sim.asset.model import AssetModel, build_model
from sim.errors import InputError


def true_loads(t: np.ndarray, channels: list[str], speed: float = 1450.0,
               period: float = 60.0, duty: float = 0.75, seed: int = 0) -> np.ndarray:
    """Loads (T, C) of the demo pump's operating cycles at times ``t`` (s)."""
    t = np.asarray(t, dtype=float)
    rng = np.random.default_rng(seed)
    phase = (t % period) / period
    ramp = np.clip(np.minimum(phase / 0.05, (duty - phase) / 0.05), 0.0, 1.0)
    running = np.where(phase < duty, ramp, 0.0)
    w = (speed / 1450.0) ** 2 * running
    base = {
        "pump_weight": 300.0 + 0.0 * t,
        "thrust": 150.0 * w + 20.0 * w * np.sin(2 * math.pi * t / 7.0),
        "side": 100.0 * w * np.sin(2 * math.pi * t / 11.0),
        "pipe_support": 600.0 + 150.0 * np.sin(2 * math.pi * t / 230.0),
    }
    out = np.zeros((len(t), len(channels)))
    for k, c in enumerate(channels):
        if c in base:
            out[:, k] = base[c]
        else:  # a channel the demo does not know: a slow random wave
            f = rng.uniform(0.01, 0.1)
            out[:, k] = 100.0 * np.sin(2 * math.pi * f * t + rng.uniform(0, 6.28))
    return out


@dataclass
class TruthSimulator:
    """Readings of the asset's sensors from true loads; optional drift and crack."""

    model: AssetModel
    cracked: AssetModel | None = None
    crack_at: float = math.inf
    drift_at: float = math.inf
    drift_sensor: str | None = None
    drift_rate: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        ids = self.model.sensor_ids
        if self.drift_sensor is None:
            strain = [s.id for s in self.model.sensors if s.kind == "strain"]
            self.drift_sensor = strain[min(2, len(strain) - 1)] if strain else ids[0]
        if self.drift_sensor not in ids:
            raise InputError(f"There is no sensor '{self.drift_sensor}' to drift.")
        if math.isfinite(self.crack_at) and self.cracked is None:
            raise InputError("A crack needs the cracked model.")

    def readings(self, t: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Noisy readings (T, S) at times t for true loads q (T, C)."""
        m = self.model
        y = m.predict(q)
        if self.cracked is not None and math.isfinite(self.crack_at):
            after = t >= self.crack_at
            if after.any():
                y[after] = self.cracked.predict(q[after])
        y += self.rng.normal(size=y.shape) * m.noise
        k = m.sensor_ids.index(self.drift_sensor)
        y[:, k] += self.drift_rate * np.clip(t - self.drift_at, 0.0, None)
        return y

    def history(self, duration: float, rate_hz: float, speed: float = 1450.0,
                start: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, true loads and readings over ``duration`` seconds of simulated time."""
        t = start + np.arange(int(round(duration * rate_hz))) / rate_hz
        q = true_loads(t, self.model.channels, speed, seed=self.seed)
        return t, q, self.readings(t, q)


def cracked_model(cfg: AssetConfig, region: str = "bend", loss: float = 0.3,
                  params: Params | None = None) -> AssetModel:
    """The asset with ``loss`` of a region's stiffness (the truth after a crack)."""
    if region not in cfg.regions:
        raise InputError(f"The twin config has no region '{region}' to crack.")
    if not 0 < loss < 1:
        raise InputError("A stiffness loss must be between 0 and 1.")
    p = params or Params()
    return build_model(cfg, Params(p.modulus, dict(p.supports), {region: 1.0 - loss}))


class LiveGauges:
    """The simulated asset's sensors for ``link simulate``: readings at wall-clock seconds
    since the start, the pump's current speed setting the operating loads. ``time_scale``
    runs the asset's operating cycles (and its drift and crack times) that many times faster
    than the clock, so a demo shows damage accumulating within seconds."""

    def __init__(self, sim: TruthSimulator, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise InputError("The time scale must be positive.")
        self.sim = sim
        self.time_scale = float(time_scale)
        self.model = sim.model
        self._sensors = link_sensors(sim.model)

    def values(self, t: float, speed: float) -> dict[str, float]:
        tt = np.array([t * self.time_scale])
        q = true_loads(tt, self.model.channels, speed, seed=self.sim.seed)
        y = self.sim.readings(tt, q)[0]
        return dict(zip(self.model.sensor_ids, y.tolist(), strict=True))

    def sensors(self) -> list:
        """Link sensors (topics, units, ranges) for the gauges."""
        return self._sensors


def link_sensors(model: AssetModel, object_name: str = "Pump bracket") -> list:
    """:class:`sim.twin.sensors.Sensor` entries for a twin model's sensors (for a link config)."""
    from sim.twin.sensors import Sensor

    quantity = {"strain": "strain", "displacement": "displacement",
                "acceleration": "acceleration", "load_cell": "force"}
    out = []
    for s in model.sensors:
        full = 10.0 * float(np.abs(model.H[model.sensor_ids.index(s.id)] *
                                   model.typical).sum()) + 10 * s.noise
        out.append(Sensor(s.id, s.topic, quantity[s.kind], s.unit, (-full, full), object_name,
                          point=s.point, limits=(-1e9, 1e9), name=s.id))
    return out


def live_gauges(model_path: str, drift_at: float | None = None, crack_at: float | None = None,
                seed: int = 0, crack_region: str = "bend", time_scale: float = 1.0
                ) -> LiveGauges:
    """The simulated gauges of a twin model file ('demo': the shipped bracket, built)."""
    if model_path == "demo":
        from sim.asset.config import demo_asset_config

        cfg = demo_asset_config(element_size=4)
        model = build_model(cfg)
    else:
        model = AssetModel.load(model_path)
        cfg = model.asset_config()
    cracked = cracked_model(cfg, crack_region) if crack_at is not None else None
    return LiveGauges(TruthSimulator(model, cracked, math.inf if crack_at is None else crack_at,
                                     math.inf if drift_at is None else drift_at, seed=seed),
                      time_scale)
