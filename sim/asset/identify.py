"""Load identification: channel magnitudes from sensor readings, with uncertainty.

Per sample, the weighted, regularised, bounded least squares

    q = argmin || W^1/2 (y~ - H q) ||^2 + || L (q - q0) ||^2,   lo <= q <= hi

with y~ = (y - offset) / gain, W = diag(gain^2 / noise^2), L = diag(sqrt(lambda) / typical)
(a weak prior on each channel's typical scale). Without active bounds the solution is linear
in y: q = P y~ + c, precomputed per set of available sensors (missing and excluded readings
only change which rows are used), so a batch of samples is one matrix product. Samples
outside the bounds are re-solved with scipy's bounded solver.

Uncertainty: the estimator's covariance P W^-1 P^T (the regularisation bias is negligible at
the default lambda); 95 % intervals are +- 1.96 sigma.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.optimize import lsq_linear

from sim.asset.model import AssetModel

Z95 = 1.959963984540054


@dataclass
class Observability:
    condition: float
    rank: int
    singular_values: list[float]
    unobservable: list[list[str]]  # groups of channels the sensors cannot tell apart
    warnings: list[str]


@dataclass
class Estimator:
    rows: np.ndarray  # sensor indices used
    P: np.ndarray  # (C, S_used)
    c: np.ndarray  # (C,) prior contribution
    cov: np.ndarray  # (C, C)

    @cached_property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


class LoadIdentifier:
    """Identifies channel loads from readings of ``model``'s sensors."""

    def __init__(self, model: AssetModel, regularisation: float = 1e-8,
                 use: np.ndarray | None = None) -> None:
        self.model = model
        self.lam = float(regularisation)
        self.H = model.H
        self.sigma = model.noise / np.abs(model.gain)  # noise in physics units
        self.use = model.identifying.copy() if use is None else np.asarray(use, bool)
        self.bounds = model.bounds
        self.scale = model.typical
        self._cache: dict[bytes, Estimator] = {}
        self.version = 0  # counts changes of the sensors in use (cached pieces elsewhere)

    def exclude(self, sensor_id: str) -> None:
        """Stop using a sensor (e.g. named faulty); the estimators are rebuilt."""
        self.use[self.model.sensor_ids.index(sensor_id)] = False
        self._cache.clear()
        self.version += 1

    def include(self, sensor_id: str) -> None:
        self.use[self.model.sensor_ids.index(sensor_id)] = True
        self._cache.clear()
        self.version += 1

    def estimator(self, available: np.ndarray) -> Estimator:
        mask = available & self.use
        key = mask.tobytes()
        est = self._cache.get(key)
        if est is None:
            rows = np.flatnonzero(mask)
            Hr = self.H[rows]
            w = 1.0 / self.sigma[rows] ** 2
            A = Hr.T @ (w[:, None] * Hr)
            reg = self.lam * max(np.trace(A), 1e-30) / len(self.scale) * \
                np.diag(1.0 / self.scale ** 2) * np.mean(self.scale ** 2)
            G = np.linalg.pinv(A + reg)
            P = G @ (Hr.T * w)
            cov = P @ np.diag(self.sigma[rows] ** 2) @ P.T
            est = Estimator(rows, P, np.zeros(len(self.scale)), cov)
            if len(self._cache) > 256:  # bounded: many dropout patterns
                self._cache.clear()
            self._cache[key] = est
        return est

    def physics(self, readings: np.ndarray) -> np.ndarray:
        """Readings with gain and offset removed (T, S)."""
        return (np.atleast_2d(readings) - self.model.offset) / self.model.gain

    def identify(self, readings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Loads (T, C) and their standard deviations (T, C) for readings (T, S); NaN marks
        a missing reading. A sample without enough sensors gives NaN loads."""
        Y = self.physics(readings)
        if len(Y) == 1 and np.isfinite(Y).all():  # the live case: one complete sample
            est = self.estimator(np.ones(Y.shape[1], dtype=bool))
            q = est.P @ Y[0, est.rows] + est.c
            if ((q < self.bounds[:, 0]) | (q > self.bounds[:, 1])).any():
                q = self._bounded(Y[0, est.rows], est.rows)
            return q[None], est.sd[None]
        T, C = len(Y), len(self.scale)
        q = np.full((T, C), np.nan)
        sd = np.full((T, C), np.nan)
        avail = np.isfinite(Y)
        if T == 1 or avail.all():  # the common cases, without sorting the patterns
            patterns, inverse = avail[:1], np.zeros(T, dtype=np.int64)
            if not avail.all():
                patterns = avail
        else:
            patterns, inverse = np.unique(avail, axis=0, return_inverse=True)
        for k, pat in enumerate(patterns):
            if (pat & self.use).sum() < 1:
                continue
            idx = np.flatnonzero(inverse.ravel() == k)
            est = self.estimator(pat)
            q[idx] = Y[np.ix_(idx, est.rows)] @ est.P.T + est.c
            sd[idx] = np.sqrt(np.diag(est.cov))
            out = ((q[idx] < self.bounds[:, 0]) | (q[idx] > self.bounds[:, 1])).any(axis=1)
            for i in idx[out]:
                q[i] = self._bounded(Y[i, est.rows], est.rows)
        return q, sd

    def _bounded(self, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        w = 1.0 / self.sigma[rows]
        A = self.H[rows] * w[:, None]
        res = lsq_linear(A, y * w, bounds=(self.bounds[:, 0], self.bounds[:, 1]))
        return res.x

    def residuals(self, readings: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Whitened residuals (T, S): (measured - predicted) / noise; NaN where missing."""
        pred = self.model.predict(np.nan_to_num(q))
        return (np.atleast_2d(readings) - pred) / self.model.noise

    def observability(self, threshold: float = 1e4) -> Observability:
        return observability(self.H[self.use], self.sigma[self.use], self.scale,
                             self.model.channels, threshold)


def observability(H: np.ndarray, sigma: np.ndarray, scale: np.ndarray, channels: list[str],
                  threshold: float = 1e4) -> Observability:
    """Can the sensors tell the loads apart? Condition number and rank of the whitened,
    channel-scaled influence matrix; the channels mixed in its weakest directions."""
    A = (H / sigma[:, None]) * scale[None, :]
    if A.size == 0:
        return Observability(np.inf, 0, [], [channels], ["No sensor is available."])
    _, s, Vt = np.linalg.svd(A, full_matrices=True)
    s_full = np.zeros(len(channels))
    s_full[:len(s)] = s
    tol = s_full.max() * 1e-9
    rank = int((s_full > tol).sum())
    cond = float(s_full.max() / s_full.min()) if s_full.min() > tol else float("inf")
    groups, warnings = [], []
    for k in range(len(channels)):
        if s_full[k] <= tol or s_full.max() / max(s_full[k], 1e-300) > threshold:
            v = np.abs(Vt[k])
            groups.append([channels[i] for i in np.flatnonzero(v > 0.2 * v.max())])
    if rank < len(channels):
        warnings.append(f"The sensors cannot identify {len(channels) - rank} load "
                        f"combination(s): {'; '.join(' + '.join(g) for g in groups)} "
                        "(add sensors: twinsight twin sensors CONFIG --suggest N).")
    elif cond > threshold:
        warnings.append(f"The loads are poorly separable (condition number {cond:.3g}): "
                        f"{'; '.join(' + '.join(g) for g in groups)}.")
    return Observability(cond, rank, s_full.tolist(), groups, warnings)


def suggest_sensors(model: AssetModel, n: int, candidates: np.ndarray | None = None,
                    noise: float = 1.0) -> list[dict]:
    """Greedy D-optimal placement of ``n`` more strain gauges on the surface: each step adds
    the candidate (surface node x axis direction) that most increases log det of the Fisher
    information of the loads (determinant lemma: log(1 + h^T F^-1 h / noise^2))."""
    from sim.asset.influence import observation_row

    mesh = model.mesh
    scale = model.typical
    ident = model.identifying
    sig = (model.noise / np.abs(model.gain))[ident]
    A = (model.H[ident] / sig[:, None]) * scale
    F = A.T @ A + 1e-9 * np.eye(len(scale)) * max(np.trace(A.T @ A), 1.0)
    if candidates is None:
        faces, _ = mesh.boundary
        cand = np.unique(faces[:, :3])
        rng = np.random.default_rng(0)
        if len(cand) > 1500:
            cand = rng.choice(cand, 1500, replace=False)
        candidates = mesh.points[cand]
    rows, specs = [], []
    for p in candidates:
        for axis, d in zip("xyz", np.eye(3), strict=True):
            try:
                dofs, w = observation_row(mesh, "strain", p, d)
            except Exception:
                continue
            rows.append(w @ model.U[dofs].astype(float) * scale / noise)
            specs.append((p, axis, d))
    Hc = np.array(rows)
    chosen: list[int] = []
    out: list[dict] = []
    for _ in range(max(0, min(int(n), len(specs)))):
        Finv = np.linalg.inv(F)
        gain = np.log1p(np.einsum("ki,ij,kj->k", Hc, Finv, Hc))
        gain[chosen] = -np.inf
        k = int(np.argmax(gain))
        chosen.append(k)
        F = F + np.outer(Hc[k], Hc[k])
        p, axis, d = specs[k]
        out.append({"rank": len(chosen), "type": "strain", "point": np.round(p, 3).tolist(),
                    "direction": d.tolist(), "axis": axis,
                    "information_gain": round(float(gain[k]), 4),
                    "log_det_after": round(float(np.linalg.slogdet(F)[1]), 4)})
    return out
