"""Errors of the live link (a peer misbehaving, a broker unreachable)."""

from __future__ import annotations

from sim.errors import InputError, TwinsightError


class LinkError(TwinsightError):
    """A connection could not be made or kept (peer, broker, port)."""


class ProtocolError(InputError):
    """A peer sent bytes that are not a valid message; the message is rejected."""


class PayloadError(InputError):
    """A telemetry payload cannot be read as a value for its sensor."""
