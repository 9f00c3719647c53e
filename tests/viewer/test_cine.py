"""The cine bar (#23 item 3): a DICOM time series opens as one 4D volume that the slice
views step through (slider, play/pause, frame number and time), in the real main window."""

from __future__ import annotations

import numpy as np
import pytest

from sim.imaging.timeseries import current_frame, frame_count, frame_values
from tests.sim.io.dicom_factory import write_time_series

pytestmark = pytest.mark.gui

N_T, N_Z, SIDE = 4, 30, 40


def _frame(t: int) -> np.ndarray:
    """[slice, row, column] HU: a disc whose brightness says the time point."""
    j, i = np.mgrid[:SIDE, :SIDE]
    disc = ((i - SIDE / 2) ** 2 + (j - SIDE / 2) ** 2 < (SIDE / 3) ** 2)
    plane = np.where(disc, -150 + 120 * t, -1000)
    return np.repeat(plane[None], N_Z, axis=0).astype(np.int16)


@pytest.fixture
def cine_window(new_window, tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.99"
    write_time_series(tmp_path / "dyn", [_frame(t) for t in range(N_T)], uid, 400.0)
    win = new_window((1400, 900), tmp_path / "dyn")
    yield win
    win.imaging.slices.cine.play_button.setChecked(False)


def _axial_values(slices) -> np.ndarray:
    plane, scalars = slices.views[0].plane_mesh()
    return np.asarray(plane.point_data[scalars])


def test_time_series_steps_through_time_in_the_slice_views(cine_window, qtbot, tmp_path):
    win = cine_window
    slices = win.imaging.slices
    obj = slices.obj
    assert frame_count(obj.data) == N_T and win.imaging.slices_dock.isVisible()
    cine = slices.cine
    assert cine.isVisible() and cine.slider.maximum() == N_T - 1
    assert cine.label.text() == "frame 1/4, t = 0.00 s"
    dark = slices.views[0].screenshot()[..., :3].mean()
    assert _axial_values(slices).max() == -150
    cine.slider.setValue(3)  # the user drags the slider to the last time point
    assert current_frame(obj.data) == 3 and cine.label.text() == "frame 4/4, t = 1.20 s"
    assert _axial_values(slices).max() == -150 + 120 * 3
    np.testing.assert_array_equal(
        _axial_values(slices), frame_values(obj.data, 3)[:, :, slices.views[0].index].ravel(order="F"))
    bright = slices.views[0].screenshot()[..., :3].mean()
    assert bright > dark + 5, (dark, bright)  # the disc is brighter at the last time point
    adapter = win.view.renderer.adapters[obj.uid]  # the 3D view's slices follow too
    blocks = adapter.actors[0].GetMapper().GetInputDataObject(0, 0)
    assert blocks.GetBlock(0).GetPointData().GetScalars().GetName() == "frame_0004"
    assert not win.has_unsaved_changes()  # stepping through time is not an edit
    win.imaging.slices_dock.grab().save(str(tmp_path / "cine.png"))
    cine.slider.setValue(2)
    win.save_to(tmp_path / "dyn.twin")  # the case keeps every frame and the one shown
    qtbot.waitUntil(lambda: win.task is None, timeout=60_000)
    win.new_case()
    win.open_path(tmp_path / "dyn.twin")
    qtbot.waitUntil(lambda: win.task is None and win.case_path == tmp_path / "dyn.twin",
                    timeout=60_000)
    back = win.imaging.slices.obj
    assert frame_count(back.data) == N_T and current_frame(back.data) == 2
    assert win.imaging.slices.cine.isVisible() and cine.label.text() == "frame 3/4, t = 0.80 s"
    for t in range(N_T):
        np.testing.assert_array_equal(frame_values(back.data, t), np.transpose(_frame(t), (2, 1, 0)))


def test_play_and_pause(cine_window, qtbot):
    from PyQt6.QtCore import Qt

    cine = cine_window.imaging.slices.cine
    obj = cine_window.imaging.slices.obj
    seen = set()
    cine.fps_box.setValue(30)
    qtbot.mouseClick(cine.play_button, Qt.MouseButton.LeftButton)
    assert cine.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: seen.add(current_frame(obj.data)) or len(seen) == N_T, timeout=10_000)
    cine.play_button.click()
    assert cine.play_button.text() == "Play" and not cine.timer.isActive()
    held = current_frame(obj.data)
    qtbot.wait(200)
    assert current_frame(obj.data) == held
    assert cine.label.text().startswith(f"frame {held + 1}/4")


def test_cine_hidden_for_an_ordinary_volume(window):
    slices = window.imaging.slices
    slices.ensure_views()
    assert not slices.cine.isVisible()
