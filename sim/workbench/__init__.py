"""The application model (:class:`Workbench`) and the running things it owns."""

from sim.workbench.placement import PlacementRun, clearance_overlays, prepare_structures
from sim.workbench.simulation import BodyMeshes, RunningSimulation
from sim.workbench.workbench import Workbench

__all__ = ["BodyMeshes", "PlacementRun", "RunningSimulation", "Workbench", "clearance_overlays",
           "prepare_structures"]
