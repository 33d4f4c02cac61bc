"""Does a fitted potential keep its teacher's hydrogenation reaction? The tier-2a reaction of the engine's product.

The engine asks whether a precursor slab in dense H2 turns into the product (CaH2 + H2 → CaH4 at 40 GPa). On a
potential where the product is not stable at that pressure the answer is decided before any MD is run. A POD fit can
follow its teacher's labels to 30–40 meV/atom and still get this wrong: every unweighted fit of the Ca–H distilled
labels put I4/mmm CaH4 55–70 meV/atom above its hull at 40 GPa (a CaH3 template below it), where the teacher has it
on the hull with ΔH_r ≈ −32 kJ/mol H2.

:func:`engine_reaction` runs tier 2a itself (:func:`screening.proxies.enthalpy.enthalpy_proxy`: every template of the
M–H system relaxed with the calculator, hull at P, ΔH_r from the hull's precursor) for one product and pressure;
:func:`reaction_agrees` compares a candidate's with its teacher's. Both numbers are relaxations with their own
calculator, cached in the result store; no DFT and no experiment is read, so a selection that uses this check is
not tuned on a validation figure.
"""

from __future__ import annotations

import math
from typing import Any

from screening.errors import CandidateError

#: the engine's seed reaction, as the Ca–H demonstration runs it: the product MH4 at 40 GPa
PRODUCT_H_PER_METAL = 4.0
PRESSURE_GPA = 40.0
#: pressures of the tier-2a call (it needs two or more; the onset is interpolated between them)
PRESSURES_GPA = (20.0, 40.0, 60.0)


def engine_reaction(calculator: str, metal: str, h_per_metal: float = PRODUCT_H_PER_METAL,
                    pressure_gpa: float = PRESSURE_GPA, *, store=None, progress: bool = False) -> dict[str, Any]:
    """The tier-2a reaction to MH_x at P with ``calculator``: ``dH_r_kj_per_mol_h2`` (from the hull's precursor),
    ``precursor``, ``e_above_hull_ev_per_atom`` of the product, ``onset_status``.

    Raises:
        CandidateError: the calculator cannot relax the system (e.g. elements it has no parameters for).
    """
    import screening

    grid = screening.candidate_grid(metals=[metal], h_per_metal=[float(h_per_metal)], pressures_gpa=[float(pressure_gpa)])
    pressures = sorted({*PRESSURES_GPA, float(pressure_gpa)})
    row = screening.enthalpy_proxy(grid, calculator=calculator, pressures_gpa=pressures, store=store,
                                   progress=progress).iloc[0]

    def num(key: str) -> float:
        x = row.get(key)
        return float(x) if x is not None and not (isinstance(x, float) and math.isnan(x)) else math.nan

    return {"dH_r_kj_per_mol_h2": num("dH_r_kj_per_mol_h2"), "precursor": str(row.get("precursor", "")),
            "e_above_hull_ev_per_atom": num("e_above_hull_ev_per_atom"), "onset_status": str(row.get("onset_status", ""))}


def reaction_agrees(candidate: dict[str, Any], teacher: dict[str, Any]) -> bool:
    """Whether ``candidate``'s reaction (:func:`engine_reaction`) goes the teacher's way: ΔH_r of the same sign.
    A reaction that could not be computed (NaN) never agrees."""
    a, b = candidate.get("dH_r_kj_per_mol_h2", math.nan), teacher.get("dH_r_kj_per_mol_h2", math.nan)
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    if b == 0:
        raise CandidateError("the teacher's ΔH_r is exactly 0: no sign to compare with")
    return (a < 0) == (b < 0)


__all__ = ["PRESSURE_GPA", "PRODUCT_H_PER_METAL", "engine_reaction", "reaction_agrees"]
