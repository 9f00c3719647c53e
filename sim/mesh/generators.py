"""Parametric tetrahedral meshes: structured boxes (numpy) and curved shells (gmsh, P2-exact).

Used by analysis specs (``"mesh": {"generator": "box", ...}``), benchmarks and the
verification tests against analytic solutions.
"""

from __future__ import annotations

import itertools

import numpy as np

from sim.errors import InputError
from sim.mesh.tetmesh import TetMesh, signed_volumes
from sim.progress import Progress, no_progress

# Kuhn subdivision of the unit cube into 6 tetrahedra sharing the main diagonal; the same
# pattern in every cell keeps the mesh conforming.
_KUHN = []
for perm in itertools.permutations(range(3)):
    corner = np.zeros(3, dtype=int)
    path = [corner.copy()]
    for axis in perm:
        corner[axis] = 1
        path.append(corner.copy())
    _KUHN.append(path)
_KUHN_OFFSETS = np.array(_KUHN)  # (6, 4, 3) cube-corner offsets
GMSH_GENERATORS = ("tube", "sphere_shell")
_gmsh_log = {"terminal": 0}  # the mesher worker turns gmsh's log on (the parent parses it)


def box(size: tuple[float, float, float], divisions: tuple[int, int, int],
        origin: tuple[float, float, float] = (0.0, 0.0, 0.0), order: int = 1) -> TetMesh:
    """A structured mesh of a box: ``divisions`` cubes per axis, 6 tetrahedra per cube."""
    size_a = np.asarray(size, dtype=float)
    div = np.asarray(divisions, dtype=int)
    if size_a.shape != (3,) or div.shape != (3,) or (size_a <= 0).any() or (div < 1).any():
        raise InputError("A box mesh needs three positive sizes and three divisions >= 1.")
    if int(np.prod(div)) * 6 > 5_000_000:
        raise InputError(f"A {div.tolist()} box would have more than 5 million tetrahedra.")
    nx, ny, nz = div + 1
    axes = [np.linspace(origin[k], origin[k] + size_a[k], div[k] + 1) for k in range(3)]
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")
    points = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
    ci, cj, ck = np.meshgrid(*(np.arange(d) for d in div), indexing="ij")
    base = np.column_stack([ci.ravel(), cj.ravel(), ck.ravel()])  # (cells, 3)
    ijk = base[:, None, None, :] + _KUHN_OFFSETS[None]  # (cells, 6, 4, 3)
    ids = (ijk[..., 0] * ny + ijk[..., 1]) * nz + ijk[..., 2]
    cells = ids.reshape(-1, 4)
    neg = signed_volumes(points, cells) < 0
    cells[neg] = cells[neg][:, [0, 2, 1, 3]]
    return TetMesh(points, cells, "box").with_order(order)


def _gmsh_volume_mesh(build, size: float, order: int, name: str,
                      size_expr: str | None = None) -> TetMesh:
    """Run gmsh on an OpenCASCADE geometry made by ``build(occ)``; return its tetrahedra.

    ``size_expr``: a gmsh MathEval expression in x, y, z for a graded element size (mm)
    instead of the uniform ``size``."""
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", _gmsh_log["terminal"])
        gmsh.model.add(name)
        build(gmsh.model.occ)
        gmsh.model.occ.synchronize()
        if size_expr is None:
            gmsh.option.setNumber("Mesh.MeshSizeMax", size)
            gmsh.option.setNumber("Mesh.MeshSizeMin", size * 0.5)
        else:
            field = gmsh.model.mesh.field.add("MathEval")
            gmsh.model.mesh.field.setString(field, "F", size_expr)
            gmsh.model.mesh.field.setAsBackgroundMesh(field)
            for option in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints",
                           "MeshSizeFromCurvature"):
                gmsh.option.setNumber(f"Mesh.{option}", 0)
        gmsh.model.mesh.generate(3)
        if order == 2:
            gmsh.model.mesh.setOrder(2)
        return _gmsh_tets(name)
    finally:
        gmsh.finalize()


