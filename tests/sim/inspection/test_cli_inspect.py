"""``twinsight inspect``: statistics, regions, callouts, PDF/HTML reports, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.cli import main
from tests.cli_process import run_cli
from tests.sim.idler_riser import sample_surface


@pytest.fixture(scope="module")
def files(tmp_path_factory, idler_riser):
    d = tmp_path_factory.mktemp("inspect")
    idler_riser.save(d / "nominal.stl")
    pts, nrm = sample_surface(idler_riser, 80_000, seed=4)
    pts += nrm * np.random.default_rng(4).normal(0, 0.02, (len(pts), 1))
    top = np.flatnonzero(nrm[:, 2] > 0.999)
    centre = pts[top[len(top) // 2]].copy()
    r = np.linalg.norm(pts - centre, axis=1)
    pts -= nrm * (0.5 * np.clip(1 - (r / 3.0) ** 2, 0, None))[:, None]
    np.savetxt(d / "scan.csv", pts, fmt="%.6f", delimiter=",", header="x,y,z", comments="")
    return d, centre


def test_inspect_json_and_pdf_report(files, capsys):
    d, centre = files
    pdf = d / "report.pdf"
    at = ",".join(f"{x:.4f}" for x in centre)
    assert main(["inspect", str(d / "scan.csv"), str(d / "nominal.stl"), "--tolerance", "0.2",
                 "--at", at, "--section", f"x={centre[0]:.3f}", "-o", str(pdf), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["points"] == 80_000 and rep["unmatched"] == 0
    assert 99.0 < rep["within_tolerance_pct"] < 100.0 and rep["below_pct"] > 0
    assert rep["min_mm"] == pytest.approx(-0.5, abs=0.1)
    (region,) = rep["regions"]
    assert region["status"] == "below"
    assert np.linalg.norm(np.array(region["centroid_mm"]) - centre) < 1.0
    assert rep["callouts"][0]["status"] == "below"
    assert rep["sections"][0]["points"] > 10
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 3


def test_inspect_html_report_is_self_contained(files, capsys):
    d, _ = files
    html = d / "report.html"
    assert main(["inspect", str(d / "scan.csv"), str(d / "nominal.stl"), "--tolerance", "0.2",
                 "-o", str(html)]) == 0
    text = html.read_text()
    assert text.count("data:image/png;base64,") >= 2 and "Within tolerance" in text
    assert "R1" in text
    assert "within tolerance" in capsys.readouterr().out


@pytest.mark.parametrize("extra", [["--tolerance", "-1"], ["--tolerance", "0.1", "--at", "1,2"],
                                   ["--tolerance", "0.1", "-o", "report.docx"],
                                   ["--tolerance", "0.1", "--section", "w=3"]])
def test_inspect_bad_arguments_exit_2(files, extra, capsys, monkeypatch):
    d, _ = files
    monkeypatch.chdir(d)
    assert main(["inspect", str(d / "scan.csv"), str(d / "nominal.stl"), *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("twinsight: error:") == 1


def test_inspect_missing_nominal_in_a_subprocess(files):
    d, _ = files
    proc = run_cli("inspect", d / "scan.csv", d / "missing.stl", "--tolerance", "0.1",
                   timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "missing.stl" in proc.stderr


def test_align_refuses_an_ambiguous_pose_instead_of_mapping_false_defects(tmp_path, capsys):
    """A two-fold symmetric plate turned in its plane: --align cannot tell the two poses
    apart, so nothing is measured (exit 1, one sentence pointing to landmarks)."""
    from tests.sim.registration.plates import write_turned_symmetric_plate

    write_turned_symmetric_plate(tmp_path)
    report = tmp_path / "r.html"
    code = main(["inspect", str(tmp_path / "scan.xyz"), str(tmp_path / "plate.stl"),
                 "--tolerance", "0.1", "--align", "-o", str(report)])
    err = capsys.readouterr().err
    assert code == 1 and not report.exists()
    assert "with confidence" in err and "--landmarks" in err and "Traceback" not in err
