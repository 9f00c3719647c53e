"""Uncertainty sweeps and virtual cohorts on Dask: a base (FE analysis, placement or a Python
model), parameters with distributions addressed by path into it, a cohort, a seeded sampler,
quantities of interest; results stream to Parquet; statistics, failure probabilities and
Sobol/Morris sensitivities in an HTML/PDF report. See :mod:`sim.sweep.spec` for the format."""
