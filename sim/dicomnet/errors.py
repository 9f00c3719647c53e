"""What goes wrong on a DICOM network, as one sentence a user can act on."""

from __future__ import annotations

from sim.errors import InputError, TwinsightError


class DicomNetError(TwinsightError):
    """A DICOM network operation failed (the peer refused, did not answer, or failed)."""


class AssociationRefused(DicomNetError):
    """The peer rejected our association (unknown AE title, too busy ...)."""


class PeerTimeout(DicomNetError):
    """The peer did not answer in time."""


class UnknownPeer(InputError):
    """A peer name that is not in the configuration."""
