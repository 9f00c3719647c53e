"""Calibration: model parameters from a window of history, with uncertainty.

Method: nonlinear least squares with variable projection. The parameters theta (scales of
the material's modulus and of each support's stiffness) change the stiffness, so every
evaluation re-solves the unit loads (one factorisation) and rebuilds the influence matrix
H(theta); sensor parameters (``gain:ID`` a scale of the gauge's gain, ``offset:ID`` an extra
offset in its physics unit) and channel scales (``channel:NAME``: the load the FE gauges see
per unit measured by the load cells, e.g. a pump heavier than modelled) change the influence
matrix without a new solve. The unknown loads of every sample are eliminated by their weighted least-squares
estimate, leaving the whitened residuals r(theta) = W^1/2 (y - H(theta) q^(theta)) of the
whole window, minimised over log theta by scipy's trust-region least squares. The modulus
needs at least one force reference (a load cell, or a known load): otherwise loads and
stiffness trade off and the fit says so (a singular Jacobian gives an infinite interval).

Uncertainty: cov(log theta) = s^2 (J^T J)^-1 at the optimum, s^2 the residual variance per
degree of freedom; reported as standard deviation and 95 % interval of each scale.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from sim.asset.influence import FeSystem, Params
from sim.asset.model import AssetModel
from sim.errors import Cancelled, InputError
from sim.progress import Progress, no_progress


@dataclass
class CalibrationResult:
    names: list[str]
    values: list[float]
    sd: list[float]
    rms_before: float
    rms_after: float
    residual_before: list[float]  # per sensor RMS (whitened)
    residual_after: list[float]
    samples: int
    evaluations: int
    wall_time_s: float

    def sensor_corrections(self) -> dict[str, tuple[float, float]]:
        """Per sensor (gain scale, extra offset in physics units) found by the fit."""
        out: dict[str, tuple[float, float]] = {}
        for n, v in zip(self.names, self.values, strict=True):
            kind, _, arg = n.partition(":")
            if kind in ("gain", "offset"):
                g, o = out.get(arg, (1.0, 0.0))
                out[arg] = (v, o) if kind == "gain" else (g, v)
        return out

    def apply_to(self, model: AssetModel) -> AssetModel:
        """Put the sensor corrections and channel scales into a model rebuilt with
        :meth:`params` (in place; returned for chaining)."""
        corr = self.sensor_corrections()
        for sensor in model.sensors:  # reading = gain * physics + offset
            if sensor.id in corr:
                g, o = corr[sensor.id]
                sensor.offset += o * sensor.gain
                sensor.gain *= g
        fe_rows = [i for i, s in enumerate(model.sensors) if s.kind != "load_cell"]
        for n, v in zip(self.names, self.values, strict=True):
            if n.startswith("channel:"):
                c = model.channels.index(n[8:])
                model.H[fe_rows, c] *= v
                model.U[:, c] *= v
                model.stress[:, :, c] *= v
                model.dH[:, :, c] *= v
        return model

    def params(self) -> Params:
        p = Params()
        for n, v in zip(self.names, self.values, strict=True):
            if n == "modulus":
                p.modulus = v
            elif n.startswith("support:"):
                p.supports[n.split(":", 1)[1]] = v
        return p

    def to_dict(self) -> dict[str, Any]:
        return {"parameters": {n: {"value": round(v, 6), "sd": round(s, 6),
                                   "interval95": [round(v - 1.96 * s, 6),
                                                  round(v + 1.96 * s, 6)]}
                               for n, v, s in zip(self.names, self.values, self.sd,
                                                  strict=True)},
                "residual_rms_before": round(self.rms_before, 4),
                "residual_rms_after": round(self.rms_after, 4),
                "residual_by_sensor_before": [round(x, 4) for x in self.residual_before],
                "residual_by_sensor_after": [round(x, 4) for x in self.residual_after],
                "samples": self.samples, "evaluations": self.evaluations,
                "wall_time_s": round(self.wall_time_s, 3)}


def calibrate(model: AssetModel, readings: np.ndarray, parameters: list[str] | None = None,
              max_samples: int = 2000, progress: Progress = no_progress,
              fe: FeSystem | None = None) -> CalibrationResult:
    """Fit parameter scales to readings (T, S) of the model's sensors (NaN: missing)."""
    t0 = time.perf_counter()
    cfg = model.asset_config()
    fe = fe or FeSystem(cfg)
    names = parameters or ["modulus"] + [f"support:{s.name}" for s in cfg.supports]
    use = model.identifying
    used_ids = [s.id for s, u in zip(model.sensors, use, strict=True) if u]
    for n in names:
        kind, _, arg = n.partition(":")
        if not (n == "modulus" or (kind == "support" and arg in fe.springs)
                or (kind in ("gain", "offset") and arg in used_ids)
                or (kind == "channel" and arg in model.channels)):
            raise InputError(f"Unknown calibration parameter '{n}' (use modulus, "
                             f"support:NAME with one of {sorted(fe.springs)}, channel:NAME, "
                             "gain:SENSOR or offset:SENSOR).")
    structural = [i for i, n in enumerate(names) if n == "modulus" or n.startswith("support:")]
    Y = (np.atleast_2d(readings) - model.offset) / model.gain
    Y = Y[np.isfinite(Y[:, use]).all(axis=1)][:, use]
    if len(Y) < 3:
        raise InputError("Calibration needs at least 3 complete samples of the sensors.")
    if len(Y) > max_samples:
        Y = Y[np.linspace(0, len(Y) - 1, max_samples).astype(int)]
    sig = (model.noise / np.abs(model.gain))[use]
    Obs, kept = fe.observation([s for s in model.sensors], [])
    kept_ids = [s.id for s in kept]
    sensors = [s for s, u in zip(model.sensors, use, strict=True) if u]
    lc = {i: model.channels.index(s.channel) for i, s in enumerate(sensors)
          if s.kind == "load_cell"}
    fe_rows = [kept_ids.index(s.id) for s in sensors if s.kind != "load_cell"]
    fe_pos = [i for i, s in enumerate(sensors) if s.kind != "load_cell"]
    n_eval = [0]

    cache: dict[tuple, np.ndarray] = {}

    def influence(theta: np.ndarray) -> np.ndarray:
        key = tuple(float(theta[i]) for i in structural)
        if key in cache:  # a step in a sensor parameter only: no new FE solve
            return cache[key]
        p = Params()
        for i in structural:
            v = float(np.exp(theta[i]))
            if names[i] == "modulus":
                p.modulus = v
            else:
                p.supports[names[i][8:]] = v
        U, _ = fe.solve(p)
        H = np.zeros((len(sensors), len(model.channels)))
        H[fe_pos] = (Obs @ U)[fe_rows]
        for i, c in lc.items():
            H[i, c] = 1.0
        n_eval[0] += 1
        progress(min(0.95, 0.05 + 0.03 * n_eval[0]), f"Evaluation {n_eval[0]}")
        if len(cache) > 8:
            cache.clear()
        cache[key] = H
        return H

    def residual(theta: np.ndarray) -> np.ndarray:
        H = influence(theta)
        g = np.ones(len(sensors))
        o = np.zeros(len(sensors))
        for i, n in enumerate(names):  # sensor model: reading = gain * physics + offset
            kind, _, arg = n.partition(":")
            if kind == "gain":
                g[used_ids.index(arg)] = np.exp(theta[i])
            elif kind == "offset":  # in noise units, for conditioning
                o[used_ids.index(arg)] = theta[i] * sig[used_ids.index(arg)]
        H = H.copy()
        for i, n in enumerate(names):  # channel:NAME scales what the FE sensors see of it
            if n.startswith("channel:"):
                H[fe_pos, model.channels.index(n[8:])] *= np.exp(theta[i])
        Hw = H * (g / sig)[:, None]
        Yw = (Y - o) / sig[None, :]
        q, *_ = np.linalg.lstsq(Hw, Yw.T, rcond=None)
        return (Yw - (Hw @ q).T).ravel()

    theta0 = np.zeros(len(names))
    try:
        r0 = residual(theta0)
        res = least_squares(residual, theta0, diff_step=1e-4, x_scale=1.0, xtol=1e-8,
                            ftol=1e-10, max_nfev=60)
    except Cancelled:
        raise
    r1 = res.fun
    dof = max(1, len(r1) - len(names) - Y.shape[0] * len(model.channels))
    s2 = float(r1 @ r1) / dof
    J = res.jac
    try:
        cov = np.linalg.inv(J.T @ J) * s2
        sd_log = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        sd_log = np.full(len(names), math.inf)
    is_offset = np.array([n.startswith("offset:") for n in names])
    scale_off = np.array([sig[used_ids.index(n[7:])] if n.startswith("offset:") else 1.0
                          for n in names])
    values = np.where(is_offset, res.x * scale_off, np.exp(res.x))
    sd_values = np.where(is_offset, sd_log * scale_off, values * sd_log)
    S = len(sensors)
    by0 = np.sqrt((r0.reshape(-1, S) ** 2).mean(axis=0))
    by1 = np.sqrt((r1.reshape(-1, S) ** 2).mean(axis=0))
    progress(1.0, "Calibrated")
    return CalibrationResult(names, values.tolist(), sd_values.tolist(),
                             float(np.sqrt((r0 ** 2).mean())), float(np.sqrt((r1 ** 2).mean())),
                             by0.tolist(), by1.tolist(), int(len(Y)), n_eval[0],
                             time.perf_counter() - t0)
