"""Typed state of a scene object beyond its transform and display: immutable, validated values.

- ``label_table`` (:class:`LabelTable`): a label map's value -> name and colour.
- ``trajectory`` (:class:`Trajectory`): a planned device's entry and target points (LPS mm).
- ``tracking`` (:class:`Tracking`): the live tracker device that drives an object, and the
  pose (world_T_tip) its mesh was last moved to.
- ``texture``: an image drawn on the object (rows, cols, 3 uint8), e.g. a live ultrasound frame.
- ``live_source`` (:class:`LiveSource`): which live stream made the object (None: not a stream's).
- ``segmentation_of``: the uid of the scan a segment editor's label map belongs to.

Each is replaced whole on change, so ``obj.events.<field>`` fires once and the undo history
records the old and new value. Cases before schema 4 kept these as loose ``metadata`` keys;
:func:`split_typed` moves them here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim.errors import InputError
from sim.geometry import rigid

Finite = Annotated[float, Field(allow_inf_nan=False)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Vec3 = tuple[Finite, Finite, Finite]
Row4 = tuple[Finite, Finite, Finite, Finite]
MAX_TEXTURE_SIDE = 16384  # pixels; a larger "frame" is not a picture anyone sends
MAX_UID = 200  # characters, as the case manifest allows for an object's uid


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (what a case stores)."""
        return self.model_dump(mode="json")


class Label(_Frozen):
    """One value of a label map: what it is called and the colour it is drawn in."""

    name: Annotated[str, Field(max_length=1024)]
    color: tuple[Unit, Unit, Unit]


