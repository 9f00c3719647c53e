"""The CHOLMOD binding's struct layout is measured from the installed header, so another
CHOLMOD (SuiteSparse 7's CHOLMOD 5) works or is refused loudly, never guessed (#16)."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import sys

import pytest

from sim.fem import cholmod, cholmod_abi

needs_cc = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                              reason="no C compiler to measure a header with")


@needs_cc
def test_the_measured_layout_of_this_machines_cholmod_is_what_the_binding_uses():
    if cholmod_abi.header_dir() is None:
        pytest.skip("cholmod.h is not installed (libsuitesparse-dev)")
    doc = cholmod_abi.probe()
    assert doc is not None
    assert doc == cholmod_abi.BUILTIN[tuple(doc["version"])]  # Debian 12: CHOLMOD 3.0
    assert cholmod.AVAILABLE and doc["common_size"] == cholmod._COMMON_SIZE
    assert doc["status"] == cholmod._OFF_STATUS


# A stand-in for a different CHOLMOD: fields moved and resized, as between CHOLMOD 3 and 5.
FAKE_HEADER = """
#define CHOLMOD_MAIN_VERSION 5
#define CHOLMOD_SUB_VERSION 3
typedef struct { double dbound; int ordering; long extra; } cholmod_method_struct;
typedef struct {
  double dbound, grow0; char pad[40]; long long chunk; int print; int supernodal;
  char more[300]; int nmethods; int current; cholmod_method_struct method[10];
  char tail[17]; int status; double other[3];
} cholmod_common;
typedef struct { size_t nrow, ncol, nzmax; void *p, *i, *nz, *x, *z;
  int stype, itype, xtype, dtype, sorted, packed; } cholmod_sparse;
typedef struct { size_t nrow, ncol, nzmax, d; void *x, *z; int xtype, dtype; } cholmod_dense;
"""


class _Method(ctypes.Structure):
    _fields_ = [("dbound", ctypes.c_double), ("ordering", ctypes.c_int), ("extra", ctypes.c_long)]


class _Common(ctypes.Structure):  # the same struct, laid out by ctypes: an independent count
    _fields_ = [("dbound", ctypes.c_double), ("grow0", ctypes.c_double),
                ("pad", ctypes.c_char * 40), ("chunk", ctypes.c_longlong),
                ("print", ctypes.c_int), ("supernodal", ctypes.c_int),
                ("more", ctypes.c_char * 300), ("nmethods", ctypes.c_int),
                ("current", ctypes.c_int), ("method", _Method * 10),
                ("tail", ctypes.c_char * 17), ("status", ctypes.c_int),
                ("other", ctypes.c_double * 3)]


@needs_cc
def test_another_cholmods_layout_is_measured_from_its_header(tmp_path):
    (tmp_path / "cholmod.h").write_text(FAKE_HEADER)
    doc = cholmod_abi.probe(tmp_path)
    assert doc["version"] == [5, 3]
    assert doc["common_size"] == ctypes.sizeof(_Common)
    assert doc["nmethods"] == _Common.nmethods.offset
    assert doc["method0_ordering"] == _Common.method.offset + _Method.ordering.offset
    assert doc["status"] == _Common.status.offset
    assert doc["supernodal"] == _Common.supernodal.offset and doc["print"] == _Common.print.offset
    # The sparse and dense structs keep CHOLMOD's field order: the binding accepts them ...
    assert cholmod._use_layout(dict(doc)) is None
    # ... and puts back this machine's layout afterwards (the test must not leave it changed).
    assert cholmod._use_layout(cholmod_abi.BUILTIN[(3, 0)]) is None


def test_a_layout_that_does_not_match_the_binding_is_refused_with_a_reason():
    doc = dict(cholmod_abi.BUILTIN[(3, 0)])
    doc["sparse"] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 68, 72, 76, 84, 88]  # a moved field
    reason = cholmod._use_layout(doc)
    assert reason is not None and "layout differs" in reason
    assert cholmod_abi.BUILTIN[(3, 0)]["status"] == cholmod._OFF_STATUS  # nothing taken


def test_info_system_says_which_solver_runs_and_why():
    res = subprocess.run([sys.executable, "-m", "sim.cli", "info", "--system", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["cholmod"] == cholmod.STATUS and "CHOLMOD" in info["sparse_solver"]
    assert info["numpy"] and info["vtk"]
    res = subprocess.run([sys.executable, "-m", "sim.cli", "info"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and "--system" in res.stderr
