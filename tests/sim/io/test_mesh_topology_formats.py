"""`mesh check` gives the same topology whatever the file format (issue #23, item 6).

OBJ and PLY exporters repeat a vertex position wherever a normal or texture coordinate
changes; STL readers merge equal positions. A surface with holes and two components is
written as STL (trimesh's exporter), as OBJ and PLY whose every triangle has its own three
vertex records (the extreme case of seam splitting), and as OBJ with normals per corner;
every copy must report the counts trimesh and Open3D give after their own vertex merge.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.io import load
from sim.io.mesh_check import check_mesh

trimesh = pytest.importorskip("trimesh", reason="trimesh is not installed (pip install -e '.[test]')")
o3d = pytest.importorskip("open3d", reason="open3d is not installed")


def _reference_mesh():
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=20.0)
    keep = np.ones(len(sphere.faces), bool)
    keep[[0, 7, 30, 31]] = False  # two holes (faces 30, 31 are neighbours)
    holed = trimesh.Trimesh(sphere.vertices, sphere.faces[keep], process=False)
    box = trimesh.creation.box(extents=(10, 10, 10))
    box.apply_translation((60, 0, 0))
    return trimesh.util.concatenate([holed, box])


def _soup(mesh):
    """Every triangle with its own three vertex records (positions repeated)."""
    return mesh.vertices[mesh.faces].reshape(-1, 3), np.arange(3 * len(mesh.faces)).reshape(-1, 3)


def _write_obj(path, mesh, normals: bool):
    v, f = _soup(mesh)
    lines = [f"v {float(x)!r} {float(y)!r} {float(z)!r}" for x, y, z in v]
    if normals:
        n = np.repeat(mesh.face_normals, 3, axis=0)
        lines += [f"vn {float(x)!r} {float(y)!r} {float(z)!r}" for x, y, z in n]
        lines += [f"f {a + 1}//{a + 1} {b + 1}//{b + 1} {c + 1}//{c + 1}" for a, b, c in f]
    else:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f]
    path.write_text("\n".join(lines) + "\n")


def _write_ply(path, mesh):
    v, f = _soup(mesh)
    head = ["ply", "format ascii 1.0", f"element vertex {len(v)}", "property double x",
            "property double y", "property double z", f"element face {len(f)}",
            "property list uchar int vertex_indices", "end_header"]
    body = [f"{float(x)!r} {float(y)!r} {float(z)!r}" for x, y, z in v] + [f"3 {a} {b} {c}" for a, b, c in f]
    path.write_text("\n".join(head + body) + "\n")


def _independent(path):
    """Boundary edges, watertightness and components from trimesh and Open3D (merged)."""
    tm = trimesh.load(path, process=False, force="mesh")
    tm.merge_vertices(merge_tex=True, merge_norm=True)
    boundary = len(trimesh.grouping.group_rows(tm.edges_sorted, require_count=1))
    o3 = o3d.io.read_triangle_mesh(str(path))
    o3.remove_duplicated_vertices()
    o3_open = len(np.asarray(o3.get_non_manifold_edges(allow_boundary_edges=False)))
    o3_nonman = len(np.asarray(o3.get_non_manifold_edges(allow_boundary_edges=True)))
    assert o3_open - o3_nonman == boundary  # the two references agree
    components = len(trimesh.graph.connected_components(tm.face_adjacency,
                                                         nodes=np.arange(len(tm.faces))))
    return {"boundary_edges": boundary, "watertight": bool(tm.is_watertight),
            "components": components, "non_manifold_edges": o3_nonman}


@pytest.mark.parametrize("fmt", ["stl", "obj", "obj-normals", "ply"])
def test_topology_does_not_depend_on_format(tmp_path, fmt):
    mesh = _reference_mesh()
    path = tmp_path / f"m.{fmt.split('-')[0]}"
    if fmt == "stl":
        mesh.export(path)
    elif fmt == "ply":
        _write_ply(path, mesh)
    else:
        _write_obj(path, mesh, normals=fmt == "obj-normals")
    (obj,) = list(load(path).scene)
    r = check_mesh(obj.data)
    ref = _independent(path)
    assert ref["boundary_edges"] > 0 and ref["components"] == 2  # the reference is non-trivial
    assert r.boundary_edges == ref["boundary_edges"]
    assert r.watertight == ref["watertight"] is False
    assert r.components == ref["components"]
    assert r.non_manifold_edges == ref["non_manifold_edges"] == 0
    assert r.triangles == len(mesh.faces) and r.duplicate_faces == 0
    if fmt != "stl":
        assert r.merged_vertices == 3 * len(mesh.faces) - len(np.unique(mesh.faces))
