"""Rehearsal mode: scenarios authored from a plan, scored trainee attempts, replay and reports.

A :class:`~sim.rehearsal.scenario.Scenario` (stored in ``case.sections["rehearsal"]`` or a
standalone JSON file) lists ordered steps with instructions, the objects and instruments in
play and success criteria, plus critical structures with damage thresholds. An attempt runs
the case's interactive simulation (:class:`~sim.rehearsal.session.RehearsalSession`), records
every input and measures metrics; scores are a pure function of the metrics and the scenario,
and the metrics are recomputed deterministically by replaying the recorded inputs.
"""
