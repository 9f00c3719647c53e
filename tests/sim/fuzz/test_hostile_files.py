"""No file crashes, hangs or floods the command line (issue #21 items 1-6).

A generated corpus (:mod:`tests.sim.fuzz.corpus`: truncations, byte flips, lying headers,
bombs, links, FIFOs, deep nesting, hostile names for every reader and for cases) goes
through the real ``twinsight`` entry point, one process per file, under an address-space
limit and an alarm (:mod:`tests.sim.fuzz.runner`). Every bad file must end with exit code
2 and exactly one escaped sentence on stderr naming it; nothing may be written outside
the scratch folder (HOME and TMPDIR point into it and must stay empty).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pyvista as pv

from tests.sim.fuzz.corpus import build

ROOT = Path(__file__).resolve().parents[3]
ESCAPE_OR_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[name] = str(scratch / "home")
    env["TMPDIR"] = str(scratch / "tmp")
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.pop("TWINSIGHT_PASSWORD", None)
    return env


def _listing(folder: Path) -> set[str]:
    return {os.fsdecode(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("fuzz")
    for sub in ("home", "tmp", "corpus", "run"):
        (scratch / sub).mkdir()
    old_tmp = os.environ.get("TMPDIR")
    entries = build(scratch / "corpus")
    before = _listing(scratch / "corpus")
    jobs = [{"id": e.id, "argv": e.argv, "timeout": e.timeout, "env": e.env} for e in entries]
    (scratch / "run" / "jobs.json").write_text(json.dumps(jobs))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tests.sim.fuzz.runner",
                           str(scratch / "run" / "jobs.json"),
                           str(scratch / "run" / "results.json")],
                          cwd=ROOT, env=_env(scratch), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((scratch / "run" / "results.json").read_text())
    assert old_tmp == os.environ.get("TMPDIR")
    return {"scratch": scratch, "entries": entries, "results": results, "before": before,
            "seconds": time.monotonic() - start}


def _problems(entry, result) -> list[str]:
    out = []
    if result["signal"] is not None:
        out.append(f"killed by signal {result['signal']} (crash, hang or memory)")
        return out
    code, err = result["exit"], result["stderr"]
    lines = err.splitlines()
    if entry.expect == "ok" and code != 0:
        out.append(f"exit {code}, expected 0: {err[:300]!r}")
    if entry.expect == "error" and code != 2:
        out.append(f"exit {code}, expected 2: {err[:300]!r}")
    if entry.expect == "either" and code not in (0, 2):
        out.append(f"exit {code}, expected 0 or 2: {err[:300]!r}")
    if code == 2:
        if len(lines) != 1 or not lines[0].startswith("twinsight: error: "):
            out.append(f"stderr is not one sentence: {err[:600]!r}")
        if ESCAPE_OR_CONTROL.search(err) or "Traceback" in err:
            out.append(f"stderr holds control characters or a traceback: {err[:300]!r}")
        if result["stdout"]:
            out.append(f"stdout not empty on error: {result['stdout'][:200]!r}")
    if code == 0 and err:
        out.append(f"stderr not empty on success: {err[:300]!r}")
    if ESCAPE_OR_CONTROL.search(result["stdout"]) or not result["stdout_utf8"]:
        out.append(f"stdout holds control characters or bad UTF-8: {result['stdout'][:200]!r}")
    return out


GROUPS = {
    "vtk": lambda e: e.id.endswith((".vtk", ".vtp", ".vtu", ".vti")) and "name" not in e.id,
    "mesh": lambda e: e.id.endswith((".stl", ".obj", ".off", ".ply", ".msh", ".3mf", ".glb",
                                     ".gltf", ".step")) and "evil" not in e.id,
    "image": lambda e: e.id.endswith((".nrrd", ".nhdr", ".mha", ".nii")),
    "dicom": lambda e: e.id.startswith("dcm-"),
    "case": lambda e: e.id.startswith(("case", "enc-")),
    "links-and-names": lambda e: not any(g(e) for k, g in GROUPS.items()
                                         if k != "links-and-names"),
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_hostile_inputs_end_in_one_sentence(fuzz_run, group):
    entries = [e for e in fuzz_run["entries"] if GROUPS[group](e)]
    assert entries, f"the corpus has no {group} entries"
    by_id = {r["id"]: r for r in fuzz_run["results"]}
    failures = []
    for e in entries:
        problems = _problems(e, by_id[e.id])
        if problems:
            failures.append(f"{e.id!r} ({' '.join(e.argv[:-1])}): {'; '.join(problems)}")
    assert not failures, f"{len(failures)} of {len(entries)} {group} inputs misbehaved:\n" \
        + "\n".join(failures)


def test_corpus_is_large_fast_and_leaves_nothing_behind(fuzz_run):
    scratch, results = fuzz_run["scratch"], fuzz_run["results"]
    assert len(results) >= 150
    errors = sum(1 for r in results if r["exit"] == 2)
    assert errors >= 110  # most of the corpus is refused, not "read" by accident
    assert max(r["seconds"] for r in results if not r["id"].endswith(".step")) < 25
    assert list((scratch / "home").iterdir()) == []  # nothing in the user's home
    assert list((scratch / "tmp").iterdir()) == []  # temporary files all cleaned up
    assert _listing(scratch / "corpus") == fuzz_run["before"]  # nothing written beside inputs


def test_sentences_name_the_file_and_escape_hostile_names(fuzz_run):
    by_id = {r["id"]: r for r in fuzz_run["results"]}
    bad = by_id["\x1b[2J\x1b[31mevil\nname\r.stl"]["stderr"]
    assert "\\x1b[2J\\x1b[31mevil\\nname\\r.stl" in bad and "\x1b" not in bad
    good = by_id["\x1b]0;pwned\x07\x1b[31mred\nline.vtp"]["stdout"]
    assert "\\x1b]0;pwned\\x07\\x1b[31mred\\nline" in good and "\x1b" not in good
    cased = by_id["evil-names.twin case info"]["stdout"]
    assert "\\x1b[2J\\x1b[31mcase\\nname" in cased and "\\x1b[5mobject\\rname" in cased
    assert "\x1b" not in by_id["evil-names.twin"]["stdout"]
    raw = by_id["undecodable-name --json"]["stdout"]
    info = json.loads(raw)
    assert info["path"].endswith("bytes-\\xff\\xfe.vtp")
    assert not re.search(r"\\ud[89a-f][0-9a-f]{2}", raw)  # no lone surrogates, escaped or not
    for e in fuzz_run["entries"]:  # the sentence names the file it is about
        r = by_id[e.id]
        if r["exit"] == 2 and e.expect == "error" and e.argv[-1].isprintable():
            assert Path(e.argv[-1]).name in r["stderr"] or e.argv[-1] in r["stderr"], \
                (e.id, r["stderr"])


def test_the_issue_reproducers_are_refused_for_the_right_reason(fuzz_run):
    by_id = {r["id"]: r["stderr"] for r in fuzz_run["results"]}
    assert "refer to point 50000000" in by_id["id-out-of-range.vtk"]
    assert "refer to point 50000000" in by_id["case-bad-ids.twin validate"]
    assert "refer to point 50000000" in by_id["case-dir-bad-ids validate"]
    assert "more than the file can hold" in by_id["dcm-frames-lie"]
    assert "implausibly large" in by_id["case-size-lie-230.twin"]
    assert "implausibly large" in by_id["case-size-over-cap.twin"]
    assert "damaged" in by_id["case-bad-deflate.twin"]
    assert "nested more than" in by_id["case-deep-manifest.twin"]
    assert "unsupported parameters" in by_id["enc-max-cost.twin"]
    assert "link" in by_id["case-linked-objects validate"]
    assert "link" in by_id["case-linked-sections"]
    assert "decompression bomb" in by_id["3mf-whitespace-bomb.3mf"]
    assert "Gmsh" in by_id["gmsh4-bad-section.msh"]
    assert "pixel data cannot be decoded" in by_id["dcm-j2k-corrupt"]


def _limited(mb: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
    return apply


def test_real_entry_point_on_the_issue_reproducers(tmp_path):
    """The same as a user runs it: ``python -m viewer.launcher`` (the ``twinsight`` script),
    a fresh interpreter per file, under a memory limit and a timeout."""
    from tests.sim.fuzz.corpus import TRI, _legacy

    bad = tmp_path / "bad.vtk"
    bad.write_bytes(_legacy(TRI + "POLYGONS 1 4\n3 0 1 50000000\n"))
    linked = tmp_path / "case.d"
    from sim.model import Case, SceneObject
    from sim.model.case_io import save_case

    case = Case(name="c")
    case.scene.add(SceneObject("ball", "surface", pv.Sphere(theta_resolution=6, phi_resolution=6)))
    save_case(case, linked, folder=True)
    (linked / "objects").rename(tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", linked / "objects")
    env = dict(os.environ, HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    for argv, reason in ((["info", bad], "refer to point 50000000"),
                         (["case", "validate", linked], "is a link")):
        run = subprocess.run([sys.executable, "-m", "viewer.launcher", *map(str, argv)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                             preexec_fn=_limited(4096))
        assert run.returncode == 2, run.stderr
        assert len(run.stderr.splitlines()) == 1 and reason in run.stderr, run.stderr
    assert list((tmp_path / "home").iterdir()) == []
