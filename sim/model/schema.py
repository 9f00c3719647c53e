"""The case manifest's schema (pydantic), version :data:`SCHEMA_VERSION`.

``manifest.json`` names the case, lists its objects (each stored in a standard
file: VTP, VTU, VTI …), its markups, and the SHA-256 and size of every stored file.
Older manifests are brought up to date by :mod:`sim.model.migrations` first.
Version 3 gives every object a typed ``transform`` and ``display`` (version 2 kept them as
loose ``metadata`` keys); version 4 a typed ``label_table``, ``trajectory``, ``tracking``,
``texture``, ``live_source`` and ``segmentation_of`` (version 3 kept them as ``metadata`` keys
``labels``, ``trajectory``, ``tracked_device``/``pose``, ``texture``, ``live`` and
``segmentation_of``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.markups.model import MarkupType
from sim.model.display import Display
from sim.model.object_fields import MAX_UID, LabelTable, LiveSource, Tracking, Trajectory
from sim.model.scene import ObjectKind

FORMAT = "twinsight-case"
SCHEMA_VERSION = 4
MANIFEST = "manifest.json"
ARRAY_KEY = "$ndarray"  # metadata arrays are stored as .npy files, referenced like this

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def check_member_name(name: str) -> str:
    """A stored file's name: relative, no '..', plain characters (no path tricks)."""
    if not _SAFE_NAME.match(name) or any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError(f"'{name}' is not a safe file name inside a case")
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Strict):
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=0)]


class ObjectEntry(_Strict):
    uid: Annotated[str, Field(min_length=1, max_length=200)]
    name: str
    kind: ObjectKind
    file: str
    color: tuple[Unit, Unit, Unit] = (0.8, 0.8, 0.8)
    opacity: Unit = 1.0
    visible: bool = True
    # Rigid 4x4 placing the data in the world (absent: identity); checked rigid on opening.
    transform: Annotated[list[Annotated[list[Finite], Field(min_length=4, max_length=4)]],
                         Field(min_length=4, max_length=4)] | None = None
    display: Display = Field(default_factory=Display)
    label_table: LabelTable = Field(default_factory=LabelTable)
    trajectory: Trajectory | None = None
    tracking: Tracking | None = None
    texture: str | None = None  # the stored .npy image (rows, cols, 3 uint8)
    live_source: LiveSource | None = None
    segmentation_of: Annotated[str, Field(min_length=1, max_length=MAX_UID)] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)  # free-form provenance

    @field_validator("file")
    @classmethod
    def _safe_file(cls, value: str) -> str:
        return check_member_name(value)

    @field_validator("texture")
    @classmethod
    def _safe_texture(cls, value: str | None) -> str | None:
        return None if value is None else check_member_name(value)


class MarkupEntry(_Strict):
    uid: Annotated[str, Field(min_length=1, max_length=200)]
    name: str
    type: MarkupType
    points: list[Vec3] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    color: tuple[Unit, Unit, Unit] = (1.0, 0.5, 0.5)
    visible: bool = True
    locked: bool = False
    size: Vec3 = (50.0, 50.0, 50.0)
    orientation: Annotated[list[Finite], Field(min_length=9, max_length=9)] = Field(
        default_factory=lambda: [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0])
    description: str = ""


class CaseInfo(_Strict):
    uid: Annotated[str, Field(min_length=1, max_length=200)]
    name: str
    anatomical: bool = True
    description: str = ""


class Manifest(_Strict):
    format: Literal["twinsight-case"]
    schema_version: Literal[4]
    app_version: str
    created: datetime
    modified: datetime
    case: CaseInfo
    objects: list[ObjectEntry] = Field(default_factory=list)
    markups: list[MarkupEntry] = Field(default_factory=list)
    # Named JSON documents other parts keep with the case (plans, scenarios, link settings):
    # section name -> stored file.
    sections: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")], str] = Field(
        default_factory=dict)
    # The version each section's document was written with (absent: 1), for its migrations.
    section_versions: dict[str, Annotated[int, Field(ge=1, le=1_000_000)]] = Field(
        default_factory=dict)
    files: dict[str, FileEntry] = Field(default_factory=dict)
    migrated_from: int | None = None  # set when read through a migration (files not hashed)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        hashed = self.migrated_from is None or self.migrated_from >= 2  # v1 had no checksums
        for name in self.files:
            check_member_name(name)
        for kind, items in (("object", self.objects), ("markup", self.markups)):
            uids = [x.uid for x in items]
            if len(set(uids)) != len(uids):
                raise ValueError(f"two {kind}s share one uid")
        for name in self.sections.values():
            check_member_name(name)
            if hashed and name not in self.files:
                raise ValueError(f"section file '{name}' has no checksum")
        files = [o.file for o in self.objects]
        for tex in (o.texture for o in self.objects if o.texture is not None):
            if tex not in self.files:
                raise ValueError(f"texture file '{tex}' has no checksum")
        if len(set(files)) != len(files):
            raise ValueError("two objects share one file")
        if hashed:
            missing = [f for f in files if f not in self.files]
            if missing:
                raise ValueError(f"object file '{missing[0]}' has no checksum")
        return self
