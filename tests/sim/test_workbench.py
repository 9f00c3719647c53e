"""The application model driven by a script, no window: placement with its clearance overlay,
an interactive simulation started and stopped, and the saved case rendered by the CLI with the
overlay in it (issue #16's acceptance)."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
from PIL import Image

from sim.devices import make, pose_on_trajectory
from sim.interaction.session import SessionSetup
from sim.model import Case, ObjectKind, SceneObject
from sim.model import overlays as ov
from sim.workbench import Workbench
from tests.cli_process import run_cli


def spine_block() -> Case:
    """A bone block with a 'nerve' rod 2.5 mm beside the planned screw axis."""
    case = Case(name="spine block")
    case.scene.add(SceneObject("Bone", ObjectKind.SURFACE,
                               pv.Box(bounds=(-15, 15, -15, 15, 0, 60), level=3).triangulate(),
                               opacity=0.3))
    case.scene.add(SceneObject("Nerve", ObjectKind.SURFACE,
                               pv.Cylinder(center=(7.0, 0, 30), direction=(0, 1, 0), radius=1.5,
                                           height=40, resolution=40).triangulate()
                               .subdivide_adaptive(max_edge_len=1.0)))  # a map needs vertices
    return case


def add_screw(case: Case, x: float) -> SceneObject:
    device = make("pedicle_screw", diameter=5.5, length=40.0)
    obj = SceneObject(device.label, ObjectKind.DEVICE, device.mesh.copy(),
                      color=(0.72, 0.74, 0.78), metadata=device.metadata())
    obj.transform = pose_on_trajectory((x, 0.0, 5.0), (x, 0.0, 55.0))
    return case.scene.add(obj)


def test_a_script_places_a_screw_shows_clearance_simulates_and_the_cli_renders_it(tmp_path):
    from sim.model.case_io import save_case as save

    bench = Workbench()
    events: list = []
    bench.case_changed.connect(lambda c: events.append(("case", c)))
    bench.placement_changed.connect(lambda p: events.append(("placement", p)))
    bench.simulation_changed.connect(lambda s: events.append(("simulation", s)))
    case = spine_block()
    bench.set_case(case)
    screw = add_screw(case, 4.5)
    bone, nerve = case.scene["Bone"], case.scene["Nerve"]
    run = bench.start_placement(screw, [(bone, "host", 1.0), (nerve, "critical", 2.0)])
    assert [e[0] for e in events] == ["case", "placement"]
    ev = run.evaluate()
    assert not ev.safe and ev.result("Nerve").collision  # 2.5 mm off the axis of a 5.5 mm screw

    shown = run.show_clearance(max_distance=10.0)
    assert len(shown) == 2  # the nerve's map and its legend, not the host bone's
    maps = [o for o in ov.overlays(case).values() if isinstance(o, ov.ClearanceMap)]
    assert [m.structure for m in maps] == [nerve.uid]
    # The overlay's distances are exact: the nerve's surface points inside the screw read 0,
    # and a point's value equals its distance to the screw's surface (checked by VTK).
    from sim.render.overlays import clearance_surface

    mesh = clearance_surface(case, maps[0])
    d = mesh.point_data["clearance_mm"]
    assert d.min() == 0.0 and d.max() == pytest.approx(10.0)
    screw_world = screw.data.transform(screw.transform, inplace=False).extract_surface(algorithm=None)
    far = np.flatnonzero((d > 0.5) & (d < 9.5))[:50]
    implicit = __import__("vtk").vtkImplicitPolyDataDistance()
    implicit.SetInput(screw_world.triangulate())
    ref = np.array([abs(implicit.EvaluateFunction(mesh.points[i])) for i in far])
    assert np.allclose(d[far], ref, atol=0.05)

    # Undo takes the overlay away with its step; redo brings it back.
    case.history.undo()
    assert not ov.overlays(case)
    case.history.redo()
    assert len(ov.overlays(case)) == 2

    # An interactive simulation of the bone block, started and stopped by the script.
    setup = SessionSetup(fixed={"box": [None, None, None, None, None, 2.0]})
    sim = bench.start_simulation(bone, setup, mesher="sparse", edge_mm=10.0)
    assert bench.simulation is sim and sim.owner == "script" and sim.body is bone
    sim.post({"type": "grab", "point": [0.0, 0.0, 60.0]})
    sim.post({"type": "drag", "target": [0.0, 0.0, 70.0]})
    assert sim.loop.wait_for_step(20, 60.0)
    assert sim.refresh_surface()
    assert sim.surface().points[:, 2].max() > 60.5  # the top was pulled up
    assert bench.stop_simulation() is sim and bench.simulation is None
    assert not sim.loop.running
    assert [e[0] for e in events][-2:] == ["simulation", "simulation"]

    # Saved, then rendered by the command line: the clearance map is in the picture.
    path = tmp_path / "placed.twin"
    save(case, path)
    out = tmp_path / "shot.png"
    res = run_cli("screenshot", path, "-o", out, "--size", "640x480", timeout=300)
    assert res.returncode == 0, res.stderr
    with_map = np.asarray(Image.open(out).convert("RGB")).astype(int)
    ov.remove_overlays(case, "placement:")
    save(case, path)
    res = run_cli("screenshot", path, "-o", out, "--size", "640x480", timeout=300)
    assert res.returncode == 0, res.stderr
    without = np.asarray(Image.open(out).convert("RGB")).astype(int)
    # The map paints the nerve red where the screw touches it: strongly red pixels appear.
    red = lambda img: int(((img[..., 0] > 150) & (img[..., 1] < 90) & (img[..., 2] < 90)).sum())  # noqa: E731
    assert red(with_map) > 30 and red(without) == 0


def test_a_new_case_stops_what_ran_on_the_old_one():
    bench = Workbench()
    case = spine_block()
    bench.set_case(case)
    sim = bench.start_simulation(case.scene["Bone"], mesher="sparse", edge_mm=10.0)
    bench.set_result("inspection", {"rms": 1.0})
    bench.set_case(Case(name="next"))
    assert bench.simulation is None and not sim.loop.running
    assert bench.results == {} and bench.placement is None


def test_a_body_of_another_case_is_refused():
    from sim.errors import InputError

    bench = Workbench(case=spine_block())
    stranger = spine_block().scene["Bone"]
    with pytest.raises(InputError, match="not in the open case"):
        bench.prepare_simulation(stranger)


def test_a_damaged_or_hostile_overlays_section_opens_without_the_overlays(tmp_path, caplog):
    """A case whose overlays cannot be read opens with everything else, and says so."""
    import json
    import logging

    from sim.model.case_io import load_case, save_case

    case = spine_block()
    screw = add_screw(case, 4.5)
    ov.set_overlay(case, ov.PlanLine(id="plan", points=[(0, 0, 0), (0, 0, 50)]))
    path = tmp_path / "ok.twin"
    save_case(case, path)
    assert set(ov.overlays(load_case(path))) == {"plan"}  # round trip

    for damage in ({"x": {"kind": "line", "id": "x", "points": [[0, 0, "nan?"]]}},
                   {"x": {"kind": "mystery", "id": "x"}},
                   {f"o{i}": {"kind": "legend", "id": f"o{i}", "title": "t"}
                    for i in range(ov.MAX_OVERLAYS + 1)}):
        case.sections[ov.SECTION] = damage
        bad = tmp_path / "bad.twin"
        save_case(case, bad)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            opened = load_case(bad)
        assert ov.SECTION not in opened.sections and not ov.overlays(opened)
        assert opened.scene.find(screw.uid) is not None  # the rest is there
        assert any("overlays cannot be read" in r.getMessage() for r in caplog.records)
    assert json.dumps(ov.overlays(case)) == "{}"  # reading a damaged section never raises
