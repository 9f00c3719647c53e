"""Colour DICOM images to 8-bit RGB: palette colour through its lookup tables (as pydicom's
``apply_color_lut``), YBR through pydicom's colour conversion (its ``pixel_array`` returns
RGB for YBR_FULL, YBR_FULL_422 and the JPEG 2000 YBR_ICT/YBR_RCT), RGB as stored. Other
encodings are refused in plain words. Colour images are pictures (ultrasound stills,
photographs, screenshots), so they are kept as 8-bit RGB for display: samples of more bits
are scaled to 0..255 (rounded)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import FileFormatError

if TYPE_CHECKING:
    from pydicom import Dataset

RGB_LIKE = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT")


def photometric_of(ds: Dataset) -> str:
    return str(ds.get("PhotometricInterpretation", "") or "").upper().strip()


LUT_WORDS = [f"{c}PaletteColorLookupTable{part}" for c in ("Red", "Green", "Blue", "Alpha")
             for part in ("Descriptor", "Data")]


def _little_endian_luts(ds):
    """``ds``, or for a big-endian file a small dataset with its 16-bit palette data in
    little-endian order: pydicom 3.0's ``apply_color_lut`` reads unsegmented 16-bit palette
    data as machine (little) endian whatever the file's byte order, which turns a big-endian
    file's palette to near black."""
    from pydicom.dataset import Dataset

    little = getattr(ds, "original_encoding", (None, True))[1]
    data = ds.get("RedPaletteColorLookupTableData")
    entries = (list(ds.get("RedPaletteColorLookupTableDescriptor") or [0])[0] or 65536)
    if little is not False or data is None or len(data) != 2 * entries:
        return ds
    out = Dataset()
    for word in LUT_WORDS:
        if word in ds:
            value = ds[word].value
            if word.endswith("Data"):
                value = np.frombuffer(value, dtype=">u2").astype("<u2").tobytes()
            setattr(out, word, value)
    return out


def to_8bit(rgb: np.ndarray, bits: int) -> np.ndarray:
    """Colour samples of ``bits`` bits scaled to uint8 (identity for 8-bit samples)."""
    if rgb.dtype == np.uint8 or bits <= 8:
        return rgb.astype(np.uint8, copy=False)
    top = float(2 ** min(int(bits), 32) - 1)
    return np.clip(np.round(rgb.astype(np.float64) * (255.0 / top)), 0, 255).astype(np.uint8)


def colour_plane(plane: np.ndarray, ds: Dataset, path: str | Path) -> np.ndarray | None:
    """``plane`` (one decoded frame) as [rows, columns, 3] uint8 RGB, or None when the
    image is greyscale."""
    photometric = photometric_of(ds)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        if samples != 1 or plane.ndim != 2:
            raise FileFormatError(path, "it is a palette-colour image without one palette "
                                        "index per pixel")
        try:
            rgb = apply_color_lut(plane, _little_endian_luts(ds))
            bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        except Exception as exc:  # noqa: BLE001 - missing or malformed palette tables
            raise FileFormatError(path, f"its colour palette cannot be applied ({exc})") from None
        return to_8bit(rgb, bits)
    if samples == 1:
        return None
    if samples != 3 or photometric not in RGB_LIKE:
        raise FileFormatError(path, f"its colour encoding {photometric or '(none)'} with "
                                    f"{samples} samples per pixel is not supported (RGB, "
                                    "YBR_FULL, YBR_FULL_422, YBR_ICT, YBR_RCT and PALETTE "
                                    "COLOR are)")
    if plane.ndim != 3 or plane.shape[-1] != 3:
        raise FileFormatError(path, f"its colour frame has shape {plane.shape}, not rows x "
                                    "columns x 3")
    return to_8bit(plane, int(ds.get("BitsStored", 0) or ds.get("BitsAllocated", 8) or 8))
