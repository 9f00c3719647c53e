"""Live overlays (issue #16): sensor markers, the alarm banner and tracked tools' tips are typed
models owned by the workbench, evented, never saved with the case nor put in its undo history;
a headless live session (the demo pump's sensors, a tracked tool) fills them."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from sim.errors import InputError
from sim.model import Case, ObjectKind, SceneObject
from sim.model import live_overlays as lo
from sim.model.overlays import overlays as case_overlays
from sim.twin.session import LiveSession
from sim.twin.simulate import demo_asset_surface, demo_config
from sim.workbench import Workbench
from sim.workbench.live import live_overlays_of


def _pose(t=(0.0, 0.0, 0.0), angle_deg: float = 0.0) -> np.ndarray:
    a = np.radians(angle_deg)
    m = np.eye(4)
    m[:3, :3] = [[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]]
    m[:3, 3] = t
    return m


def test_models_validate_their_fields():
    with pytest.raises(ValidationError):
        lo.SensorMark(name="t", point=(0, 0, float("nan")))
    with pytest.raises(ValidationError):
        lo.SensorMark(name="t", point=(0, 0, 0), state="on fire")
    with pytest.raises(ValidationError):
        lo.AlarmBanner(id="b", text="")
    with pytest.raises(ValidationError):
        lo.ToolGlyph(id="t", name="t", pose=((1, 0, 0),))  # not 4x4
    mark = lo.SensorMark(name="Vibration", point=(1, 2, 3), value=7.25, unit="mm/s",
                         state="high")
    assert mark.color == lo.STATE_COLOURS["high"] and mark.text == "Vibration: 7.25 mm/s"
    # The aim point lies `reach` mm ahead of the tip, against the shaft (+z of the tip frame):
    # rotated 90 degrees about x, +z becomes -y, so the tool points along +y.
    glyph = lo.ToolGlyph(id="t", name="Stylus", reach=40.0,
                         pose=tuple(map(tuple, _pose((10, 20, 30), 90.0))))
    np.testing.assert_allclose(glyph.tip, (10, 20, 30))
    np.testing.assert_allclose(glyph.aim, (10, 60, 30), atol=1e-9)


def test_live_overlays_are_evented_and_batched():
    live = lo.LiveOverlays()
    changed, settled = [], []
    live.changed.connect(changed.append)
    live.settled.connect(lambda: settled.append(1))
    banner = lo.AlarmBanner(id="live:alarm", text="ALARM: hot")
    tool = lo.ToolGlyph(id="live:tool:S", name="S", pose=tuple(map(tuple, np.eye(4))))
    assert live.replace("live:", [banner, tool])
    assert changed == ["live:alarm", "live:tool:S"] and settled == [1]  # one render for both
    assert not live.replace("live:", [banner, tool])  # the same again: no event at all
    assert changed == ["live:alarm", "live:tool:S"] and settled == [1]
    moved = tool.model_copy(update={"pose": tuple(map(tuple, _pose((0, 0, 5))))})
    assert live.replace("live:", [moved])  # the banner goes, the tool moves
    assert sorted(changed[2:]) == ["live:alarm", "live:tool:S"] and settled == [1, 1]
    assert live.items() == {"live:tool:S": moved}
    with pytest.raises(InputError):
        live.replace("live:", [lo.AlarmBanner(id="other", text="x")])
    with pytest.raises(InputError):
        live.set("not an overlay")  # type: ignore[arg-type]
    assert live.clear() and len(live) == 0 and not live.clear()


def test_workbench_owns_them_outside_the_case_and_its_history():
    case = Case(name="Twin", anatomical=False)
    bench = Workbench(case=case)
    steps, revision = len(case.history), case.history.revision
    sections = dict(case.sections)
    banner = lo.AlarmBanner(id="live:alarm", text="ALARM: vibration high")
    assert bench.show_live([banner])
    assert bench.live_overlays.get("live:alarm") == banner
    assert dict(case.sections) == sections and not case_overlays(case)  # not in the case
    assert (len(case.history), case.history.revision) == (steps, revision)  # no undo step
    # The link stopping, or another case opening, takes them away.
    bench.set_link(object())
    bench.set_link(None)
    assert len(bench.live_overlays) == 0
    bench.show_live([banner])
    bench.set_case(Case(name="Other", anatomical=False))
    assert len(bench.live_overlays) == 0


def test_a_live_session_fills_markers_banner_and_tool_tips():
    """The demo pump's sensors: a vibration reading past its normal band (0-4.5 mm/s) turns
    its marker red and raises the banner; acknowledging the alarm takes the banner away."""
    case = Case(name="Twin", anatomical=False)
    asset = case.scene.add(SceneObject(name="Pump bracket", kind=ObjectKind.PART,
                                       data=demo_asset_surface()))
    asset.transform = _pose((100.0, 0.0, 0.0))  # markers are drawn in the world
    session = LiveSession(case, demo_config())
    tel = session.telemetry
    base = demo_config().base_topic
    tel.ingest(f"{base}/vibration", b"2.0")
    tel.ingest(f"{base}/temperature/bend", b"40")
    shown = {o.id: o for o in live_overlays_of(session, asset)}
    assert set(shown) == {"live:sensors"}  # no alarm, no tool yet
    marks = {m.name: m for m in shown["live:sensors"].marks}
    assert len(marks) == 5 and marks["Vibration RMS"].state == "normal"
    assert marks["Foot temperature"].state == "no data" and marks["Foot temperature"].value is None
    np.testing.assert_allclose(marks["Vibration RMS"].point, (150.0, 20.0, 0.0))  # (50,20,0)+x100
    bend = np.asarray(asset.data.points)[demo_config().sensors[4].region].mean(axis=0)
    np.testing.assert_allclose(marks["Bend strain"].point, bend + (100, 0, 0))

    tel.ingest(f"{base}/vibration", b"9.5")
    tool = session.instruments.add_tool("StylusToTracker")
    tool.place(_pose((5.0, 6.0, 7.0)), 0.0)
    shown = {o.id: o for o in live_overlays_of(session, asset)}
    marks = {m.name: m for m in shown["live:sensors"].marks}
    assert marks["Vibration RMS"].state == "high" and marks["Vibration RMS"].value == 9.5
    assert shown["live:alarm"].severity == "alarm" and "ALARM" in shown["live:alarm"].text
    np.testing.assert_allclose(shown["live:tool:StylusToTracker"].tip, (5, 6, 7))

    bench = Workbench(case=case)
    assert bench.show_live(list(shown.values()))
    for alarm in tel.alarms.open_alarms:
        tel.alarms.acknowledge(alarm.id)
    assert bench.show_live(live_overlays_of(session, asset))
    assert "live:alarm" not in bench.live_overlays and "live:sensors" in bench.live_overlays
