"""How a scene object is drawn beyond colour and opacity: a typed, immutable value.

``obj.display`` is one :class:`Display`; a change assigns a new one
(``obj.display = obj.display.replace(scalars="von_mises")``), so ``obj.events.display``
fires once, the undo history records the old and new value, and every view (desktop,
offscreen, headset) redraws from the same settings. Cases before schema 3 kept these
settings as loose ``metadata`` keys; :func:`split_legacy` moves them here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.errors import InputError

Finite = Annotated[float, Field(allow_inf_nan=False)]


class Display(BaseModel):
    """Display settings of one object (defaults: drawn plainly in its colour)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scalars: str | None = None  # the point field colouring a surface or cloud
    cmap: str | tuple[str, ...] | None = None  # a colormap name or a list of hex colours
    clim: tuple[Finite, Finite] | None = None  # colour range of ``scalars``
    n_colors: Annotated[int, Field(ge=2, le=4096)] = 256
    warp_factor: Finite = 0.0  # displacement scale of a result mesh (0: undeformed)
    point_size: Annotated[float, Field(gt=0.0, le=100.0)] = 3.0  # point clouds, pixels
    window: tuple[Finite, Finite] | None = None  # (level, width) of a volume's grey scale

    def replace(self, **changes: Any) -> Display:
        """A copy with ``changes`` applied (validated)."""
        return as_display({**self.model_dump(), **changes})

    def to_json(self) -> dict[str, Any]:
        """The settings that differ from the defaults, JSON-ready (what a case stores)."""
        return self.model_dump(mode="json", exclude_defaults=True)


FIELDS = tuple(Display.model_fields)


def as_display(value: Any) -> Display:
    """``value`` (a Display or a mapping of its fields) as a Display; InputError if invalid."""
    if isinstance(value, Display):
        return value
    if value is None:
        return Display()
    try:
        return Display.model_validate(dict(value))
    except (ValidationError, TypeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err.get("loc", ())) or "display"
            why = f"{where}: {err.get('msg', 'invalid')}"
        else:
            why = str(exc)
        raise InputError(f"The display settings are not valid ({why}).") from None


def split_legacy(metadata: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(metadata without the old display and transform keys, display fields, transform or
    None): how a schema-2 object's loose ``metadata`` keys map onto the typed fields."""
    rest = dict(metadata)
    display = {k: rest.pop(k) for k in FIELDS if k in rest}
    rest.pop("texture_shown", None)  # a view's cache that older versions saved by mistake
    display = {k: v for k, v in display.items() if v is not None}
    return rest, display, rest.pop("transform", None)