def _gmsh_tets(name: str) -> TetMesh:
    """The current gmsh model's tetrahedra as a TetMesh (gmsh's P2 node order made VTK's)."""
    import gmsh

    tags, coords, _ = gmsh.model.mesh.getNodes()
    points = coords.reshape(-1, 3)
    index = np.full(int(tags.max()) + 1, -1, dtype=np.int64)
    index[tags.astype(np.int64)] = np.arange(len(tags))
    types, _, nodes = gmsh.model.mesh.getElements(3)
    for etype, nn in ((11, 10), (4, 4)):
        if etype in list(types):
            cells = index[nodes[list(types).index(etype)].astype(np.int64)].reshape(-1, nn)
            break
    else:
        raise InputError(f"gmsh made no tetrahedra for '{name}'.")
    if cells.shape[1] == 10:
        cells = cells[:, [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]]
    used = np.unique(cells)
    remap = np.full(len(points), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return TetMesh(points[used], remap[cells], name)


def quarter_annulus(a: float, b: float, height: float, size: float, order: int = 2) -> TetMesh:
    """A quarter of a thick-walled tube (inner radius a, outer b) in x, y >= 0, 0 <= z <= height."""
    if not 0 < a < b or height <= 0 or size <= 0:
        raise InputError("A tube needs 0 < inner radius < outer radius and positive height and size.")

    def build(occ):
        outer = occ.addCylinder(0, 0, 0, 0, 0, height, b)
        inner = occ.addCylinder(0, 0, 0, 0, 0, height, a)
        ring, _ = occ.cut([(3, outer)], [(3, inner)])
        quad = occ.addBox(0, 0, 0, b, b, height)
        occ.intersect(ring, [(3, quad)])

    return _gmsh_volume_mesh(build, size, order, "tube")


def sphere_shell_octant(a: float, b: float, size: float, order: int = 2,
                        inner_size: float | None = None) -> TetMesh:
    """One octant (x, y, z >= 0) of a thick-walled sphere with inner radius a and outer radius b.

    ``inner_size`` grades the elements from that size at the inner surface to ``size`` at the
    outer one: the stresses of a pressurised shell fall off as 1/r^3, so the inside needs the
    small elements (1 % hoop stress at every surface node takes 0.6 mm there, 1.5 mm outside)."""
    if not 0 < a < b or size <= 0 or (inner_size is not None and inner_size <= 0):
        raise InputError("A sphere shell needs 0 < inner radius < outer radius and a positive size.")
    expr = None
    if inner_size is not None:
        expr = f"{inner_size}+({size}-{inner_size})*(Sqrt(x*x+y*y+z*z)-{a})/{b - a}"

    def build(occ):
        outer = occ.addSphere(0, 0, 0, b)
        inner = occ.addSphere(0, 0, 0, a)
        shell, _ = occ.cut([(3, outer)], [(3, inner)])
        octant = occ.addBox(0, 0, 0, b, b, b)
        occ.intersect(shell, [(3, octant)])

    return _gmsh_volume_mesh(build, size, order, "sphere shell", expr)


def from_spec(spec: dict) -> TetMesh:
    """A generated mesh from an analysis spec's ``mesh`` entry (``generator`` names the shape)."""
    kind = spec.get("generator")
    order = int(spec.get("order", 1))
    try:
        if kind == "box":
            return box(tuple(spec["size"]), tuple(spec["divisions"]),
                       tuple(spec.get("origin", (0, 0, 0))), order)
        if kind == "tube":
            return quarter_annulus(float(spec["inner_radius"]), float(spec["outer_radius"]),
                                   float(spec["height"]), float(spec["element_size"]), order)
        if kind == "sphere_shell":
            inner = spec.get("inner_element_size")
            return sphere_shell_octant(float(spec["inner_radius"]), float(spec["outer_radius"]),
                                       float(spec["element_size"]), order,
                                       None if inner is None else float(inner))
    except KeyError as exc:
        raise InputError(f"Mesh generator '{kind}' needs the setting {exc}.") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"Mesh generator '{kind}' has a bad setting: {exc}.") from None
    raise InputError(f"Unknown mesh generator '{kind}' (use box, tube or sphere_shell).")


def generate(spec: dict, progress: Progress = no_progress, timeout: float = 600.0) -> TetMesh:
    """:func:`from_spec`, with the gmsh shapes meshed in a child process so that a fine
    element size shows gmsh's percentage and stops within a second of Cancel."""
    import json
    import sys
    import tempfile
    from pathlib import Path

    from sim.child_process import ChildTimeout, GmshLog, python_child, run_child
    from sim.errors import TwinsightError

    kind = spec.get("generator")
    if kind not in GMSH_GENERATORS or getattr(sys, "frozen", False):
        progress(0.0, f"Generating a {kind} mesh")
        mesh = from_spec(spec)
        progress(1.0, f"Generated a {kind} mesh")
        return mesh
    with tempfile.TemporaryDirectory(prefix="twinsight-gen-") as tmp:
        src, dst = Path(tmp) / "spec.json", Path(tmp) / "out.npz"
        src.write_text(json.dumps(spec))
        try:
            run = run_child(python_child("sim.mesh.mesher_worker", "generate", str(src), str(dst)),
                            progress, f"Meshing the {kind}", timeout=timeout,
                            parse=GmshLog(0.0, 0.95, f"Meshing the {kind}"))
        except ChildTimeout:
            raise TwinsightError(f"gmsh did not finish the {kind} mesh within "
                                 f"{timeout:.0f} s.") from None
        if run.returncode == 4:  # the spec was refused: the worker's message is for the user
            raise InputError(run.stderr.strip().splitlines()[-1])
        if run.returncode != 0 or not dst.is_file():
            why = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else (
                f"it crashed (exit code {run.returncode})")
            raise TwinsightError(f"gmsh could not mesh the {kind}: {why}")
        with np.load(dst) as data:
            mesh = TetMesh(np.asarray(data["points"], dtype=np.float64),
                           np.asarray(data["cells"], dtype=np.int64),
                           "tube" if kind == "tube" else "sphere shell")
    progress(1.0, f"Meshed the {kind}")
    return mesh
