"""Reviewing an attempt replays it in the 3D view; however the Review dialog goes away, the
scene is back as it was: every object shown as its tick box says, no replayed actors."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt

from tests.viewer.test_rehearse_panel import rehearse_window  # noqa: F401


def _shown(win) -> dict[str, list[bool]]:
    return {obj.name: [bool(a.GetVisibility()) for a in win.view.renderer.adapters[obj.uid].actors]
            for obj in win.case.scene}


@pytest.mark.parametrize("how", ["escape", "close"])
def test_closing_review_ends_the_replay(rehearse_window, qtbot, how):  # noqa: F811
    win, panel = rehearse_window, rehearse_window.rehearse
    panel.build()
    before = _shown(win)
    assert all(shown == [obj.visible] * len(shown)
               for obj, shown in zip(win.case.scene, before.values(), strict=True))
    panel.start()
    qtbot.waitUntil(lambda: panel.loop is not None, timeout=120_000)
    qtbot.wait(300)
    panel.stop()
    assert _shown(win) == before
    review = panel.review()
    review.timeline.setValue(max(review.timeline.maximum() // 2, 1))
    qtbot.waitUntil(lambda: panel.replay_display is not None, timeout=30_000)
    assert _shown(win) != before  # the replay shows only that step's objects
    if how == "escape":  # Escape rejects the dialog: no closeEvent
        qtbot.keyClick(review, Qt.Key.Key_Escape)
    else:
        review.close()
    assert not review.isVisible()
    assert panel.replay_display is None and "sim-surface" not in win.view.plotter.actors
    assert _shown(win) == before
    # A scrub that was still waiting to be shown when the dialog went stays unshown.
    review = panel.review()
    review.timeline.setValue(1)
    qtbot.keyClick(review, Qt.Key.Key_Escape)
    qtbot.wait(400)
    assert panel.replay_display is None and _shown(win) == before
