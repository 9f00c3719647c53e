"""Placement simulation: where a device sits relative to anatomy or parts, how safely.

Build a :class:`PlacementScene` of structures (critical, host or other), prepare a
device with :class:`RigidDevice`, then :func:`evaluate` poses, :func:`fit_on_trajectory`
them, or ask :func:`recommend_screw` / :func:`size_stent` for a size.
"""

from sim.placement.evaluate import PlacementScene, Structure, evaluate
from sim.placement.report import Evaluation, StructureResult, comparison_table
from sim.placement.rigid_device import RigidDevice

__all__ = ["Evaluation", "PlacementScene", "RigidDevice", "Structure", "StructureResult",
           "comparison_table", "evaluate"]
