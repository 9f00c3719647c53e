"""Long placement work reports a percentage from inside its loops and stops on a cancel."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from sim.devices import make
from sim.errors import Cancelled
from sim.placement import PlacementScene, RigidDevice
from sim.placement.field import CACHE
from sim.placement.fit import fit_on_trajectory
from sim.placement.sizing import recommend_screw


def _items():
    bone = pv.Box(bounds=(-15, 15, -15, 15, 0, 60), level=12).triangulate()  # ~ 8k triangles
    nerve = pv.Cylinder(center=(7.0, 0, 30), direction=(0, 1, 0), radius=1.5, height=40,
                        resolution=40).triangulate()
    return [("Bone", bone, "host", 1.0), ("Nerve", nerve, "critical", 2.0)]


class Recorder:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.fractions: list[float] = []
        self.cancel_after = cancel_after

    def __call__(self, fraction: float, message: str) -> None:
        assert isinstance(message, str) and message
        self.fractions.append(fraction)
        if self.cancel_after is not None and len(self.fractions) > self.cancel_after:
            raise Cancelled("placement")

    def check_complete(self) -> None:
        f = np.array(self.fractions)
        assert f[0] == pytest.approx(0.0) and f[-1] == pytest.approx(1.0)
        assert np.all(np.diff(f) >= -1e-12), "progress never goes back"
        assert ((f > 0.05) & (f < 0.95)).sum() >= 5, "intermediate values"


def test_prepare_reports_progress_and_cancels():
    CACHE.clear()  # a cold build: the tree and grid loops run
    rec = Recorder()
    scene = PlacementScene.from_surfaces(_items(), around=[(4.5, 0, 5), (4.5, 0, 55)],
                                         reach=30.0, progress=rec)
    rec.check_complete()
    assert [s.name for s in scene.structures] == ["Bone", "Nerve"]
    assert all(s.field._grid is not None for s in scene.structures)

    CACHE.clear()
    stop = Recorder(cancel_after=3)
    with pytest.raises(Cancelled):
        PlacementScene.from_surfaces(_items(), progress=stop)
    assert len(stop.fractions) == 4 and stop.fractions[-1] < 0.5


def test_prepared_surfaces_are_reused():
    items = _items()
    scene = PlacementScene.from_surfaces(items)
    again = PlacementScene.from_surfaces(items)
    assert again.structures[0].field.tree is scene.structures[0].field.tree
    assert again.structures[0].field.grid[0] is scene.structures[0].field.grid[0]


def test_fit_and_sizing_report_progress_and_cancel():
    scene = PlacementScene.from_surfaces(_items(), around=[(4.5, 0, 5), (4.5, 0, 55)], reach=30.0)
    device = RigidDevice(make("pedicle_screw", diameter=5.5, length=40))
    rec = Recorder()
    fit = fit_on_trajectory(scene, device, (4.5, 0, 5), (4.5, 0, 55), budget=120, progress=rec)
    rec.check_complete()
    assert len(rec.fractions) >= fit.evaluations  # every pose reports (and may cancel)
    stop = Recorder(cancel_after=10)
    with pytest.raises(Cancelled):
        fit_on_trajectory(scene, device, (4.5, 0, 5), (4.5, 0, 55), budget=120, progress=stop)
    assert len(stop.fractions) == 11

    rec = Recorder()
    recommend_screw(scene, (4.5, 0, 5), (4.5, 0, 55), budget=60, progress=rec)
    rec.check_complete()
    stop = Recorder(cancel_after=len(rec.fractions) // 2)
    with pytest.raises(Cancelled):
        recommend_screw(scene, (4.5, 0, 5), (4.5, 0, 55), budget=60, progress=stop)
