"""Data-quality flags on synthetic streams with known defects, and flags stored in the history."""

from __future__ import annotations

import numpy as np

from sim.predict.quality import EXCLUDING, QualityChecker, QualityRules, check_series


def stream(n=400, dt=0.1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    return t, 20.0 + np.sin(t) + 0.05 * rng.normal(size=n)


def test_each_defect_is_flagged_where_it_is_and_nowhere_else():
    t, v = stream()
    t, v = list(t), list(v)
    v[100:130] = [v[100]] * 30  # stuck for 30 readings
    t[200:] = [x + 3.0 for x in t[200:]]  # a 3 s dropout before reading 200
    v[250] = 1e6  # outside the measurement range
    v[260] = float("nan")  # not a number
    t[300] = t[299]  # duplicated timestamp
    t[320], t[321] = t[321], t[320]  # out of order
    t[350:] = [x - 100.0 for x in t[350:]]  # the clock steps back 100 s
    flags = check_series(t, v, QualityRules(limits=(-50.0, 200.0), stuck_count=10))
    where = {f: [i for i, fl in enumerate(flags) if f in fl] for f in
             ("stuck", "gap", "out_of_range", "non_physical", "duplicate", "out_of_order",
              "clock_jump")}
    assert where["stuck"] == list(range(109, 130))
    assert where["gap"] == [200]
    assert where["out_of_range"] == [250]
    assert where["non_physical"] == [260]
    assert where["duplicate"] == [300]
    assert where["out_of_order"] == [321]
    assert where["clock_jump"] == [350]
    flagged = {i for f in where.values() for i in f}
    assert len(flagged) == 21 + 6
    assert "gap" not in EXCLUDING and {"stuck", "clock_jump"} <= EXCLUDING


def test_live_clock_jump_compares_sender_and_arrival_times():
    q = QualityChecker(QualityRules(jump_s=2.0))
    for k in range(30):
        assert q.check(1000.0 + k, float(k % 7), arrival=50.0 + k) == ()
    # the sender's clock jumps 30 s ahead while messages keep arriving each second
    assert q.check(1060.0, 3.0, arrival=80.0) == ("clock_jump",)
    assert q.check(1061.0, 4.0, arrival=81.0) == ()


def test_a_max_step_marks_impossible_jumps_non_physical():
    q = QualityChecker(QualityRules(max_step=5.0))
    assert q.check(0.0, 10.0) == ()
    assert q.check(1.0, 14.0) == ()
    assert q.check(2.0, 40.0) == ("non_physical",)


def test_flags_are_stored_with_readings_and_excluded_from_clean_series(tmp_path):
    from sim.twin.history import HistoryStore

    with HistoryStore(tmp_path / "h.db") as h:
        for k in range(10):
            h.record("value", "s", float(k), float(k))
        h.record("flag", "s", 3.0, 3.0, '["stuck"]')
        h.record("flag", "s", 5.0, 5.0, '["gap"]')
    with HistoryStore.open(tmp_path / "h.db") as r:
        assert r.flags("s") == [(3.0, "s", 3.0, ["stuck"]), (5.0, "s", 5.0, ["gap"])]
        t, v, ignored = r.clean_series("s")
        assert ignored == 1 and 3.0 not in t and 5.0 in t and len(t) == 9
