"""Health monitoring from model residuals: a faulty sensor or a structural change?

Residuals r = (measured - predicted) / noise are whitened; with identified loads they lie in
the complement of the influence matrix's range (the projector M). Each hypothesis h has a
signature s_h(t) in that space:

* sensor i is biased (drift, stuck, offset jump): s = M e_i / sigma_i (constant);
* region j lost stiffness: s(t) = M W^1/2 dH_j q(t) (from the precomputed sensitivities
  dH/d(stiffness scale), varying with the loads).

A generalised likelihood ratio test with exponential forgetting (memory tau) watches each:
A = sum l^k s.r, B = sum l^k |s|^2, V = sum l^2k |s|^2 (the variance of A without a fault),
z = A^2 / V ~ chi^2(1) when healthy, amplitude a = A / B. The threshold is set from the
false-alarm rate: Bonferroni over the hypotheses and every sample of a day (conservative:
neighbouring samples share most of their window). The most likely hypothesis above the threshold names the fault (while a structural
finding is active, no other region is named: a large change leaks into neighbouring
signatures). The recursions
run as IIR filters over blocks (scipy.signal.lfilter), so 24 h of data take seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter
from scipy.stats import chi2

from sim.asset.identify import LoadIdentifier
from sim.asset.model import AssetModel


@dataclass
class Finding:
    kind: str  # "sensor" or "structure"
    name: str  # sensor id or region name
    t: float  # first time over the threshold
    statistic: float
    amplitude: float  # sensor bias (its unit) or stiffness change (fraction, < 0 is a loss)
    active: bool = True

    def message(self) -> str:
        if self.kind == "sensor":
            return (f"Sensor {self.name} disagrees with the model (bias {self.amplitude:+.3g}):"
                    " drift, stuck or damaged gauge")
        return (f"Structural change in region '{self.name}': stiffness "
                f"{100 * self.amplitude:+.0f} % from the residual pattern")


@dataclass
class HealthState:
    A: np.ndarray
    B: np.ndarray
    V: np.ndarray
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)


class HealthMonitor:
    def __init__(self, model: AssetModel, identifier: LoadIdentifier, dt: float,
                 memory_s: float = 10.0, false_alarms_per_day: float = 0.1) -> None:
        self.model = model
        self.ident = identifier
        self.dt = float(dt)
        self.memory_s = float(memory_s)
        self.lam = math.exp(-self.dt / self.memory_s)
        self.names = [("sensor", s) for s in model.sensor_ids] + \
            [("structure", r) for r in model.regions]
        n = len(self.names)
        windows = 86400.0 / min(self.dt, self.memory_s)  # every sample is a test
        p = false_alarms_per_day / (n * windows)
        self.threshold = float(chi2.isf(p, 1))
        self.clear_below = 0.5 * self.threshold
        self.state = HealthState(np.zeros(n), np.zeros(n), np.zeros(n))
        self.sigma = model.noise
        self._cache: dict = {}

    def reset(self) -> None:
        n = len(self.names)
        self.state.A, self.state.B, self.state.V = np.zeros(n), np.zeros(n), np.zeros(n)

    def _terms(self, readings: np.ndarray, q: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Per sample and hypothesis: s.r and |s|^2 (T, n)."""
        m = self.model
        T, S = readings.shape
        n = len(self.names)
        sr = np.zeros((T, n))
        ss = np.zeros((T, n))
        Y = self.ident.physics(readings)
        avail = np.isfinite(Y) & np.isfinite(q).all(axis=1)[:, None]
        if T == 1 or avail.all():
            patterns, inverse = avail[:1], np.zeros(T, dtype=np.int64)
        else:
            patterns, inverse = np.unique(avail, axis=0, return_inverse=True)
        sig = self.ident.sigma
        for k, pat in enumerate(patterns):
            idx = np.flatnonzero(inverse.ravel() == k)
            if (pat & self.ident.use).sum() <= len(m.channels):
                continue  # no redundancy: nothing to test
            est = self.ident.estimator(pat)
            rows = est.rows
            w = 1.0 / sig[rows]
            Hw = m.H[rows] * w[:, None]
            M = np.eye(len(rows)) - Hw @ (est.P / w[None, :])  # whitened residual projector
            r = (Y[np.ix_(idx, rows)] - q[idx] @ m.H[rows].T) * w  # (t, s)
            # sensors: s_i = M e_i w_i -> s.r = w_i r_i (M r = r), |s|^2 = w_i^2 M_ii
            sr[np.ix_(idx, rows)] = r * w
            ss[np.ix_(idx, rows)] = np.diag(M) * w ** 2
            S_ = len(m.sensor_ids)
            for j in range(len(m.regions)):
                g = (q[idx] @ m.dH[j][rows].T) * w  # W^1/2 dH_j q  (t, s)
                sg = g @ M.T
                sr[idx, S_ + j] = (sg * r).sum(axis=1)
                ss[idx, S_ + j] = (sg * sg).sum(axis=1)
        return sr, ss

    def _one(self, y: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """s.r and |s|^2 of one complete sample (physics units), from cached pieces."""
        est = self.ident.estimator(np.ones(len(y), dtype=bool))
        key = id(est)
        c = self._cache.get(key)
        if c is None or c[0] is not est:
            m = self.model
            rows = est.rows
            w = 1.0 / self.ident.sigma[rows]
            Hw = m.H[rows] * w[:, None]
            M = np.eye(len(rows)) - Hw @ (est.P / w[None, :])
            G = np.einsum("rsc,s->rsc", m.dH[:, rows], w)  # W^1/2 dH  (R, s, C)
            MG = np.einsum("ts,rsc->rtc", M, G)  # M W^1/2 dH  (R, s, C)
            c = (est, rows, w, m.H[rows], np.diag(M) * w ** 2, G, MG)
            self._cache = {key: c}
        est, rows, w, Hr, ss_sensor, G, MG = c
        if len(rows) <= len(self.model.channels):
            return None
        r = (y[rows] - Hr @ q) * w
        n = len(self.names)
        S_ = len(self.model.sensor_ids)
        sr = np.zeros(n)
        ss = np.zeros(n)
        sr[rows] = r * w
        ss[rows] = ss_sensor
        sg = MG @ q  # (R, s)
        sr[S_:] = sg @ r
        ss[S_:] = (sg * sg).sum(axis=1)
        return sr, ss

    def update(self, t: np.ndarray, readings: np.ndarray, q: np.ndarray
               ) -> tuple[list[Finding], list[Finding], np.ndarray]:
        """Feed a block; returns (new findings, ended findings, statistic per sample (T, n))."""
        st = self.state
        lam = self.lam
        readings, q = np.atleast_2d(readings), np.atleast_2d(q)
        one = None
        if len(t) == 1 and np.isfinite(readings).all() and self.ident.use.all():
            one = self._one(self.ident.physics(readings)[0], q[0])
        if one is not None:
            sr, ss = one
            st.A = lam * st.A + sr
            st.B = lam * st.B + ss
            st.V = lam * lam * st.V + ss
            A, B, V = st.A[None], st.B[None], st.V[None]
        else:
            sr, ss = self._terms(readings, q)
            A, _ = lfilter([1.0], [1.0, -lam], sr, axis=0, zi=(lam * st.A)[None])
            B, _ = lfilter([1.0], [1.0, -lam], ss, axis=0, zi=(lam * st.B)[None])
            V, _ = lfilter([1.0], [1.0, -lam * lam], ss, axis=0, zi=(lam * lam * st.V)[None])
            st.A, st.B, st.V = A[-1].copy(), B[-1].copy(), V[-1].copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(V > 1e-12, A * A / V, 0.0)
            amp = np.where(B > 1e-12, A / B, 0.0)
        if (z > self.threshold).any() or st.findings:
            new, ended = self.decide(t, z, amp)
            return new, ended, z
        return [], [], z

    def decide(self, t: np.ndarray, z: np.ndarray, amp: np.ndarray
               ) -> tuple[list[Finding], list[Finding]]:
        """New and ended findings from the statistics z and amplitudes amp (T, n)."""
        st = self.state
        new, ended = [], []
        best = np.argmax(z, axis=1)
        for i in range(len(t)):
            b = int(best[i])
            key = self.names[b]
            f = st.findings.get(key)
            busy = key[0] == "structure" and any(
                x.active and x.kind == "structure" for x in st.findings.values())
            if z[i, b] > self.threshold and (f is None or not f.active) and not busy:
                f = Finding(key[0], key[1], float(t[i]), float(z[i, b]), float(amp[i, b]))
                st.findings[key] = f
                new.append(f)
            elif f is not None and f.active:
                f.statistic, f.amplitude = float(z[i, b]), float(amp[i, b])
            for k2, f2 in st.findings.items():
                j = self.names.index(k2)
                if f2.active and z[i, j] < self.clear_below:
                    f2.active = False
                    ended.append(f2)
        return new, ended
