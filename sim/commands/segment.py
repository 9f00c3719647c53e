"""``twinsight segment IMAGE``: threshold/preset segmentation or label maps to surface models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sim.commands._options import add_command
from sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    from sim.imaging.presets import PRESETS, SMOOTHING_ITERATIONS, TARGET_TRIANGLES

    p = add_command(sub, "segment", run,
                    help="segment a CT/MR (or split a label map) into surfaces")
    p.add_argument("image", help="a volume: DICOM folder, NIfTI, NRRD, MetaImage or VTI")
    p.add_argument("-o", "--output", required=True,
                   help="surface file (.vtp .stl .obj .ply .glb); with --labels a folder, "
                        "or one .glb/.obj holding every label as a named part")
    p.add_argument("--preset", choices=sorted(PRESETS), help="threshold preset (default bone)")
    p.add_argument("--low", type=float, help="lower threshold (image units, e.g. HU)")
    p.add_argument("--high", type=float, help="upper threshold")
    p.add_argument("--seed", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="keep only the region connected to this world point (LPS mm)")
    p.add_argument("--largest", action="store_true", help="keep the largest connected part")
    p.add_argument("--open", type=float, default=0.0, metavar="MM", help="morphological opening")
    p.add_argument("--close", type=float, default=0.0, metavar="MM", help="morphological closing")
    p.add_argument("--fill-holes", action="store_true", help="fill enclosed cavities")
    p.add_argument("--smooth", type=int, default=SMOOTHING_ITERATIONS, metavar="N",
                   help="windowed-sinc smoothing iterations (0 = none)")
    p.add_argument("--triangles", type=int, default=TARGET_TRIANGLES, metavar="N",
                   help="decimate to about N triangles per surface (0 = keep all)")
    p.add_argument("--labels", action="store_true",
                   help="the image is a label map: one named, coloured surface per label")
    p.add_argument("--lut", help="colour table naming the labels (Slicer .ctbl, FreeSurfer, ITK-SNAP)")
    p.add_argument("--series", metavar="ID",
                   help="DICOM: the series, volume or time point to segment (its handle in "
                        "'twinsight dicom list', e.g. 2 or 3.4; a time series: its first time "
                        "point unless one is named)")


def _volume(path: str, progress, series: str | None = None):
    from sim.io import load

    case = load(path, progress, series=series)
    images = [o for o in case.scene if o.kind in ("volume", "labelmap")]
    if not images:
        raise InputError(f"'{path}' holds no image volume to segment.")
    return images[0]


def run(args: argparse.Namespace) -> int:
    from sim.cli import cli_progress, print_json
    from sim.progress import sub_progress

    progress = cli_progress()
    obj = _volume(args.image, sub_progress(progress, 0.0, 0.3), args.series)
    target = args.triangles or None
    if args.labels:
        info = _run_labels(args, obj, target, sub_progress(progress, 0.3, 1.0))
    else:
        info = _run_threshold(args, obj, target, sub_progress(progress, 0.3, 1.0))
    if args.json:
        print_json(info)
    elif args.labels:
        for s in info["surfaces"]:
            print(f"- {s['label']:>4} {s['name']}: {s['triangles']} triangles")
        print(f"Wrote {len(info['surfaces'])} surface(s) to {args.output}")
    else:
        st = info["stats"]
        print(f"{st['voxels']} voxels ({st['mask_volume_ml']} ml) in {st['threshold']}; "
              f"surface {st['triangles']} triangles, {st['surface_area_mm2']} mm2")
        print(f"Wrote {args.output}")
    return 0


def _run_threshold(args, obj, target, progress) -> dict:
    from sim.imaging.pipeline import Recipe, run
    from sim.io.writers import write_mesh
    from sim.model import ObjectKind, SceneObject

    preset = args.preset or (None if args.low is not None and args.high is not None else "bone")
    recipe = Recipe(preset=preset, low=args.low, high=args.high,
                    seed=tuple(args.seed) if args.seed else None, largest=args.largest,
                    open_mm=args.open, close_mm=args.close, fill_holes=args.fill_holes,
                    smoothing_iterations=args.smooth, target_triangles=target)
    result = run(obj.data, recipe, progress)
    name = preset or "segment"
    write_mesh([SceneObject(name, ObjectKind.SURFACE, result.surface, color=recipe.color())],
               Path(args.output))
    return {"image": args.image, "output": args.output, "preset": preset, "stats": result.stats}


def _run_labels(args, obj, target, progress) -> dict:
    import numpy as np

    from sim.imaging.lut import label_info, read_lut
    from sim.imaging.surface import labelmap_to_surfaces
    from sim.imaging.volume import voxel_array
    from sim.io.writers import write_mesh
    from sim.model import ObjectKind, SceneObject

    values = np.unique(voxel_array(obj.data))
    table = None
    if args.lut:
        table = read_lut(args.lut)
        if not table:
            raise InputError(f"'{args.lut}' is not a readable colour table.")
    labels = label_info(values, table) if table else (
        obj.label_table.as_info() or label_info(values))
    labels = {int(k): v for k, v in labels.items()}
    surfaces = labelmap_to_surfaces(obj.data, {k: v["name"] for k, v in labels.items()},
                                    progress=progress, smoothing_iterations=args.smooth,
                                    target_triangles=target)
    objects = [SceneObject(labels[v]["name"], ObjectKind.SURFACE, s,
                           color=tuple(labels[v]["color"]), metadata={"label": v})
               for v, s in surfaces.items()]
    out = Path(args.output)
    written = []
    if out.suffix.lower() in (".glb", ".obj"):
        write_mesh(objects, out)
        written = [str(out)] * len(objects)
    elif out.suffix:
        raise InputError("With --labels, -o must be a folder or a .glb/.obj file (they keep "
                         "each label's name and colour).")
    else:
        out.mkdir(parents=True, exist_ok=True)
        for o in objects:
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in o.name)
            path = out / f"{o.metadata['label']:03d}_{safe}.vtp"
            write_mesh([o], path)
            written.append(str(path))
        (out / "labels.json").write_text(json.dumps(
            {str(o.metadata["label"]): {"name": o.name, "color": list(o.color), "file": Path(w).name}
             for o, w in zip(objects, written, strict=True)}, indent=2))
    return {"image": args.image, "output": args.output,
            "surfaces": [{"label": o.metadata["label"], "name": o.name, "color": list(o.color),
                          "triangles": int(o.data.n_cells), "file": w}
                         for o, w in zip(objects, written, strict=True)]}
