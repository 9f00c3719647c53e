"""Paths that lead out of a case, special files and the limits behind them (issue #21)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import pyvista as pv

from sim.errors import FileFormatError, InputError
from sim.io.vtk_safe import dataset_problem, xml_counts_problem

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def _within(seconds: float, fn):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "blocked"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_step_image_stays_inside_the_case(tmp_path):
    from sim.rehearsal.scenario import image_bytes

    case = tmp_path / "case.d"
    (case / "pictures").mkdir(parents=True)
    (case / "pictures" / "ok.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(PNG)
    os.symlink(tmp_path / "secret.png", case / "pictures" / "link.png")
    assert image_bytes("pictures/ok.png", case) == PNG
    for hostile in ("../../../../dev/zero", "../secret.png", "pictures/link.png",
                    "pictures/../../secret.png"):
        with pytest.raises(InputError, match="outside the case"):
            image_bytes(hostile, case)
    with pytest.raises(InputError, match="relative path"):
        image_bytes("pictures/ok.png", None)


def test_step_image_refuses_devices_fifos_and_huge_files(tmp_path):
    from sim.rehearsal.scenario import IMAGE_MAX_BYTES, image_bytes

    with pytest.raises(InputError, match="not a regular file"):
        _within(5, lambda: image_bytes("/dev/zero"))
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(InputError, match="not a regular file"):
        _within(5, lambda: image_bytes("pipe.png", tmp_path))
    (tmp_path / "big.png").write_bytes(PNG + b"\0" * IMAGE_MAX_BYTES)
    with pytest.raises(InputError, match="larger than"):
        image_bytes("big.png", tmp_path)
    with pytest.raises(InputError, match="larger than"):
        image_bytes("data:image/png;base64," + "A" * (IMAGE_MAX_BYTES * 2))


def test_connectivity_checks_find_what_would_crash_vtk():
    s = pv.Sphere(theta_resolution=8, phi_resolution=8)
    assert dataset_problem(s) is None
    bad = s.copy()
    conn = bad.GetPolys().GetConnectivityArray()
    conn.SetValue(5, 10**8)  # set through VTK: nothing in VTK checks it
    assert "refer to point 100000000" in dataset_problem(bad)
    grid = pv.ImageData(dimensions=(3, 3, 3)).triangulate()
    assert dataset_problem(grid) is None
    grid.point_data["short"] = np.zeros(grid.n_points)
    grid.GetPointData().GetArray("short").SetNumberOfTuples(3)
    assert "holds 3 values" in dataset_problem(grid)


def test_xml_counts_must_fit_in_the_file():
    assert xml_counts_problem(b'<VTKFile><Piece NumberOfPoints="3" NumberOfPolys="1">') is None
    assert "2000000000 points" in xml_counts_problem(
        b'<VTKFile><Piece NumberOfPoints="2000000000">' + b" " * 100)
    assert "extent" in xml_counts_problem(b'<VTKFile compressor="z"><ImageData WholeExtent='
                                          b'"0 99999 0 99999 0 99999">')


def test_scrypt_cost_is_capped_to_what_twinsight_writes():
    import json
    import struct

    from sim.model import crypto

    def header(n, r, p):
        raw = json.dumps({"kdf": "scrypt", "n": n, "r": r, "p": p, "salt": "AAAA",
                          "cipher": "AES-256-GCM", "chunk": 1 << 20,
                          "nonce_prefix": "AAAAAAAAAA==", "check": "0"}).encode()
        return crypto.MAGIC + struct.pack(">I", len(raw)) + raw

    crypto.read_header(header(1 << 17, 8, 1), "x")  # what we write: accepted
    for n, r, p in ((1 << 18, 8, 1), (1 << 17, 9, 1), (1 << 17, 8, 2), (1 << 20, 16, 4)):
        with pytest.raises(FileFormatError, match="unsupported parameters"):
            crypto.read_header(header(n, r, p), "x")


def test_deep_json_is_a_sentence_not_a_recursion_error(tmp_path):
    from sim.io.json_file import read_json

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(FileFormatError, match="nested more than"):
        read_json(tmp_path / "deep.json", "scenario")
    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(InputError, match="not a regular file"):
        _within(5, lambda: read_json(tmp_path / "pipe.json", "scenario"))


def test_cad_child_runs_with_a_scratch_home(tmp_path):
    from sim.io.readers.cad import scratch_env

    env = scratch_env(tmp_path)
    assert env["HOME"] == env["XDG_CONFIG_HOME"] == env["TMPDIR"] == str(tmp_path)
    assert os.environ.get("HOME") != str(tmp_path)  # the parent's own home is untouched
