"""Shared fixtures: a real factory part (trimesh's idler riser, drawn in inches) in mm."""

from tests.sim.idler_riser import idler_riser  # noqa: F401  (a fixture for this folder's tests)
