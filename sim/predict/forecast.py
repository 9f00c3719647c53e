"""Short-horizon forecasts of a sensor with prediction intervals, and when a limit is crossed.

The series is averaged into even time bins (``step`` seconds) and fitted with statsmodels'
state-space exponential smoothing (``ETSModel``: additive errors, additive trend (damped on
request: a damped trend flattens out and would never predict a crossing),
additive seasonality when a period is known or found); its prediction intervals are the
model's own (analytic for these linear models). A forecast whose mean crosses a sensor's
normal range within the horizon becomes a "predicted to exceed at t" alarm.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from sim.errors import InputError

MIN_POINTS = 12
MAX_POINTS = 400  # the most recent bins fitted (fits stay well under 0.5 s)


@dataclass
class Forecast:
    t: np.ndarray  # future bin times (s)
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float  # e.g. 0.9 for a 90 % interval
    ignored: int = 0  # flagged readings left out of the fit

    def crossing(self, low: float | None = None, high: float | None = None
                 ) -> tuple[float, str, float] | None:
        """(time, "high"/"low", limit) where the mean first leaves [low, high], or None."""
        for k in range(len(self.t)):
            if high is not None and self.mean[k] > high:
                return float(self.t[k]), "high", high
            if low is not None and self.mean[k] < low:
                return float(self.t[k]), "low", low
        return None


def bin_series(t: np.ndarray, v: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``v`` in bins of ``step`` seconds; an empty bin takes the previous bin's
    value (a short dropout must not break the even spacing the model needs)."""
    t, v = np.asarray(t, float), np.asarray(v, float)
    k = np.floor((t - t[0]) / step).astype(np.int64)
    n = int(k[-1]) + 1
    sums = np.bincount(k, v, minlength=n)
    counts = np.bincount(k, minlength=n)
    out = np.empty(n)
    last = v[0]
    for i in range(n):  # bins, not readings: a few hundred
        if counts[i]:
            last = sums[i] / counts[i]
        out[i] = last
    return t[0] + (np.arange(n) + 0.5) * step, out


def forecast(t: np.ndarray, v: np.ndarray, horizon: float, step: float = 1.0,
             period: float | None = None, level: float = 0.9,
             trend: bool = True, damped: bool = False) -> Forecast:
    """Forecast the next ``horizon`` seconds of a series sampled at times ``t``."""
    import pandas as pd
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    if not 0 < level < 1:
        raise InputError("The interval level must be between 0 and 1.")
    if horizon <= 0 or step <= 0:
        raise InputError("The forecast horizon and step must be positive.")
    if len(t) < 2:
        raise InputError("A forecast needs at least two readings.")
    bt, bv = bin_series(t, v, step)
    bt, bv = bt[-MAX_POINTS:], bv[-MAX_POINTS:]
    if len(bv) < MIN_POINTS:
        raise InputError(f"A forecast needs at least {MIN_POINTS} time steps of data "
                         f"({len(bv)} so far).")
    steps = max(1, int(math.ceil(horizon / step)))
    season = int(round(period / step)) if period else 0
    use_season = season >= 2 and len(bv) >= 2 * season + 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        # a pandas Series: statsmodels' prediction results index their output by it
        model = ETSModel(pd.Series(bv), error="add", trend="add" if trend else None,
                         damped_trend=trend and damped, seasonal="add" if use_season else None,
                         seasonal_periods=season if use_season else None,
                         initialization_method="heuristic" if use_season else "estimated")
        fit = model.fit(disp=False, maxiter=200)
        frame = fit.get_prediction(start=len(bv), end=len(bv) + steps - 1) \
            .summary_frame(alpha=1 - level)
    future = bt[-1] + step * np.arange(1, steps + 1)
    return Forecast(future, np.asarray(frame["mean"]), np.asarray(frame["pi_lower"]),
                    np.asarray(frame["pi_upper"]), level)
