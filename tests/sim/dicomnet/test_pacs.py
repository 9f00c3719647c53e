"""Twinsight against a real PACS (Orthanc on 127.0.0.1, started with a generated configuration):
send a real CT series with ``twinsight dicom send``, find it with C-FIND at patient, study and
series level, retrieve it with C-GET and C-MOVE, and compare the pixel data byte for byte."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from tests.dicom_peers import (
    ORTHANC,
    Orthanc,
    ct_with_uids,
    pixel_bytes,
    skip_without,
    write_config,
)
from tests.mqtt_broker import free_port

NAME = "Real^Test"


def twinsight(*args: str, stdin: str = "") -> tuple[int, str]:
    """Run the CLI in-process: (exit code, stdout)."""
    import sys

    from sim.cli import main

    out = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out):
            code = main(list(args))
    finally:
        sys.stdin = old
    return code, out.getvalue()


@pytest.fixture(scope="module")
def pacs(tmp_path_factory, shared_data):
    skip_without(ORTHANC)
    folder = tmp_path_factory.mktemp("pacs")
    our_port = free_port()
    (folder / "orthanc").mkdir()
    orthanc = Orthanc(folder / "orthanc", {"twinsight": ("TWINSIGHT", our_port)})
    orthanc.start()
    try:  # Orthanc stops even when the setup below fails
        ct = ct_with_uids(shared_data, folder / "ct", NAME)
        config = write_config(folder / "dicom.json", our_port, folder / "store",
                              {"pacs": ("ORTHANC", orthanc.port)})
        code, out = twinsight("dicom", "send", "pacs", str(ct), "--config", str(config),
                              "--json")
        assert code == 0, out
        assert json.loads(out)["sent"] == 20
        yield {"orthanc": orthanc, "config": config, "ct": ct, "folder": folder, "port": our_port}
    finally:
        orthanc.stop()


def _find(pacs, *args, stdin=""):
    code, out = twinsight("dicom", "query", "pacs", "--config", str(pacs["config"]), "--json",
                          *args, stdin=stdin)
    assert code == 0, out
    return json.loads(out)["matches"]


def test_find_at_patient_study_and_series_level(pacs, caplog):
    caplog.set_level(logging.DEBUG)
    patients = _find(pacs, "--level", "patient", "--name", "-", stdin="real\n")
    assert [p["PatientID"] for p in patients] == ["RT-4711"]
    assert _find(pacs, "--level", "patient", "--name", "-", stdin="nobody\n") == []
    studies = _find(pacs, "--level", "study", "--id", "-", "--modality", "CT", stdin="RT-4711\n")
    assert len(studies) == 1 and studies[0]["NumberOfStudyRelatedInstances"] == "20"
    assert studies[0]["StudyDate"] == "20221208"
    assert _find(pacs, "--level", "study", "--date", "20200101-20211231") == []
    series = _find(pacs, "--level", "series", "--study", studies[0]["StudyInstanceUID"])
    assert len(series) == 1 and series[0]["Modality"] == "CT"
    assert series[0]["NumberOfSeriesRelatedInstances"] == "20"
    assert series[0]["SeriesDescription"] == "CT Body 3.0"
    # the patient's name reached the PACS and came back, but no log and no audit line has it
    assert NAME not in caplog.text and "Real" not in caplog.text
    audit = (pacs["folder"] / "store" / "audit.jsonl").read_text()
    assert "Real" not in audit and "RT-4711" not in audit
    queries = [json.loads(line) for line in audit.splitlines() if '"query"' in line]
    assert {"level": "PATIENT", "matched_on": ["patient_name"], "matches": 1}.items() \
        <= queries[0].items()


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_gives_byte_identical_pixel_data(pacs, method, tmp_path):
    study = _find(pacs, "--level", "study")[0]["StudyInstanceUID"]
    series = _find(pacs, "--level", "series", "--study", study)[0]["SeriesInstanceUID"]
    config = json.loads(pacs["config"].read_text())
    config["store"] = str(tmp_path / "store")
    (tmp_path / "dicom.json").write_text(json.dumps(config))
    code, out = twinsight("dicom", "retrieve", "pacs", "--study", study, "--series", series,
                          "--method", method, "--config", str(tmp_path / "dicom.json"), "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["completed"] == 20 and result["failed"] == 0
    folder = Path(result["folders"][series])
    assert pixel_bytes(folder) == pixel_bytes(pacs["ct"])  # JPEG 2000 codestreams, unchanged
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in folder.iterdir())
    assert NAME.split("^")[0] not in str(folder)  # paths carry no name
    # it opens as a volume with the same geometry and voxels as the original files
    from sim.io import load

    got = next(o for o in load(folder).scene if o.kind == "volume").data
    ref = next(o for o in load(pacs["ct"]).scene if o.kind == "volume").data
    assert got.dimensions == ref.dimensions == (512, 512, 20)
    np.testing.assert_allclose(got.origin, ref.origin)
    np.testing.assert_allclose(got.spacing, ref.spacing)
    np.testing.assert_array_equal(got.active_scalars, ref.active_scalars)
    code, out = twinsight("dicom", "stored", "--config", str(tmp_path / "dicom.json"), "--json")
    stored = json.loads(out)["series"]
    assert [(s["series_uid"], s["instances"]) for s in stored] == [(series, 20)]


def test_unknown_ae_title_is_refused_by_the_pacs(pacs, tmp_path, capsys):
    config = json.loads(pacs["config"].read_text())
    config["ae_title"] = "STRANGER"
    path = tmp_path / "dicom.json"
    path.write_text(json.dumps(config))
    code, _ = twinsight("dicom", "send", "pacs", str(pacs["ct"]), "--config", str(path))
    err = capsys.readouterr().err
    assert code == 1
    assert "refused the association" in err and "STRANGER" in err
    assert len(err.strip().splitlines()) == 1


def test_nothing_listening_and_a_silent_peer_give_clear_errors(tmp_path, capsys):
    port = free_port()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers the association request
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    config = write_config(tmp_path / "dicom.json", free_port(), tmp_path / "store",
                          {"closed": ("NOBODY", port),
                           "silent": ("SILENT", silent.getsockname()[1])}, timeout_s=1)
    code, _ = twinsight("dicom", "echo", "closed", "--config", str(config))
    err = capsys.readouterr().err
    assert code == 1 and "nothing listens" in err and "NOBODY" in err
    code, _ = twinsight("dicom", "echo", "silent", "--config", str(config))
    err = capsys.readouterr().err
    assert code == 1 and "did not answer" in err and "1 s" in err
    code, _ = twinsight("dicom", "echo", "nowhere", "--config", str(config))
    err = capsys.readouterr().err
    assert code == 2 and "No DICOM peer named 'nowhere'" in err
    silent.close()


def test_results_go_back_into_the_patients_study(pacs, tmp_path):
    """A SEG and a PDF report sent to the PACS are filed in the CT's study; the SEG retrieved
    back imports to the same voxels."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from sim.imaging.volume import make_image, voxel_array
    from sim.io import load
    from sim.io.dicom_pdf import encapsulate_pdf
    from sim.io.dicom_seg import export_seg, import_seg

    vol = next(o for o in load(pacs["ct"]).scene if o.kind == "volume").data
    labels = make_image((voxel_array(vol) > 300).astype(np.int16) * 5, vol.spacing, vol.origin,
                        vol.direction_matrix)
    export_seg(labels, {5: {"name": "bone", "color": [1, 1, 0.9]}}, pacs["ct"], tmp_path / "seg.dcm")
    with PdfPages(tmp_path / "plan.pdf") as pages:
        pages.savefig(Figure())
    encapsulate_pdf(tmp_path / "plan.pdf", pacs["ct"], tmp_path / "plan.dcm", "Plan report")
    code, out = twinsight("dicom", "send", "pacs", str(tmp_path / "seg.dcm"),
                          str(tmp_path / "plan.dcm"), "--config", str(pacs["config"]), "--json")
    assert code == 0 and json.loads(out)["sent"] == 2, out
    study = _find(pacs, "--level", "study")[0]["StudyInstanceUID"]
    series = _find(pacs, "--level", "series", "--study", study)
    assert sorted(s["Modality"] for s in series) == ["CT", "DOC", "SEG"]
    seg_uid = next(s["SeriesInstanceUID"] for s in series if s["Modality"] == "SEG")
    config = json.loads(pacs["config"].read_text())
    config["store"] = str(tmp_path / "store")
    (tmp_path / "dicom.json").write_text(json.dumps(config))
    code, out = twinsight("dicom", "retrieve", "pacs", "--study", study, "--series", seg_uid,
                          "--method", "get", "--config", str(tmp_path / "dicom.json"), "--json")
    assert code == 0, out
    [seg_file] = list(Path(json.loads(out)["folders"][seg_uid]).glob("*.dcm"))
    back, names = import_seg(seg_file, onto=labels)
    assert names[5]["name"] == "bone"
    np.testing.assert_array_equal(voxel_array(back), voxel_array(labels))


@pytest.mark.parametrize("method", ["get", "move"])
def test_a_retrieve_can_be_cancelled(pacs, method, tmp_path):
    """The progress callback cancels mid-transfer: the retrieve stops at once (the association
    is aborted, the temporary receiver stopped) and can be started again."""
    import time

    from sim.dicomnet.peers import load_config
    from sim.dicomnet.query import get, move
    from sim.errors import Cancelled

    config = load_config(pacs["config"])
    config.store = str(tmp_path / "store")
    study = _find(pacs, "--level", "study")[0]["StudyInstanceUID"]
    seen = []

    def cancel(fraction, message):
        seen.append(fraction)
        if 0 < fraction < 1:
            raise Cancelled("retrieve")

    fn = get if method == "get" else move
    start = time.monotonic()
    with pytest.raises(Cancelled):
        fn(config, config.peer("pacs"), study, progress=cancel)
    assert time.monotonic() - start < config.timeout_s
    assert seen and seen[-1] < 1
    result = fn(config, config.peer("pacs"), study)  # the port and the peer are free again
    assert result["completed"] >= 20
