"""Interaction sessions: grab and drag, scripts, record and deterministic replay."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv

from sim.errors import FileFormatError, InputError
from sim.interaction.recording import recording_dict, run_timeline, save_recording
from sim.interaction.script import read_timeline, timeline_from_dict
from sim.interaction.session import InteractionSession, SessionSetup
from sim.mesh.generators import box

GEL = {"name": "gel", "youngs_modulus": 0.01, "poisson_ratio": 0.45, "density": 1e-9}


@pytest.fixture(scope="module")
def block():
    return box((30.0, 30.0, 15.0), (10, 10, 5))


def _script(duration=1.0):
    return {
        "setup": {"material": GEL, "fixed": {"side": "zmin"}, "dt": 0.05, "friction": 0.5,
                  "instruments": [{"name": "probe", "type": "probe", "radius": 4.0,
                                   "tip": "round"}]},
        "duration": duration,
        "actions": [
            {"t": 0.0, "instrument": "probe", "pose": {"position": [10, 15, 17], "direction": [0, 0, 1]}},
            {"t": 0.6, "instrument": "probe", "pose": {"position": [10, 15, 13], "direction": [0.2, 0, 1]}},
            {"t": 0.1, "grab": [25, 15, 15]},
            {"t": 0.5, "drag": [29, 15, 18]},
            {"t": 0.8, "release": True},
        ]}


def test_grab_and_drag_moves_the_surface_towards_the_cursor(block):
    surface = block.surface()
    session = InteractionSession(block, SessionSetup(material=GEL, fixed={"side": "zmin"},
                                                     dt=0.05), visual=surface)
    top = np.array([15.0, 15.0, 15.0])
    session.apply({"type": "grab", "point": top.tolist()})
    for i in range(20):
        session.apply({"type": "drag", "target": (top + [0.25 * (i + 1), 0, 0]).tolist()})
        session.step()
    moved = session.visual_points() - np.asarray(surface.points)
    near = np.linalg.norm(np.asarray(surface.points) - top, axis=1) < 3.0
    assert moved[near, 0].mean() > 2.5  # follows the 5 mm drag (stiff spring, not rigid)
    assert abs(moved[near, 1].mean()) < 0.2
    session.apply({"type": "release"})
    for _ in range(40):
        session.step()
    assert np.abs(session.sim.displacement).max() < 0.3  # relaxes after release


def test_script_replay_is_deterministic(block, tmp_path):
    timeline = timeline_from_dict(_script())
    first = run_timeline(timeline, block)
    assert first.metrics["peak_contact_force_n"] > 0
    assert first.metrics["max_displacement_mm"] > 1.0
    path = save_recording(first, tmp_path / "rec.json")
    replay_timeline = read_timeline(path)
    assert replay_timeline.steps == first.step_index
    again = run_timeline(replay_timeline, block)
    assert again.state_digest() == first.state_digest() == replay_timeline.expected_state
    np.testing.assert_array_equal(again.sim.x, first.sim.x)
    # A recording keeps wall-clock and simulated timestamps of every event.
    events = json.loads(path.read_text())["events"]
    assert all({"step", "time", "wall_time"} <= set(e) for e in events)


def test_recording_refuses_another_mesh(block):
    rec = recording_dict(run_timeline(timeline_from_dict(_script(0.2)), block))
    other = box((30.0, 30.0, 15.0), (6, 6, 3))
    with pytest.raises(InputError, match="different mesh"):
        run_timeline(timeline_from_dict(rec), other)


def test_reset_returns_to_rest(block):
    session = run_timeline(timeline_from_dict(_script(0.4)), block)
    assert np.abs(session.sim.displacement).max() > 0
    session.reset()
    assert np.abs(session.sim.displacement).max() == 0
    assert session.events == [] and session.step_index == 0


@pytest.mark.parametrize("bad, message", [
    ([1, 2], "JSON object"),
    ({"setup": {"dt": 5}}, "time step"),
    ({"setup": {"colour": 1}}, "Unknown simulation setting"),
    ({"actions": [{"t": 0, "instrument": "nope", "pose": {"position": [0, 0, 0]}}]}, "nope"),
    ({"actions": [{"t": -1, "release": True}]}, "time"),
    ({"actions": [{"t": 0, "drag": [0, 0, 0]}]}, "before any grab"),
    ({"actions": [{"t": 0, "grab": [0, "x", 0]}]}, None),
    ({"duration": 1e9}, "duration"),
    ({"format": "twinsight-interaction", "steps": 3, "events": [{"type": "boom", "step": 0}]},
     "Bad recorded event"),
])
def test_bad_scripts_are_input_errors(bad, message):
    with pytest.raises((InputError, ValueError)) as info:
        timeline_from_dict(bad)
    if message:
        assert message in str(info.value)


def test_unreadable_script_file(tmp_path):
    p = tmp_path / "s.json"
    p.write_text("{not json")
    with pytest.raises(FileFormatError, match="s.json"):
        read_timeline(p)


def test_cli_simulate(tmp_path):
    from tests.cli_process import run_cli

    surf = pv.Box(bounds=(0, 30, 0, 30, 0, 15), level=3).triangulate()
    surf.save(tmp_path / "block.stl")
    (tmp_path / "actions.json").write_text(json.dumps({**_script(0.5), "edge_length": 4.0}))
    args = ["simulate", tmp_path / "block.stl"]
    out = run_cli(*args, "--script", tmp_path / "actions.json", "--json", "-o", tmp_path / "r.vtu",
                  "--record", tmp_path / "rec.json", timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["peak_contact_force_n"] > 0 and report["max_displacement_mm"] > 0
    assert report["steps"] == 10 and report["steps_per_second"] > 0
    assert report["peak_von_mises_kpa"] > 0
    grid = pv.read(tmp_path / "r.vtu")
    assert {"displacement", "von_mises", "max_principal_strain"} <= set(grid.point_data)
    again = run_cli(*args, "--script", tmp_path / "rec.json", "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["replay_matches_recording"] is True
    bad = run_cli(*args, "--script", tmp_path / "missing.json", timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_export_png_sequence_and_mp4(block, tmp_path):
    from sim.interaction.export import export_replay

    timeline = timeline_from_dict(_script(0.3))  # 6 steps
    report = export_replay(timeline, block, tmp_path / "frames", visual=block.surface(),
                           every=2, field="von_mises", size=(320, 240))
    pngs = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert report["frames"] == len(pngs) == 3
    img = pv.read(pngs[-1])
    assert tuple(img.dimensions[:2]) == (320, 240)
    assert np.asarray(img.active_scalars).std() > 1  # not a blank frame
    assert report["drawn_moved_mm"] > 0.1  # the rendered surface follows the simulation
    video = export_replay(timeline, block, tmp_path / "replay.mp4", visual=block.surface(),
                          every=1, size=(320, 240))
    assert video["frames"] == 6 and (tmp_path / "replay.mp4").stat().st_size > 1000
    assert video["final_state"] == report["final_state"]  # the replay is deterministic


def test_cli_export_frames(tmp_path):
    from sim.cli import main

    surf = pv.Box(bounds=(0, 30, 0, 30, 0, 15), level=2).triangulate()
    surf.save(tmp_path / "block.stl")
    (tmp_path / "a.json").write_text(json.dumps({**_script(0.2), "edge_length": 5.0}))
    code = main(["simulate", str(tmp_path / "block.stl"), "--script", str(tmp_path / "a.json"),
                 "--export", str(tmp_path / "frames"), "--every", "1", "--field",
                 "displacement"])
    assert code == 0
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 4


@pytest.mark.parametrize("event", [
    {"type": "drag", "target": "abc"}, {"type": "grab", "point": [1, 2]},
    {"type": "pose", "instrument": "probe", "pose": {"position": [0, 0]}},
    {"type": "pose", "instrument": "probe"}, {"type": "param", "instrument": "probe"},
    {"type": "param", "instrument": "probe", "key": "radius", "value": -3}, "boom",
])
def test_malformed_events_are_input_errors(block, event):
    session = InteractionSession(block, timeline_from_dict(_script(0.1)).setup)
    session.apply({"type": "grab", "point": [15.0, 15.0, 15.0]})
    with pytest.raises(InputError):
        session.apply(event)
    session.step()  # the session is still usable


def test_thin_tool_between_coarse_nodes_pushes_through_the_fine_surface():
    """A 2 mm round probe pushed 3 mm into a coarse block (5 mm tets) passes between the
    simulation nodes, so node contact alone gives no force at all. The embedded fine surface
    is the collision surface: its vertices push back through the embedding, so there is a
    contact force, the raw fine surface stays outside the tool within the stated 0.5 mm, and
    the tissue under the tip moves down."""
    coarse = box((30.0, 30.0, 15.0), (6, 6, 3))
    fine = pv.Box(bounds=(0, 30, 0, 30, 0, 15), level=29).triangulate()
    setup = SessionSetup(material=GEL, fixed={"side": "zmin"}, dt=0.05, instruments=[
        {"name": "probe", "type": "probe", "radius": 2.0, "tip": "round"}])
    session = InteractionSession(coarse, setup, visual=fine)
    tip = np.array([12.5, 12.5, 16.0])  # between the nodes at 10 and 15 mm
    forces = []
    for k in range(20):
        pose = np.eye(4)
        pose[:3, 3] = tip - [0, 0, min(k + 1, 10) * 0.4]
        session.apply({"type": "pose", "instrument": "probe", "pose": pose.tolist()})
        session.step()
        forces.append(session.sim.contact_force("probe")[2])
    probe = session.instruments["probe"]
    assert session.sim.penetration() < 0.5  # simulation nodes
    raw = np.asarray(fine.points) + session.embedding.map(session.sim.displacement)
    d_raw, _ = probe.signed_distance(raw)
    assert d_raw.min() > -0.5  # the fine surface itself, before any display wrap (mm)
    assert forces[-1] > 0.01 and forces[9] > forces[3] > 0.0  # N, growing with depth
    under = np.flatnonzero(np.hypot(raw[:, 0] - 12.5, raw[:, 1] - 12.5) < 2.0)
    assert (raw[under, 2] < 15.0 - 1.0).any()  # dented by the tip
    d, _ = probe.signed_distance(session.visual_points())
    assert d.min() > -1e-6  # what is shown never lets the tool show through
