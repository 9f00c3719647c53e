"""The DICOM browser's results row: an RTSTRUCT imports into the case as a label map and
surfaces, the case's label map exports as a SEG of its series and imports back to the same
voxels, a PDF goes into the study, and files are sent to a peer (our own receiver)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PyQt6.QtWidgets import QFileDialog

from tests.mqtt_broker import free_port

SHOTS = os.environ.get("TWINSIGHT_SCREENSHOTS")


@pytest.fixture
def setup(qtbot, tmp_path, monkeypatch):
    from sim.dicomnet.peers import parse_config
    from sim.dicomnet.receiver import Receiver
    from viewer.main_window import MainWindow

    port = free_port()
    archive = Receiver(parse_config({
        "ae_title": "ARCHIVE", "port": port, "store": str(tmp_path / "archive"),
        "peers": {"ws": {"ae_title": "TWINSIGHT", "host": "127.0.0.1", "port": 104}}}))
    archive.start()
    (tmp_path / "dicom.json").write_text(json.dumps({
        "ae_title": "TWINSIGHT", "port": free_port(), "store": str(tmp_path / "store"),
        "peers": {"archive": {"ae_title": "ARCHIVE", "host": "127.0.0.1", "port": port}}}))
    monkeypatch.setenv("TWINSIGHT_DICOM_CONFIG", str(tmp_path / "dicom.json"))
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win, archive
    archive.stop()
    win.close()


def _answer(monkeypatch, **answers):
    for name, value in answers.items():
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, v=value, **k: v))


def test_results_row(setup, qtbot, tmp_path, monkeypatch):
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    from sim.imaging.volume import make_image, voxel_array
    from sim.model import ObjectKind, SceneObject
    from tests.sim.io.dicom_factory import write_series
    from viewer.dicom_browser import show_dicom_browser

    window, archive = setup
    browser = show_dicom_browser(window)
    row = browser.results
    # RTSTRUCT with no case open: it becomes the case (label map + one surface per structure)
    _answer(monkeypatch, getOpenFileName=(get_testdata_file("rtstruct.dcm"), ""))
    row.import_button.click()
    qtbot.waitUntil(lambda: window.case is not None and len(window.case.scene) == 2,
                    timeout=60_000)
    surf = next(o for o in window.case.scene if o.kind == "surface")
    assert surf.name == "patient"
    np.testing.assert_allclose(surf.data.bounds[:4], [-200, 200, -150, 150], atol=1.5)
    # a scan, and a label map on its grid, exported as SEG against the scan's series
    write_series(tmp_path / "ct", np.arange(4 * 16 * 16).reshape(4, 16, 16) % 300, patient="Gui^Seg")
    frame = generate_uid()  # a SEG references the scan's frame of reference
    for f in (tmp_path / "ct").iterdir():
        ds = pydicom.dcmread(f)
        ds.FrameOfReferenceUID = frame
        ds.save_as(f)
    window.open_path(tmp_path / "ct")
    qtbot.waitUntil(lambda: window.case is not None
                    and any(o.kind == "volume" for o in window.case.scene), timeout=60_000)
    vol = next(o for o in window.case.scene if o.kind == "volume").data
    lab = np.zeros(vol.dimensions, np.int16)
    lab[3:9, 4:12, 1:3] = 7
    obj = window.case.scene.add(SceneObject("tumour", ObjectKind.LABELMAP, make_image(
        lab, vol.spacing, vol.origin, vol.direction_matrix),
        label_table={7: {"name": "tumour", "color": [0.9, 0.2, 0.2]}}))
    window.case.scene.select(obj)
    _answer(monkeypatch, getExistingDirectory=str(tmp_path / "ct"),
            getSaveFileName=(str(tmp_path / "seg.dcm"), ""))
    row.export_button.click()
    qtbot.waitUntil(lambda: (tmp_path / "seg.dcm").exists(), timeout=60_000)
    # ... and back in: a new label map with the same voxels and name
    _answer(monkeypatch, getOpenFileName=(str(tmp_path / "seg.dcm"), ""))
    row.import_button.click()
    qtbot.waitUntil(lambda: any(o.name == "seg segments" for o in window.case.scene),
                    timeout=60_000)
    back = next(o for o in window.case.scene if o.name == "seg segments")
    np.testing.assert_array_equal(voxel_array(back.data), lab)
    assert back.label_table.as_info()[7]["name"] == "tumour"
    # a PDF report into the patient's study
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    with PdfPages(tmp_path / "plan.pdf") as pages:
        pages.savefig(Figure())
    _answer(monkeypatch, getOpenFileName=(str(tmp_path / "plan.pdf"), ""),
            getExistingDirectory=str(tmp_path / "ct"),
            getSaveFileName=(str(tmp_path / "plan.dcm"), ""))
    row.pdf_button.click()
    qtbot.waitUntil(lambda: (tmp_path / "plan.dcm").exists(), timeout=30_000)
    # both sent to the peer chosen in the browser
    assert browser.source_combo.currentText() == "archive"
    _answer(monkeypatch, getOpenFileNames=([str(tmp_path / "seg.dcm"), str(tmp_path / "plan.dcm")], ""))
    row.send_button.click()
    qtbot.waitUntil(lambda: archive.store.count() == 2, timeout=30_000)
    assert sorted(r["modality"] for r in archive.store.series()) == ["DOC", "SEG"]
    qtbot.waitUntil(lambda: "Sent 2 instance(s)" in browser.status.text(), timeout=10_000)
    if SHOTS:
        browser.grab().save(os.path.join(SHOTS, "dicom_results.png"))
        window.grab().save(os.path.join(SHOTS, "dicom_results_window.png"))
