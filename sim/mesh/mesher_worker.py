"""Run one mesher in a child process: ``python -m sim.mesh.mesher_worker METHOD IN.npz OUT.npz SIZE``.

Meshers are native code that can crash (gmsh segfaults on some surfaces) or run away; in a
child process a crash becomes an error message and a runaway is stopped by a timeout, and the
application survives either way.
"""

from __future__ import annotations

import sys

import numpy as np


def mesh_gmsh(vertices: np.ndarray, faces: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    import gmsh

    from sim.child_process import report, report_window

    gmsh.initialize(interruptible=False)
    try:
        # gmsh's log goes to stdout, where the parent reads its "[ 40%]" lines as progress.
        gmsh.option.setNumber("General.Terminal", 1)
        report(0.0, "gmsh: classifying the surface")
        gmsh.model.add("surface")
        surf = gmsh.model.addDiscreteEntity(2)
        tags = np.arange(1, len(vertices) + 1)
        gmsh.model.mesh.addNodes(2, surf, tags.tolist(), vertices.ravel().tolist())
        gmsh.model.mesh.addElementsByType(surf, 2, [], (faces + 1).ravel().tolist())
        # Split the surface at sharp edges into patches gmsh can reparametrise and remesh.
        gmsh.model.mesh.classifySurfaces(np.radians(40.0), True, True, np.radians(180.0))
        gmsh.model.mesh.createGeometry()
        surfaces = [s[1] for s in gmsh.model.getEntities(2)]
        loop = gmsh.model.geo.addSurfaceLoop(surfaces)
        gmsh.model.geo.addVolume([loop])
        gmsh.model.geo.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", size)
        gmsh.option.setNumber("Mesh.MeshSizeMin", size / 4.0)
        gmsh.option.setNumber("Mesh.OptimizeNetgen", 1)
        report_window(0.05, 1.0, "gmsh meshing")
        gmsh.model.mesh.generate(3)
        from sim.mesh.generators import _gmsh_tets

        mesh = _gmsh_tets("surface")
        return mesh.points, mesh.cells
    finally:
        gmsh.finalize()


def mesh_tetwild(vertices: np.ndarray, faces: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    import pytetwild

    # Not quiet: the parent reads fTetWild's "pass N" lines as progress.
    points, tets = pytetwild.tetrahedralize(vertices, faces.astype(np.int32),
                                            edge_length_abs=float(size), quiet=False)
    return np.asarray(points, dtype=np.float64), np.asarray(tets, dtype=np.int64)


def generate(src: str, dst: str) -> int:
    """A parametric gmsh mesh (:func:`sim.mesh.generators.from_spec`) from a JSON spec."""
    import json

    from sim.errors import InputError
    from sim.mesh import generators

    generators._gmsh_log["terminal"] = 1
    with open(src) as fh:
        spec = json.load(fh)
    try:
        mesh = generators.from_spec(spec)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 4
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 3
    np.savez(dst, points=mesh.points, cells=mesh.cells)
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "generate":
        return generate(argv[1], argv[2])
    method, src, dst, size = argv[0], argv[1], argv[2], float(argv[3])
    data = np.load(src)
    try:
        fn = mesh_gmsh if method == "gmsh" else mesh_tetwild
        points, tets = fn(data["vertices"], data["faces"], size)
    except Exception as exc:  # reported to the parent as one line on stderr
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 3
    np.savez(dst, points=points, tets=tets)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
