"""The headset-free side-by-side stereo preview window (no runtime needed)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewer.xr.xr_child import project, sphere_case

pytestmark = pytest.mark.gui


def ball_mask(img: np.ndarray) -> np.ndarray:
    rgb = img.astype(float)
    return (rgb[..., 0] > 90) & (rgb[..., 0] > rgb[..., 1] + 50) & (rgb[..., 0] > rgb[..., 2] + 50)


@pytest.fixture
def preview(qtbot):
    from viewer.xr.preview import XRPreviewWindow

    case = sphere_case()
    case.scene["Block"].visible = False
    win = XRPreviewWindow(case, refresh_ms=50)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.refresh()
    return win


def test_preview_shows_both_eyes_side_by_side_with_parallax(preview):
    left, right = preview.stereo.eye_images()
    assert left.shape == right.shape
    size = (left.shape[1], left.shape[0])
    eyes = preview.eyes()
    ball = preview.stereo.placement.to_xr([0.0, 0.0, 0.0])
    shifts = []
    for eye, img in zip(eyes, (left, right), strict=True):
        rows, cols = np.nonzero(ball_mask(img))
        assert cols.size > 50
        u, _ = project(eye, ball, size)
        assert cols.mean() == pytest.approx(u, abs=2.0)
        shifts.append(cols.mean())
    assert shifts[0] - shifts[1] > 5  # near object: further right in the left eye


def test_preview_head_moves_and_scene_scales(preview, qtbot):
    before = ball_mask(preview.stereo.eye_images()[0]).sum()
    preview.move_head(forward=0.2)  # step towards the ball: it looks bigger
    preview.refresh()
    nearer = ball_mask(preview.stereo.eye_images()[0]).sum()
    assert nearer > 1.5 * before
    preview.scale_scene(0.5)
    preview.refresh()
    assert ball_mask(preview.stereo.eye_images()[0]).sum() < nearer
    preview.close()


# -- controllers in the preview, driven by the mouse ------------------------------------------------
def mouse(widget, kind, pos, button=None, held=None) -> None:
    """Deliver one Qt mouse event at widget position ``pos`` (what a real mouse sends)."""
    from PyQt6.QtCore import QEvent, QPointF, Qt
    from PyQt6.QtGui import QMouseEvent
    from PyQt6.QtWidgets import QApplication

    types = {"press": QEvent.Type.MouseButtonPress, "release": QEvent.Type.MouseButtonRelease,
             "move": QEvent.Type.MouseMove}
    button = button or Qt.MouseButton.NoButton
    held = held if held is not None else Qt.MouseButton.NoButton
    local = QPointF(*pos)
    QApplication.sendEvent(widget, QMouseEvent(types[kind], local, widget.mapToGlobal(local),
                                               button, held, Qt.KeyboardModifier.NoModifier))


def widget_point(preview, p_scene, eye_index=0):
    """Where a scene point shows in one eye, in the preview widget's Qt coordinates."""
    w, h = preview.plotter.ren_win.GetSize()
    eye = preview.eyes()[eye_index]
    u, v = project(eye, preview.stereo.placement.to_xr(p_scene), (w / 2, h))
    ratio = preview.plotter.interactor.devicePixelRatioF()
    return ((u + eye_index * w / 2) / ratio, v / ratio)


def violet_mask(img: np.ndarray) -> np.ndarray:
    """The right controller."""
    r, g, b = (img[..., i].astype(float) for i in range(3))
    return (b > 120) & (r > g + 30) & (b > r + 20)


def yellow_mask(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., i].astype(float) for i in range(3))
    return (r > 120) & (g > 0.85 * r) & (b < 0.5 * g)


def test_preview_controllers_are_drawn_in_both_eyes_and_follow_the_mouse(preview):
    widget = preview.plotter.interactor
    left, right = preview.stereo.eye_images()
    assert violet_mask(left).sum() > 200 and violet_mask(right).sum() > 200  # right controller
    mouse(widget, "move", widget_point(preview, [0.0, 0.0, 0.0]))
    preview.refresh()
    aim = preview.hands.interaction.last.hands["right"].aim
    # The hand's aim ray runs through the ball's centre: the one under the cursor.
    ball = preview.stereo.placement.to_xr([0.0, 0.0, 0.0])
    to_ball = (ball - aim.position) / np.linalg.norm(ball - aim.position)
    assert to_ball @ (aim.rotation @ [0.0, 0.0, -1.0]) > 0.9999
    mouse(widget, "press", widget_point(preview, [0.0, 0.0, 0.0]), Qt_button("Left"),
          Qt_button("Left"))
    assert preview.case.scene.selected is preview.case.scene["Ball"]  # the trigger selects
    mouse(widget, "release", widget_point(preview, [0.0, 0.0, 0.0]), Qt_button("Left"))


def Qt_button(name):  # noqa: N802 - reads like the Qt enum it returns
    from PyQt6.QtCore import Qt

    return getattr(Qt.MouseButton, f"{name}Button")


