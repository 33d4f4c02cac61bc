"""A cost estimate of one GPAW label, to label the cheap cells of a selection first.

A plane-wave label costs about (irreducible k-points) × (bands) × (plane waves) per SCF step; the bands go with the
valence electrons and the plane waves with the cell volume. :func:`label_cost` is that product, in electron ·
k-point · Å³. Measured on the first 76 Ca–H engine labels (``data/engine/Ca-H``, ``label_seconds`` on every frame;
one core, 600 eV, k = 2 Å⁻¹, metals 6 Å⁻¹): median 2.9 ms per unit, 10th–90th percentile 1.5–6.9 ms (without the
volume the spread was 6.6× instead of 4.6×: slabs, with their vacuum, and 0-GPa metal cells were the outliers). A
symmetric CaH2 cell costs about 6 s, a strained Ca2 cell 56 min, a hot Ca8 cell hours. The estimate is an order,
not a clock.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=None)
def valence_electrons(symbol: str, xc: str = "PBE") -> int:
    """Valence electrons of GPAW's default PAW setup of ``symbol`` (Ca: 10, with the 3s3p semicore).

    Without GPAW installed (``make setup-dft``), the electrons outside the previous noble-gas core, a lower bound
    that keeps the order of hydrogen-rich and metal-rich cells."""
    try:
        from gpaw.setup_data import SetupData
    except ImportError:
        from ase.data import atomic_numbers

        z = atomic_numbers[symbol]
        return z - max(c for c in (0, 2, 10, 18, 36, 54, 86) if c < z) if z > 2 else z
    return int(round(SetupData(symbol, xc, readxml=True).Nv))


def irreducible_kpoints(atoms, mesh) -> int:
    """Irreducible points of the Γ-centred ``mesh`` under the cell's space group and time reversal (spglib)."""
    import spglib

    cell = (np.asarray(atoms.cell[:]), atoms.get_scaled_positions(), atoms.numbers)
    mapping, _ = spglib.get_ir_reciprocal_mesh([int(n) for n in mesh], cell, is_shift=[0, 0, 0],
                                               is_time_reversal=True)
    return int(len(np.unique(mapping)))


def label_cost(atoms, settings) -> float:
    """Electron · k-point · Å³ of one label of ``atoms`` with ``settings`` (a
    :class:`~screening.reference.dft_settings.DFTSettings`): the k-point mesh of
    :meth:`~screening.reference.dft_settings.DFTSettings.calculator_settings`, reduced by symmetry, times the
    valence electrons and the volume of the cell."""
    from ase.calculators.calculator import kptdensity2monkhorstpack

    calc = settings.calculator_settings(atoms)
    mesh = calc.get("kpts_size") or kptdensity2monkhorstpack(atoms, calc["kpt_density"], even=False)
    electrons = sum(valence_electrons(s) for s in atoms.get_chemical_symbols())
    return float(irreducible_kpoints(atoms, mesh) * electrons * atoms.get_volume())
