"""The DICOM network configuration: peers added and removed from the command line into an
owner-only file, and one clear sentence for every bad value (no traceback)."""

from __future__ import annotations

import io
import json
import os
import stat
from contextlib import redirect_stdout

import pytest


def twinsight(*args: str) -> tuple[int, str]:
    from sim.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def test_peer_add_list_remove(tmp_path, monkeypatch):
    path = tmp_path / "conf" / "dicom.json"
    monkeypatch.setenv("TWINSIGHT_DICOM_CONFIG", str(path))
    code, _ = twinsight("dicom", "peer-add", "pacs", "--ae-title", "ORTHANC", "--host",
                        "10.1.2.3", "--port", "4242", "--tls")
    assert code == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    code, out = twinsight("dicom", "peers", "--json")
    data = json.loads(out)
    assert data["peers"] == {"pacs": {"ae_title": "ORTHANC", "host": "10.1.2.3", "port": 4242,
                                      "tls": True}}
    assert data["ae_title"] == "TWINSIGHT" and data["bind"] == "127.0.0.1"
    assert twinsight("dicom", "peer-remove", "pacs")[0] == 0
    assert json.loads(twinsight("dicom", "peers", "--json")[1])["peers"] == {}


@pytest.mark.parametrize("config, words", [
    ("{not json", "Cannot read the DICOM configuration"),
    ('{"ae_title": "A_TITLE_THAT_IS_TOO_LONG"}', "1 to 16 printable ASCII"),
    ('{"port": 70000}', "port of this workstation must be a number from 0 to 65535"),
    ('{"peers": {"x": {"ae_title": "X"}}}', "Peer 'x'"),
    ('{"peers": {"x": {"ae_title": "X\\\\Y", "host": "h", "port": 1}}}', "without a backslash"),
    ('{"timeout_s": 0}', "'timeout_s'"),
    ('[1, 2]', "must hold a JSON object"),
])
def test_bad_configuration_is_one_sentence(tmp_path, capsys, config, words):
    path = tmp_path / "dicom.json"
    path.write_text(config)
    code, _ = twinsight("dicom", "peers", "--config", str(path))
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_send_refuses_files_a_pacs_cannot_file(tmp_path, capsys, shared_data):
    path = tmp_path / "dicom.json"
    path.write_text(json.dumps({"store": str(tmp_path / "store"), "peers": {
        "pacs": {"ae_title": "PACS", "host": "127.0.0.1", "port": 1}}}))
    # the real CT series as published: its anonymiser emptied the Study and Series UIDs
    code, _ = twinsight("dicom", "send", "pacs", str(shared_data / "ct" / "totalseg" /
                                                      "example_ct_dicom"), "--config", str(path))
    err = capsys.readouterr().err
    assert code == 2 and "no Study or Series Instance UID" in err
    (tmp_path / "notes.txt").write_text("not DICOM")
    code, _ = twinsight("dicom", "send", "pacs", str(tmp_path / "notes.txt"), "--config", str(path))
    assert code == 2 and "no DICOM files" in capsys.readouterr().err
