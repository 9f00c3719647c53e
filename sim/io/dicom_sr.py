"""A measurement report (DICOM SR, TID 1500, highdicom) of the segment volumes of a SEG.

Volumes are counted from the SEG itself (its frames and pixel measures: voxel count times
pixel spacing times the spacing between slices), one volumetric measurement group per
segment referencing the SEG segment, so a PACS or viewer shows "liver: 1523.4 ml" next to
the segmentation. The SEG is the report's evidence, so both belong in the same study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim import __version__
from sim.errors import FileFormatError


def segment_volumes(seg: Any) -> dict[int, float]:
    """Segment number -> volume in mm^3, counted from a BINARY or FRACTIONAL SEG dataset."""
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    rows, cols = (float(v) for v in measures.PixelSpacing)
    step = measures.get("SpacingBetweenSlices") or measures.get("SliceThickness")
    if step is None:
        raise ValueError("no slice spacing in the SEG's pixel measures")
    voxel = rows * cols * float(step)
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), int(seg.Rows), int(seg.Columns))
    counts: dict[int, float] = {}
    fractional = str(seg.SegmentationType) == "FRACTIONAL"
    scale = float(seg.get("MaximumFractionalValue", 1) or 1)
    for i, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        n = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        frame = frames[i].astype(float) / scale if fractional else frames[i] > 0
        counts[n] = counts.get(n, 0.0) + float(np.sum(frame))
    return {int(s.SegmentNumber): counts.get(int(s.SegmentNumber), 0.0) * voxel
            for s in seg.SegmentSequence}


def volume_report(seg_path: str | Path, out: str | Path) -> dict[str, Any]:
    """Write the segment volumes of the SEG at ``seg_path`` as a Comprehensive 3D SR."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    from sim.model.atomic import write_file_atomic

    seg_path = Path(seg_path)
    try:
        seg = pydicom.dcmread(seg_path)
        volumes = segment_volumes(seg)
        source_series = str(seg.ReferencedSeriesSequence[0].SeriesInstanceUID)
    except Exception as exc:  # anything that is not a readable SEG
        raise FileFormatError(seg_path, f"it is not a DICOM SEG with segment frames ({exc})") \
            from None
    groups = []
    for s in seg.SegmentSequence:
        n = int(s.SegmentNumber)
        ref = hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
            segment_number=n, source_series=hd.sr.SourceSeriesForSegmentation(source_series))
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=hd.UID(), identifier=str(s.get("TrackingID") or s.SegmentLabel)),
            referenced_segment=ref,
            finding_type=hd.sr.CodedConcept.from_dataset(s.SegmentedPropertyTypeCodeSequence[0]),
            measurements=[hd.sr.Measurement(name=codes.SCT.Volume,
                                            value=round(volumes[n], 3),
                                            unit=codes.UCUM.CubicMillimeter)]))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="Twinsight", model_name=f"Twinsight {__version__}"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[seg], content=report, series_instance_uid=hd.UID(), series_number=902,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Twinsight",
        is_complete=True, is_final=False, series_description="Segment volumes")
    out = Path(out)
    write_file_atomic(out, lambda fh: sr.save_as(fh, enforce_file_format=True))
    return {"output": str(out), "volumes_mm3": {str(s.SegmentLabel): round(volumes[int(
        s.SegmentNumber)], 3) for s in seg.SegmentSequence}}


def read_volumes(path: str | Path) -> dict[str, float]:
    """Tracking identifier -> volume (mm^3) from a measurement report written above."""
    import pydicom

    ds = pydicom.dcmread(path)
    out: dict[str, float] = {}

    def walk(items: Any, tracking: str) -> None:
        for item in items:
            name = item.get("ConceptNameCodeSequence")
            meaning = str(name[0].CodeMeaning) if name else ""
            if meaning == "Tracking Identifier" and "TextValue" in item:
                tracking = str(item.TextValue)
            if item.get("ValueType") == "NUM" and meaning == "Volume":
                out[tracking] = float(item.MeasuredValueSequence[0].NumericValue)
            if "ContentSequence" in item:
                walk(item.ContentSequence, tracking)

    for group in ds.ContentSequence:
        walk([group], "")
    return out
