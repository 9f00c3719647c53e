"""The background job manager (sim.jobs), without any GUI."""

from __future__ import annotations

import gc
import random
import threading
import time
import weakref

import pytest

from sim.errors import Cancelled, InputError
from sim.jobs import JobManager, JobState


def _wait_delivered(jobs, timeout=10.0):
    deadline = time.monotonic() + timeout
    for job in jobs:
        assert job._delivered.wait(max(deadline - time.monotonic(), 0)), f"{job} not delivered"


def test_result_error_and_callback_order():
    m = JobManager()
    seen = []
    ok = m.submit("Adding", lambda p: 1 + 1, on_done=lambda r: seen.append(("done", r)),
                  on_finished=lambda j: seen.append(("finished", j.state)))
    _wait_delivered([ok])
    assert seen == [("done", 2), ("finished", JobState.SUCCEEDED)] and ok.result == 2

    def bad(progress):
        raise InputError("The file is truncated.")

    errors = []
    job = m.submit("Reading", bad, on_done=lambda r: seen.append("never"), on_error=errors.append)
    _wait_delivered([job])
    assert job.state is JobState.FAILED and isinstance(errors[0], InputError)
    assert "never" not in seen and m.active == []


def test_cancel_stops_at_the_next_report_and_says_so():
    m = JobManager()
    started = threading.Event()
    steps = []

    def slow(progress):
        started.set()
        for i in range(10_000):
            progress(i / 10_000, f"step {i}")
            steps.append(i)
            time.sleep(0.001)
        return "all"

    errors = []
    job = m.submit("Slow work", slow, on_error=errors.append)
    started.wait(5)
    t0 = time.monotonic()
    job.cancel()
    assert job.wait(5)
    _wait_delivered([job])
    assert time.monotonic() - t0 < 1.0
    assert job.state is JobState.CANCELLED and isinstance(errors[0], Cancelled)
    assert "slow work was cancelled" in str(errors[0]) and len(steps) < 10_000


def test_a_group_runs_in_submission_order_and_other_jobs_run_alongside():
    m = JobManager()
    order = []
    gate = threading.Event()

    def first(progress):
        gate.wait(5)
        order.append("first")

    a = m.submit("A", first, group="case")
    b = m.submit("B", lambda p: order.append("second"), group="case")
    c = m.submit("C", lambda p: order.append("free"))  # no group: does not wait for A
    _wait_delivered([c])
    assert order == ["free"] and b.state is JobState.QUEUED
    gate.set()
    _wait_delivered([a, b])
    assert order == ["free", "first", "second"]


def test_progress_events_are_throttled_but_the_end_is_reported():
    m = JobManager()
    events = []
    m.progressed.connect(lambda job: events.append(job.fraction))

    def chatty(progress):
        for i in range(100_001):
            progress(i / 100_000, "")

    job = m.submit("Chatty", chatty)
    _wait_delivered([job])
    assert 1 <= len(events) < 1000 and events[-1] == 1.0


def test_a_failing_callback_does_not_leave_the_job_active():
    m = JobManager()
    job = m.submit("X", lambda p: 1, on_done=lambda r: 1 / 0)
    _wait_delivered([job])
    assert m.active == []


def test_shutdown_cancels_waits_and_delivers_nothing_more():
    m = JobManager()
    delivered = []

    def slow(progress):
        while True:
            progress(0.5, "")
            time.sleep(0.01)

    jobs = [m.submit(f"J{i}", slow, on_error=delivered.append, group="g" if i else None)
            for i in range(3)]
    time.sleep(0.1)
    assert m.shutdown(5.0)
    assert all(j.wait(0) for j in jobs[:2]) and m.active == []
    n = len(delivered)
    time.sleep(0.1)
    assert len(delivered) == n


def test_a_thousand_short_jobs_with_random_cancels_leave_nothing_behind():
    rng = random.Random(7)
    m = JobManager()
    baseline = threading.active_count()
    refs, ends = [], {"done": 0, "error": 0}
    for i in range(1000):
        steps = rng.randint(0, 5)

        def work(progress, n=steps):
            for k in range(n):
                progress(k / max(n, 1), "")
                time.sleep(0.0005)
            return n

        job = m.submit(f"job {i}", work, group=rng.choice([None, "a", "b"]),
                       on_done=lambda r: ends.__setitem__("done", ends["done"] + 1),
                       on_error=lambda e: ends.__setitem__("error", ends["error"] + 1))
        if rng.random() < 0.3:
            job.cancel()
        refs.append(weakref.ref(job))
        del job
    assert m.wait_all(60)
    deadline = time.monotonic() + 10
    while m.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert m.active == [] and ends["done"] + ends["error"] == 1000 and ends["error"] >= 200
    time.sleep(0.05)
    assert threading.active_count() <= baseline
    gc.collect()
    assert sum(r() is not None for r in refs) == 0, "finished jobs are not kept alive"


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_a_job_cancelled_before_it_starts_never_runs(fraction):
    m = JobManager()
    gate = threading.Event()
    ran = []
    m.submit("Blocker", lambda p: gate.wait(5), group="g")
    queued = m.submit("Queued", lambda p: ran.append(p(fraction, "")), group="g")
    queued.cancel()
    gate.set()
    _wait_delivered([queued])
    assert queued.state is JobState.CANCELLED and ran == []
