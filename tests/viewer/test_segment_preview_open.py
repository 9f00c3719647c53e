"""Opening the Segment panel shows the threshold preview on the slices straight away, without
touching a control first (issue #20: the preview computed while the panel was hidden was
dropped, and nothing computed it again when the panel opened)."""

from __future__ import annotations


def test_preview_appears_when_the_panel_opens(ct_window, qtbot):
    ui = ct_window.imaging
    assert not ui.segment_dock.isVisible()
    qtbot.wait(600)  # the hidden panel's own preview came and was not shown
    assert ui.slices.views[0].preview is None
    ui.segment_action.trigger()
    qtbot.waitUntil(lambda: ui.slices.views[0].preview is not None, timeout=30_000)
    assert ui.slices.views[0].preview.sum() == ui.segment.last_preview["voxels"]
    ct_window.grab().save("/tmp/shots20b/segment_preview_on_open.png")
