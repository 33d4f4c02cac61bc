"""Chemists' formulas of hydrides: one function for every formula the package prints or writes.

pymatgen's ``reduced_formula`` orders elements by electronegativity, which puts H before Pd
(``H3Pd``, ``H23Pd4``) and after S (``SH2``). Chemists write metal hydrides metal first and H last
(``PdH3``, ``Pd4H23``, ``LaH10``, ``LaYH12``), and the hydrides of the chalcogens and halogens
H first (``H2S``, ``H3S``, ``H2Se``, ``HCl``), the IUPAC order for binary hydrides of groups 16 and 17.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

#: Groups whose binary hydrides are written with H first (IUPAC; H2O, H2S, HCl, ...).
H_FIRST_GROUPS = (16, 17)
_TOL = 1e-6


def _amount(v: float) -> str:
    if abs(v - 1) < _TOL:
        return ""
    if abs(v - round(v)) < _TOL:
        return str(int(round(v)))
    return f"{v:.6g}"


def _integer_amounts(amounts: list[float], max_multiplier: int = 200) -> list[float]:
    """Smallest integer multiple of ``amounts`` (reduced), or the amounts themselves if there is none."""
    for n in range(1, max_multiplier + 1):
        scaled = [a * n for a in amounts]
        if all(abs(s - round(s)) < _TOL for s in scaled):
            ints = [int(round(s)) for s in scaled]
            g = math.gcd(*ints)
            return [i / g for i in ints]
    return amounts


def _metal_order(symbols: list[str]) -> list[str]:
    """Non-H elements by Pauling electronegativity (then symbol), as pymatgen orders formulas."""
    from pymatgen.core import Element

    def key(s: str) -> tuple[float, str]:
        x = Element(s).X
        return (x if math.isfinite(x) else math.inf, s)

    return sorted(symbols, key=key)


def chemical_formula(composition: Any, reduce: bool = True) -> str:
    """The conventional formula of a hydride composition.

    Args:
        composition: a pymatgen ``Composition``, a formula string (any element order, e.g. ``"H3Pd"``),
            a mapping ``{element: amount}``, or anything with a ``composition`` attribute (a Structure).
        reduce: divide by the greatest common factor (``Pd8H46`` -> ``Pd4H23``).

    Returns:
        Non-H elements in electronegativity order, then H (``PdH3``, ``Pd4H23``, ``LaYH12``); H first when
        every other element is in group 16 or 17 (``H3S``, ``H2S``, ``H2Se``). Amounts of 1 are omitted and
        fractional amounts without an integer multiple up to 200 are printed with up to 6 digits.
    """
    from pymatgen.core import Composition, Element

    if hasattr(composition, "composition"):
        composition = composition.composition
    comp = composition if isinstance(composition, Composition) else Composition(composition)
    amounts = {el.symbol: float(n) for el, n in comp.items() if n > _TOL}
    if not amounts:
        raise ValueError(f"empty composition {composition!r}")
    others = _metal_order([s for s in amounts if s != "H"])
    order = [*others, "H"] if "H" in amounts else others
    if "H" in amounts and others and all(Element(s).group in H_FIRST_GROUPS for s in others):
        order = ["H", *others]
    values = [amounts[s] for s in order]
    if reduce:
        values = _integer_amounts(values)
    return "".join(f"{s}{_amount(v)}" for s, v in zip(order, values))


def hydride_formula(metals: str | tuple[str, ...] | list[str], h_per_metal: float,
                    fractions: tuple[float, ...] | list[float] | None = None) -> str:
    """Formula of (M1_a M2_b ...)H_x from metals, their fractions (default equal) and H per metal.

    ``hydride_formula("Pd", 5.75) == "Pd4H23"``, ``hydride_formula("S", 2) == "H2S"``,
    ``hydride_formula("Ca", 0) == "Ca"``. H/M is rounded to a fraction with denominator <= 12 first,
    so float noise (9.999999999999996) does not show.
    """
    metal_list = [metals] if isinstance(metals, str) else list(metals)
    if fractions is None:
        fractions = [1.0 / len(metal_list)] * len(metal_list)
    x = float(Fraction(float(h_per_metal)).limit_denominator(12))
    mapping: dict[str, float] = {}
    for m, f in zip(metal_list, fractions):
        mapping[m] = mapping.get(m, 0.0) + float(f)
    if x > 0:
        mapping["H"] = x
    return chemical_formula(mapping)


__all__ = ["chemical_formula", "hydride_formula", "H_FIRST_GROUPS"]
