"""Sweep spec files (YAML or JSON) for ``twinsight sweep SWEEP.yaml``.

Paths are relative to the sweep file. Example (an FE analysis with uncertain stiffness and load)::

    name: bracket stiffness
    base: {fem: bracket.yaml}           # or {place: screw.yaml} or {python: "pkg.mod:function"}
                                        # or {interaction: push.json, case: liver.tsc, body: Liver}
    parameters:                         # addressed by path into the base spec
      - {path: material.youngs_modulus, dist: lognormal, median: 1000, sigma: 0.2}
      - {path: "loads[0].force[2]", dist: normal, mean: -10, std: 1}
      - {path: material.poisson_ratio, dist: uniform, low: 0.28, high: 0.35}
      - {path: order, dist: discrete, values: [1, 2]}
    sampler: {method: lhs, n: 64, seed: 7}     # mc | lhs | sobol | saltelli | morris
    qoi:                                       # paths into each run's result
      - max_von_mises_mpa
      - {name: tip_uz, path: "probes.tip.displacement_mm[2]"}
    failure:                                   # probability of failure per criterion
      - {qoi: max_von_mises_mpa, above: 250}

A **cohort** runs the same plan for every member (patients, label maps, vertebrae)::

    cohort:
      members:                          # each: a name, optionally a case and path overrides
        - {name: L1, set: {"structures[0].label": 31}}
        - {name: T12, case: other_seg.nii.gz}
      # folder: segs/   pattern: "*.nii.gz"   (a member per file, its path set as the case)
      transfer: centroid                # move trajectory points with the host's centroid

Each member gets the same parameter samples (a cohort alone needs no parameters).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.errors import FileFormatError, InputError
from sim.spec_file import read_yaml_spec
from sim.sweep.paths import get_path, parse_path

DISTRIBUTIONS = ("normal", "lognormal", "uniform", "discrete")
SAMPLERS = ("mc", "lhs", "sobol", "saltelli", "morris")
BASES = ("fem", "place", "python", "interaction")
_KEYS = {"name", "base", "parameters", "cohort", "sampler", "qoi", "failure", "description"}


@dataclass
class Parameter:
    path: str
    dist: str
    args: dict[str, Any]
    name: str = ""

    @property
    def values(self) -> list[Any]:
        return list(self.args.get("values", []))

    def describe(self) -> str:
        a = self.args
        return {"normal": lambda: f"normal(mean {a['mean']:g}, sd {a['std']:g})",
                "lognormal": lambda: f"lognormal(median {a['median']:g}, sigma {a['sigma']:g})",
                "uniform": lambda: f"uniform({a['low']:g}, {a['high']:g})",
                "discrete": lambda: f"one of {self.values}"}[self.dist]()


@dataclass
class Member:
    name: str
    case: str | None = None
    set: dict[str, Any] = field(default_factory=dict)


@dataclass
class Qoi:
    name: str
    path: str


@dataclass
class SweepSpec:
    name: str
    folder: Path
    base_kind: str
    base_path: str  # a spec file (fem/place) or "module:function" (python)
    base_raw: dict[str, Any] | None
    parameters: list[Parameter]
    members: list[Member]
    transfer: str | None
    sampler: str
    n: int
    seed: int
    qois: list[Qoi]
    failure: list[dict[str, Any]]
    raw: dict[str, Any]
    base_options: dict[str, Any] = field(default_factory=dict)  # interaction: case, body...

    @property
    def fingerprint(self) -> str:
        """A hash of what decides the samples and their meaning (resume refuses a mismatch)."""
        key = {k: self.raw.get(k) for k in ("base", "parameters", "cohort", "sampler", "qoi")}
        key["base_raw"] = self.base_raw
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _number(d: dict, key: str, what: str, positive: bool = False) -> float:
    try:
        x = float(d[key])
    except KeyError:
        raise InputError(f"The {what} needs '{key}'.") from None
    except (TypeError, ValueError):
        raise InputError(f"'{key}' of the {what} must be a number, not {d[key]!r}.") from None
    if x != x or x in (float("inf"), float("-inf")) or (positive and x <= 0):
        raise InputError(f"'{key}' of the {what} must be a {'positive ' if positive else ''}"
                         f"finite number, not {d[key]!r}.")
    return x


def _parameter(k: int, d: Any) -> Parameter:
    if not isinstance(d, dict) or "path" not in d:
        raise InputError(f"Parameter {k + 1} must be a mapping with a 'path' and a 'dist'.")
    path = str(d["path"])
    parse_path(path)
    dist = str(d.get("dist", d.get("distribution", "")))
    what = f"parameter '{path}'"
    if dist not in DISTRIBUTIONS:
        raise InputError(f"The distribution of {what} must be one of {', '.join(DISTRIBUTIONS)}, "
                         f"not '{dist}'.")
    if dist == "normal":
        args = {"mean": _number(d, "mean", what), "std": _number(d, "std", what, True)}
    elif dist == "lognormal":
        if "median" not in d and "mu" in d:
            import math

            d = {**d, "median": math.exp(_number(d, "mu", what))}
        args = {"median": _number(d, "median", what, True), "sigma": _number(d, "sigma", what, True)}
    elif dist == "uniform":
        args = {"low": _number(d, "low", what), "high": _number(d, "high", what)}
        if args["high"] <= args["low"]:
            raise InputError(f"The uniform range of {what} is empty (high <= low).")
    else:
        values = d.get("values")
        if not isinstance(values, list) or not values:
            raise InputError(f"The discrete {what} needs a non-empty list of 'values'.")
        args = {"values": values}
    return Parameter(path, dist, args, str(d.get("name", path)))


def _members(cohort: Any, folder: Path) -> tuple[list[Member], str | None]:
    if cohort is None:
        return [Member("base")], None
    if isinstance(cohort, list):
        cohort = {"members": cohort}
    if not isinstance(cohort, dict):
        raise InputError("'cohort' must be a list of members or a mapping with 'members' or 'folder'.")
    members: list[Member] = []
    for k, m in enumerate(cohort.get("members") or []):
        if isinstance(m, str):
            m = {"name": Path(m).name.split(".")[0], "case": m}
        if not isinstance(m, dict):
            raise InputError(f"Cohort member {k + 1} must be a mapping (name, case, set) or a path.")
        sets = m.get("set") or {}
        if not isinstance(sets, dict):
            raise InputError(f"'set' of cohort member {k + 1} must map paths to values.")
        for p in sets:
            parse_path(p)
        case = m.get("case")
        members.append(Member(str(m.get("name", f"member{k + 1}")),
                              str(folder / case) if case else None, dict(sets)))
    if cohort.get("folder"):
        root = folder / str(cohort["folder"])
        if not root.is_dir():
            raise InputError(f"The cohort folder '{root}' does not exist.")
        files = sorted(root.glob(str(cohort.get("pattern", "*"))))
        files = [f for f in files if not f.name.startswith(".")]
        if not files:
            raise InputError(f"The cohort folder '{root}' has no file matching "
                             f"'{cohort.get('pattern', '*')}'.")
        members += [Member(f.name.split(".")[0], str(f)) for f in files]
    if not members:
        raise InputError("The cohort has no members.")
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise InputError("Cohort member names must be unique.")
    transfer = cohort.get("transfer")
    if transfer not in (None, "centroid"):
        raise InputError(f"Cohort 'transfer' may only be 'centroid', not '{transfer}'.")
    return members, transfer


def qoi_entries(raw: list) -> list[dict[str, Any]]:
    """Quantities of interest as mappings with a checked 'path' and a 'name' (a bare path
    names itself); sweeps and credibility specs write them the same way."""
    out = []
    for q in raw:
        if isinstance(q, str):
            q = {"name": q, "path": q}
        if not isinstance(q, dict) or "path" not in q:
            raise InputError("Each quantity of interest is a path or a mapping with 'name' and 'path'.")
        parse_path(str(q["path"]))
        out.append({**q, "name": str(q.get("name", q["path"])), "path": str(q["path"])})
    return out


def _qois(raw: Any) -> list[Qoi]:
    if not isinstance(raw, list) or not raw:
        raise InputError("A sweep needs 'qoi': a list of quantities of interest to keep.")
    out = [Qoi(q["name"], q["path"]) for q in qoi_entries(raw)]
    if len({q.name for q in out}) != len(out):
        raise InputError("Quantity of interest names must be unique.")
    return out


def _read_base(kind: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileFormatError(path, f"it cannot be read ({exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FileFormatError(path, f"it is not valid YAML/JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise FileFormatError(path, f"it is not a {kind} spec (a mapping of settings)")
    return data


def parse_sweep(data: Any, folder: Path) -> SweepSpec:
    if not isinstance(data, dict):
        raise InputError("A sweep spec must be a mapping of settings.")
    unknown = set(data) - _KEYS
    if unknown:
        raise InputError(f"Unknown sweep spec field(s): {', '.join(sorted(unknown))}.")
    base = data.get("base")
    if not isinstance(base, dict) or len(set(base) & set(BASES)) != 1:
        raise InputError("A sweep needs a 'base' with exactly one of fem: SPEC, place: SPEC, "
                         "python: module:function or interaction: SCRIPT.json (with case: CASE).")
    kind = next(k for k in BASES if k in base)
    base_raw = None
    if kind == "python":
        target = str(base["python"])
        if ":" not in target:
            raise InputError(f"The python base '{target}' must be 'module:function'.")
        base_raw = dict(base.get("inputs") or {})
    else:
        p = Path(str(base[kind]))
        p = p if p.is_absolute() else folder / p
        base_raw = _read_base(kind, p)
        target = str(p.resolve())
    options: dict[str, Any] = {}
    if kind == "interaction":
        from sim.sweep.interaction import parse_options

        options = parse_options(base, folder, base_raw)
    params = [_parameter(k, d) for k, d in enumerate(data.get("parameters") or [])]
    if len({p.name for p in params}) != len(params):
        raise InputError("Parameter names must be unique.")
    for p in params:
        tokens = parse_path(p.path)
        if kind == "python" and len(tokens) == 1 and tokens[0] not in base_raw:
            base_raw[str(tokens[0])] = None  # a keyword argument of the model, set per sample
        get_path(base_raw, p.path)  # every path must exist in the base
    members, transfer = _members(data.get("cohort"), folder)
    sampler = data.get("sampler") or {}
    if not isinstance(sampler, dict):
        raise InputError("'sampler' must be a mapping with 'method', 'n' and 'seed'.")
    method = str(sampler.get("method", "mc")).lower()
    if method not in SAMPLERS:
        raise InputError(f"The sampler must be one of {', '.join(SAMPLERS)}, not '{method}'.")
    n = int(_number({"n": sampler.get("n", 1 if not params else 32)}, "n", "sampler", True))
    seed = int(_number({"seed": sampler.get("seed", 0)}, "seed", "sampler"))
    if n > 1_000_000:
        raise InputError(f"The sampler's n = {n} is over the limit of 1,000,000 samples.")
    if not params and method in ("saltelli", "morris"):
        raise InputError(f"The {method} sampler needs at least one parameter.")
    failure = data.get("failure") or []
    if not isinstance(failure, list):
        raise InputError("'failure' must be a list of {qoi, above|below} criteria.")
    qois = _qois(data.get("qoi"))
    for f in failure:
        if not isinstance(f, dict) or f.get("qoi") not in {q.name for q in qois} or \
                len({"above", "below"} & set(f)) != 1:
            raise InputError("Each failure criterion names a listed 'qoi' and one of 'above' or 'below'.")
        _number(f, "above" if "above" in f else "below", f"failure criterion of '{f['qoi']}'")
    return SweepSpec(str(data.get("name", "sweep")), folder, kind, target, base_raw, params,
                     members, transfer, method, n, seed, qois, failure, copy.deepcopy(data),
                     options)


def read_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep spec file (every parameter path must exist in the base)."""
    path = Path(path)
    return parse_sweep(read_yaml_spec(path, "a sweep spec"), path.parent.resolve())
