"""Typed, versioned case sections: what each known section of ``case.sections`` may hold.

Every known section has one registered document type: a pydantic model, or (for a section
whose reader lives in its own domain package, such as the rehearsal scenario) that reader,
imported only when a document is checked. A section is checked when it is set
(:func:`sim.model.sections.set_section` refuses an invalid one with a clear InputError) and
when a case is opened (:func:`opened_sections`: a section that cannot be read is left out
with one warning, and the case opens with everything else).

Each section type has a ``version``; the case manifest records the version each stored
section was written with (``section_versions``), and opening runs the registered migration
steps (version N -> N+1, like :mod:`sim.model.migrations` for the manifest) before checking.
Sections nobody registered (a script's own notes) are kept as they are: any JSON.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    RootModel,
    TypeAdapter,
    ValidationError,
)

from sim.errors import InputError

log = logging.getLogger(__name__)

Finite = Annotated[float, Field(allow_inf_nan=False)]
Row4 = Annotated[list[Finite], Field(min_length=4, max_length=4)]
Matrix4 = Annotated[list[Row4], Field(min_length=4, max_length=4)]
Key = Annotated[str, Field(min_length=1, max_length=200)]


class PanelSettings(RootModel[dict[Key, JsonValue]]):
    """A panel's settings (:class:`viewer.panels.case_settings.CaseSettings`): named values."""


class LinkSettings(BaseModel):
    """The live link: tracker registration, tip calibrations, frames, and the Live panel's
    link fields (kept beside them)."""

    model_config = ConfigDict(extra="allow")

    patient_T_tracker: Matrix4 | None = None
    tool_T_tip: dict[Key, Matrix4] = Field(default_factory=dict)
    peer_frame: str | None = "lps"
    image_poses: dict[Key, str] = Field(default_factory=dict)


class AnalysisResultRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    part_uid: str
    object_uid: str
    summary: dict[Key, JsonValue] = Field(default_factory=dict)


class AnalysisDoc(BaseModel):
    """The Analysis dock: the part's setup (:class:`sim.fem.part_analysis.PartAnalysis`) and
    the result object it made."""

    model_config = ConfigDict(extra="allow")

    setup: dict[Key, JsonValue] | None = None
    result: AnalysisResultRef | None = None


class PredictDoc(BaseModel):
    """Trained models of the engineering twin (:mod:`sim.predict.case_models`)."""

    model_config = ConfigDict(extra="forbid")

    anomaly: dict[Key, JsonValue] | None = None
    rul: dict[Key, JsonValue] | None = None


Migration = Callable[[Any], Any]


@dataclass(frozen=True)
class SectionType:
    """How one section is checked, its current version, and the steps from older ones."""

    name: str
    model: Any = None  # a pydantic model or type, validated from the document's JSON form
    reader: str | None = None  # "module:attribute.path" of a parser raising on bad input
    version: int = 1
    migrations: Mapping[int, Migration] = field(default_factory=dict)  # N -> N+1

    def check(self, doc: Any) -> None:
        """Raise (ValidationError, ValueError, TypeError or InputError) if ``doc`` is invalid."""
        if self.model is not None:
            _adapter(self.model).validate_python(doc)
        if self.reader is not None:
            _resolve(self.reader)(doc)


_TYPES: dict[str, SectionType] = {}
_ADAPTERS: dict[int, TypeAdapter] = {}


def _adapter(model: Any) -> TypeAdapter:
    adapter = _ADAPTERS.get(id(model))
    if adapter is None:
        adapter = _ADAPTERS[id(model)] = TypeAdapter(model)
    return adapter


def _resolve(path: str) -> Callable[[Any], Any]:
    module, _, attr = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def register_section(name: str, model: Any = None, *, reader: str | None = None,
                     version: int = 1, migrations: Mapping[int, Migration] | None = None
                     ) -> SectionType:
    """Declare section ``name``'s document type (replacing an earlier declaration)."""
    steps = dict(migrations or {})
    missing = [v for v in range(1, version) if v not in steps]
    if missing:
        raise ValueError(f"section '{name}' version {version} has no migration from {missing[0]}")
    kind = SectionType(name, model, reader, version, steps)
    _TYPES[name] = kind
    return kind


def unregister_section(name: str) -> None:
    _TYPES.pop(name, None)


def section_type(name: str) -> SectionType | None:
    return _TYPES.get(name)


def section_version(name: str) -> int:
    """The version a section is written with now (1 for sections nobody registered)."""
    kind = _TYPES.get(name)
    return kind.version if kind is not None else 1


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ()))
        return f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", "invalid")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _json_form(doc: Any) -> Any:
    """``doc`` as it will be saved and read back (numpy numbers and tuples made plain)."""
    from sim.model.case_io import _json_default

    return json.loads(json.dumps(doc, default=_json_default, allow_nan=False))


def check_section(name: str, doc: Any) -> None:
    """InputError (one sentence) if ``doc`` is not a valid document for section ``name``."""
    kind = _TYPES.get(name)
    try:
        form = _json_form(doc)
        if kind is not None:
            kind.check(form)
    except (ValidationError, ValueError, TypeError, InputError) as exc:
        raise InputError(f"The case section '{name}' is not valid ({_why(exc)}).") from None


def migrate_section(name: str, doc: Any, version: int) -> Any:
    """``doc`` written as version ``version`` of section ``name``, brought to the current one."""
    kind = _TYPES.get(name)
    if kind is None:
        return doc
    if version > kind.version:
        raise ValueError(f"it was written by a newer Twinsight (version {version}, this one "
                         f"reads up to {kind.version})")
    while version < kind.version:
        doc = kind.migrations[version](doc)
        version += 1
    return doc


def opened_sections(sections: dict[str, Any], versions: Mapping[str, int],
                    where: str) -> dict[str, Any]:
    """The sections of a case being opened, migrated and checked; one that cannot be read
    (damaged, hostile, or from a newer version) is left out with one warning."""
    out = {}
    for name, doc in sections.items():
        try:
            doc = migrate_section(name, doc, int(versions.get(name, 1)))
            kind = _TYPES.get(name)
            if kind is not None:
                kind.check(doc)
        except (ValidationError, ValueError, TypeError, KeyError, InputError) as exc:
            log.warning("%s: its %s cannot be read (%s); the case opens without them.",
                        where, name, _why(exc))
            continue
        out[name] = doc
    return out


def _register_known() -> None:
    for name in ("simulate", "inspect", "live", "placement", "deformable_settings", "twin_view"):
        register_section(name, PanelSettings)
    register_section("link", LinkSettings)
    register_section("analysis", AnalysisDoc)
    register_section("predict", PredictDoc)
    register_section("deformable_update", dict[Key, JsonValue])
    register_section("overlays", reader="sim.model.overlays:parse_overlays")
    register_section("rehearsal", reader="sim.rehearsal.scenario:Scenario.from_dict")
    # Each attempt is read on its own (a bad one is skipped, not the lot).
    register_section("rehearsal_attempts",
                     Annotated[list[dict[Key, JsonValue]], Field(max_length=100_000)])


_register_known()

__all__ = ["AnalysisDoc", "LinkSettings", "PanelSettings", "PredictDoc", "SectionType",
           "check_section", "migrate_section", "opened_sections", "register_section",
           "section_type", "section_version", "unregister_section"]
