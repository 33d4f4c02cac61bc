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
#: The tolerance at which GPAW itself looks for symmetry (a cell that has it only to 1e-6 Å gets none there).
GPAW_SYMPREC_A = 1e-7


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


def scaled_primitives(atoms, factors, symprec: float = SYMPREC_A) -> tuple[list, str]:
    """The exact-symmetry primitive cell of ``atoms`` (:func:`standardize_primitive`) scaled isotropically to each
    of ``factors`` x its volume: EOS points that keep the point group, so each costs a DFT code no more than the
    cell itself.

    Returns:
        ``(cells, space_group)``: one new :class:`ase.Atoms` per factor (same ``info`` as ``atoms``), and the
        space group of the primitive cell.
    """
    primitive, group = standardize_primitive(atoms, symprec)
    cells = []
    for factor in factors:
        cell = primitive.copy()
        cell.set_cell(cell.cell[:] * float(factor) ** (1.0 / 3.0), scale_atoms=True)
        cells.append(cell)
    return cells, group


def kpoint_mesh(atoms, density: float, symprec: float = GPAW_SYMPREC_A) -> tuple[int, int, int]:
    """Γ-centred Monkhorst–Pack mesh of at least ``density`` k-points per Å⁻¹ that keeps the cell's point group.

    GPAW's density rule (ASE's ``kptdensity2monkhorstpack``) sizes each reciprocal direction on its own. In a
    body-centred tetragonal primitive cell the point group mixes all three directions while their reciprocal
    lengths differ, so the rule gives e.g. 11 x 11 x 13, a grid that half the operations do not map onto itself:
    GPAW then reduces the zone by the remaining ones only (432 irreducible points for I4/mmm LaH4 instead of
    ~170). Here the sizes of directions that some operation (found to ``symprec`` Å, GPAW's tolerance) mixes are
    raised to their largest value: a Γ-centred grid with equal sizes along mixed directions is invariant under
    the point group, and every direction keeps at least the requested density.
    """
    from ase.calculators.calculator import kptdensity2monkhorstpack

    return symmetric_mesh(atoms, [int(n) for n in kptdensity2monkhorstpack(atoms, density, even=False)], symprec)


def symmetric_mesh(atoms, mesh, symprec: float = GPAW_SYMPREC_A) -> tuple[int, int, int]:
    """``mesh`` with the sizes of the directions that the cell's point group mixes raised to their largest value
    (see :func:`kpoint_mesh`)."""
    import spglib

    mesh = [int(n) for n in mesh]
    dataset = spglib.get_symmetry_dataset((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers),
                                          symprec=symprec)
    if dataset is None:
        return tuple(mesh)
    parent = list(range(3))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for rotation in dataset.rotations:
        for i in range(3):
            for j in range(3):
                if i != j and rotation[i][j] != 0:
                    parent[root(i)] = root(j)
    largest = {}
    for i in range(3):
        largest[root(i)] = max(largest.get(root(i), 0), mesh[i])
    return tuple(largest[root(i)] for i in range(3))


__all__ = ["GPAW_SYMPREC_A", "SYMPREC_A", "kpoint_mesh", "scaled_primitives", "standardize_primitive", "symmetric_mesh"]
