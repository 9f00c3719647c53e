"""File > Open DICOM… (#23 item 3): the scan's series, volumes and time series are listed
(time points under their time series) and the one chosen opens; also for a single
multi-frame file holding several volumes."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from sim.imaging.timeseries import frame_count
from sim.imaging.volume import voxel_array
from tests.sim.io.dicom_factory import write_series, write_time_series
from tests.sim.io.test_dicom_timeseries import _code, _enhanced_4d

pytestmark = pytest.mark.gui
SHOT = __import__("pathlib").Path(__import__("tempfile").gettempdir()) / "twinsight-dicom-chooser.png"


@pytest.fixture
def scan(tmp_path):
    """A 3-point time series and, sharing another Series UID, magnitude + phase volumes."""
    uid = "1.2.826.0.1.3680043.8.498.55"
    write_time_series(tmp_path / "d", [_code(t) for t in range(3)], uid, 100.0)
    for kind in ("M", "P"):
        for p in write_series(tmp_path / "d" / "fm", _code(5 if kind == "M" else 7),
                              series_uid=uid + ".9", study_uid=uid + ".1", prefix=kind,
                              description="fieldmap"):
            ds = pydicom.dcmread(p)
            ds.ImageType = ["ORIGINAL", "PRIMARY", kind, "ND"]
            ds.save_as(p)
    return tmp_path / "d"


@pytest.fixture
def window(new_window):
    """A bare main window (no demo case: these tests replace the case anyway)."""
    return new_window()


def _choose(monkeypatch, qtbot, handle: str, seen: list):
    """Answer the chooser like a user: click the entry ``handle``, then Open."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QDialog, QDialogButtonBox

    from viewer.dicom_open import DicomChooser

    def exec_(dialog):
        tree = dialog.tree
        items = []
        for i in range(tree.topLevelItemCount()):
            top = tree.topLevelItem(i)
            items.append(top)
            top.setExpanded(True)
            items += [top.child(j) for j in range(top.childCount())]
        seen.extend(it.text(0) + " " + it.text(2) for it in items)
        dialog.show()
        dialog.grab().save(str(SHOT))
        item = next(it for it in items if it.text(0) == handle)
        tree.scrollToItem(item)
        rect = tree.visualItemRect(item)
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert dialog.chosen() == handle
        dialog.buttons.button(QDialogButtonBox.StandardButton.Open).click()
        return QDialog.DialogCode.Accepted if dialog.result() else QDialog.DialogCode.Rejected

    monkeypatch.setattr(DicomChooser, "exec", exec_)


def _opened(win, qtbot):
    qtbot.waitUntil(lambda: win.task is None and win.case is not None and len(win.case.scene),
                    timeout=60_000)
    (obj,) = list(win.case.scene)
    return obj


def test_open_dicom_lists_and_opens_one_time_point(window, scan, qtbot, monkeypatch):
    from viewer.dicom_open import scan_and_choose

    seen: list[str] = []
    _choose(monkeypatch, qtbot, "1.2", seen)
    assert window.imaging.open_dicom_action.text() == "Open &DICOM…"  # in the File menu
    scan_and_choose(window, scan)
    obj = _opened(window, qtbot)
    assert seen[:4] == ["1 time series of 3", "1.1 temporal position 1, t = 0 s",
                        "1.2 temporal position 2, t = 0.1 s", "1.3 temporal position 3, t = 0.2 s"]
    assert any(s.endswith("\\M\\ND") for s in seen) and any(s.endswith("\\P\\ND") for s in seen)
    assert frame_count(obj.data) == 1
    np.testing.assert_array_equal(voxel_array(obj.data), np.transpose(_code(1), (2, 1, 0)))


def test_open_dicom_time_series_and_phase_volume(window, scan, qtbot, monkeypatch):
    from viewer.dicom_open import scan_and_choose

    _choose(monkeypatch, qtbot, "1", [])
    scan_and_choose(window, scan)
    obj = _opened(window, qtbot)
    assert frame_count(obj.data) == 3 and window.imaging.slices.cine.slider.maximum() == 2
    seen: list[str] = []
    _choose(monkeypatch, qtbot, "3", seen)
    scan_and_choose(window, scan)
    qtbot.waitUntil(lambda: window.task is None and "fieldmap" in next(iter(window.case.scene)).name,
                    timeout=60_000)
    (obj,) = list(window.case.scene)
    assert "3 image type ORIGINAL\\PRIMARY\\P\\ND" in seen
    np.testing.assert_array_equal(voxel_array(obj.data), np.transpose(_code(7), (2, 1, 0)))


def test_open_dicom_single_multiframe_file(window, tmp_path, qtbot, monkeypatch):
    from viewer.dicom_open import scan_and_choose

    path = tmp_path / "e" / "4d.dcm"
    vols = _enhanced_4d(path)
    seen: list[str] = []
    _choose(monkeypatch, qtbot, "1.3", seen)
    scan_and_choose(window, path)
    obj = _opened(window, qtbot)
    assert seen == ["1 time series of 3", "1.1 temporal position 1, t = 0 s",
                    "1.2 temporal position 2, t = 1.5 s", "1.3 temporal position 3, t = 3 s"]
    np.testing.assert_array_equal(voxel_array(obj.data), np.transpose(vols[2], (2, 1, 0)))
