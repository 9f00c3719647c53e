"""File > DICOM Browser against a real PACS (Orthanc on 127.0.0.1): search by name, pick the
series, download it in the background (C-GET) and it opens with its geometry; the receiver
switch receives a series from a configured modality, and the local store lists it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.dicom_peers import ORTHANC, Orthanc, ct_with_uids, skip_without, write_config
from tests.mqtt_broker import free_port

SHOTS = os.environ.get("TWINSIGHT_SCREENSHOTS")


@pytest.fixture
def empty_window(new_window):
    """A main window with no case open (the browser opens one)."""
    win = new_window()
    yield win
    win.close()


@pytest.fixture
def pacs_config(tmp_path, shared_data, monkeypatch):
    skip_without(ORTHANC)
    from sim.dicomnet.peers import load_config
    from sim.dicomnet.send import send

    port = free_port()
    (tmp_path / "orthanc").mkdir()
    orthanc = Orthanc(tmp_path / "orthanc", {"twinsight": ("TWINSIGHT", port)})
    orthanc.start()
    try:  # Orthanc stops even when the setup below fails
        config = write_config(tmp_path / "dicom.json", port, tmp_path / "store",
                              {"pacs": ("ORTHANC", orthanc.port), "scanner": ("SCANNER", 104)})
        monkeypatch.setenv("TWINSIGHT_DICOM_CONFIG", str(config))
        ct = ct_with_uids(shared_data, tmp_path / "ct", "Browser^Patient")
        cfg = load_config(config)
        assert send(cfg, cfg.peer("pacs"), [ct]).sent == 20
        yield {"port": port, "tmp": tmp_path}
    finally:
        orthanc.stop()


def test_browser_searches_downloads_opens_and_receives(empty_window, qtbot, pacs_config,
                                                      tmp_path):
    window = empty_window
    from sim.dicomnet.peers import parse_config
    from sim.dicomnet.send import send
    from tests.sim.io.dicom_factory import write_series

    action = next(a for a in window.menuBar().actions()[0].menu().actions()
                  if a.text() == "&DICOM Browser…")
    action.trigger()
    browser = window._dicom_browser
    qtbot.waitExposed(browser)
    assert browser.source_combo.currentText() == "pacs"
    browser.name_edit.setText("browser")
    browser.modality_combo.setCurrentText("CT")
    browser.search_button.click()
    qtbot.waitUntil(lambda: browser.tree.topLevelItemCount() == 1, timeout=30_000)
    study = browser.tree.topLevelItem(0)
    assert study.text(0) == "Browser^Patient" and study.childCount() == 1
    assert study.child(0).text(4) == "CT Body 3.0" and study.child(0).text(5) == "20"
    browser.tree.setCurrentItem(study.child(0))
    browser.open_button.click()

    def opened():
        vols = [o for o in window.case.scene if o.kind == "volume"] if window.case else []
        return bool(vols) and tuple(vols[0].data.dimensions) == (512, 512, 20)

    qtbot.waitUntil(opened, timeout=90_000)
    # the receiver switch: a configured modality stores a series into the store
    browser.receiver_button.click()
    assert browser.receiver is not None and "Receiver on" in browser.receiver_label.text()
    write_series(tmp_path / "scan", np.zeros((3, 8, 8)), patient="Scanner^Patient")
    scanner = parse_config({"ae_title": "SCANNER", "store": str(tmp_path / "scanner-store"),
                            "peers": {"ws": {"ae_title": "TWINSIGHT", "host": "127.0.0.1",
                                             "port": pacs_config["port"]}}})
    assert send(scanner, scanner.peer("ws"), [tmp_path / "scan"]).sent == 3
    qtbot.waitUntil(lambda: "3 instance(s) received" in browser.receiver_label.text(),
                    timeout=20_000)
    browser.source_combo.setCurrentText("Local store")
    browser.name_edit.setText("scanner")
    browser.modality_combo.setCurrentText("any")
    browser.search_button.click()
    qtbot.waitUntil(lambda: browser.tree.topLevelItemCount() == 1
                    and browser.tree.topLevelItem(0).text(0) == "Scanner^Patient",
                    timeout=20_000)
    if SHOTS:
        browser.grab().save(os.path.join(SHOTS, "dicom_browser.png"))
    browser.receiver_button.click()
    assert browser.receiver is None and "Receiver off" in browser.receiver_label.text()
    audit = (pacs_config["tmp"] / "store" / "audit.jsonl").read_text()
    assert "Scanner" not in audit and "Browser" not in audit
    assert any(json.loads(line).get("calling_ae") == "SCANNER" for line in audit.splitlines())
