"""Per-element property table shared by every descriptor.

Everything here is computed once per process (``functools.lru_cache``) for the
~80 elements a hydride screen touches; the featurizers then index into numpy
arrays instead of calling pymatgen/matminer per candidate.

Sources
-------
* Pauling electronegativity, metallic radius, bulk modulus, molar volume,
  atomic mass, group, period and block: pymatgen ``Element`` (its
  ``periodic_table.json``).
* Covalent radius and valence-electron counts: matminer's ``MagpieData``
  (Ward et al., npj Comput. Mater. 2, 16028 (2016)).

Gaps are filled, never silently: each filled value is named in a
``*_source`` column of :func:`element_table`.

* bulk modulus missing in pymatgen (e.g. Sr, Zr, Tc, Os, Ga, In, Ge, Ac, Pa,
  Np, Pu): the median bulk modulus of the pymatgen elements of the same block.
* metallic radius missing (metalloids, Sn, Pb, Bi, Ac, S, Se): pymatgen's
  empirical ``atomic_radius``.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pandas as pd

#: Å^3 per atom for 1 cm^3/mol.
CM3_PER_MOL_TO_A3 = 1.0e24 / 6.02214076e23

BLOCKS = ("s", "p", "d", "f")


def _number(getter) -> float:
    """Read a pymatgen property (a zero-argument callable) as float, NaN if missing.

    pymatgen warns "No data available" for gaps; those gaps are handled (and
    recorded in ``*_source`` columns) here, so the warning is silenced.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = getter()
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@functools.lru_cache(maxsize=None)
def _magpie():
    from matminer.utils.data import MagpieData

    return MagpieData(impute_nan=False)


@functools.lru_cache(maxsize=4)
def element_table(symbols: tuple[str, ...]) -> pd.DataFrame:
    """Return one row of physical properties per element, indexed by symbol.

    Args:
        symbols: element symbols, e.g. ``("H", "La")``. Must be valid symbols;
            validation with a helpful message is done upstream in
            :mod:`screening.candidates`.

    Returns:
        DataFrame with columns ``Z, atomic_mass_amu, electronegativity_pauling,
        metallic_radius_A, covalent_radius_A, valence_electrons, group, period,
        block, molar_volume_A3, bulk_modulus_gpa`` and ``*_source`` columns for
        filled gaps.
    """
    from pymatgen.core import Element

    magpie = _magpie()
    rows = []
    for sym in symbols:
        el = Element(sym)
        metallic = _number(lambda: el.metallic_radius)
        metallic_src = "pymatgen metallic_radius"
        if math.isnan(metallic):
            metallic = _number(lambda: el.atomic_radius)
            metallic_src = "pymatgen atomic_radius (no metallic radius tabulated)"
        rows.append(
            {
                "symbol": sym,
                "Z": el.Z,
                "atomic_mass_amu": _number(lambda: el.atomic_mass),
                "electronegativity_pauling": _number(lambda: el.X),
                "metallic_radius_A": metallic,
                "metallic_radius_source": metallic_src,
                "covalent_radius_A": magpie.get_elemental_property(el, "CovalentRadius") / 100.0,
                "valence_electrons": magpie.get_elemental_property(el, "NValence"),
                "group": el.group,
                "period": el.row,
                "block": el.block,
                "molar_volume_A3": _number(lambda: el.molar_volume) * CM3_PER_MOL_TO_A3,
                "bulk_modulus_gpa": _number(lambda: el.bulk_modulus),
                "bulk_modulus_source": "pymatgen bulk_modulus",
            }
        )
    table = pd.DataFrame(rows).set_index("symbol")
    _fill_bulk_modulus(table)
    return table


@functools.lru_cache(maxsize=1)
def _block_median_bulk_modulus() -> dict[str, float]:
    """Median pymatgen bulk modulus per block over Z = 1..94."""
    from pymatgen.core import Element

    per_block: dict[str, list[float]] = {b: [] for b in BLOCKS}
    for z in range(1, 95):
        el = Element.from_Z(z)
        k = _number(lambda: el.bulk_modulus)
        if not math.isnan(k) and el.block in per_block:
            per_block[el.block].append(k)
    return {b: float(np.median(v)) for b, v in per_block.items() if v}


def _fill_bulk_modulus(table: pd.DataFrame) -> None:
    medians = _block_median_bulk_modulus()
    missing = table["bulk_modulus_gpa"].isna()
    for sym in table.index[missing]:
        block = table.at[sym, "block"]
        table.at[sym, "bulk_modulus_gpa"] = medians[block]
        table.at[sym, "bulk_modulus_source"] = f"median of pymatgen {block}-block bulk moduli (none tabulated)"
