"""``twinsight dicom listen`` against DCMTK's clients (echoscu, storescu, findscu) as
independent peers on 127.0.0.1: a stored series appears in the store and opens with the
geometry of the files sent; unconfigured AE titles (or a configured one from another host)
are refused and audited; no patient name reaches the output, the audit or a file name."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.dicom_peers import ct_with_uids, skip_without, wait_port, write_config
from tests.mqtt_broker import free_port

ROOT = Path(__file__).resolve().parents[3]
NAME = "Real^Test"


class Listener:
    def __init__(self, folder: Path, *extra: str, store: Path | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.store = store or folder / "store"
        self.config = write_config(folder / "dicom.json", 0, self.store, {
            "dcmtk": ("DCMTKSCU", 0)})
        cfg = json.loads(self.config.read_text())
        cfg["peers"]["elsewhere"] = {"ae_title": "FARAWAY", "host": "127.0.0.2", "port": 104}
        self.config.write_text(json.dumps(cfg))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "dicom", "listen", "--config", str(self.config),
             "--port", str(self.port), *extra], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, self.proc, "twinsight dicom listen", timeout=60)
        except BaseException:  # never leave a listener behind
            self.proc.kill()
            self.proc.communicate()
            raise

    def dcmtk(self, tool: str, *args: str, aet: str = "DCMTKSCU") -> subprocess.CompletedProcess:
        return subprocess.run([tool, "-aet", aet, "-aec", "TWINSIGHT", *args, "127.0.0.1",
                               str(self.port)] if tool != "storescu" else
                              [tool, "-aet", aet, "-aec", "TWINSIGHT", "127.0.0.1",
                               str(self.port), *args],
                              capture_output=True, text=True, timeout=60)

    def stop(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


@pytest.fixture
def listener(tmp_path):
    skip_without("echoscu", "storescu", "findscu")
    lst = Listener(tmp_path)
    yield lst
    if lst.proc.poll() is None:
        lst.stop()


def test_storescu_series_lands_in_the_store_and_opens_with_its_geometry(
        listener, shared_data, tmp_path):
    ct = ct_with_uids(shared_data, tmp_path / "ct", NAME)
    assert listener.dcmtk("echoscu").returncode == 0
    sent = listener.dcmtk("storescu", "-xv", "+sd", str(ct))  # as the files are: JPEG 2000
    assert sent.returncode == 0, sent.stderr
    from sim.dicomnet.store import Store

    store = Store(listener.store)
    [row] = store.series()
    assert row["instances"] == 20 and row["modality"] == "CT"
    folder = store.series_folder(row["series_uid"])
    from sim.io import load

    got = next(o for o in load(folder).scene if o.kind == "volume").data
    # the reference geometry straight from the files' headers, not from our reader
    headers = sorted((pydicom.dcmread(f, stop_before_pixels=True) for f in ct.iterdir()),
                     key=lambda d: float(d.ImagePositionPatient[2]))
    assert got.dimensions == (int(headers[0].Columns), int(headers[0].Rows), 20)
    np.testing.assert_allclose(got.origin, [float(v) for v in headers[0].ImagePositionPatient])
    dz = float(headers[1].ImagePositionPatient[2]) - float(headers[0].ImagePositionPatient[2])
    row_mm, col_mm = (float(v) for v in headers[0].PixelSpacing)
    np.testing.assert_allclose(got.spacing, [col_mm, row_mm, dz], rtol=1e-6)
    # findscu asks the receiver what it holds
    out = tmp_path / "find"
    out.mkdir()
    found = listener.dcmtk("findscu", "-S", "-X", "-od", str(out),
                           "-k", "QueryRetrieveLevel=SERIES", "-k", "StudyInstanceUID",
                           "-k", "SeriesInstanceUID", "-k", "Modality=CT",
                           "-k", "NumberOfSeriesRelatedInstances")
    assert found.returncode == 0, found.stderr
    [rsp] = [pydicom.dcmread(f) for f in out.iterdir()]
    assert rsp.SeriesInstanceUID == row["series_uid"]
    assert int(rsp.NumberOfSeriesRelatedInstances) == 20
    code, stdout, stderr = listener.stop()
    assert code == 0 and "Receiver stopped." in stdout
    assert "DCMTKSCU@127.0.0.1: 20 instance(s) stored" in stdout
    audit = (listener.store / "audit.jsonl").read_text()
    for text in (stdout, stderr, audit, "\n".join(str(p) for p in listener.store.rglob("*"))):
        assert "Real" not in text and "RT-4711" not in text
    records = [json.loads(line) for line in audit.splitlines()]
    stored = [r for r in records if r.get("instances") == 20]
    assert stored and stored[0]["calling_ae"] == "DCMTKSCU" and stored[0]["peer"] == "dcmtk"
    assert stored[0]["studies"][0]["modalities"] == ["CT"]
    assert oct((listener.store / "audit.jsonl").stat().st_mode & 0o777) == "0o600"
    assert oct((listener.store / "index.sqlite").stat().st_mode & 0o777) == "0o600"


def test_unconfigured_ae_title_and_wrong_host_are_refused(listener):
    stranger = listener.dcmtk("echoscu", aet="STRANGER")
    assert stranger.returncode != 0
    assert "Calling AE Title Not Recognized" in stranger.stderr
    faraway = listener.dcmtk("echoscu", aet="FARAWAY")  # configured, but for 127.0.0.2
    assert faraway.returncode != 0 and "Not Recognized" in faraway.stderr
    assert listener.dcmtk("echoscu").returncode == 0  # the configured peer still gets in
    code, stdout, _ = listener.stop()
    assert "Refused STRANGER@127.0.0.1" in stdout and "Refused FARAWAY@127.0.0.1" in stdout
    records = [json.loads(line) for line in (listener.store / "audit.jsonl").read_text().splitlines()]
    rejected = [r["calling_ae"] for r in records if r.get("result") == "rejected"]
    assert rejected == ["STRANGER", "FARAWAY"]


def test_deidentify_on_arrival(tmp_path):
    skip_without("storescu")
    from tests.sim.io.dicom_factory import write_series

    write_series(tmp_path / "src", np.zeros((3, 8, 8)), patient="Doe^Jane")
    lst = Listener(tmp_path, "--deidentify")
    try:
        sent = lst.dcmtk("storescu", "+sd", str(tmp_path / "src"))
        assert sent.returncode == 0, sent.stderr
    finally:
        code, stdout, _ = lst.stop()
    assert "(de-identified)" in stdout
    files = [p for p in lst.store.rglob("*.dcm")]
    assert len(files) == 3
    for f in [*files, lst.store / "index.sqlite", lst.store / "audit.jsonl"]:
        data = f.read_bytes()
        assert b"Doe" not in data and b"TS-0001" not in data and b"General Hospital" not in data
    ds = pydicom.dcmread(files[0])
    assert ds.PatientIdentityRemoved == "YES" and str(ds.PatientName) == ""
    # one pseudonym for the patient, the same in each file; new UIDs, one study and series
    assert ds.PatientID.startswith("ANON-") and len(ds.PatientID) == 17
    again = [pydicom.dcmread(f) for f in files]
    assert {d.PatientID for d in again} == {ds.PatientID}
    assert len({d.StudyInstanceUID for d in again}) == 1 == len({d.SeriesInstanceUID for d in again})
    original = pydicom.dcmread(next((tmp_path / "src").iterdir()))
    assert ds.StudyInstanceUID.startswith("2.25.") and ds.StudyInstanceUID != original.StudyInstanceUID
    # the same series sent again after a restart lands in the same de-identified study
    lst = Listener(tmp_path / "again", "--deidentify", store=lst.store)
    try:
        assert lst.dcmtk("storescu", "+sd", str(tmp_path / "src")).returncode == 0
    finally:
        lst.stop()
    from sim.dicomnet.store import Store

    [row] = Store(lst.store).series()
    assert row["instances"] == 3 and row["patient_id"] == ds.PatientID
