"""The engineering twin: live sensor data drives a finite-element model of the asset.

Load identification, virtual sensing, calibration, health monitoring from residuals,
fatigue life and what-if predictions (issue #17). Headless; the GUI's Twin view and the
``twinsight twin`` commands are thin layers over it.
"""
