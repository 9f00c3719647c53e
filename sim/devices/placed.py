"""A device placed in a case: its scene object back to the catalogue description."""

from __future__ import annotations

from sim.devices.catalogue import Device
from sim.errors import InputError
from sim.model import SceneObject


def device_of_object(obj: SceneObject) -> Device:
    """The placed device a DEVICE scene object holds (its surface, in the anchor frame, and
    the description :meth:`sim.devices.catalogue.Device.metadata` stored with it)."""
    md = obj.metadata
    emb = md.get("embedded")
    try:
        return Device(family=str(md.get("device_family") or "user"),
                      name=str(md.get("device_name") or obj.name),
                      params={str(k): float(v) for k, v in (md.get("params") or {}).items()},
                      mesh=obj.data, margin_mm=float(md.get("margin_mm", 1.0)),
                      host=md.get("host"), embedded=tuple(map(float, emb)) if emb else None,
                      source=str(md.get("source", "user")),
                      insertion_axis=tuple(map(float, md.get("insertion_axis", (0.0, 0.0, 1.0)))))
    except (TypeError, ValueError) as exc:
        raise InputError(f"'{obj.name}' does not describe a device ({exc}).") from None
