"""glTF 2.0 (.gltf/.glb): one scene object per mesh node, with its name, colour and transform.

glTF is metres with +Y up; Twinsight is millimetres with +Z up, so each part is
scaled by 1000 and turned +90 degrees about X (the notes of the case say so).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sim.errors import FileFormatError
from sim.io.meshdata import DEFAULT_COLOR, triangles_to_polydata
from sim.io.registry import Loaded, ReadOptions, reader
from sim.model import ObjectKind, SceneObject
from sim.progress import Progress

Y_UP_TO_Z_UP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=float)
_GENERATED_NODE = re.compile(r"^\d+(_[0-9a-f]{6})?$")  # names trimesh invents for unnamed nodes


def _material_color(mesh) -> tuple[float, float, float]:
    material = getattr(getattr(mesh, "visual", None), "material", None)
    if material is None:
        return DEFAULT_COLOR
    factor = getattr(material, "baseColorFactor", None)
    rgb = np.ones(3) if factor is None else np.asarray(factor, dtype=float)[:3] / 255.0
    texture = getattr(material, "baseColorTexture", None)
    if texture is not None:  # a textured part: show the texture's mean colour
        pixels = np.asarray(texture.convert("RGB"), dtype=float).reshape(-1, 3)
        rgb = rgb * pixels.mean(axis=0) / 255.0
    elif factor is None:
        main = getattr(material, "main_color", None)
        rgb = np.asarray(main, dtype=float)[:3] / 255.0 if main is not None else np.asarray(DEFAULT_COLOR)
    return tuple(float(c) for c in np.clip(rgb, 0, 1))  # type: ignore[return-value]


@reader(".glb", ".gltf", name="glTF")
def read_gltf(path: Path, options: ReadOptions, progress: Progress) -> Loaded:
    import trimesh

    try:
        scene = trimesh.load(path, force="scene", process=False)
    except Exception as exc:  # trimesh raises many kinds; all mean "bad file" here
        raise FileFormatError(path, f"it is not a valid glTF file ({type(exc).__name__}: {exc})") from None
    scale = 1000.0  # glTF is metres by specification
    objects = []
    nodes = scene.graph.nodes_geometry
    for i, node in enumerate(nodes):
        progress(i / max(len(nodes), 1), f"Reading part {node}")
        transform, geometry_name = scene.graph[node]
        mesh = scene.geometry.get(geometry_name)
        if mesh is None or not hasattr(mesh, "faces") or len(mesh.faces) == 0:
            continue  # point clouds and empty primitives are not parts
        world = Y_UP_TO_Z_UP @ np.asarray(transform, dtype=float)
        vertices = np.asarray(mesh.vertices, dtype=float)
        vertices = vertices @ world[:3, :3].T + world[:3, 3]
        poly = triangles_to_polydata(path, vertices, np.asarray(mesh.faces), scale)
        name = geometry_name if _GENERATED_NODE.match(str(node)) else str(node)
        material = getattr(getattr(mesh.visual, "material", None), "name", None)
        objects.append(SceneObject(name, ObjectKind.PART, poly, color=_material_color(mesh),
                                   metadata={"source_format": "glTF", "node": str(node),
                                             "mesh": str(geometry_name), "material": material,
                                             "node_transform": np.asarray(transform).tolist()}))
    if not objects:
        raise FileFormatError(path, "it contains no triangle meshes")
    return Loaded(objects, notes=["glTF metres converted to mm", "glTF +Y up turned to +Z up"])
