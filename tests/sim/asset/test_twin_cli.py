"""``twinsight twin build|sensors|simulate|replay|calibrate`` and bad input."""

from __future__ import annotations

import json

import pytest
import yaml

from sim.asset.config import config_from_dict
from sim.cli import main
from sim.errors import FileFormatError


def _coarse_config(tmp_path, edit=None):
    from sim.resources import asset_path

    raw = yaml.safe_load(asset_path("twin", "pump_bracket.yaml").read_text())
    raw["fe"]["mesh"]["element_size"] = 5
    if edit:
        edit(raw)
    path = tmp_path / "bracket.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_build_simulate_replay_calibrate(tmp_path, capsys):
    cfg = _coarse_config(tmp_path)
    model = tmp_path / "m.npz"
    assert main(["twin", "build", str(cfg), "-o", str(model), "--json"]) == 0
    info = _json(capsys)
    assert info["sensors"] == 17 and info["order"] == 2 and info["warnings"] == []
    link = tmp_path / "link.json"
    assert main(["twin", "link-config", str(model), "-o", str(link)]) == 0
    assert "Wrote" in capsys.readouterr().out
    from sim.twin.telemetry import TwinConfig

    topics = {s.topic for s in TwinConfig.load(link).sensors}
    assert "twinsight/pump1/gauge/g_base_top" in topics and "twinsight/pump1/vibration" in topics
    assert main(["twin", "sensors", str(model), "--suggest", "2", "--json"]) == 0
    info = _json(capsys)
    assert info["rank"] == 4 and len(info["suggestions"]) == 2
    hist = tmp_path / "h.db"
    assert main(["twin", "simulate", str(model), "-o", str(hist), "--duration", "200",
                 "--rate", "5", "--drift-at", "100", "--json"]) == 0
    drifting = _json(capsys)["drift_sensor"]
    assert main(["twin", "replay", str(hist), "-m", str(model), "--predict", "--json"]) == 0
    res = _json(capsys)
    assert res["samples"] == 1000
    assert res["loads"]["pump_weight"]["interval95"][0] < 300 * 1.05
    assert [f["name"] for f in res["findings"]] == [drifting]
    assert any(a["kind"] == "sensor_fault" and a["sensor"] == drifting for a in res["alarms"])
    assert all(h["damage"] is not None for h in res["hot_spots"])
    out = tmp_path / "cal.npz"
    assert main(["twin", "calibrate", str(hist), "-m", str(model), "--params", "modulus",
                 "-o", str(out), "--json"]) == 0
    cal = _json(capsys)
    # the simulated asset is the nominal model: the modulus stays at 1 (the drifting gauge
    # biases the fit a little; it is in the data as recorded)
    assert cal["parameters"]["modulus"]["value"] == pytest.approx(1.0, abs=0.03)
    assert out.exists()


def test_bad_sensors_are_left_out_and_the_rest_runs(tmp_path, capsys):
    def edit(raw):
        raw["sensors"] += [
            {"id": "far", "type": "strain", "point": [500, 0, 0], "direction": [1, 0, 0]},
            {"id": "nodir", "type": "strain", "point": [0, 20, 20], "direction": [0, 0, 0]},
            {"id": "cell", "type": "load_cell", "channel": "no_such_channel"},
        ]
    cfg = _coarse_config(tmp_path, edit)
    model = tmp_path / "m.npz"
    assert main(["twin", "build", str(cfg), "-o", str(model), "--json"]) == 0
    captured = capsys.readouterr()
    info = json.loads(captured.out)
    assert info["sensors"] == 17
    assert "Sensor 'far' is left out: its point [500.0, 0.0, 0.0] is" in captured.err
    assert "Sensor 'nodir' is left out" in captured.err and "zero length" in captured.err
    assert "Sensor 'cell' is left out" in captured.err


def test_history_of_another_asset_is_refused(tmp_path, capsys):
    from sim.twin.history import HistoryStore

    cfg = _coarse_config(tmp_path)
    model = tmp_path / "m.npz"
    assert main(["twin", "build", str(cfg), "-o", str(model)]) == 0
    other = tmp_path / "other.db"
    with HistoryStore(other) as h:
        h.record("value", "temp_bend", 1.0, 20.0)
    capsys.readouterr()
    assert main(["twin", "replay", str(other), "-m", str(model), "--json"]) == 2
    assert "none of the sensors of the twin model" in capsys.readouterr().err


def test_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fe: {mesh: x, material: steel}\nchannels: []\n")
    from sim.asset.config import read_config

    with pytest.raises(FileFormatError, match="bad.yaml.*at least one load channel"):
        read_config(bad)
    with pytest.raises(Exception, match="zero length"):
        config_from_dict({"fe": {"mesh": "x", "material": "steel"}, "channels": [
            {"name": "a", "type": "nodal_force", "direction": [0, 0, 0]}]}, tmp_path)
    assert main(["twin", "replay", str(tmp_path / "none.db"), "-m",
                 str(tmp_path / "none.npz")]) == 2
