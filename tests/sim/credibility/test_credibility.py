"""Credibility evidence: GCI against a hand computation and Celik et al.'s published example,
code verification run now, and ``twinsight credibility`` end to end (HTML, PDF, --json)."""

from __future__ import annotations

import json
import math

import pytest

from sim.credibility.gci import grid_convergence
from sim.credibility.verification import cantilever_refinement, run_code_verification
from sim.errors import InputError
from tests.sim.sweep.conftest import BEAM, write


def test_gci_of_cantilever_refinement_equals_hand_computation():
    rows = cantilever_refinement()  # P2, 5x1x1 -> 10x2x2 -> 20x4x4: r = 2 exactly
    f3, f2, f1 = (r["tip_deflection"] for r in rows)
    h3, h2, h1 = (r["h"] for r in rows)
    g = grid_convergence([h1, h2, h3], [f1, f2, f3])
    # by hand, constant ratio r = 2: p = ln((f3 - f2) / (f2 - f1)) / ln 2 (Roache)
    r = 2.0
    p = math.log((f3 - f2) / (f2 - f1)) / math.log(r)
    ext = (r**p * f1 - f2) / (r**p - 1)
    gci = 1.25 * abs((f1 - f2) / f1) / (r**p - 1)
    print(f"\ntips {f3:.6f} {f2:.6f} {f1:.6f}: p {p:.4f}, extrapolated {ext:.6f}, GCI {100 * gci:.4f} %")
    assert g.r21 == pytest.approx(2.0) and g.r32 == pytest.approx(2.0)
    assert g.order == pytest.approx(p, rel=1e-12)
    assert g.extrapolated == pytest.approx(ext, rel=1e-12)
    assert g.gci_fine == pytest.approx(gci, rel=1e-12)
    assert not g.oscillatory and 1.0 < p < 3.0


def test_gci_matches_celik_2008_worked_example():
    # Celik et al., ASME J. Fluids Eng. 130 (2008) Table 1, phi column: 2D grids of
    # 18000 / 8000 / 4500 cells; published p = 1.53, extrapolated 6.1685, e_a 1.5 %, e_ext 1.7 %,
    # GCI_fine 2.2 %.
    h = [n ** -0.5 for n in (18000, 8000, 4500)]
    g = grid_convergence(h, [6.063, 5.972, 5.863])
    assert round(g.order, 2) == 1.53 and round(g.extrapolated, 4) == 6.1685
    assert round(100 * g.e_a21, 1) == 1.5 and round(100 * g.e_ext21, 1) == 1.7
    assert round(100 * g.gci_fine, 1) == 2.2


def test_gci_refuses_what_it_cannot_estimate():
    with pytest.raises(InputError, match="same value"):
        grid_convergence([1, 2, 4], [1.0, 1.0, 2.0])
    with pytest.raises(InputError, match="fine, medium, coarse"):
        grid_convergence([4, 2, 1], [1.0, 1.1, 1.3])


def test_code_verification_passes_now():
    cases = {c.name: c for c in run_code_verification()}
    assert all(c.passed for c in cases.values()), [c.name for c in cases.values() if not c.passed]
    assert cases["Patch test P2"].rows[0]["displacement_rel_error"] < 1e-9
    lame = cases["Lamé thick cylinder P2"]
    assert lame.rows[-1]["max_rel_error_ur"] < lame.rows[0]["max_rel_error_ur"]
    assert lame.observed_order > 1.0


@pytest.fixture()
def cred_spec(tmp_path):
    write(tmp_path / "beam.yaml", BEAM)
    return write(tmp_path / "cred.yaml", {
        "name": "Steel cantilever", "model": {"fem": "beam.yaml"},
        "question_of_interest": "Does the beam stay below 100 MPa under a 100 N tip load?",
        "context_of_use": "The model predicts peak stress and tip deflection for design review.",
        "quantities": [{"name": "tip deflection", "path": "probes.tip.displacement_mm[2]", "unit": "mm"},
                       {"name": "peak stress", "path": "max_von_mises_mpa", "unit": "MPa",
                        "acceptance": "< 100"}],
        "risk": {"influence": "medium", "consequence": "high", "rationale": "design decision"},
        "refinement": {"ratio": 1.5}, "limitations": ["Linear elastic."],
        "validation": {"status": "planned", "comparator": "bench test"}})


def test_credibility_report_html_and_json(tmp_path, cred_spec, capsys):
    from sim.cli import main

    assert main(["credibility", str(cred_spec), "-o", str(tmp_path / "r.html"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["risk"]["level"] == 4
    assert all(c["passed"] for c in data["code_verification"])
    calc = data["calculation_verification"]
    assert [lv["elements"] for lv in calc["levels"]] == sorted(lv["elements"] for lv in calc["levels"])
    tip = calc["gci"]["tip deflection"]
    # the extrapolated deflection is close to Timoshenko's for this beam (E=210 GPa, 100 N)
    E, F, L, inertia, G, A = 2.1e5, -100.0, 100.0, 10.0**4 / 12, 2.1e5 / 2.6, 100.0
    timo = F * L**3 / (3 * E * inertia) + F * L / (5 / 6 * G * A)
    assert abs(tip["extrapolated"] / timo - 1) < 0.02 and tip["gci_fine"] < 0.05
    assert all(r["relative_residual"] < 1e-9 for r in calc["levels"])
    env = data["provenance"]["environment"]
    assert env["twinsight"] and env["python"] and env["packages"]["dask"]
    hashes = {i["input"] for i in data["provenance"]["inputs"]}
    assert {"credibility spec", "analysis spec"} <= hashes
    html = (tmp_path / "r.html").read_text()
    for section in ("Question of interest", "Model risk", "Credibility factors", "Code verification",
                    "Calculation verification", "Validation", "Uncertainty quantification",
                    "Limitations", "Software, environment and inputs", "numerical code verification"):
        assert section in html


def test_credibility_bad_input(tmp_path, cred_spec, capsys):
    from sim.cli import main

    assert main(["credibility", str(cred_spec), "-o", str(tmp_path / "r.docx")]) == 2
    spec = json.loads(cred_spec.read_text())
    spec["risk"]["influence"] = "huge"
    write(cred_spec, spec)
    assert main(["credibility", str(cred_spec), "-o", str(tmp_path / "r.html")]) == 2
    assert "influence" in capsys.readouterr().err


def test_credibility_pdf_with_sweep(tmp_path, cred_spec, capsys):
    from sim.cli import main
    from sim.sweep.runner import run_sweep
    from sim.sweep.spec import read_sweep

    sweep = write(tmp_path / "sweep.yaml", {
        "base": {"fem": "beam.yaml"},
        "parameters": [{"path": "material.youngs_modulus", "dist": "normal", "mean": 2.1e5, "std": 1e4}],
        "sampler": {"method": "lhs", "n": 4, "seed": 1}, "qoi": ["max_von_mises_mpa"],
        "failure": [{"qoi": "max_von_mises_mpa", "above": 1000}]})
    run_sweep(read_sweep(sweep), tmp_path / "s.parquet", workers=1)
    assert main(["credibility", str(cred_spec), "--sweep", str(tmp_path / "s.parquet"),
                 "-o", str(tmp_path / "r.pdf"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    uq = data["uncertainty"]["analysis"]
    assert uq["samples"]["ok"] == 4 and uq["failure"][0]["probability"] == 0.0
    assert "sweep results" in {i["input"] for i in data["provenance"]["inputs"]}
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
