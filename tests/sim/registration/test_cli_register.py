"""``twinsight register``: surface and landmark registration from files, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.cli import main
from sim.geometry.rigid import apply_transform, random_rigid, transform_error
from sim.io.transform_file import load_transform
from tests.cli_process import run_cli
from tests.sim.idler_riser import sample_surface


@pytest.fixture(scope="module")
def files(tmp_path_factory, idler_riser):
    d = tmp_path_factory.mktemp("register")
    idler_riser.save(d / "nominal.stl")
    pts, _ = sample_surface(idler_riser, 60_000, seed=2)
    pts += np.random.default_rng(2).normal(0, 0.02, pts.shape)
    truth = random_rigid(np.random.default_rng(4), 60.0)
    np.savetxt(d / "scan.xyz", apply_transform(np.linalg.inv(truth), pts), fmt="%.6f")
    return d, truth


def test_register_surface_writes_transform(files, capsys):
    d, truth = files
    out = d / "t.json"
    assert main(["register", str(d / "scan.xyz"), str(d / "nominal.stl"), "-o", str(out),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fitness"] > 0.99 and report["inlier_rms_mm"] < 0.05
    rot, trans = transform_error(load_transform(out), truth, at=[34, 37, 8])
    assert rot < 0.1 and trans < 0.1


def test_register_landmarks_with_refinement(files, capsys, tmp_path):
    d, truth = files
    fixed = np.array([[0, 0, 0], [60, 0, 0], [0, 70, 0], [30, 30, 15.0]])
    moving = apply_transform(np.linalg.inv(truth), fixed)
    moving += np.random.default_rng(1).normal(0, 0.3, moving.shape)  # a shaky pointer
    lm = tmp_path / "pairs.csv"
    lm.write_text("\n".join(",".join(f"{x:.4f}" for x in (*m, *f))
                            for m, f in zip(moving, fixed, strict=True)))
    assert main(["register", str(d / "scan.xyz"), str(d / "nominal.stl"), "--landmarks",
                 str(lm), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert 0.05 < rep["fre_rms_mm"] < 1.0 and len(rep["fre_mm"]) == 4
    assert main(["register", str(d / "scan.xyz"), str(d / "nominal.stl"), "--landmarks",
                 str(lm), "--refine", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    rot, trans = transform_error(np.array(rep["matrix"]), truth, at=[34, 37, 8])
    assert rot < 0.1 and trans < 0.1


def test_register_bad_input_exit_codes(files, tmp_path):
    d, _ = files
    bad = tmp_path / "bad.xyz"
    bad.write_text("1 2\n")
    for args in (["register", str(bad), str(d / "nominal.stl")],
                 ["register", str(d / "scan.xyz"), str(d / "nominal.stl"), "--scale"],
                 ["register", str(d / "scan.xyz"), str(tmp_path / "missing.stl")]):
        proc = run_cli(*args, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("twinsight: error:") == 1


def test_register_ambiguous_flat_part_writes_nothing_and_exits_1(tmp_path, capsys):
    """A two-fold symmetric plate turned in its plane: both poses fit, so the command
    lists them (the true one among them), writes no transform and exits with 1."""
    from tests.sim.registration.plates import write_turned_symmetric_plate

    part, pose = write_turned_symmetric_plate(tmp_path)
    out = tmp_path / "t.json"
    code = main(["register", str(tmp_path / "scan.xyz"), str(tmp_path / "plate.stl"),
                 "-o", str(out), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert code == 1 and rep["ambiguous"] is True and not out.exists()
    assert "landmarks" in rep["message"] and len(rep["candidates"]) >= 2
    errors = [transform_error(np.array(c["matrix"]), np.linalg.inv(pose), at=part.center)[0]
              for c in rep["candidates"]]
    assert min(errors) < 0.5 and max(errors) > 170.0  # the truth and its 180-degree twin
    # Plain text says the same in words.
    assert main(["register", str(tmp_path / "scan.xyz"), str(tmp_path / "plate.stl")]) == 1
    text = capsys.readouterr().out
    assert "Ambiguous" in text and "--landmarks" in text and "candidate 2" in text
