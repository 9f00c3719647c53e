"""Remaining useful life: the C-MAPSS FD001 grouped cross-validation (regression floor, figures
printed), save/load identity, bad fleet files."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim.errors import FileFormatError
from sim.predict.fleet import read_fleet
from sim.predict.rul import RulModel


@pytest.fixture(scope="module")
def fd001(shared_data):
    path = shared_data / "telemetry" / "cmapss" / "train_FD001.txt"
    if not path.is_file():
        pytest.skip(f"C-MAPSS FD001 not found at {path}")
    return read_fleet(path)


@pytest.mark.slow
def test_cmapss_fd001_held_out_rmse(fd001):
    from sim.predict.cmapss import evaluate

    t0 = time.perf_counter()
    ev = evaluate(fd001, folds=5, cuts=3, seed=0)
    for f in ev.folds:
        print(f"fold {f.fold}: RMSE {f.rmse:.2f}, PHM08 {f.score:.1f}, train {f.train_s:.1f} s, "
              f"{f.predict_ms_per_unit:.3f} ms/unit")
    print(f"FD001 held-out RMSE {ev.rmse:.2f} (fold mean {ev.rmse_fold_mean:.2f}), PHM08 score "
          f"{ev.score:.1f}, 10-90 % coverage {ev.coverage_10_90:.2f}, "
          f"{time.perf_counter() - t0:.1f} s in all")
    # no engine is scored by a model that saw it
    engines = [e for f in ev.folds for e in f.engines]
    assert sorted(engines, key=int) == [str(i) for i in range(1, 101)]
    assert ev.rmse <= 13.0  # the target; measured 10.8 (5 cuts), a regression floor
    assert all(f.rmse <= 14.5 for f in ev.folds)
    assert ev.score < 400
    assert 0.65 <= ev.coverage_10_90 <= 0.95


def test_saved_model_predicts_identically(fd001, tmp_path):
    small = fd001.select([str(i) for i in range(1, 21)])
    model = RulModel.train(small, rounds=60)
    model.save(tmp_path / "m.json")
    again = RulModel.load(tmp_path / "m.json")
    test = fd001.select([str(i) for i in range(21, 31)]).truncated(
        {str(i): 50.0 + 3 * i for i in range(21, 31)})
    a, b = model.predict(test), again.predict(test)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    assert [(p.rul, p.low, p.high) for p in a] == [(p.rul, p.low, p.high) for p in b]
    assert again.trained_on["sha256"] == small.fingerprint() and again.trained_on["units"] == 20
    assert again.trained_on["time_unit"] == "cycles"  # C-MAPSS counts cycles, not seconds
    assert all(0 <= p.low <= p.rul <= p.high <= 125 for p in a)


def test_save_load_through_the_case():
    from sim.model import Case
    from sim.predict.case_models import load_models, revision, save_model
    from sim.twin.simulate import wear_fleet

    fleet = wear_fleet(6, seed=1, life=(60.0, 120.0))
    model = RulModel.train(fleet, cap=None, rounds=30)
    case = Case(name="c", anatomical=False)
    assert save_model(case, model) == 1 and save_model(case, model) == 2
    _, again = load_models(case)
    assert revision(case, "rul") == 2
    assert again.predict(fleet)[0] == model.predict(fleet)[0]
    case.history.undo()  # one undo step (retraining within seconds merges, like any edit)
    assert revision(case, "rul") == 0 and load_models(case) == (None, None)


def write(path, text):
    path.write_text(text)
    return path


def test_bad_fleet_files_give_clear_errors(tmp_path):
    cases = {
        "missing.csv": ("time,s1\n1,2\n", "has no unit column"),
        "one.csv": ("unit,time,s1\n1,1,2.0\n1,2,2.5\n1,3,2.7\n", "holds 1 unit"),
        "nan.csv": ("unit,time,s1\n1,1,2\n1,2,\n2,1,3\n2,2,4\n",
                    "column 's1' has 1 missing or non-numeric values (first in unit 1 at time 2)"),
        "ragged.csv": ("unit,time,s1\n1,1,2\n1,2\n", "row 3 has 2 fields"),
        "dup.csv": ("unit,time,s1\n1,1,2\n1,1,3\n2,1,3\n2,2,4\n", "unit 1 has repeated time"),
        "nosensors.csv": ("unit,time\n1,1\n2,1\n", "no sensor columns"),
    }
    for name, (text, reason) in cases.items():
        path = write(tmp_path / name, text)
        with pytest.raises(FileFormatError) as err:
            RulModel.train(read_fleet(path), where=path)
        assert name in str(err.value) and reason in str(err.value), str(err.value)
    with pytest.raises(FileFormatError, match="26 columns"):
        read_fleet(write(tmp_path / "short.txt", "1 1 0 0 100 5\n"))
    with pytest.raises(FileFormatError, match="not a Twinsight remaining-life model"):
        RulModel.load(write(tmp_path / "x.json", '{"format": "other"}'))


def test_parquet_and_history_fleets_read_like_csv(tmp_path):
    from sim.predict.fleet import write_csv
    from sim.predict.history_fleet import import_table
    from sim.twin.simulate import wear_fleet

    fleet = wear_fleet(3, seed=2, life=(30.0, 50.0))
    write_csv(fleet, tmp_path / "f.csv")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"unit": fleet.unit, "time": fleet.time,
                             **{c: fleet.column(c) for c in fleet.channels}}),
                   tmp_path / "f.parquet")
    a = read_fleet(tmp_path / "f.csv")
    b = read_fleet(tmp_path / "f.parquet")
    summary = import_table(tmp_path / "f.csv", tmp_path / "f.db")
    assert summary["units"] == 3 and summary["readings"] == len(fleet) * 5
    c = read_fleet(tmp_path / "f.db")
    assert a.unit_ids() == b.unit_ids() == c.unit_ids()
    assert a.time_unit == b.time_unit == "s"  # a 'time' column counts seconds
    assert np.allclose(a.values, b.values, atol=1e-5)
    cols = [c.channels.index(ch) for ch in a.channels]
    assert np.allclose(a.values, c.values[:, cols], atol=1e-5)
