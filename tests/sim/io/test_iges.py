"""IGES parts go through the same OpenCASCADE tessellator as STEP (sim.io.readers.cad).

The IGES file is written from a real STEP part (trimesh's featuretype.STEP) by gmsh's
OpenCASCADE IGES writer, a separate code path from the STEP reader, and must give the same
part; its unit (IGES global section) must be honoured; garbage must fail clearly."""

from __future__ import annotations

import pytest

from sim.errors import FileFormatError
from sim.io import load
from sim.io.mesh_check import check_mesh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def iges_from_step(shared_data, tmp_path_factory):
    import gmsh

    out = tmp_path_factory.mktemp("iges") / "featuretype.igs"
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.importShapes(str(shared_data / "factory" / "featuretype.STEP"))
        gmsh.model.occ.synchronize()
        gmsh.write(str(out))
    finally:
        gmsh.finalize()
    text = out.read_text()
    assert text.splitlines()[0][72] == "S" and "2HMM" in text  # a real IGES file, in mm
    return out


def _only(case):
    (obj,) = list(case.scene)
    return obj


def test_iges_part_matches_the_step_part(shared_data, iges_from_step):
    iges = _only(load(iges_from_step, chord_tolerance=0.5))
    step = _only(load(shared_data / "factory" / "featuretype.STEP", chord_tolerance=0.5))
    assert iges.metadata["chord_deviation_mm"] <= 0.5
    assert iges.data.bounds == pytest.approx(step.data.bounds, abs=0.01)
    assert iges.data.area == pytest.approx(step.data.area, rel=5e-3)
    # IGES holds loose trimmed faces; the reader sews them, so the part is closed again
    report = check_mesh(iges.data)
    assert report.watertight and report.components == 1
    assert report.volume_mm3 == pytest.approx(check_mesh(step.data).volume_mm3, rel=5e-3)


def test_iges_unit_is_converted_to_mm(iges_from_step, tmp_path):
    """The same file declared in inches (global section unit flag 1, 'INCH') is 25.4x larger."""
    lines = iges_from_step.read_text().splitlines()
    for n, line in enumerate(lines):
        if line[72:73] == "G" and ",2,2HMM," in line:
            lines[n] = line[:72].rstrip().replace(",2,2HMM,", ",1,4HINCH,").ljust(72) + line[72:]
            break
    else:
        raise AssertionError("no unit in the global section")
    inches = tmp_path / "featuretype_inch.igs"
    inches.write_text("\n".join(lines) + "\n")
    mm = _only(load(iges_from_step, chord_tolerance=0.5))
    big = _only(load(inches, chord_tolerance=0.5 * 25.4))
    assert big.data.bounds == pytest.approx([25.4 * b for b in mm.data.bounds], abs=0.05)


def test_garbage_iges_fails_clearly(tmp_path):
    bad = tmp_path / "bad.igs"
    bad.write_text("this is not an IGES file\n" * 20)
    with pytest.raises(FileFormatError, match="bad.igs"):
        load(bad)
    empty = tmp_path / "empty.iges"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError):
        load(empty)
