"""``twinsight predict`` and ``twinsight link import`` from the command line: outputs, exit codes."""

from __future__ import annotations

import json

from sim.cli import main


def test_demo_fleet_import_train_and_rul(tmp_path, capsys):
    fleet = tmp_path / "pumps.csv"
    assert main(["predict", "demo-fleet", "-o", str(fleet), "--units", "6"]) == 0
    assert main(["link", "import", str(fleet), "-o", str(tmp_path / "h.db"), "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{"):])
    assert summary["units"] == 6 and summary["channels"][0] == "temp_bend"
    assert main(["predict", "train", str(fleet), "-o", str(tmp_path / "m.json"),
                 "--cap", "none", "--json"]) == 0
    capsys.readouterr()
    assert main(["predict", "rul", str(tmp_path / "h.db"), "--model", str(tmp_path / "m.json"),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["units"]) == 6
    for u in doc["units"]:  # every history runs to failure: little life left at its end
        assert u["rul"] < 40 and u["low"] <= u["rul"] <= u["high"]


def test_bad_input_exits_2_with_one_sentence(tmp_path, capsys):
    bad = tmp_path / "one.csv"
    bad.write_text("unit,time,s1\n1,1,2\n1,2,3\n")
    assert main(["predict", "train", str(bad), "-o", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("twinsight: error: Cannot read") and "holds 1 unit" in err
    assert "\n" not in err
    assert main(["link", "import", str(tmp_path / "none.csv"), "-o",
                 str(tmp_path / "x.db")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["predict", "train", str(bad), "-o", str(tmp_path / "m.txt")]) == 2
