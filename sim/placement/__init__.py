"""Placement simulation: where a device sits relative to anatomy or parts, how safely.

Build a :class:`PlacementScene` of structures (critical, host or other), prepare a
device with :class:`RigidDevice`, then :func:`evaluate` poses, :func:`fit_on_trajectory`
them, or ask :func:`recommend_screw` / :func:`size_stent` (after :func:`vessel_profile`)
for a size. ``twinsight place SPEC`` runs all of it from a file (sim.placement.spec).
"""

from sim.placement.evaluate import PlacementScene, Structure, evaluate
from sim.placement.fit import fit_on_trajectory
from sim.placement.report import Evaluation, StructureResult, comparison_table
from sim.placement.rigid_device import RigidDevice
from sim.placement.sizing import recommend_screw, size_stent
from sim.placement.vessel import vessel_profile

__all__ = ["Evaluation", "PlacementScene", "RigidDevice", "Structure", "StructureResult",
           "comparison_table", "evaluate", "fit_on_trajectory", "recommend_screw", "size_stent",
           "vessel_profile"]
