"""Twin state per property: what the asset reports, what the user wants, and the handshake.

Setting a desired value publishes a command ``{"id": N, "property": p, "value": v}``
on ``<base>/cmd/<property>``; the asset answers on ``<base>/ack`` with
``{"id": N, "ok": true|false, "value": applied, "reason": "..."}`` and keeps
reporting on ``<base>/reported/<property>``. A command without an answer within
``ack_timeout`` seconds is marked timed out.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from psygnal import Signal

from sim.errors import InputError
from sim.twin.errors import PayloadError

Publish = Callable[[str, bytes], None]


@dataclass
class TwinProperty:
    name: str
    unit: str = ""
    reported: float | None = None
    reported_t: float | None = None
    desired: float | None = None
    command_id: int | None = None
    ack: str = "none"  # none, pending, acknowledged, rejected, timed out
    ack_reason: str = ""
    sent_t: float | None = None
    minimum: float = -math.inf
    maximum: float = math.inf

    @property
    def in_sync(self) -> bool:
        return (self.desired is None or self.reported is not None
                and math.isclose(self.reported, self.desired, rel_tol=1e-6, abs_tol=1e-9))


class TwinState:
    changed = Signal(object, str)  # property, what: desired / ack / reported

    def __init__(self, base_topic: str, publish: Publish | None = None,
                 ack_timeout: float = 5.0) -> None:
        self.base = base_topic.rstrip("/")
        self.publish = publish
        self.ack_timeout = ack_timeout
        self.properties: dict[str, TwinProperty] = {}
        self._ids = itertools.count(int(time.time() * 1000) % 1_000_000_000)
        self._pending: dict[int, TwinProperty] = {}

    def add(self, prop: TwinProperty) -> TwinProperty:
        self.properties[prop.name] = prop
        return prop

    @property
    def topics(self) -> list[str]:
        return [f"{self.base}/ack", f"{self.base}/reported/+"]

    def command_topic(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    def set_desired(self, name: str, value: float) -> int:
        prop = self.properties.get(name)
        if prop is None:
            raise InputError(f"The twin has no property '{name}'.")
        v = float(value)
        if not math.isfinite(v) or not prop.minimum <= v <= prop.maximum:
            raise InputError(f"{name} must be between {prop.minimum:g} and {prop.maximum:g} "
                             f"{prop.unit}.")
        cid = next(self._ids)
        prop.desired, prop.command_id, prop.ack, prop.ack_reason = v, cid, "pending", ""
        prop.sent_t = time.time()
        self._pending[cid] = prop
        if self.publish is not None:
            body = json.dumps({"id": cid, "property": name, "value": v, "t": prop.sent_t})
            self.publish(self.command_topic(name), body.encode())
        self.changed.emit(prop, "desired")
        return cid

    def handle(self, topic: str, payload: bytes, now: float | None = None) -> TwinProperty | None:
        """Apply an ack or a reported value; PayloadError if it cannot be read."""
        now = time.time() if now is None else now
        try:
            doc = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise PayloadError(f"Twin message on '{topic}' is not JSON.") from None
        if topic == f"{self.base}/ack":
            if not isinstance(doc, dict) or not isinstance(doc.get("id"), int):
                raise PayloadError("An acknowledgement must carry the command 'id'.")
            prop = self._pending.pop(doc["id"], None)
            if prop is None or prop.command_id != doc["id"]:
                return None  # late or foreign ack: ignore, it is in the history anyway
            prop.ack = "acknowledged" if doc.get("ok", False) is True else "rejected"
            prop.ack_reason = str(doc.get("reason", ""))[:200]
            self.changed.emit(prop, "ack")
            return prop
        prefix = f"{self.base}/reported/"
        if topic.startswith(prefix):
            prop = self.properties.get(topic[len(prefix):])
            if prop is None:
                return None
            value = doc.get("value") if isinstance(doc, dict) else doc
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise PayloadError(f"Reported {prop.name} is not a finite number.")
            prop.reported, prop.reported_t = float(value), now
            self.changed.emit(prop, "reported")
            return prop
        return None

    def check_timeouts(self, now: float | None = None) -> list[TwinProperty]:
        now = time.time() if now is None else now
        late = [(cid, p) for cid, p in self._pending.items()
                if p.sent_t is not None and now - p.sent_t > self.ack_timeout]
        for cid, prop in late:
            del self._pending[cid]
            prop.ack = "timed out"
            self.changed.emit(prop, "ack")
        return [p for _, p in late]