class LabelTable(_Frozen):
    """Names and colours of a label map's values (empty: unnamed labels)."""

    labels: dict[Annotated[int, Field(ge=-(2 ** 31), le=2 ** 32 - 1)], Label] = Field(
        default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def __bool__(self) -> bool:
        return bool(self.labels)

    def __contains__(self, value: object) -> bool:
        return value in self.labels

    def __getitem__(self, value: int) -> Label:
        return self.labels[value]

    def items(self) -> list[tuple[int, Label]]:
        """(value, label) in order of value."""
        return sorted(self.labels.items())

    def names(self) -> dict[int, str]:
        return {v: lab.name for v, lab in self.items()}

    def as_info(self) -> dict[int, dict[str, Any]]:
        """{value: {"name", "color"}}: the plain form label-map readers and writers exchange
        (:func:`sim.imaging.lut.label_info`)."""
        return {v: {"name": lab.name, "color": list(lab.color)} for v, lab in self.items()}


class Trajectory(_Frozen):
    """A planned straight path: where a device enters and where its tip should end (LPS mm)."""

    entry: Vec3
    target: Vec3

    @field_validator("target")
    @classmethod
    def _apart(cls, target: Vec3, info: Any) -> Vec3:
        entry = info.data.get("entry")
        if entry is not None and np.linalg.norm(np.subtract(target, entry)) < 1e-6:
            raise ValueError("entry and target are the same point")
        return target


class Tracking(_Frozen):
    """A live tracker device driving an object, and where it last put it."""

    device: Annotated[str, Field(min_length=1, max_length=200)]
    pose: tuple[Row4, Row4, Row4, Row4] | None = None  # world_T_tip, rigid; None: never moved

    @field_validator("pose", mode="before")
    @classmethod
    def _rigid(cls, pose: Any) -> Any:
        if pose is None:
            return None
        try:
            return rigid.to_list(rigid.check_rigid(pose))
        except InputError as exc:
            raise ValueError(str(exc).rstrip(".")) from None

    @property
    def matrix(self) -> np.ndarray | None:
        """The pose as a 4x4 array (None if the device never moved the object)."""
        return None if self.pose is None else np.array(self.pose, dtype=float)

    def moved(self, pose: Any) -> Tracking:
        """The same binding with a new pose (checked rigid)."""
        return _validated(Tracking, {"device": self.device, "pose": pose}, "tracking")


class LiveSource(StrEnum):
    """Which live stream made an object: the stream's, not data the user brought."""

    IGTL = "igtl"  # a tracked tool of the OpenIGTLink instrument link
    IGTL_IMAGE = "igtl-image"  # an image plane (e.g. ultrasound) streamed over OpenIGTLink
    MQTT = "mqtt"  # the asset the MQTT telemetry colours with its sensors
    DEFORMABLE = "deformable-live"  # an organ (or targets) following a tracked stylus


# What an instrument link streams (tools, images): never anatomy to inspect or register to.
INSTRUMENT_SOURCES = frozenset({LiveSource.IGTL, LiveSource.IGTL_IMAGE})


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validated(cls: type[_Frozen], value: Any, what: str) -> Any:
    if isinstance(value, cls):
        return value
    try:
        return cls.model_validate(value if isinstance(value, dict) else dict(value))
    except (ValidationError, TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err.get("loc", ()))
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            why = f"{where}: {msg}" if where else msg
        else:
            why = f"{type(value).__name__} is not a mapping"
        raise InputError(f"The {what} is not valid ({why}).") from None


def as_label_table(value: Any) -> LabelTable:
    """``value`` (a LabelTable, or {value: {"name", "color"}} with int or digit-string keys)
    as a LabelTable; InputError if invalid."""
    if value is None:
        return LabelTable()
    if isinstance(value, LabelTable):
        return value
    if isinstance(value, dict) and "labels" not in value:
        value = {"labels": value}
    return _validated(LabelTable, value, "label table")


def as_trajectory(value: Any) -> Trajectory | None:
    """``value`` (a Trajectory or {"entry", "target"}) or None; InputError if invalid."""
    return None if value is None else _validated(Trajectory, value, "trajectory")


def as_tracking(value: Any) -> Tracking | None:
    """``value`` (a Tracking or {"device", "pose"}) or None; InputError if invalid."""
    return None if value is None else _validated(Tracking, value, "tracking")


def as_texture(value: Any) -> np.ndarray | None:
    """``value`` as a read-only (rows, cols, 3) uint8 image, or None; InputError if not."""
    if value is None:
        return None
    m = np.asarray(value)
    if m.dtype != np.uint8 or m.ndim != 3 or m.shape[2] != 3 or min(m.shape[:2]) < 1:
        raise InputError(f"A texture must be a (rows, columns, 3) uint8 image, not "
                         f"{m.dtype} {tuple(m.shape)}.")
    if max(m.shape[:2]) > MAX_TEXTURE_SIDE:
        raise InputError(f"A texture of {m.shape[0]} x {m.shape[1]} pixels is too large "
                         f"(at most {MAX_TEXTURE_SIDE} a side).")
    if m.flags.writeable:  # our own read-only copy: changed only by assignment (an event)
        m = m.copy()
        m.flags.writeable = False
    return m


def as_live_source(value: Any) -> LiveSource | None:
    """``value`` (a :class:`LiveSource` or its text) or None; InputError if not one."""
    if value is None or isinstance(value, LiveSource):
        return value
    if isinstance(value, str) and value in LiveSource._value2member_map_:
        return LiveSource(value)
    allowed = ", ".join(s.value for s in LiveSource)
    raise InputError(f"A live source must be one of {allowed}, not {_shown(value)}.")


def as_segmentation_of(value: Any) -> str | None:
    """``value`` (the uid of the scan a segmentation belongs to) or None; InputError if it
    is not an object uid."""
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_UID or not value.isprintable():
        raise InputError(f"A segmentation's scan (segmentation_of) must be an object uid "
                         f"(1 to {MAX_UID} printable characters), not {_shown(value)}.")
    return value


def field_json(value: Any) -> Any:
    """A checked field's value as a case stores it."""
    if isinstance(value, _Frozen):
        return value.to_json()
    return str(value) if isinstance(value, str) else value


CHECKS = {"label_table": as_label_table, "trajectory": as_trajectory,
          "tracking": as_tracking, "texture": as_texture, "live_source": as_live_source,
          "segmentation_of": as_segmentation_of}
LIVE_FIELDS = frozenset({"tracking", "texture"})  # what a live stream may set quietly
LEGACY_KEYS = frozenset({"labels", "trajectory", "tracked_device", "texture", "live",
                         "segmentation_of"})


def split_typed(metadata: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata without the old keys, {typed field: value}): how a schema-3 object's loose
    ``labels``, ``trajectory``, ``tracked_device``/``pose``, ``texture``, ``live`` and
    ``segmentation_of`` metadata map onto the typed fields (values unchecked; assigning them
    checks)."""
    rest = dict(metadata)
    typed: dict[str, Any] = {}
    if "labels" in rest:
        typed["label_table"] = rest.pop("labels")
    if "trajectory" in rest:
        typed["trajectory"] = rest.pop("trajectory")
    if "texture" in rest:
        typed["texture"] = rest.pop("texture")
    if "live" in rest:
        typed["live_source"] = rest.pop("live")
    if "segmentation_of" in rest:
        typed["segmentation_of"] = rest.pop("segmentation_of")
    if "tracked_device" in rest:  # "pose" alone is nobody's: left as it is
        typed["tracking"] = {"device": rest.pop("tracked_device"), "pose": rest.pop("pose", None)}
    return rest, typed