def test_preview_grab_moves_an_object_like_the_headset_grab(preview):
    """Squeeze over the block, move the mouse: the block follows the hand exactly (the same
    check as the scripted headset grab: the object's translation is the hand's move, in mm)."""
    from viewer.xr.interaction import object_matrix

    case, widget = preview.case, preview.plotter.interactor
    block = case.scene["Block"]
    block.visible = True
    right = Qt_button("Right")
    start = widget_point(preview, [90.0, 0.0, 0.0])
    mouse(widget, "move", start)
    mouse(widget, "press", start, right, right)
    preview.refresh()
    interaction = preview.hands.interaction
    assert interaction.grabs["right"].target is block and case.scene.selected is block
    grip0 = interaction.last.hands["right"].grip.position.copy()
    placement_before = preview.stereo.placement.matrix()
    end = (start[0] - 60, start[1] + 40)
    mouse(widget, "move", end, held=right)
    preview.refresh()
    grip1 = interaction.last.hands["right"].grip.position
    moved_mm = preview.stereo.placement.direction_to_scene(grip1 - grip0) / preview.stereo.placement.scale
    m = object_matrix(block)
    assert np.linalg.norm(moved_mm) > 20.0
    np.testing.assert_allclose(m[:3, 3], moved_mm, atol=1e-6)
    np.testing.assert_allclose(m[:3, :3], np.eye(3), atol=1e-9)  # carried, not turned
    shown = preview.stereo.adapters[block.uid].actors[0].GetUserMatrix()  # the adapter's matrix
    np.testing.assert_allclose([[shown.GetElement(i, j) for j in range(4)] for i in range(4)], m)
    np.testing.assert_allclose(preview.stereo.placement.matrix(), placement_before)
    assert yellow_mask(preview.stereo.eye_images()[0]).sum() > 100  # the squeezing hand lights up
    assert "Selected: Block" in preview.hands.panel.text
    # Let go: moving the mouse on no longer moves the block.
    mouse(widget, "release", end, right)
    preview.refresh()
    mouse(widget, "move", start)
    preview.refresh()
    np.testing.assert_allclose(object_matrix(block), m)
    preview.close()


def test_preview_trigger_drag_pulls_simulated_tissue(qtbot):
    """Left button on tissue and drag: the FE simulator's grabbed node follows the hand's ray
    point, as with the headset's trigger (a real co-rotational simulator)."""
    from sim.fem.body import Body
    from sim.fem.interactive import CorotationalSimulator
    from sim.fem.materials import Material
    from sim.mesh.generators import box
    from sim.model import Case, ObjectKind, SceneObject
    from viewer.xr.deform_grab import SimulatorGrab
    from viewer.xr.preview import XRPreviewWindow
    from viewer.xr.xr_input import pose_delta

    mesh = box((40.0, 40.0, 40.0), (4, 4, 4))
    body = Body(mesh, Material("soft tissue", 0.01, 0.45, 1.0e-9, law="corotational"))
    sim = CorotationalSimulator(body, np.flatnonzero(mesh.points[:, 2] < 1e-9),
                                gravity=(0.0, 0.0, 0.0))
    case = Case(name="Tissue block")
    tissue = case.scene.add(SceneObject("Tissue", ObjectKind.SURFACE, mesh.surface()))
    grab = SimulatorGrab(tissue, sim)
    win = XRPreviewWindow(case, refresh_ms=10_000, deformer=grab)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.refresh()
    widget, left = win.plotter.interactor, Qt_button("Left")
    # The top face's front edge, seen from the head in front of and above it.
    start = widget_point(win, [20.0, 0.0, 40.0])
    mouse(widget, "move", start)
    mouse(widget, "press", start, left, left)
    it = win.hands.interaction
    aim0 = it.last.hands["right"].aim
    assert case.scene.selected is tissue and grab.node is not None
    _obj, hit = it.ray_hit(aim0)
    mouse(widget, "move", (start[0], start[1] - 25), held=left)
    win.refresh()
    aim1 = it.last.hands["right"].aim
    target_xr = pose_delta(aim0, aim1) @ np.append(win.stereo.placement.to_xr(hit), 1.0)
    target = win.stereo.placement.to_scene(target_xr[:3])
    for _ in range(5):
        grab.step()
    node = grab.node
    np.testing.assert_allclose(np.asarray(tissue.data.points)[node], target, atol=1e-6)
    assert np.linalg.norm(target - mesh.points[node]) > 5.0  # really pulled
    mouse(widget, "release", (start[0], start[1] - 25), left)
    assert grab.node is None and node not in sim.targets  # let go: the tissue relaxes
    win.close()


def test_w_and_s_walk_and_never_toggle_wireframe(preview, qtbot):
    """W/S move the head (issue #20: they also switched every object to wireframe and back,
    VTK's own keys)."""
    from PyQt6.QtCore import Qt

    def representations():
        out = set()
        for ren in preview.plotter.ren_win.GetRenderers():
            props = ren.GetViewProps()
            props.InitTraversal()
            for _ in range(props.GetNumberOfItems()):
                prop = props.GetNextProp()
                if hasattr(prop, "GetProperty") and hasattr(prop.GetProperty(),
                                                            "GetRepresentation"):
                    out.add(prop.GetProperty().GetRepresentation())
        return out

    before = representations()
    start = preview.position.copy()
    widget = preview.plotter.interactor
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_W)
    preview.refresh()
    assert not np.allclose(preview.position, start)  # walked
    assert 1 not in representations() - before  # VTK_WIREFRAME
    img = preview.stereo.eye_images()[0]
    assert ball_mask(img).sum() > 200  # still a filled ball, not a wire outline
    qtbot.keyClick(widget, Qt.Key.Key_S)
    preview.refresh()
    assert np.allclose(preview.position, start)
    assert representations() == before
    preview.close()
