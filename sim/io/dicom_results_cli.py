"""``twinsight dicom export-seg|export-sr|import-seg|import-rtstruct|export-pdf``: results as
DICOM."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sim.commands._options import add_command
from sim.errors import InputError


def add_commands(group: argparse._SubParsersAction) -> None:
    q = add_command(group, "export-seg", run_export_seg,
                    help="a label map as DICOM SEG referencing its series")
    q.add_argument("labelmap", help="label map (NRRD, NIfTI, MetaImage ...) on the series' grid")
    q.add_argument("--source", required=True, help="folder of the DICOM series it was made on")
    q.add_argument("-o", "--output", required=True, help="the SEG file to write (.dcm)")
    q.add_argument("--lut", help="colour table naming the labels (else the file's own names)")
    q.add_argument("--description", default="Twinsight segmentation")

    q = add_command(group, "export-sr", run_export_sr,
                    help="the segment volumes of a SEG as a DICOM measurement report (SR, "
                         "TID 1500)")
    q.add_argument("seg", help="DICOM SEG file")
    q.add_argument("-o", "--output", required=True, help="the SR file to write (.dcm)")

    q = add_command(group, "import-seg", run_import_seg,
                    help="a DICOM SEG as a label map (and surfaces)")
    q.add_argument("seg", help="DICOM SEG file")
    q.add_argument("-o", "--output", required=True, help="label map to write (.nrrd)")
    q.add_argument("--reference", help="DICOM series folder whose grid the label map takes")
    q.add_argument("--surfaces", help="also write one surface per label into this folder")

    q = add_command(group, "import-rtstruct", run_import_rtstruct,
                    help="an RT Structure Set as a label map and surfaces")
    q.add_argument("rtstruct", help="RTSTRUCT file")
    q.add_argument("-o", "--output", required=True, help="label map to write (.nrrd)")
    q.add_argument("--reference", help="DICOM series folder the contours were drawn on "
                                       "(default: a grid made from the contours)")
    q.add_argument("--spacing", type=float, default=1.0, help="in-plane mm without a reference")
    q.add_argument("--surfaces", help="also write one surface per structure into this folder")

    q = add_command(group, "export-pdf", run_export_pdf,
                    help="a PDF report as DICOM Encapsulated PDF in the patient's study")
    q.add_argument("pdf", help="the report (plan, inspection, rehearsal ...)")
    q.add_argument("--study", required=True, help="a DICOM file or series folder of the study")
    q.add_argument("-o", "--output", required=True, help="the DICOM file to write (.dcm)")
    q.add_argument("--title", default="Twinsight report")


def _reference_grid(folder: str | None, progress: Any) -> Any:
    if not folder:
        return None
    from sim.io import load

    images = [o for o in load(folder, progress).scene if o.kind in ("volume", "labelmap")]
    if not images:
        raise InputError(f"'{folder}' holds no image series to take the grid from.")
    return images[0].data


def _write_surfaces(folder: str, image: Any, info: dict[int, dict], surfaces: dict | None,
                    progress: Any) -> list[dict]:
    from sim.imaging.surface import labelmap_to_surfaces
    from sim.io.writers import write_mesh
    from sim.model import ObjectKind, SceneObject
    from sim.model.atomic import private_dir

    if surfaces is None:
        surfaces = labelmap_to_surfaces(image, {k: v["name"] for k, v in info.items()},
                                        progress=progress)
    out = private_dir(folder)
    rows = []
    for value, surf in surfaces.items():
        name = info[value]["name"]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60]
        path = out / f"{value:03d}_{safe}.vtp"
        write_mesh([SceneObject(name, ObjectKind.SURFACE, surf, color=tuple(info[value]["color"]))],
                   path)
        rows.append({"label": value, "name": name, "color": info[value]["color"],
                     "file": str(path), "triangles": int(surf.n_cells),
                     "bounds_mm": [round(float(b), 3) for b in surf.bounds]})
    (out / "labels.json").write_text(json.dumps({str(r["label"]): r for r in rows}, indent=2))
    return rows


def _report(args: argparse.Namespace, info: dict[str, Any], lines: list[str]) -> int:
    from sim.cli import print_json

    if args.json:
        print_json(info)
    else:
        for line in lines:
            print(line)
    return 0


def run_export_seg(args: argparse.Namespace) -> int:
    import numpy as np

    from sim.cli import cli_progress
    from sim.imaging.lut import label_info, read_lut
    from sim.imaging.volume import voxel_array
    from sim.io import load
    from sim.io.dicom_seg import export_seg

    case = load(args.labelmap)
    obj = next((o for o in case.scene if o.kind in ("labelmap", "volume")), None)
    if obj is None:
        raise InputError(f"'{args.labelmap}' holds no label map.")
    names = obj.label_table.as_info()
    if args.lut:
        table = read_lut(args.lut)
        if not table:
            raise InputError(f"'{args.lut}' is not a readable colour table.")
        names = label_info(np.unique(voxel_array(obj.data)), table)
    names = {int(k): v for k, v in names.items()}
    info = export_seg(obj.data, names, args.source, args.output, args.description, cli_progress())
    return _report(args, info, [f"Wrote {args.output}: {len(info['segments'])} segment(s) "
                                f"referencing series {info['referenced_series']}"])


def run_export_sr(args: argparse.Namespace) -> int:
    from sim.io.dicom_sr import volume_report

    info = volume_report(args.seg, args.output)
    return _report(args, info, [f"Wrote {args.output}:", *(
        f"  {name}: {mm3 / 1000:.2f} ml" for name, mm3 in info["volumes_mm3"].items())])


def run_import_seg(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress
    from sim.io.dicom_seg import import_seg, write_label_nrrd

    image, labels = import_seg(args.seg, _reference_grid(args.reference, cli_progress()),
                               cli_progress())
    write_label_nrrd(image, labels, args.output)
    info: dict[str, Any] = {"output": args.output, "labels": labels,
                            "dimensions": list(image.dimensions)}
    if args.surfaces:
        info["surfaces"] = _write_surfaces(args.surfaces, image, labels, None, cli_progress())
    return _report(args, info, [f"Wrote {args.output}: {len(labels)} label(s): "
                                + ", ".join(v["name"] for v in labels.values())])


def run_import_rtstruct(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress
    from sim.io.dicom_rtstruct import read_rtstruct, to_surfaces
    from sim.io.dicom_seg import write_label_nrrd

    if not 0.05 <= args.spacing <= 50:
        raise InputError(f"--spacing must be 0.05 to 50 mm, not {args.spacing}.")
    structures = read_rtstruct(args.rtstruct)
    image, labels, surfaces = to_surfaces(structures, _reference_grid(args.reference,
                                                                      cli_progress()),
                                          args.spacing, cli_progress())
    write_label_nrrd(image, labels, args.output)
    info: dict[str, Any] = {"output": args.output, "labels": labels, "notes": structures.notes,
                            "points": {r.name: [p.tolist() for p in r.points]
                                       for r in structures.rois.values() if r.points}}
    if args.surfaces:
        info["surfaces"] = _write_surfaces(args.surfaces, image, labels, surfaces, cli_progress())
    return _report(args, info, [f"Wrote {args.output}: {len(labels)} structure(s): "
                                + ", ".join(v["name"] for v in labels.values()),
                                *(f"note: {n}" for n in structures.notes)])


def run_export_pdf(args: argparse.Namespace) -> int:
    from sim.io.dicom_pdf import encapsulate_pdf

    info = encapsulate_pdf(args.pdf, args.study, args.output, args.title)
    return _report(args, info, [f"Wrote {args.output} ({info['bytes']} bytes of PDF) into "
                                f"study {info['study_uid']}"])
