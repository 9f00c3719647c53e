"""An extra pydicom decoder for JPEG baseline/extended (8- and 12-bit) pixel data.

pydicom's own plugins (pylibjpeg-libjpeg, GDCM, Pillow) cannot decode some 12-bit
JPEG Extended (1.2.840.10008.1.2.4.51) files that scanners write: GDCM and Pillow refuse
12-bit precision, and libjpeg rejects streams whose scan header is slightly off (e.g.
spectral end 0 instead of 63). imagecodecs' libjpeg-turbo (8/12-bit) decodes them, so it
is added as the *last* plugin: a file the standard plugins read is decoded by them as before.
"""

from __future__ import annotations

import contextlib

from pydicom import uid

DECODER_DEPENDENCIES = {
    uid.JPEGBaseline8Bit: ("imagecodecs>=2024.1",),
    uid.JPEGExtended12Bit: ("imagecodecs>=2024.1",),
}
LABEL = "imagecodecs"


def is_available(syntax: str) -> bool:
    if syntax not in DECODER_DEPENDENCIES:
        return False
    try:
        import imagecodecs
    except ImportError:
        return False
    return bool(imagecodecs.JPEG8.available)


def _decode_frame(src: bytes, runner) -> bytes:
    """One frame as native-endian bytes in the layout pydicom expects for ``runner``."""
    import imagecodecs
    import numpy as np

    if runner.samples_per_pixel != 1:
        # colour JPEG: pydicom moves on to its standard plugins (they handle YBR conventions)
        raise ValueError("the imagecodecs plugin only decodes greyscale JPEG")
    frame = np.asarray(imagecodecs.jpeg8_decode(src))
    if frame.ndim != 2:
        raise ValueError(f"decoded JPEG frame has shape {frame.shape}, not rows x columns")
    dtype = np.uint8 if runner.bits_allocated == 8 else np.uint16
    return frame.astype(dtype, copy=False).tobytes()


def register() -> None:
    """Add the plugin to pydicom's JPEG decoders once (idempotent)."""
    from pydicom.pixels import get_decoder

    for syntax in DECODER_DEPENDENCIES:
        with contextlib.suppress(ValueError):  # already registered
            get_decoder(syntax).add_plugin(LABEL, (__name__, "_decode_frame"))
