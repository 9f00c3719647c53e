"""Materials: isotropic elastic constants, density and constitutive law, plus the shipped library.

Units (DESIGN.md): Young's modulus in MPa (N/mm^2), density in tonne/mm^3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sim.errors import InputError

LAWS = ("linear", "corotational", "neo_hookean")

# Outside these bounds a value is almost surely in the wrong unit (Pa or GPa for MPa, kg/m^3 for t/mm^3).
_E_RANGE = (1e-6, 2e6)  # 1 Pa .. 2000 GPa
_RHO_RANGE = (1e-12, 1e-7)  # 0.001 .. 100 g/cm^3


@dataclass(frozen=True)
class Material:
    """An isotropic elastic material and the law it is simulated with."""

    name: str
    youngs_modulus: float
    poisson_ratio: float
    density: float = 1.0e-9
    law: str = "linear"
    source: str = ""

    def __post_init__(self) -> None:
        E, nu, rho = self.youngs_modulus, self.poisson_ratio, self.density
        if not (isinstance(E, int | float) and _E_RANGE[0] <= E <= _E_RANGE[1]):
            hint = " (it looks like pascals; Twinsight uses MPa)" if isinstance(E, int | float) \
                and _E_RANGE[1] < E else ""
            raise InputError(f"Young's modulus of '{self.name}' is {E} MPa, outside the plausible "
                             f"range 1e-6 .. 2e6 MPa{hint}.")
        if not (isinstance(nu, int | float) and -0.99 < nu < 0.4999):
            raise InputError(f"Poisson ratio of '{self.name}' is {nu}; it must be in (-1, 0.5) "
                             "(use 0.45-0.49 for nearly incompressible tissue).")
        if not (isinstance(rho, int | float) and _RHO_RANGE[0] <= rho <= _RHO_RANGE[1]):
            raise InputError(f"Density of '{self.name}' is {rho} tonne/mm^3, outside 1e-12 .. "
                             "1e-7 (water is 1e-9; kg/m^3 values must be multiplied by 1e-12).")
        if self.law not in LAWS:
            raise InputError(f"Unknown material law '{self.law}' (use {', '.join(LAWS)}).")

    @property
    def lame(self) -> tuple[float, float]:
        """Lamé's first parameter and the shear modulus (MPa)."""
        E, nu = self.youngs_modulus, self.poisson_ratio
        return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))

    def with_law(self, law: str) -> Material:
        return Material(self.name, self.youngs_modulus, self.poisson_ratio, self.density, law,
                        self.source)


@lru_cache(maxsize=1)
def _library() -> dict[str, dict[str, Any]]:
    from sim.resources import asset

    return json.loads(asset("materials.json").read_text(encoding="utf-8"))["materials"]


def library_names() -> list[str]:
    return sorted(_library())


def library_material(name: str, law: str | None = None) -> Material:
    """A material from ``assets/materials.json`` by name (e.g. 'liver', 'steel')."""
    entry = _library().get(name.strip().lower())
    if entry is None:
        raise InputError(f"No material '{name}' in the library (known: {', '.join(library_names())}).")
    return Material(name, float(entry["youngs_modulus"]), float(entry["poisson_ratio"]),
                    float(entry["density"]), law or entry.get("model", "linear"), entry["source"])


def material_from_spec(spec: str | dict[str, Any], law: str | None = None) -> Material:
    """A library name, or ``{"youngs_modulus":..,"poisson_ratio":..,"density":..,"law":..}``
    (a ``"library"`` key starts from a library entry and overrides the keys given)."""
    if isinstance(spec, str):
        return library_material(spec, law)
    if not isinstance(spec, dict):
        raise InputError("A material is a library name or an object with youngs_modulus etc.")
    base = library_material(spec["library"]) if "library" in spec else None
    try:
        return Material(
            name=str(spec.get("name", base.name if base else "material")),
            youngs_modulus=float(spec.get("youngs_modulus", base.youngs_modulus if base else None)),
            poisson_ratio=float(spec.get("poisson_ratio", base.poisson_ratio if base else 0.3)),
            density=float(spec.get("density", base.density if base else 1e-9)),
            law=str(law or spec.get("law", base.law if base else "linear")),
            source=str(spec.get("source", base.source if base else "user")),
        )
    except (TypeError, ValueError):
        raise InputError("A material needs a numeric youngs_modulus (MPa) and poisson_ratio.") from None
