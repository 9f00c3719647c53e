"""Every reader refuses empty, truncated, corrupt and hostile files with a FileFormatError.

Property-based tests throw random bytes and mutated real files at the parsers we own
(STL, OBJ, OFF, MSH, 3MF, glTF wrapper) and require a clean error or a valid mesh.
"""

from __future__ import annotations

import struct
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import FileFormatError, InputError
from sim.io import load

OWN_SUFFIXES = [".stl", ".obj", ".off", ".msh", ".3mf", ".glb", ".ply", ".vtk", ".vtp"]
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load_or_error(path):
    """Loading must either succeed with finite geometry or raise a FileFormatError."""
    try:
        case = load(path)
    except FileFormatError as exc:
        assert str(path) in str(exc) and exc.reason
        return None
    for obj in case.scene:
        assert obj.data.n_points > 0
    return case


def _refused(path, content: bytes | str, match: str | None = None) -> None:
    """``content`` written to ``path`` is refused by ``load`` with a FileFormatError."""
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    with pytest.raises(FileFormatError, match=match):
        load(path)


@pytest.mark.parametrize("suffix", OWN_SUFFIXES + [".step", ".nii.gz", ".nrrd", ".mha"])
def test_empty_file(tmp_path, suffix):
    _refused(tmp_path / f"empty{suffix}", b"", "empty")


@pytest.mark.parametrize("name, content, match", [
    ("x.abc", "hello", "not a supported format"),
    ("bad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "vertex that does not exist"),
    ("nan.obj", "v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "non-finite"),
    ("noz.3mf", b"PK\x03\x04garbage", None),
    ("bad.step", "ISO-10303-21;\nHEADER;\nthis is not STEP\nENDSEC;\n", None),
    ("hello.step", "hello", "ISO-10303-21"),  # refused quickly, by its missing header
])
def test_malformed_files_are_refused(tmp_path, name, content, match):
    _refused(tmp_path / name, content, match)


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        load(tmp_path / "missing.stl")


def test_unknown_units_is_bad_input(shared_data):
    with pytest.raises(InputError, match="unit"):
        load(shared_data / "factory" / "angle_block.STL", units="furlong")


def test_binary_stl_claiming_a_billion_triangles_allocates_nothing(tmp_path):
    path = tmp_path / "huge.stl"
    path.write_bytes(b"\0" * 80 + struct.pack("<I", 10**9) + b"\0" * 50 * 3)
    tracemalloc.start()
    with pytest.raises(FileFormatError, match="announces 1000000000 triangles"):
        load(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000


@pytest.mark.parametrize("name", ["plate_holes.STL", "cycloidal.ply", "CesiumMilkTruck.glb",
                                  "P_XPM_0331_01.3mf"])
def test_truncated_real_files(shared_data, tmp_path, name):
    data = (shared_data / "factory" / name).read_bytes()
    for cut in (10, len(data) // 3, len(data) - 7):
        path = tmp_path / f"cut{cut}{(shared_data / 'factory' / name).suffix}"
        path.write_bytes(data[:cut])
        with pytest.raises(FileFormatError):
            load(path)


def test_truncated_msh_and_off(shared_data, tmp_path):
    for name in ("sofa-liver.msh", "sofa-aneurysm3D_1.off", "sofa-liver-smooth.obj"):
        src = shared_data / "anatomy" / name
        text = src.read_text()
        path = tmp_path / name
        path.write_text(text[: len(text) // 2])
        if name.endswith(".obj"):
            _load_or_error(path)  # half an OBJ can be a valid (smaller) OBJ; must not crash
        else:
            with pytest.raises(FileFormatError):
                load(path)


def test_3mf_entities(tmp_path):
    path = tmp_path / "ent.3mf"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("3D/3dmodel.model", '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]>'
                                        "<model>&a;</model>")
    with pytest.raises(FileFormatError, match="entities"):
        load(path)


@FUZZ
@given(data=st.binary(min_size=1, max_size=600),
       suffix=st.sampled_from([".stl", ".obj", ".off", ".msh", ".3mf", ".glb", ".ply", ".vtk"]))
def test_random_bytes_never_crash(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _load_or_error(path)


@FUZZ
@given(header=st.sampled_from([b"solid x\n", b"OFF\n", b"$NOD\n", b"$MeshFormat\n2.2 0 8\n",
                               b"v 1 2 3\n"]),
       body=st.lists(st.sampled_from([b"3 0 1 2\n", b"1 0 0 0\n", b"v 0 0 0\n", b"f 1 2 3\n",
                                      b"facet normal 0 0 1\n", b"vertex 1 2 3\n", b"endfacet\n",
                                      b"$ENDNOD\n", b"$ELM\n", b"1\n", b"1 4 1 1 4 1 1 1 1\n",
                                      b"$ENDELM\n", b"nan inf 1e999\n", b"-1 -2\n", b"\xff\xfe"]),
                     max_size=30),
       suffix=st.sampled_from([".stl", ".off", ".msh", ".obj"]))
def test_structured_garbage_never_crashes(tmp_path, header, body, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(header + b"".join(body))
    _load_or_error(path)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                      max_size=8))
def test_mutated_real_files_never_crash(shared_data, tmp_path, flips):
    for src in (shared_data / "factory" / "plate_holes.STL",
                shared_data / "anatomy" / "sofa-liver.msh",
                shared_data / "factory" / "P_XPM_0331_01.3mf"):
        data = bytearray(src.read_bytes())
        for pos, value in flips:
            data[pos % len(data)] = value
        path = tmp_path / f"mut{src.suffix}"
        path.write_bytes(bytes(data))
        _load_or_error(path)
