"""Real DICOM peers on 127.0.0.1 for the networking tests: an Orthanc PACS started with a
generated configuration (free ports, temporary storage, our receiver as a known modality),
and the DCMTK command-line clients."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.mqtt_broker import free_port, stop_process

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"


def skip_without(*tools: str) -> None:
    for tool in tools:
        if not (shutil.which(tool) or Path(tool).exists()):
            pytest.skip(f"{tool} is not installed (packaging/setup-env.sh installs orthanc, "
                        "dcmtk and dicom3tools)")


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}") from None
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port}")


class Orthanc:
    """Orthanc as a PACS: AE title ORTHANC; ``modalities`` maps names to (AE, port) on
    127.0.0.1 that it may send to (C-MOVE destinations) and accept requests from."""

    def __init__(self, folder: Path, modalities: dict[str, tuple[str, int]]) -> None:
        self.folder = folder
        self.ae_title = "ORTHANC"
        self.port = free_port()
        self.http_port = free_port()
        self.config = folder / "orthanc.json"
        self.config.write_text(json.dumps({
            "Name": "TwinsightTestPACS",
            "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
            "HttpServerEnabled": True, "HttpPort": self.http_port, "RemoteAccessAllowed": False,
            "DicomServerEnabled": True, "DicomAet": self.ae_title, "DicomPort": self.port,
            "DicomCheckCalledAet": True, "DicomCheckModalityHost": True,
            "DicomAlwaysAllowEcho": False, "DicomAlwaysAllowStore": False,
            "DicomAlwaysAllowFind": False, "DicomAlwaysAllowGet": False,
            "DicomAlwaysAllowMove": False,
            "DicomModalities": {name: [ae, "127.0.0.1", port]
                                for name, (ae, port) in modalities.items()},
            "Plugins": [], "StorageCompression": False, "OverwriteInstances": True,
        }))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.folder / "orthanc.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([ORTHANC, str(self.config)], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.folder)
        wait_port(self.port, self.proc, "Orthanc")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
            self.log.close()


def ct_with_uids(shared_data: Path, folder: Path, patient: str = "Real^Test") -> Path:
    """A temporary copy of the real CT series (example_ct_dicom, JPEG 2000) with the Study,
    Series and SOP Instance UIDs its anonymiser emptied filled in (a PACS files by them), and
    a patient name to check that no log shows it. Pixel data is copied byte for byte."""
    import pydicom
    from pydicom.uid import generate_uid

    src = shared_data / "ct" / "totalseg" / "example_ct_dicom"
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    for f in sorted(src.iterdir()):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID = patient, "RT-4711"
        ds.save_as(folder / f"{f.name}.dcm")
    return folder


def write_config(path: Path, port: int, store: Path, peers: dict[str, tuple[str, int]],
                 **extra) -> Path:
    """A DICOM network configuration: our AE TWINSIGHT on ``port``, peers on 127.0.0.1."""
    path.write_text(json.dumps({
        "ae_title": "TWINSIGHT", "port": port, "store": str(store), "timeout_s": 10,
        "peers": {name: {"ae_title": ae, "host": "127.0.0.1", "port": p}
                  for name, (ae, p) in peers.items()}, **extra}))
    return path


def pixel_bytes(folder: Path) -> dict[str, bytes]:
    """SOP Instance UID -> the raw (still encoded) Pixel Data of every DICOM file below."""
    import pydicom

    out = {}
    for f in sorted(p for p in folder.rglob("*.dcm")):
        ds = pydicom.dcmread(f)
        out[str(ds.SOPInstanceUID)] = bytes(ds.PixelData)
    return out
