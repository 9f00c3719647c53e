"""A corpus of hostile inputs for every reader, generated from small valid files.

Each entry is a command line (``info FILE``, ``case validate CASE`` ...) and what must
happen: ``error`` (exit 2 with one sentence), ``ok`` (exit 0) or ``either`` (random
damage may leave a file readable). Kinds: truncations, random byte flips, lying headers
(counts, sizes, frame numbers, KDF cost), bombs (zip entries, XML padding), links and
FIFOs, deep nesting, connectivity out of range, hostile names. Everything is generated
with fixed seeds, so a failure reproduces.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyvista as pv


@dataclass
class Entry:
    id: str
    argv: list[str]
    expect: str = "error"  # "error" | "ok" | "either"
    timeout: int = 30
    env: dict = field(default_factory=dict)


class Corpus:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[Entry] = []
        self.rng = random.Random(21)

    def path(self, name: str | bytes) -> Path:
        return Path(os.fsdecode(os.path.join(os.fsencode(self.root), os.fsencode(name))))

    def add(self, id_: str, argv: list, expect: str = "error", timeout: int = 30) -> None:
        self.entries.append(Entry(id_, [os.fsdecode(a) if isinstance(a, bytes) else str(a)
                                        for a in argv], expect, timeout))

    def file(self, name: str, data: bytes, expect: str = "error", command=("info",)) -> Path:
        p = self.path(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        self.add(name, [*command, p], expect)
        return p

    def damaged(self, stem: str, suffix: str, data: bytes, flips: int, cuts=(0.5,),
                command=("info",)) -> None:
        """Truncations (error) and random byte flips (either) of a valid file."""
        for c in cuts:
            self.file(f"{stem}-cut{int(c * 100)}{suffix}", data[:int(len(data) * c)],
                      command=command)
        for k in range(flips):
            b = bytearray(data)
            for _ in range(self.rng.randint(1, 6)):
                i = self.rng.randrange(len(b))
                b[i] ^= 1 << self.rng.randrange(8)
            self.file(f"{stem}-flip{k}{suffix}", bytes(b), "either", command)


# -- seeds ---------------------------------------------------------------------------------------
def _sphere() -> pv.PolyData:
    return pv.Sphere(theta_resolution=10, phi_resolution=10)


def _saved(data: pv.DataSet, path: Path, binary: bool = True) -> bytes:
    data.save(path, binary=binary)
    blob = path.read_bytes()
    path.unlink()
    return blob


def _legacy(body: str, kind: str = "POLYDATA") -> bytes:
    return f"# vtk DataFile Version 3.0\nx\nASCII\nDATASET {kind}\n{body}".encode()


TRI = "POINTS 3 float\n0 0 0 1 0 0 0 1 0\n"


def vtk_files(c: Corpus) -> None:
    tmp = c.root / "_seed"
    tmp.mkdir(exist_ok=True)
    s = _sphere()
    c.damaged("sphere", ".vtk", _saved(s, tmp / "s.vtk"), flips=12)
    c.damaged("sphere-ascii", ".vtk", _saved(s, tmp / "s.vtk", binary=False), flips=3)
    c.damaged("sphere", ".vtp", _saved(s, tmp / "s.vtp"), flips=6)
    grid = pv.ImageData(dimensions=(3, 3, 3)).triangulate()
    c.damaged("tets", ".vtu", _saved(grid, tmp / "g.vtu"), flips=4)
    img = pv.ImageData(dimensions=(4, 4, 4))
    img.point_data["v"] = np.arange(64, dtype=np.float32)
    c.damaged("image", ".vti", _saved(img, tmp / "i.vti"), flips=3)
    # the issue's cases: ids out of range, negative ids, lying counts
    c.file("id-out-of-range.vtk", _legacy(TRI + "POLYGONS 1 4\n3 0 1 50000000\n"))
    c.file("id-negative.vtk", _legacy(TRI + "POLYGONS 1 4\n3 0 -1 2\n"))
    c.file("cell-size-lies.vtk", _legacy(TRI + "POLYGONS 1 4\n300 0 1 2\n"))
    c.file("lines-out-of-range.vtk", _legacy(TRI + "LINES 1 3\n2 0 9\n"))
    c.file("points-lie.vtk", _legacy("POINTS 1000000000 float\n0 0 0 1 0 0 0 1 0\n"
                                     "POLYGONS 1 4\n3 0 1 2\n"))
    c.file("polygons-lie.vtk", _legacy(TRI + "POLYGONS 1000000000 4000000000\n3 0 1 2\n"))
    c.file("nan-point.vtk", _legacy("POINTS 3 float\n0 0 0 nan 0 0 0 1 0\n"
                                    "POLYGONS 1 4\n3 0 1 2\n"))
    c.file("field-lie.vtk", _legacy(TRI + "POLYGONS 1 4\n3 0 1 2\nFIELD f 1\n"
                                    "a 3 1000000000 float\n1 2 3\n"))
    c.file("colors-lie.vtk", _legacy(TRI + "POLYGONS 1 4\n3 0 1 2\nPOINT_DATA 3\n"
                                     "COLOR_SCALARS c 100000\n1 1 1\n"))
    c.file("dims-lie.vtk", _legacy("DIMENSIONS 100000 100000 100000\nSPACING 1 1 1\n"
                                   "ORIGIN 0 0 0\n", "STRUCTURED_POINTS"))
    ug = "POINTS 4 float\n0 0 0 1 0 0 0 1 0 0 0 1\n"
    c.file("tetra-three-ids.vtk", _legacy(ug + "CELLS 1 4\n3 0 1 2\nCELL_TYPES 1\n10\n",
                                          "UNSTRUCTURED_GRID"))
    c.file("unknown-cell-type.vtk", _legacy(ug + "CELLS 1 5\n4 0 1 2 3\nCELL_TYPES 1\n200\n",
                                            "UNSTRUCTURED_GRID"))
    c.file("cell-types-short.vtk", _legacy(ug + "CELLS 2 10\n4 0 1 2 3\n4 0 1 2 3\n"
                                                "CELL_TYPES 1\n10\n", "UNSTRUCTURED_GRID"))
    c.file("tetra-out-of-range.vtk", _legacy(ug + "CELLS 1 5\n4 0 1 2 99999999\n"
                                                  "CELL_TYPES 1\n10\n", "UNSTRUCTURED_GRID"))
    # XML: connectivity out of range, offsets out of order, lying counts
    vtp = _saved(s, tmp / "a.vtp", binary=False).decode()
    c.file("vtp-id-out-of-range.vtp", _ascii_connectivity(vtp, 50_000_000).encode())
    c.file("vtp-offsets-disorder.vtp", _ascii_offsets_reversed(vtp).encode())
    c.file("vtp-points-lie.vtp", vtp.replace(f'NumberOfPoints="{s.n_points}"',
                                             'NumberOfPoints="2000000000"').encode())
    vtu = _saved(grid, tmp / "a.vtu", binary=False).decode()
    c.file("vtu-id-out-of-range.vtu", _ascii_connectivity(vtu, 7_000_000).encode())


def _ascii_array(text: str, name: str) -> tuple[int, int]:
    """(start, end) of the longest ASCII data array called ``name``."""
    spans = []
    for m in re.finditer(f'Name="{name}"', text):
        start = text.index(">", m.start()) + 1
        spans.append((start, text.index("</DataArray>", start)))
    return max(spans, key=lambda ab: len(text[ab[0]:ab[1]].split()))


def _ascii_connectivity(text: str, bad: int) -> str:
    a, b = _ascii_array(text, "connectivity")
    values = text[a:b].split()
    values[len(values) // 2] = str(bad)
    return text[:a] + " ".join(values) + text[b:]


def _ascii_offsets_reversed(text: str) -> str:
    a, b = _ascii_array(text, "offsets")
    return text[:a] + " ".join(reversed(text[a:b].split())) + text[b:]


def mesh_files(c: Corpus) -> None:
    tmp = c.root / "_seed"
    s = _sphere().triangulate()
    c.damaged("sphere", ".stl", _saved(s, tmp / "s.stl"), flips=3)
    c.file("stl-billion.stl", b"\0" * 80 + struct.pack("<I", 10**9) + b"\0" * 150)
    pts, tris = np.asarray(s.points), s.regular_faces
    obj = "".join(f"v {x} {y} {z}\n" for x, y, z in pts) + "".join(
        f"f {a + 1} {b + 1} {d + 1}\n" for a, b, d in tris)
    c.damaged("sphere", ".obj", obj.encode(), flips=2)
    c.file("obj-face-out-of-range.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 90000000\n")
    off = f"OFF\n{len(pts)} {len(tris)} 0\n" + "".join(f"{x} {y} {z}\n" for x, y, z in pts) \
        + "".join(f"3 {a} {b} {d}\n" for a, b, d in tris)
    c.damaged("sphere", ".off", off.encode(), flips=2)
    c.file("off-count-lie.off", b"OFF\n1000000000 1000000000 0\n0 0 0\n")
    c.damaged("sphere", ".ply", _saved(s, tmp / "s.ply"), flips=3)
    c.file("ply-count-lie.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex "
                                b"1000000000\nproperty float x\nproperty float y\nproperty "
                                b"float z\nend_header\n" + b"\0" * 36)
    # Gmsh: our own v2 parser and meshio's v4 (which calls sys.exit on some bad files)
    msh2 = ("$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n" + f"{len(pts)}\n"
            + "".join(f"{i + 1} {x} {y} {z}\n" for i, (x, y, z) in enumerate(pts))
            + "$EndNodes\n$Elements\n" + f"{len(tris)}\n"
            + "".join(f"{i + 1} 2 2 0 1 {a + 1} {b + 1} {d + 1}\n"
                      for i, (a, b, d) in enumerate(tris)) + "$EndElements\n")
    c.damaged("gmsh2", ".msh", msh2.encode(), flips=3)
    import meshio

    for binary in (False, True):
        m = meshio.Mesh(pts.astype(np.float64), [("triangle", tris)])
        meshio.write(tmp / "m.msh", m, file_format="gmsh", binary=binary)
        data = (tmp / "m.msh").read_bytes()
        c.damaged(f"gmsh4{'b' if binary else 'a'}", ".msh", data, flips=3, cuts=(0.3, 0.7))
    c.file("gmsh4-bad-section.msh", b"$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n"
                                    b"not numbers at all\n$EndNodes\n")
    c.file("gmsh4-bad-version.msh", b"$MeshFormat\n9.9 0 8\n$EndMeshFormat\n")
    # 3MF: damage, entity bombs, whitespace padding, indices out of range
    model = _model(pts, tris)
    c.damaged("part", ".3mf", _zip({"3D/3dmodel.model": model}), flips=3)
    c.file("3mf-entities.3mf", _zip({"3D/3dmodel.model": b'<?xml version="1.0"?>\n'
                                     b'<!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
                                     b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                                     b"<model>&b;</model>"}))
    c.file("3mf-index-out-of-range.3mf", _zip({"3D/3dmodel.model": _model(
        pts, np.vstack([tris, [[0, 1, 10**9]]]))}))
    c.file("3mf-deep.3mf", _zip({"3D/3dmodel.model": b"<a>" * 50_000 + b"</a>" * 50_000}))
    bomb = c.path("3mf-whitespace-bomb.3mf")
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            zf.open("3D/3dmodel.model", "w", force_zip64=True) as fh:
        fh.write(model[:60])
        pad = b" " * (1 << 20)
        for _ in range(120):
            fh.write(pad)
        fh.write(model[60:])
    c.add(bomb.name, ["info", bomb])
    # glTF / GLB: damage, lying chunk lengths, deep JSON
    import trimesh

    glb = trimesh.Trimesh(pts, tris).export(file_type="glb")
    c.damaged("truck", ".glb", glb, flips=3)
    c.file("glb-chunk-lie.glb", glb[:12] + struct.pack("<I", 2**31) + glb[16:])
    c.file("gltf-deep.gltf", b"[" * 100_000 + b"]" * 100_000)


def _model(pts: np.ndarray, tris: np.ndarray) -> bytes:
    core = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
    v = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in pts)
    t = "".join(f'<triangle v1="{a}" v2="{b}" v3="{d}"/>' for a, b, d in tris)
    return (f'<?xml version="1.0"?><model unit="millimeter" xmlns="{core}"><resources>'
            f'<object id="1" type="model"><mesh><vertices>{v}</vertices><triangles>{t}'
            f'</triangles></mesh></object></resources><build><item objectid="1"/></build>'
            f"</model>").encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def image_files(c: Corpus) -> None:
    data = np.arange(6 * 5 * 4, dtype=np.int16).tobytes()
    nrrd = (b"NRRD0004\ntype: short\ndimension: 3\nsizes: 6 5 4\nencoding: raw\n"
            b"space directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\n\n") + data
    c.damaged("vol", ".nrrd", nrrd, flips=2)
    c.file("nrrd-sizes-lie.nrrd", nrrd.replace(b"sizes: 6 5 4", b"sizes: 100000 100000 1000"))
    c.file("nrrd-datafile-dev-zero.nhdr", nrrd.split(b"\n\n")[0] + b"\ndata file: /dev/zero\n\n")
    mha = (b"ObjectType = Image\nNDims = 3\nDimSize = 6 5 4\nElementType = MET_SHORT\n"
           b"ElementSpacing = 1 1 1\nElementDataFile = LOCAL\n") + data
    c.damaged("vol", ".mha", mha, flips=2)
    c.file("mha-dims-lie.mha", mha.replace(b"DimSize = 6 5 4", b"DimSize = 90000 90000 9000"))
    hdr = bytearray(352)
    struct.pack_into("<i", hdr, 0, 348)
    struct.pack_into("<8h", hdr, 40, 3, 6, 5, 4, 1, 1, 1, 1)
    struct.pack_into("<hh", hdr, 70, 4, 16)
    struct.pack_into("<8f", hdr, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", hdr, 108, 352.0)
    hdr[344:348] = b"n+1\0"
    c.damaged("vol", ".nii", bytes(hdr) + data, flips=2)
    lie = bytearray(hdr)
    struct.pack_into("<8h", lie, 40, 3, 32767, 32767, 32767, 1, 1, 1, 1)
    c.file("nii-dims-lie.nii", bytes(lie) + data)


def dicom_files(c: Corpus) -> None:
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    from tests.sim.io.dicom_factory import write_series

    hu = (np.arange(3 * 16 * 16).reshape(3, 16, 16) % 300).astype(np.int16)

    def series(name: str, values: np.ndarray = hu) -> list[Path]:
        return sorted(write_series(c.path(name), values))

    files = series("dcm-ok")
    c.add("dcm-ok", ["info", files[0].parent], "ok")
    files = series("dcm-fifo")
    os.mkfifo(files[0].parent / "zz-pipe.dcm")  # a FIFO among the slices: skipped, not read
    os.mkfifo(files[0].parent / "aa-pipe")
    c.add("dcm-fifo-in-folder", ["info", files[0].parent], "ok")
    files = series("dcm-frames-lie")
    ds = pydicom.dcmread(files[0])
    ds.NumberOfFrames = 10**9
    ds.save_as(files[0])
    c.add("dcm-frames-lie", ["info", files[0].parent])
    files = series("dcm-rows-lie")
    for f in files:  # every slice claims 65535 x 65535 pixels in a few hundred bytes
        ds = pydicom.dcmread(f)
        ds.Rows = ds.Columns = 65535
        ds.save_as(f)
    c.add("dcm-rows-lie", ["info", files[1].parent])
    files = series("dcm-j2k", (np.arange(3 * 32 * 32).reshape(3, 32, 32) % 200).astype(np.int16))
    for f in files:
        ds = pydicom.dcmread(f)
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        ds.save_as(f)
    ds = pydicom.dcmread(files[1])
    raw = bytearray(ds.PixelData)
    for i in range(40, len(raw) - 10, 7):
        raw[i] ^= 0x5A
    ds.PixelData = bytes(raw)
    ds.save_as(files[1])
    c.add("dcm-j2k-corrupt", ["info", files[1].parent])
    for k in range(3):
        files = series(f"dcm-flip{k}")
        b = bytearray(files[1].read_bytes())
        for _ in range(6):
            i = c.rng.randrange(len(b))
            b[i] ^= 1 << c.rng.randrange(8)
        files[1].write_bytes(bytes(b))
        c.add(f"dcm-flip{k}", ["info", files[1].parent], "either")
    files = series("dcm-cut")
    files[2].write_bytes(files[2].read_bytes()[:600])
    c.add("dcm-cut", ["info", files[2]], "either")


def case_files(c: Corpus) -> None:
    from sim.model import Case, SceneObject
    from sim.model.case_io import save_case

    case = Case(name="fuzz")
    case.scene.add(SceneObject("ball", "surface", _sphere()))
    case.sections["note"] = {"a": [1, 2, 3]}
    twin = c.path("_seed/c.twin")
    save_case(case, twin)
    data = twin.read_bytes()
    c.damaged("case", ".twin", data, flips=8, cuts=(0.2, 0.9))
    members = _members(twin)
    # the issue's case: connectivity out of range with correct checksums
    vtp_name = next(n for n in members if n.endswith(".vtp"))
    bad = _bad_vtp(c.root / "_seed")
    c.file("case-bad-ids.twin", _rezip(members, {vtp_name: bad}))
    c.add("case-bad-ids.twin validate", ["case", "validate", c.path("case-bad-ids.twin")])
    # zip bombs: a deflated entry inflating 1000x, a header lying 230x, one over the cap
    bomb = _rezip(members, {}, extra=("sections/pad.json", b"0" * (64 << 20)))
    c.file("case-deflate-bomb.twin", bomb)
    c.file("case-size-lie-230.twin", _lie_size(_rezip(members, {}, extra=(
        "sections/pad.json", os.urandom(1 << 20))), "sections/pad.json", 230 << 20))
    c.file("case-size-over-cap.twin", _lie_size(_rezip(members, {}, extra=(
        "sections/pad.json", os.urandom(12 << 20)), stored=True), "sections/pad.json",
        (3 << 29), method=8))
    c.add("case-size-over-cap.twin validate", ["case", "validate",
                                               c.path("case-size-over-cap.twin")])
    # a damaged deflate stream in the manifest
    c.file("case-bad-deflate.twin", _damage_member(_rezip(members, {}), "manifest.json"))
    # deep JSON: manifest and section (checksums right)
    c.file("case-deep-manifest.twin", _rezip(members, {"manifest.json": b"[" * 100_000
                                                      + b"]" * 100_000}))
    c.file("case-deep-section.twin", _rezip(members, {"sections/note.json": b"[" * 5000
                                                      + b"]" * 5000}))
    c.add("case-deep-section.twin validate", ["case", "validate",
                                              c.path("case-deep-section.twin")])
    # encrypted headers: maximum scrypt cost, deep JSON
    from sim.model import crypto

    for name, header in (("max-cost", {"kdf": "scrypt", "n": 1 << 20, "r": 16, "p": 4,
                                       "salt": "AAAAAAAAAAAAAAAAAAAAAA==",
                                       "cipher": "AES-256-GCM", "chunk": 1 << 20,
                                       "nonce_prefix": "AAAAAAAAAA==", "check": "00"}),
                         ("deep", None)):
        raw = json.dumps(header).encode() if header else b"[" * 2000 + b"]" * 2000
        blob = crypto.MAGIC + struct.pack(">I", len(raw)) + raw + b"\0" * 64
        c.file(f"enc-{name}.twin", blob)
        c.entries[-1].env = {"TWINSIGHT_PASSWORD": "secret"}
    # folders: linked objects/ and sections/, a FIFO for a data file, bad ids
    folder = c.path("case-dir")
    save_case(case, folder, folder=True)
    outside = c.path("_outside")
    outside.mkdir()
    for sub in ("objects", "sections"):
        linked = c.path(f"case-linked-{sub}")
        save_case(case, linked, folder=True)
        (linked / sub).rename(outside / sub)
        os.symlink(outside / sub, linked / sub)
        c.add(f"case-linked-{sub}", ["info", linked])
        c.add(f"case-linked-{sub} validate", ["case", "validate", linked])
    fifo = c.path("case-fifo")
    save_case(case, fifo, folder=True)
    target = next((fifo / "objects").iterdir())
    target.unlink()
    os.mkfifo(target)
    c.add("case-fifo", ["info", fifo])
    c.add("case-fifo validate", ["case", "validate", fifo])
    bad = c.path("case-dir-bad-ids")
    save_case(case, bad, folder=True)
    vtp = next((bad / "objects").glob("*.vtp"))
    blob = _bad_vtp(c.root / "_seed")
    manifest = json.loads((bad / "manifest.json").read_text())
    rel = vtp.relative_to(bad).as_posix()
    manifest["files"][rel] = {"sha256": _sha(blob), "size": len(blob)}
    vtp.write_bytes(blob)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    c.add("case-dir-bad-ids", ["info", bad])
    c.add("case-dir-bad-ids validate", ["case", "validate", bad])


def _sha(blob: bytes) -> str:
    import hashlib

    return hashlib.sha256(blob).hexdigest()


def _bad_vtp(tmp: Path) -> bytes:
    """A VTP whose connectivity names point 50,000,000 of a small sphere."""
    return _ascii_connectivity(_saved(_sphere(), tmp / "bad.vtp", binary=False).decode(),
                               50_000_000).encode()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rezip(members: dict[str, bytes], replace: dict[str, bytes], extra=None,
           stored: bool = False) -> bytes:
    """The case's members with some replaced, checksums in the manifest updated."""
    files = {**members, **replace}
    manifest = json.loads(members["manifest.json"])
    for name, blob in replace.items():
        if name in manifest["files"]:
            manifest["files"][name] = {"sha256": _sha(blob), "size": len(blob)}
    if "manifest.json" not in replace:
        files["manifest.json"] = json.dumps(manifest).encode()
    if extra:
        files[extra[0]] = extra[1]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            method = zipfile.ZIP_STORED if (stored or name.endswith((".vtp", ".npy"))) \
                else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name), blob, compress_type=method)
    return buf.getvalue()


