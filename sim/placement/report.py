"""Results of placement evaluations, as data, JSON and plain-text tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StructureResult:
    """One structure's verdict for one pose (mm, mm^3)."""

    name: str
    role: str
    margin_mm: float
    clearance_mm: float
    device_point: np.ndarray
    structure_point: np.ndarray
    collision: bool = False
    penetration_mm: float = 0.0
    intersected_volume_mm3: float = 0.0
    purchase: float | None = None  # host only: fraction of the embedded volume inside
    purchase_volume_mm3: float | None = None
    breach_mm: float | None = None  # host only: farthest the embedded surface leaves it
    outside_fraction: float | None = None
    violation: str | None = None
    clearance_exact: bool = True  # False: a far structure's upper bound (see evaluate)

    def to_dict(self) -> dict:
        out = {"name": self.name, "role": self.role, "margin_mm": self.margin_mm,
               "clearance_mm": _r(self.clearance_mm), "clearance_exact": self.clearance_exact,
               "collision": self.collision,
               "penetration_mm": _r(self.penetration_mm),
               "intersected_volume_mm3": _r(self.intersected_volume_mm3),
               "closest_point_device": _pt(self.device_point),
               "closest_point_structure": _pt(self.structure_point),
               "violation": self.violation}
        if self.role == "host":
            out.update(purchase=_r(self.purchase), purchase_volume_mm3=_r(self.purchase_volume_mm3),
                       breach_mm=_r(self.breach_mm))
        return out


    @classmethod
    def from_dict(cls, d: dict) -> StructureResult:
        """The result :meth:`to_dict` describes (closest points NaN where it had none)."""
        def pt(p) -> np.ndarray:
            return np.full(3, np.nan) if p is None else np.asarray(p, dtype=float).reshape(3)

        def opt(key: str) -> float | None:
            return None if d.get(key) is None else float(d[key])

        return cls(name=str(d["name"]), role=str(d["role"]), margin_mm=float(d["margin_mm"]),
                   clearance_mm=float(d["clearance_mm"]),
                   device_point=pt(d.get("closest_point_device")),
                   structure_point=pt(d.get("closest_point_structure")),
                   collision=bool(d.get("collision", False)),
                   penetration_mm=float(d.get("penetration_mm") or 0.0),
                   intersected_volume_mm3=float(d.get("intersected_volume_mm3") or 0.0),
                   purchase=opt("purchase"), purchase_volume_mm3=opt("purchase_volume_mm3"),
                   breach_mm=opt("breach_mm"), violation=d.get("violation"),
                   clearance_exact=bool(d.get("clearance_exact", True)))


def _r(x, nd: int = 6):
    return None if x is None else round(float(x), nd)


def _pt(p) -> list | None:
    p = np.asarray(p, dtype=float)
    return None if not np.isfinite(p).all() else [round(float(v), 6) for v in p]


@dataclass
class Evaluation:
    """One device at one pose against every structure of the scene."""

    device: str
    pose: np.ndarray
    structures: list[StructureResult] = field(default_factory=list)

    @property
    def violations(self) -> list[str]:
        return [s.violation for s in self.structures if s.violation]

    @property
    def safe(self) -> bool:
        return not self.violations

    def result(self, name: str) -> StructureResult:
        for s in self.structures:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def host(self) -> StructureResult | None:
        return next((s for s in self.structures if s.role == "host"), None)

    @property
    def min_critical_clearance(self) -> float:
        vals = [s.clearance_mm for s in self.structures if s.role == "critical"]
        return min(vals) if vals else float("inf")

    def to_dict(self) -> dict:
        entry = self.pose[:3, 3]
        return {"device": self.device, "safe": self.safe, "violations": self.violations,
                "pose": [[round(float(v), 9) for v in row] for row in self.pose],
                "anchor": _pt(entry), "axis": _pt(self.pose[:3, 2]),
                "structures": [s.to_dict() for s in self.structures]}

    @classmethod
    def from_dict(cls, d: dict) -> Evaluation:
        """The evaluation :meth:`to_dict` describes (e.g. a candidate kept in a case)."""
        pose = np.asarray(d["pose"], dtype=float)
        if pose.shape != (4, 4) or not np.isfinite(pose).all():
            raise ValueError("an evaluation's pose must be a finite 4x4 matrix")
        return cls(device=str(d["device"]), pose=pose,
                   structures=[StructureResult.from_dict(s) for s in d.get("structures", [])])

    def table(self) -> str:
        """A plain-text table, one row per structure."""
        head = f"{'structure':<18}{'role':<9}{'clearance':>10}{'margin':>8}{'hit':>5}" \
               f"{'depth':>8}{'volume':>9}{'purchase':>10}{'breach':>8}"
        rows = [head, "-" * len(head)]
        for s in self.structures:
            pur = f"{100 * s.purchase:.0f}%" if s.purchase is not None else ""
            br = f"{s.breach_mm:.2f}" if s.breach_mm is not None else ""
            rows.append(f"{s.name[:17]:<18}{s.role:<9}{s.clearance_mm:>10.3f}{s.margin_mm:>8.1f}"
                        f"{'yes' if s.collision else 'no':>5}{s.penetration_mm:>8.2f}"
                        f"{s.intersected_volume_mm3:>9.1f}{pur:>10}{br:>8}")
        verdict = "SAFE" if self.safe else "VIOLATIONS: " + "; ".join(self.violations)
        return "\n".join(rows + [verdict])


def comparison_table(evaluations: list[Evaluation], labels: list[str] | None = None) -> str:
    """Candidates side by side: one column per candidate, one row per measure."""
    labels = labels or [e.device for e in evaluations]
    names = []
    for e in evaluations:
        for s in e.structures:
            if s.name not in names:
                names.append(s.name)
    width = max([14] + [len(x) + 2 for x in labels])
    lines = [f"{'':<28}" + "".join(f"{x:>{width}}" for x in labels)]

    def row(title: str, values: list[str]) -> None:
        lines.append(f"{title[:27]:<28}" + "".join(f"{v:>{width}}" for v in values))

    row("safe", ["yes" if e.safe else "NO" for e in evaluations])
    for name in names:
        vals, hits = [], []
        for e in evaluations:
            try:
                s = e.result(name)
            except KeyError:
                vals.append("-")
                hits.append("-")
                continue
            if s.role == "host":
                vals.append(f"{100 * (s.purchase or 0):.0f}% / {s.breach_mm or 0:.1f}")
            else:
                vals.append(f"{s.clearance_mm:.2f}")
            hits.append(f"{s.penetration_mm:.1f}" if s.collision else "-")
        kind = "purchase / breach" if any(
            e.result(name).role == "host" for e in evaluations
            if any(s.name == name for s in e.structures)) else "clearance mm"
        row(f"{name} {kind}", vals)
        row(f"{name} hit depth", hits)
    return "\n".join(lines)
