"""Tessellate a STEP/IGES file with gmsh's OpenCASCADE kernel, in a child process.

Run as ``python -m sim.io.cad_worker IN OUT.npz TOLERANCE_MM``. OpenCASCADE can
crash or hang on hostile files, so :mod:`sim.io.readers.cad` runs this in its own
process with a time limit. The surface mesh is refined (more elements per 2*pi of
curvature) until every triangle's centre lies within the chord tolerance of the
CAD surface, measured with gmsh's closest-point projection.
"""

from __future__ import annotations

import sys

import numpy as np

from sim.child_process import report, report_window

CURVATURE_STEPS = (16, 32, 64, 128, 256)


def _surface_mesh(gmsh) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per CAD surface: (node coordinates, triangle node indices into them)."""
    out = {}
    for _, tag in gmsh.model.getEntities(2):
        types, _, elem_nodes = gmsh.model.mesh.getElements(2, tag)
        tris = [np.asarray(n, dtype=np.int64).reshape(-1, 3)
                for t, n in zip(types, elem_nodes, strict=True) if t == 2]
        if not tris:
            continue
        node_tags, coords, _ = gmsh.model.mesh.getNodes(2, tag, includeBoundary=True)
        lookup = {int(t): i for i, t in enumerate(node_tags)}
        faces = np.vectorize(lookup.__getitem__)(np.concatenate(tris))
        out[tag] = (np.asarray(coords).reshape(-1, 3), faces)
    return out


def _max_deviation(gmsh, meshes) -> float:
    worst = 0.0
    for tag, (xyz, faces) in meshes.items():
        centres = xyz[faces].mean(axis=1)
        closest, _ = gmsh.model.getClosestPoint(2, tag, centres.ravel().tolist())
        d = np.linalg.norm(np.asarray(closest).reshape(-1, 3) - centres, axis=1)
        worst = max(worst, float(d.max(initial=0.0)))
    return worst


def tessellate(src: str, dst: str, tolerance: float) -> None:
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        # gmsh's log on stdout carries its "[ 40%]" lines: the parent shows them as progress.
        gmsh.option.setNumber("General.Terminal", 1)
        report(0.0, "Reading the CAD file")
        if not src.lower().endswith((".igs", ".iges")):
            # STEP states its unit; convert to mm. For IGES gmsh cannot set this before
            # OpenCASCADE's IGES reader is initialised ("Could not set OpenCASCADE target
            # unit"), and that reader converts the file's unit to millimetres by default.
            gmsh.option.setString("Geometry.OCCTargetUnit", "MM")
        else:
            # IGES usually carries loose trimmed faces: sew them into shells (and solids) so
            # shared edges get shared nodes and a closed part meshes watertight.
            gmsh.option.setNumber("Geometry.OCCSewFaces", 1)
            gmsh.option.setNumber("Geometry.OCCMakeSolids", 1)
        gmsh.model.occ.importShapes(src)
        gmsh.model.occ.synchronize()
        if not gmsh.model.getEntities(2):
            raise SystemExit("the file contains no surfaces")
        xmin, ymin, zmin, xmax, ymax, zmax = gmsh.model.getBoundingBox(-1, -1)
        diag = float(np.linalg.norm([xmax - xmin, ymax - ymin, zmax - zmin]))
        gmsh.option.setNumber("Mesh.MeshSizeMax", diag / 8)
        gmsh.option.setNumber("Mesh.MeshSizeMin", max(tolerance, diag * 1e-4))
        deviation, steps = np.inf, 0
        for round_, steps in enumerate(CURVATURE_STEPS):
            # Most parts reach the tolerance in the first round or two: give those most of the bar.
            lo, hi = 0.9 * (1 - 0.5**round_), 0.9 * (1 - 0.5**(round_ + 1))
            report_window(lo, hi, f"Tessellating ({steps} elements per turn)")
            gmsh.model.mesh.clear()
            gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", steps)
            gmsh.model.mesh.generate(2)
            meshes = _surface_mesh(gmsh)
            deviation = _max_deviation(gmsh, meshes)
            if deviation <= tolerance:
                break
        # One object per solid (or per loose surface), named from the file where it names them.
        parts: list[tuple[str, list[int]]] = []
        claimed: set[int] = set()
        for _, vol in gmsh.model.getEntities(3):
            faces = [abs(t) for _, t in gmsh.model.getBoundary([(3, vol)], oriented=False)]
            name = gmsh.model.getEntityName(3, vol) or f"solid {vol}"
            parts.append((name.split("/")[-1], faces))
            claimed.update(faces)
        loose = [t for t in meshes if t not in claimed]
        if loose:
            parts.append(("surfaces", loose))
        arrays = {"deviation": np.float64(deviation), "steps": np.int64(steps),
                  "names": np.array([p[0] for p in parts])}
        for i, (_, faces) in enumerate(parts):
            xyz = [meshes[f][0] for f in faces if f in meshes]
            tri = [meshes[f][1] for f in faces if f in meshes]
            offsets = np.cumsum([0] + [len(x) for x in xyz[:-1]])
            arrays[f"v{i}"] = np.concatenate(xyz) if xyz else np.zeros((0, 3))
            arrays[f"f{i}"] = (np.concatenate([t + o for t, o in zip(tri, offsets, strict=True)])
                               if tri else np.zeros((0, 3), dtype=np.int64))
        report(0.95, "Writing the tessellation")
        np.savez(dst, **arrays)
    finally:
        gmsh.finalize()


if __name__ == "__main__":
    tessellate(sys.argv[1], sys.argv[2], float(sys.argv[3]))