def _lie_size(data: bytes, name: str, size: int, method: int | None = None) -> bytes:
    """Rewrite ``name``'s uncompressed size (and method) in the central directory."""
    b = bytearray(data)
    key = name.encode()
    i = b.rfind(b"PK\x01\x02" + b"", 0)
    while i != -1:
        n = struct.unpack_from("<H", b, i + 28)[0]
        if bytes(b[i + 46:i + 46 + n]) == key:
            struct.pack_into("<I", b, i + 24, size)
            if method is not None:
                struct.pack_into("<H", b, i + 10, method)
            return bytes(b)
        i = b.rfind(b"PK\x01\x02", 0, i)
    raise AssertionError(f"{name} not in the central directory")


def _damage_member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
    b = bytearray(data)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + info.compress_size - 2, 3):
        b[i] ^= 0xA5
    return bytes(b)


def link_and_name_files(c: Corpus) -> None:
    os.symlink("/dev/zero", c.path("dev-zero.stl"))
    c.add("dev-zero.stl", ["info", c.path("dev-zero.stl")])
    os.symlink(c.path("loop.vtk"), c.path("loop.vtk"))
    c.add("loop.vtk", ["info", c.path("loop.vtk")])
    os.mkfifo(c.path("pipe.vtk"))
    c.add("pipe.vtk", ["info", c.path("pipe.vtk")])
    os.mkfifo(c.path("pipe.twin"))
    c.add("pipe.twin", ["info", c.path("pipe.twin")])
    c.add("pipe.twin validate", ["case", "validate", c.path("pipe.twin")])
    # hostile names: terminal escapes and newlines in a bad file's name
    c.file("\x1b[2J\x1b[31mevil\nname\r.stl", b"solid x\nfacet garbage\n")
    # ... and in a good file's name, with --json and undecodable bytes
    s = _sphere()
    tmp = c.root / "_seed"
    good = _saved(s, tmp / "g.vtp")
    c.file("\x1b]0;pwned\x07\x1b[31mred\nline.vtp", good, "ok")
    p = c.path(b"bytes-\xff\xfe.vtp")
    p.write_bytes(good)
    c.add("undecodable-name --json", ["info", p, "--json"], "ok")
    from sim.model import Case, SceneObject
    from sim.model.case_io import save_case

    case = Case(name="\x1b[2J\x1b[31mcase\nname")
    case.scene.add(SceneObject("\x1b[5mobject\rname", "surface", _sphere()))
    save_case(case, c.path("evil-names.twin"))
    c.add("evil-names.twin", ["info", c.path("evil-names.twin")], "ok")
    c.add("evil-names.twin case info", ["case", "info", c.path("evil-names.twin")], "ok")


def cad_files(c: Corpus) -> None:
    """STEP through the tessellator child: gmsh (and FLTK, which writes its preferences
    into ~/.fltk) must leave the user's home alone."""
    head = b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('x'),'2;1');\nENDSEC;\nDATA;\n"
    c.file("step-empty.step", head + b"ENDSEC;\nEND-ISO-10303-21;\n")
    c.entries[-1].timeout = 90
    c.file("step-garbage.step", head + b"#1=CARTESIAN_POINT('',(0.,0.,\x00\xff" * 50)
    c.entries[-1].timeout = 90


def build(root: Path) -> list[Entry]:
    c = Corpus(root)
    (root / "_seed").mkdir(parents=True, exist_ok=True)
    for make in (vtk_files, mesh_files, image_files, dicom_files, case_files,
                 link_and_name_files, cad_files):
        make(c)
    return c.entries
