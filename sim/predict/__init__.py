"""Predictive analytics on telemetry: data quality, anomaly detection, forecasts and
remaining useful life learned from a fleet's run-to-failure histories.

Modules (headless, no Qt):

* :mod:`sim.predict.quality` - data quality flags (stuck, gaps, out of range, duplicate or
  out-of-order timestamps, clock jumps);
* :mod:`sim.predict.anomaly` - per-sensor baseline residuals with a CUSUM change-point test
  and a multivariate PCA/Mahalanobis detector, calibrated to a false-alarm rate;
* :mod:`sim.predict.forecast` - short-horizon forecasts with prediction intervals
  (statsmodels exponential smoothing) and "predicted to exceed" times;
* :mod:`sim.predict.fleet` - run-to-failure fleets from C-MAPSS text, CSV, Parquet or
  history databases; :mod:`sim.predict.features` - causal per-cycle features;
* :mod:`sim.predict.rul` - the remaining-life model (LightGBM, saved as text);
* :mod:`sim.predict.cmapss` - the grouped cross-validation benchmark on NASA C-MAPSS;
* :mod:`sim.predict.monitor` - the live per-asset monitor that ties them to the alarms.
"""
