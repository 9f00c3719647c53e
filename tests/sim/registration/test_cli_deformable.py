"""``twinsight register POINTS ORGAN --deformable``: files in, updated organ and report out."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest
import pyvista as pv

from sim.cli import main
from sim.markups.model import Markup
from sim.markups.slicer import export_markups, import_markups
from tests.sim.registration.liver_truth import (
    anterior_patch,
    interior_targets,
    liver_truth,
    sample_patch,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files(tmp_path_factory, shared_data):
    truth = liver_truth(shared_data)
    d = tmp_path_factory.mktemp("deformable")
    truth.surface.save(d / "liver.vtp")
    rng = np.random.default_rng(21)
    pts = sample_patch(truth.deformed, anterior_patch(truth.deformed, 0.35), 400, 1.0, rng)
    np.savetxt(d / "stylus.xyz", pts, fmt="%.4f")
    targets = interior_targets(truth.surface, 120, 8.0, rng)
    np.savetxt(d / "targets.xyz", targets, fmt="%.4f")
    # A needle plan: entry on the anterior surface, tip at a deep target.
    entry = np.asarray(truth.surface.points)[np.argmin(np.asarray(truth.surface.points)[:, 1])]
    line = Markup("needle", "line", points=(tuple(entry), tuple(targets[0])))
    export_markups([line], d / "plan.mrk.json")
    true = np.vstack([truth.move(targets), truth.move(np.array([entry, targets[0]]))])
    np.savetxt(d / "true.xyz", true, fmt="%.4f")
    return d, truth


def test_cli_updates_the_organ_moves_the_plan_and_reports_tre(files, capsys):
    d, truth = files
    out = d / "updated.vtp"
    code = main(["register", str(d / "stylus.xyz"), str(d / "liver.vtp"), "--deformable",
                 "--embedded", str(d / "targets.xyz"), str(d / "plan.mrk.json"),
                 "--noise", "1", "--targets", str(d / "true.xyz"), "-o", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["elastic"]
    assert report["tre"]["rigid_mean_mm"] >= 6.0 and report["tre"]["mean_mm"] <= 3.0
    needle = next(s for s in report["structures"] if s["name"] == "needle")
    assert needle["trajectory"]["target_moved_mm"] > 3.0
    assert len(next(s for s in report["structures"] if s["name"] != "needle")["targets"]) == 120
    # The written organ matches the truth's deformed surface better than the pre-op one.
    updated = pv.read(out)
    assert updated.n_points == truth.surface.n_points
    err = np.linalg.norm(np.asarray(updated.points) - np.asarray(truth.deformed.points), axis=1)
    pre = np.linalg.norm(np.asarray(truth.surface.points) - np.asarray(truth.deformed.points),
                         axis=1)
    assert err.mean() < 0.5 * pre.mean()
    moved_plan, _ = import_markups(d / "updated.needle.mrk.json")
    assert np.allclose(moved_plan[0].points[1], needle["targets"][1]["after"], atol=1e-3)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_cli_bad_input_exits_2_with_one_sentence(files, capsys, tmp_path):
    d, truth = files
    few = tmp_path / "few.xyz"
    np.savetxt(few, np.asarray(truth.deformed.points)[:12:2])
    assert main(["register", str(few), str(d / "liver.vtp"), "--deformable"]) == 2
    assert "at least 10" in capsys.readouterr().err
    holed = tmp_path / "open.vtp"
    truth.surface.remove_cells(np.arange(40), inplace=False).save(holed)
    assert main(["register", str(d / "stylus.xyz"), str(holed), "--deformable"]) == 2
    assert "not closed" in capsys.readouterr().err
    assert main(["register", str(d / "stylus.xyz"), str(d / "liver.vtp"), "--deformable",
                 "--noise", "0"]) == 2
    assert main(["register", str(d / "stylus.xyz"), str(d / "liver.vtp"),
                 "--embedded", str(d / "targets.xyz")]) == 2


def test_cli_neo_hookean_material_model_reports_its_checks(files, capsys):
    d, _truth = files
    code = main(["register", str(d / "stylus.xyz"), str(d / "liver.vtp"), "--deformable",
                 "--embedded", str(d / "targets.xyz"), "--noise", "1",
                 "--material-model", "neo-hookean", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["material_model"] == "neo-hookean" and "warning" not in report
    assert report["neo_hookean"]["support_reaction"] < 0.05
    assert report["neo_hookean"]["newton_iterations"] >= 1
    with pytest.raises(SystemExit) as exc:  # argparse: a usage error, exit 2
        main(["register", str(d / "stylus.xyz"), str(d / "liver.vtp"), "--deformable",
              "--material-model", "hyperelastic"])
    assert exc.value.code == 2 and "neo-hookean" in capsys.readouterr().err
