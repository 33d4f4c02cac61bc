"""Exact symmetry for relaxed cells before a DFT label.

A cell relaxed with an ML potential keeps its space group only up to numerical noise (CHGNet's float32 forces
and stresses leave displacements of ~1e-6 Å). GPAW's symmetry analysis uses a tolerance of 1e-7, so it finds
the identity alone and samples the whole half Brillouin zone: a relaxed Fm-3m MH2 cell at 150 GPa ran 666
k-points instead of 56. :func:`standardize_primitive` returns spglib's standardized primitive cell (exact
positions and lattice of the space group found within ``symprec``), on which the DFT code uses the full point
group.
"""

from __future__ import annotations

#: Cartesian tolerance (Å) of the space-group search: far above the relaxation noise, far below any real
#: distortion that would change the physics of the label.
SYMPREC_A = 1e-3


def standardize_primitive(atoms, symprec: float = SYMPREC_A):
    """The spglib standardized primitive cell of ``atoms``, idealized to its space group within ``symprec``.

    Returns:
        ``(atoms, space_group)``: a new :class:`ase.Atoms` (same ``info``, no calculator, periodic) and the
        international symbol with number, e.g. ``"Fm-3m (225)"``. When spglib finds no symmetry, a copy of the
        input and ``"P1 (1)"``.
    """
    import spglib
    from ase import Atoms

    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
    found = spglib.get_spacegroup(cell, symprec=symprec)
    standard = spglib.standardize_cell(cell, to_primitive=True, no_idealize=False, symprec=symprec)
    if not found or standard is None:
        out = atoms.copy()
        out.calc = None
        return out, "P1 (1)"
    lattice, positions, numbers = standard
    out = Atoms(numbers=numbers, cell=lattice, scaled_positions=positions, pbc=True)
    out.wrap()
    out.info = dict(atoms.info)
    return out, found


__all__ = ["SYMPREC_A", "standardize_primitive"]
