"""The application model (:class:`Workbench`) and the running things it owns."""

from sim.workbench.placement import PlacementRun, prepare_structures
from sim.workbench.simulation import BodyMeshes, RunningSimulation
from sim.workbench.workbench import Workbench

__all__ = ["BodyMeshes", "PlacementRun", "RunningSimulation", "Workbench", "prepare_structures"]
