"""Case sections are typed, versioned documents: checked when set and when opened, migrated
from the version they were written with."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from pydantic import BaseModel

from sim.errors import InputError
from sim.model import Case
from sim.model import section_docs as sd
from sim.model.case_io import load_case, save_case
from sim.model.sections import set_section


def test_set_section_refuses_an_invalid_document_and_records_nothing():
    case = Case()
    assert set_section(case, "link", {"patient_T_tracker": np.eye(4), "peer_frame": "ras"})
    steps = len(case.history)
    with pytest.raises(InputError, match="section 'link' is not valid .*patient_T_tracker"):
        set_section(case, "link", {"patient_T_tracker": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]})
    with pytest.raises(InputError, match="section 'predict'"):
        set_section(case, "predict", {"anomaly": {}, "weather": 3})  # not a model kind
    with pytest.raises(InputError, match="section 'overlays'"):
        set_section(case, "overlays", {"a": {"kind": "plane", "id": "a"}})  # no origin
    assert len(case.history) == steps and "predict" not in case.sections
    assert case.sections["link"]["peer_frame"] == "ras"
    # Sections nobody registered hold any JSON; numpy values are fine (saved as plain JSON).
    assert set_section(case, "notes", {"seen": np.float32(2.5), "ids": (1, 2)})


def _case_with(sections: dict) -> Case:
    case = Case(name="docs")
    case.sections.update(sections)  # as a damaged or older file would hold them
    return case


def test_a_bad_section_is_dropped_with_one_warning_and_the_rest_opens(tmp_path, caplog):
    path = save_case(_case_with({
        "link": {"tool_T_tip": {"needle": "not a matrix"}},
        "simulate": {"mode": "fast", "steps": 3},
        "plans": {"free": ["form"]},
    }), tmp_path / "c.twin")
    with caplog.at_level(logging.WARNING):
        case = load_case(path)
    assert sorted(case.sections) == ["plans", "simulate"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "its link cannot be read" in warnings[0]


class _NoteV2(BaseModel):
    title: str
    tags: list[str]


def test_sections_record_their_version_and_migrate_on_open(tmp_path, caplog):
    sd.register_section("note", dict[str, str])  # version 1: flat strings
    try:
        path = save_case(_case_with({"note": {"title": "Plan", "tags": "a,b"}}),
                         tmp_path / "c.case", folder=True)
        manifest = json.loads((tmp_path / "c.case" / "manifest.json").read_text())
        assert manifest["section_versions"]["note"] == 1
        # Version 2 keeps tags as a list; its migration step splits the old string.
        sd.register_section("note", _NoteV2, version=2, migrations={
            1: lambda doc: {**doc, "tags": doc["tags"].split(",")}})
        case = load_case(path)
        assert case.sections["note"] == {"title": "Plan", "tags": ["a", "b"]}
        save_case(case, path)
        manifest = json.loads((path / "manifest.json").read_text())
        assert manifest["section_versions"]["note"] == 2
        # A Twinsight that only knows version 1 leaves a version-2 section out, and says so.
        sd.register_section("note", dict[str, str])
        with caplog.at_level(logging.WARNING):
            assert "note" not in load_case(path).sections
        assert any("newer Twinsight" in r.getMessage() for r in caplog.records)
    finally:
        sd.unregister_section("note")


def test_a_version_without_its_migrations_is_refused():
    with pytest.raises(ValueError, match="no migration from 1"):
        sd.register_section("note", _NoteV2, version=2)
    assert sd.section_type("note") is None
