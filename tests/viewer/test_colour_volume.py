"""A colour DICOM (palette colour, #23 item 4) in the real main window: the slice views and
the 3D view show its colours, an oblique reformat keeps them, and the Segment panel says it
cannot segment a colour picture instead of failing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.io.test_dicom_fidelity import _alone

pytestmark = pytest.mark.gui


def _coloured(img: np.ndarray) -> int:
    """Pixels that are clearly not grey."""
    rgb = img[..., :3].astype(int)
    return int(((np.abs(rgb[..., 0] - rgb[..., 2]) > 40) | (np.abs(rgb[..., 0] - rgb[..., 1]) > 40)).sum())


def test_palette_colour_image_is_shown_in_colour(qtbot, new_window, tmp_path):
    win = new_window((1400, 900), _alone(tmp_path, "OBXXXX1A.dcm"))
    ui = win.imaging
    slices = ui.slices
    slices.ensure_views()
    assert slices.obj is not None and slices.obj.metadata["color"] == "RGB"
    axial = slices.views[0]
    shot = axial.screenshot()
    assert _coloured(shot) > 500, "the axial view shows no colour"
    from PIL import Image

    Image.fromarray(shot[..., :3]).save(tmp_path / "axial.png")
    assert slices.clim() == (0.0, 255.0)
    win.view.plotter.render()
    assert _coloured(win.view.plotter.screenshot(None, return_img=True)) > 500  # the 3D view
    axial.set_oblique(10, 0)  # a reformat of a colour picture stays in colour
    plane, scalars = axial.plane_mesh()
    assert plane.point_data[scalars].shape[1] == 3
    slices.render_box.setChecked(True)  # volume rendering is for scans: nothing, no error
    assert slices._volume_actor is None
    ui.segment_dock.show()
    ui.segment.set_volume(slices.obj)
    assert not ui.segment.create.isEnabled()
    assert "colour (RGB) picture cannot be segmented" in ui.segment.info.text()
    slices.render_box.setChecked(False)
    ui.slices_dock.show()
    qtbot.wait(300)
    win.grab().save(str(tmp_path / "colour.png"))
