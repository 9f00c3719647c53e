"""Hands in the headset: grabs, two-handed scale, ray select (scripted controller states)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewer.xr.xr_child import sphere_case
from viewer.xr.eye_camera import Pose, ScenePlacement, matrix_to_quat
from viewer.xr.interaction import XRInteraction, object_matrix
from viewer.xr.xr_input import ControllerFrame, HandState


def frame(left: HandState | None = None, right: HandState | None = None) -> ControllerFrame:
    f = ControllerFrame()
    f.hands["left"] = left or HandState()
    f.hands["right"] = right or HandState()
    return f


def hand(pos, squeeze=0.0, trigger=0.0, orientation=(0.0, 0.0, 0.0, 1.0)) -> HandState:
    pose = Pose(np.asarray(pos, float), orientation)
    return HandState(grip=pose, aim=pose, squeeze=squeeze, trigger=trigger)


@pytest.fixture
def rig():
    case = sphere_case()
    placement = ScenePlacement(translation=np.array([0.0, 1.2, -0.5]))
    selected = []
    interaction = XRInteraction(placement, lambda: list(case.scene), selected.append)
    return case, placement, interaction, selected


def test_squeeze_in_empty_space_carries_the_whole_scene(rig):
    case, placement, it, _ = rig
    start = np.array([0.0, 1.6, 0.0])  # well away from the objects
    it.update(frame(right=hand(start, squeeze=1.0)))
    it.update(frame(right=hand(start + [0.1, -0.05, 0.2], squeeze=1.0)))
    np.testing.assert_allclose(placement.translation, [0.1, 1.15, -0.3], atol=1e-12)
    assert all(np.allclose(object_matrix(o), np.eye(4)) for o in case.scene)


def test_grab_turns_an_object_about_the_hand(rig):
    case, placement, it, selected = rig
    block = case.scene["Block"]
    at = placement.to_xr([90.0, 0.0, 0.0])  # the block's centre
    it.update(frame(right=hand(at, squeeze=1.0)))
    assert selected[-1] is block
    quarter = matrix_to_quat(np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]))
    it.update(frame(right=hand(at, squeeze=1.0, orientation=quarter)))
    m = object_matrix(block)
    # Turning about the grip point keeps the block's centre where it was.
    np.testing.assert_allclose(m[:3, :3] @ [90.0, 0, 0] + m[:3, 3], [90.0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(m[:3, :3]), 1.0)
    assert not np.allclose(m[:3, :3], np.eye(3))


def test_two_handed_spread_scales_the_scene_about_the_hands(rig):
    _, placement, it, _ = rig
    l0, r0 = np.array([-0.1, 1.6, 0.0]), np.array([0.1, 1.6, 0.0])
    it.update(frame(hand(l0, squeeze=1.0), hand(r0, squeeze=1.0)))
    it.update(frame(hand(l0, squeeze=1.0), hand(r0, squeeze=1.0)))
    anchor_scene = placement.to_scene([0.0, 1.6, 0.0])  # the midpoint between the hands
    it.update(frame(hand([-0.2, 1.6, 0.0], squeeze=1.0), hand([0.2, 1.6, 0.0], squeeze=1.0)))
    assert placement.scale == pytest.approx(0.002)
    np.testing.assert_allclose(placement.to_xr(anchor_scene), [0.0, 1.6, 0.0], atol=1e-9)
    # Letting go with one hand leaves the scale; the other hand carries on moving it.
    it.update(frame(hand([-0.2, 1.6, 0.0]), hand([0.2, 1.6, 0.0], squeeze=1.0)))
    it.update(frame(hand([-0.2, 1.6, 0.0]), hand([0.3, 1.6, 0.0], squeeze=1.0)))
    assert placement.scale == pytest.approx(0.002)
    np.testing.assert_allclose(placement.to_xr(anchor_scene), [0.1, 1.6, 0.0], atol=1e-9)


def test_trigger_selects_what_the_ray_points_at(rig):
    case, placement, it, selected = rig
    ball_xr = placement.to_xr([0.0, 0.0, 0.0])
    behind = ball_xr + [0.0, 0.0, 0.4]  # 40 cm in front of the ball, aiming along -z at it
    it.update(frame(right=hand(behind, trigger=1.0)))
    assert selected[-1] is case.scene["Ball"]
    # Aiming at nothing clears the selection.
    it.update(frame(right=hand(behind, trigger=0.0)))
    it.update(frame(right=hand(behind + [0.0, 0.5, 0.0], trigger=1.0)))
    assert selected[-1] is None


def test_hand_span_reads_in_scene_millimetres(rig):
    _, placement, it, _ = rig
    it.update(frame(hand([0.0, 1.0, 0.0]), hand([0.3, 1.0, 0.4])))
    assert it.hand_span_mm() == pytest.approx(500.0)
    placement.scale = 0.002  # the scene is shown twice life size: the same span is 250 mm
    assert it.hand_span_mm() == pytest.approx(250.0)


def test_trigger_drag_pulls_simulated_tissue_with_the_hand():
    """The interactive-deformation grab, driven by a real co-rotational FE simulator."""
    from sim.fem.body import Body
    from sim.fem.interactive import CorotationalSimulator
    from sim.fem.materials import Material
    from sim.mesh.generators import box
    from sim.model import Case, ObjectKind, SceneObject
    from viewer.xr.deform_grab import SimulatorGrab

    mesh = box((40.0, 40.0, 40.0), (4, 4, 4))
    body = Body(mesh, Material("soft tissue", 0.01, 0.45, 1.0e-9, law="corotational"))
    base = np.flatnonzero(mesh.points[:, 2] < 1e-9)
    sim = CorotationalSimulator(body, base, gravity=(0.0, 0.0, 0.0))
    case = Case(name="Tissue block")
    tissue = case.scene.add(SceneObject("Tissue", ObjectKind.SURFACE, mesh.surface()))
    placement = ScenePlacement(translation=np.array([0.0, 1.2, -0.5]))
    selected = []
    it = XRInteraction(placement, lambda: list(case.scene), selected.append)
    grab = SimulatorGrab(tissue, sim)
    it.deformer = grab

    down = (-np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5))  # aim -z turned to point down (-y)
    top = placement.to_xr([20.0, 20.0, 40.0])
    above = top + [0.0, 0.1, 0.0]
    it.update(frame(right=hand(above, trigger=1.0, orientation=down)))
    assert selected[-1] is tissue
    assert np.allclose(mesh.points[grab.node], [20.0, 20.0, 40.0])
    it.update(frame(right=hand(above + [0.0, 0.01, 0.0], trigger=1.0, orientation=down)))
    for _ in range(5):
        grab.step()
    pts = np.asarray(tissue.data.points)
    # The grabbed node follows the hand 10 mm up (LPS superior); the base stays; the rest
    # of the top face is pulled up less.
    np.testing.assert_allclose(pts[grab.node], [20.0, 20.0, 50.0], atol=1e-6)
    np.testing.assert_allclose(pts[base], mesh.points[base], atol=1e-9)
    neighbour = np.flatnonzero(np.all(np.isclose(mesh.points, [30.0, 20.0, 40.0]), axis=1))[0]
    assert 0.5 < pts[neighbour, 2] - 40.0 < 10.0
    node = grab.node
    it.update(frame(right=hand(above, trigger=0.0, orientation=down)))
    assert grab.node is None and node not in sim.targets  # let go: the tissue relaxes
    for _ in range(30):
        grab.step()
    assert np.asarray(tissue.data.points)[node, 2] < 50.0 - 1.0
