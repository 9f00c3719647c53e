"""The live twin link: tracked instruments (OpenIGTLink), sensor telemetry (MQTT), history.

Nothing here imports Qt. Network code runs on background threads and reports into
evented model objects (``psygnal``); views marshal those events onto their own thread.
"""

from sim.twin.errors import LinkError, ProtocolError

__all__ = ["LinkError", "ProtocolError"]
