"""The precursor-slab / dense-H2 interface: a slab of MH_n with its normal along z, in a periodic
cell whose remaining length along z is filled with a dense H2 fluid at the density of H2 at P.

Construction (:func:`build_interface`):

1. The precursor crystal is the template's conventional cell from :mod:`screening.structures`
   scaled to the project's volume model at P (``target_volume_per_metal``). Its c axis becomes
   the slab normal; if a and b are not orthogonal (hexagonal templates) the in-plane lattice is
   replaced by the smallest orthogonal integer supercell, so the cell is orthorhombic with c along
   z (what the LAMMPS back end and a z-only barostat need).
2. The cut plane along c is placed in the widest gap between atomic planes (the termination that
   breaks the fewest bonds); whole unit cells are stacked, so the slab keeps the precursor's
   stoichiometry. The slab occupies ``0 <= z < T`` with ``T = n_c * c``, i.e. its volume per metal
   atom is exactly the volume model's value (the slab's periodic repeat length is its thickness).
3. The repeats ``(n_a, n_b, n_c)`` are chosen for a roughly square cross-section, a slab about as
   thick as it is wide, and about ``n_slab_atoms_target`` atoms.
4. The H2 region ``T <= z < T + h`` (``h`` defaults to ``T``) receives ``N = round(A h' / v_H2(P))``
   molecules (bond 0.74 Å), ``v_H2`` from the Loubeyre solid-H2 EOS (``h2_volume_per_molecule``) and
   ``h'`` the thickness the molecular centres can reach (``h`` minus the edge gaps of step 5), so
   that the fluid away from the interfaces has the EOS density.
5. Centres are drawn uniformly at random, axes isotropically, then overlaps are removed by moving
   molecules rigidly apart (a packmol-like relaxation) until every intermolecular H–H distance is at
   least ``0.9 (v_H2/2)^(1/3)`` (1.36 Å at 40 GPa) and every fluid-H–slab distance at least the
   precursor's own shortest M–H (metal) or that H–H floor (slab H). Every fluid atom stays at least
   half the H–H floor inside the region, as the slab's atoms stay about half an interlayer spacing
   inside theirs, so the two phases do not interpenetrate at the start.

The result carries an :class:`InterfaceInfo` (counts, regions, target vs achieved densities) and
per-atom tags: 0 = slab, 1 = H2 fluid. Atom order: slab atoms first, then the molecules pairwise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from screening.errors import CandidateError

H2_BOND_A = 0.74
HH_FLOOR_FACTOR = 0.90  # min intermolecular H–H distance / mean H–H spacing (v_H2/2)^(1/3)
MAX_RELAX_ITER = 4000
TAG_SLAB, TAG_FLUID = 0, 1


@dataclass
class InterfaceInfo:
    """What :func:`build_interface` built. Lengths in Å, volumes in Å^3, z ranges are ``[lo, hi)``.

    ``achieved_h2_volume_per_molecule_a3`` is area x accessible thickness / N (the thickness the
    molecular centres can reach); ``interior_h2_volume_per_molecule_a3`` counts the centres in the
    middle half of the H2 region, a check of the packing's uniformity.
    """

    metal: str
    precursor_formula: str
    template: str
    h_per_metal: float
    pressure_gpa: float
    repeat: tuple[int, int, int]
    n_atoms: int
    n_metal: int
    n_h_slab: int
    n_h2_molecules: int
    cell_lengths_a: tuple[float, float, float]
    slab_z_range_a: tuple[float, float]
    h2_z_range_a: tuple[float, float]
    target_volume_per_metal_a3: float
    achieved_volume_per_metal_a3: float
    target_h2_volume_per_molecule_a3: float
    achieved_h2_volume_per_molecule_a3: float
    h2_accessible_thickness_a: float
    interior_h2_volume_per_molecule_a3: float
    min_hh_intermolecular_a: float
    min_fluid_h_metal_a: float
    seed: int

    @property
    def n_slab_atoms(self) -> int:
        """Slab atoms come first in the Atoms object."""
        return self.n_metal + self.n_h_slab

    def as_dict(self) -> dict:
        """JSON-serialisable dict (tuples become lists)."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "InterfaceInfo":
        """Inverse of :meth:`as_dict`."""
        kw = dict(d)
        for k in ("repeat", "cell_lengths_a", "slab_z_range_a", "h2_z_range_a"):
            kw[k] = tuple(kw[k])
        return cls(**kw)


# --------------------------------------------------------------------------- validation
def _check_inputs(metal, h_per_metal, pressure_gpa, n_slab_atoms_target, h2_thickness_a, repeat) -> None:
    from pymatgen.core.periodic_table import Element

    if not isinstance(metal, str) or not Element.is_valid_symbol(metal) or metal == "H":
        raise CandidateError(f"metal must be a chemical symbol other than H, got {metal!r}")
    for name, value in (("h_per_metal", h_per_metal), ("pressure_gpa", pressure_gpa)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise CandidateError(f"{name} must be a positive number, got {value!r}")
    if not isinstance(n_slab_atoms_target, (int, np.integer)) or n_slab_atoms_target < 1:
        raise CandidateError(f"n_slab_atoms_target must be a positive integer, got {n_slab_atoms_target!r}")
    if h2_thickness_a is not None and (not isinstance(h2_thickness_a, (int, float)) or not math.isfinite(h2_thickness_a)
                                       or h2_thickness_a <= 0):
        raise CandidateError(f"h2_thickness_a must be a positive length in Å, got {h2_thickness_a!r}")
    if repeat is not None:
        try:
            ok = len(tuple(repeat)) == 3 and all(isinstance(r, (int, np.integer)) and r >= 1 for r in repeat)
        except TypeError:
            ok = False
        if not ok:
            raise CandidateError(f"repeat must be three positive integers, got {repeat!r}")


def choose_template(h_per_metal: float, template: str | None = None):
    """The :class:`~screening.structures.Template` to use for MH_x.

    Raises:
        CandidateError: no template has this H/M, ``template`` is unknown or has another H/M, or
            several templates share this H/M and none was named.
    """
    from screening.structures import load_templates, templates_for

    lib = load_templates()
    if template is not None:
        if template not in lib:
            raise CandidateError(f"unknown template {template!r}; valid: {sorted(lib)}")
        t = lib[template]
        if abs(t.h_per_metal - h_per_metal) > 1e-6:
            raise CandidateError(f"template {template!r} has H/M = {t.h_per_metal:g}, not h_per_metal={h_per_metal:g}")
        return t
    found = templates_for(h_per_metal)
    if not found:
        have = sorted({t.h_per_metal for t in lib.values()})
        raise CandidateError(f"no structure template for H/M = {h_per_metal:g}; templates exist for H/M in {have}")
    if len(found) > 1:
        raise CandidateError(f"H/M = {h_per_metal:g} has several templates {[t.name for t in found]}; pass template=... "
                             "(e.g. the enthalpy tier's precursor_phase)")
    return found[0]


# --------------------------------------------------------------------------- slab
def orthogonal_inplane(atoms):
    """Smallest integer in-plane supercell with a ⟂ b (the cell itself if already orthogonal), a along x, c along z."""
    from ase.build import make_supercell

    cell = np.array(atoms.cell)
    a, b, c = cell
    if abs(np.dot(a, c)) > 1e-6 * np.linalg.norm(a) * np.linalg.norm(c) or \
            abs(np.dot(b, c)) > 1e-6 * np.linalg.norm(b) * np.linalg.norm(c):
        raise CandidateError("the template's c axis is not perpendicular to a and b (alpha, beta != 90°); "
                             "such cells cannot be cut into a z-normal slab here")
    best = None
    for m11 in range(-2, 3):
        for m12 in range(-2, 3):
            for m21 in range(-2, 3):
                for m22 in range(-2, 3):
                    det = m11 * m22 - m12 * m21
                    if det <= 0:
                        continue
                    u, v = m11 * a + m12 * b, m21 * a + m22 * b
                    if abs(np.dot(u, v)) < 1e-6 * np.linalg.norm(u) * np.linalg.norm(v):
                        identity = (m11, m12, m21, m22) == (1, 0, 0, 1)
                        key = (det, not identity, abs(np.linalg.norm(u) / np.linalg.norm(v) - 1.0))
                        if best is None or key < best[0]:
                            best = (key, [[m11, m12, 0], [m21, m22, 0], [0, 0, 1]])
    if best is None:  # pragma: no cover - every 2D lattice of the template library has one
        raise CandidateError("no small orthogonal in-plane supercell exists for this template")
    sc = atoms if best[1] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]] else make_supercell(atoms, best[1])
    std, _ = sc.cell.standard_form()
    sc.set_cell(std, scale_atoms=True)  # rotation: a along x, b along y, c along z
    sc.set_cell(np.diag(np.diag(np.array(sc.cell))), scale_atoms=False)  # drop round-off off-diagonals
    sc.wrap()
    return sc


def cut_in_widest_gap(atoms) -> None:
    """Shift atoms along c so that the widest gap between atomic planes straddles z = 0 (in place)."""
    s = np.sort(np.mod(atoms.get_scaled_positions()[:, 2], 1.0))
    gaps = np.diff(np.concatenate([s, [s[0] + 1.0]]))
    k = int(np.argmax(gaps))
    cut = s[k] + gaps[k] / 2.0
    frac = atoms.get_scaled_positions()
    frac[:, 2] = np.mod(frac[:, 2] - cut, 1.0)
    atoms.set_scaled_positions(frac)


def choose_repeat(lengths: tuple[float, float, float], n_cell: int, n_target: int, max_n: int = 12) -> tuple[int, int, int]:
    """Repeats for ~``n_target`` atoms, a square cross-section and a slab about as thick as it is wide.

    Minimises ``|ln(n/n_target)| + |ln(L_a/L_b)| + 0.5 |ln(T/sqrt(L_a L_b))|``.
    """
    a, b, c = lengths
    best, best_cost = (1, 1, 1), math.inf
    for na in range(1, max_n + 1):
        for nb in range(1, max_n + 1):
            for nc in range(1, max_n + 1):
                n = n_cell * na * nb * nc
                la, lb, t = a * na, b * nb, c * nc
                cost = abs(math.log(n / n_target)) + abs(math.log(la / lb)) + 0.5 * abs(math.log(t / math.sqrt(la * lb)))
                if cost < best_cost - 1e-12:
                    best, best_cost = (na, nb, nc), cost
    return best


# --------------------------------------------------------------------------- H2 fluid
def _unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def pack_h2(n_molecules: int, box: np.ndarray, z_range: tuple[float, float], fixed_positions: np.ndarray,
            fixed_is_h: np.ndarray, min_hh_a: float, min_h_metal_a: float, seed: int = 0,
            bond_a: float = H2_BOND_A, edge_a: float | None = None) -> np.ndarray:
    """Place ``n_molecules`` H2 molecules in ``z_range`` of an orthorhombic periodic ``box`` without overlaps.

    Random centres and isotropic axes, then rigid-molecule overlap removal: every pair of atoms
    closer than its floor (H–H between molecules and to fixed H: ``min_hh_a``; H–fixed metal:
    ``min_h_metal_a``) is pushed apart along its separation vector. Molecules are kept inside the
    region with every atom at least ``edge_a`` (default ``min_hh_a / 2``) from its z boundaries, the
    fluid's counterpart of the slab's cut plane lying halfway between atomic planes.

    Returns:
        ``(2 n, 3)`` positions, molecule ``i`` at rows ``2i, 2i+1``.

    Raises:
        CandidateError: no overlap-free packing was found (density too high for the floors).
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    box = np.asarray(box, dtype=float)
    z0, z1 = z_range
    if n_molecules == 0:
        return np.zeros((0, 3))
    lo = np.array([0.0, 0.0, z0])
    hi = np.array([box[0], box[1], z1])
    half = 0.5 * bond_a
    edge_a = 0.5 * min_hh_a if edge_a is None else float(edge_a)
    if z1 - z0 < 2 * (edge_a + half):
        raise CandidateError(f"the H2 region ({z1 - z0:.2f} Å) is too thin for one molecule layer "
                             f"(needs >= {2 * (edge_a + half):.2f} Å)")
    centres = lo + rng.random((n_molecules, 3)) * (hi - lo)
    centres[:, 2] = z0 + edge_a + half + rng.random(n_molecules) * (z1 - z0 - 2 * (edge_a + half))
    axes = _unit_vectors(n_molecules, rng)
    mol = np.repeat(np.arange(n_molecules), 2)
    fixed = np.mod(fixed_positions, box)
    fixed[fixed >= box] = 0.0
    fixed_tree = cKDTree(fixed, boxsize=box) if len(fixed) else None
    floor_fixed = np.where(np.asarray(fixed_is_h, dtype=bool), min_hh_a, min_h_metal_a)
    reach = max(min_hh_a, min_h_metal_a)
    pos = None
    for _ in range(MAX_RELAX_ITER):
        pos = np.empty((2 * n_molecules, 3))
        pos[0::2] = centres + half * axes
        pos[1::2] = centres - half * axes
        wrapped = np.mod(pos, box)
        wrapped[wrapped >= box] = 0.0
        disp = np.zeros_like(pos)
        worst = 0.0
        pairs = cKDTree(wrapped, boxsize=box).query_pairs(min_hh_a, output_type="ndarray")
        pairs = pairs[mol[pairs[:, 0]] != mol[pairs[:, 1]]]
        if len(pairs):
            d = wrapped[pairs[:, 1]] - wrapped[pairs[:, 0]]
            d -= box * np.round(d / box)
            r = np.linalg.norm(d, axis=1)
            overlap = min_hh_a - r
            worst = max(worst, float(overlap.max()))
            push = (0.5 * (overlap + 0.02) / np.maximum(r, 1e-6))[:, None] * d
            np.add.at(disp, pairs[:, 1], push)
            np.add.at(disp, pairs[:, 0], -push)
        if fixed_tree is not None:
            sdm = cKDTree(wrapped, boxsize=box).sparse_distance_matrix(fixed_tree, reach, output_type="ndarray")
            i, j = sdm["i"], sdm["j"]
            d = wrapped[i] - fixed[j]
            d -= box * np.round(d / box)
            r = np.linalg.norm(d, axis=1)
            bad = r < floor_fixed[j]
            if bad.any():
                i, j, d, r = i[bad], j[bad], d[bad], r[bad]
                overlap = floor_fixed[j] - r
                worst = max(worst, float(overlap.max()))
                np.add.at(disp, i, ((overlap + 0.02) / np.maximum(r, 1e-6))[:, None] * d)
        if worst <= 0.0:
            return pos
        # rigid-molecule update: translate by the mean push, rotate the axis towards the pushed atoms
        new1, new2 = pos[0::2] + disp[0::2], pos[1::2] + disp[1::2]
        centres = 0.5 * (new1 + new2)
        axis = new1 - new2
        norm = np.linalg.norm(axis, axis=1, keepdims=True)
        axes = np.where(norm > 1e-9, axis / np.maximum(norm, 1e-9), axes)
        reach_z = edge_a + half * np.abs(axes[:, 2])  # both atoms at least edge_a inside the region
        centres[:, 2] = np.clip(centres[:, 2], z0 + reach_z, z1 - reach_z)
        centres[:, :2] = np.mod(centres[:, :2], box[:2])
    raise CandidateError(f"could not pack {n_molecules} H2 molecules into {np.prod(hi - lo):.1f} Å^3 without overlaps "
                         f"(floors H–H {min_hh_a:.2f} Å, H–metal {min_h_metal_a:.2f} Å); try a thicker H2 region")


def _min_distances(atoms, n_slab: int) -> tuple[float, float]:
    """(shortest H–H between different molecules or fluid-slab H, shortest fluid-H – metal), periodic."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, 3.0)
    sym = np.array(atoms.get_chemical_symbols())
    fluid_i, fluid_j = i >= n_slab, j >= n_slab
    same_mol = fluid_i & fluid_j & ((i - n_slab) // 2 == (j - n_slab) // 2)
    hh = fluid_i & (sym[j] == "H") & ~same_mol
    hm = fluid_i & (sym[j] != "H")
    return (float(d[hh].min()) if hh.any() else math.inf, float(d[hm].min()) if hm.any() else math.inf)


def shortest_metal_h(atoms, default: float = 2.0) -> float:
    """Shortest metal–H distance (Å) of a periodic cell (``default`` if it has no M–H pair within 4 Å)."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, 4.0)
    is_h = np.array([s == "H" for s in atoms.get_chemical_symbols()])
    mh = is_h[i] != is_h[j]
    return float(d[mh].min()) if mh.any() else float(default)


def add_h2_fluid(slab, thickness_a: float, pressure_gpa: float, *, min_h_metal_a: float | None = None, seed: int = 0,
                 max_molecules: int | None = None):
    """The slab with a dense-H2 region of ``thickness_a`` on top: the one H2 packer of the engine.

    Used by :func:`build_interface` and by the training-set generator's slab + H2-layer cells
    (:func:`screening.engine.training_set.small_slabs`). Steps 4 and 5 of the module docstring:
    ``N = round(A h' / v_H2(P))`` molecules (Loubeyre EOS, ``h'`` the thickness the centres can
    reach), packed by :func:`pack_h2` with the H–H floor ``0.9 (v_H2/2)^(1/3)``, the metal floor
    ``min_h_metal_a`` and every fluid atom half the H–H floor inside the region.

    Args:
        slab: ASE Atoms in an orthorhombic cell with its normal along z and every atom in ``0 <= z < c``.
        thickness_a: thickness of the H2 region (Å); the cell grows by it along z.
        pressure_gpa: sets the H2 density (> 0).
        min_h_metal_a: closest allowed fluid-H–metal distance (default: the slab's own shortest M–H).
        seed: random placement.
        max_molecules: cap on N (a lower density; for cells that must stay small).

    Returns:
        ``(atoms, info)``: slab atoms first, then the molecules pairwise (tags 0 slab / 1 fluid), and
        ``{"n_molecules", "v_h2_a3", "min_hh_a", "accessible_a"}``.

    Raises:
        CandidateError: a non-orthorhombic cell, a region too thin for one molecule, or no packing.
    """
    from ase import Atoms

    from descriptors.eos import h2_volume_per_molecule

    cell = np.array(slab.cell)
    if not np.allclose(cell, np.diag(np.diag(cell)), atol=1e-6):
        raise CandidateError("add_h2_fluid needs an orthorhombic slab cell with c along z (see orthogonal_inplane)")
    lx, ly, thickness = (float(x) for x in np.diag(cell))
    h = float(thickness_a)
    v_h2 = float(h2_volume_per_molecule(float(pressure_gpa)))
    min_hh = HH_FLOOR_FACTOR * (v_h2 / 2.0) ** (1.0 / 3.0)
    edge = 0.5 * min_hh
    accessible = h - 2.0 * (edge + 0.25 * H2_BOND_A)  # centres keep edge + (bond/2)<|cos|> from the ends
    n_h2 = int(round(lx * ly * accessible / v_h2)) if accessible > 0 else 0
    if max_molecules is not None:
        n_h2 = min(n_h2, int(max_molecules))
    if n_h2 < 1:
        raise CandidateError(f"h2_thickness_a={h:g} Å holds no H2 molecule at {pressure_gpa:g} GPa "
                             f"(volume per molecule {v_h2:.2f} Å^3, area {lx * ly:.1f} Å^2)")
    if min_h_metal_a is None:
        min_h_metal_a = shortest_metal_h(slab)
    box = np.array([lx, ly, thickness + h])
    is_h = np.array(slab.get_chemical_symbols()) == "H"
    fluid = pack_h2(n_h2, box, (thickness, thickness + h), slab.positions, is_h, min_hh, min_h_metal_a, seed=seed,
                    edge_a=edge)
    atoms = Atoms(symbols=slab.get_chemical_symbols() + ["H"] * (2 * n_h2),
                  positions=np.vstack([slab.positions, fluid]), cell=np.diag(box), pbc=True)
    atoms.wrap()
    atoms.set_tags([TAG_SLAB] * len(slab) + [TAG_FLUID] * (2 * n_h2))
    return atoms, {"n_molecules": n_h2, "v_h2_a3": v_h2, "min_hh_a": min_hh, "accessible_a": accessible}


# --------------------------------------------------------------------------- builder
def build_interface(metal: str, h_per_metal: float, pressure_gpa: float, *, template: str | None = None,
                    repeat: tuple[int, int, int] | None = None, n_slab_atoms_target: int = 150,
                    h2_thickness_a: float | None = None, seed: int = 0):
    """A slab of the precursor MH_n (normal z) in contact with dense H2 at ``pressure_gpa``.

    Args:
        metal: metal symbol, e.g. ``"Ca"``.
        h_per_metal: precursor stoichiometry n of MH_n (a template with this H/M must exist).
        pressure_gpa: pressure that sets both densities (> 0).
        template: template name (required when several templates share this H/M, e.g. ``"cotunnite"``).
        repeat: ``(n_a, n_b, n_c)`` of the (orthogonalised) conventional cell; default from
            :func:`choose_repeat` and ``n_slab_atoms_target``.
        n_slab_atoms_target: approximate number of slab atoms.
        h2_thickness_a: thickness of the H2 region (default: the slab thickness).
        seed: random seed of the H2 placement.

    Returns:
        ``(atoms, info)``: ASE Atoms (orthorhombic cell, pbc, tags 0 slab / 1 fluid) and :class:`InterfaceInfo`.

    Raises:
        CandidateError: bad input (the value is named), no template, or an impossible packing.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.structures import build_structure
    from screening.structures.builder import shortest_distances, target_volume_per_metal

    _check_inputs(metal, h_per_metal, pressure_gpa, n_slab_atoms_target, h2_thickness_a, repeat)
    tmpl = choose_template(float(h_per_metal), template)
    structure = build_structure(tmpl, metal, float(pressure_gpa), primitive=False)
    min_mh = shortest_distances(structure).get("M-H", 2.0)
    unit = AseAtomsAdaptor.get_atoms(structure)
    unit.calc = None
    unit = orthogonal_inplane(unit)
    cut_in_widest_gap(unit)
    lengths = tuple(float(x) for x in unit.cell.lengths())
    rep = tuple(int(r) for r in repeat) if repeat is not None else choose_repeat(lengths, len(unit), int(n_slab_atoms_target))
    slab = unit.repeat(rep)
    order = np.argsort([s == "H" for s in slab.get_chemical_symbols()], kind="stable")  # metal first
    slab = slab[order]
    thickness = float(slab.cell[2, 2])
    h = float(h2_thickness_a) if h2_thickness_a is not None else thickness
    atoms, fluid_info = add_h2_fluid(slab, h, float(pressure_gpa), min_h_metal_a=min_mh, seed=seed)
    fluid = atoms.positions[len(slab):]
    lx, ly = float(atoms.cell[0, 0]), float(atoms.cell[1, 1])
    area = lx * ly
    box = np.diag(np.array(atoms.cell))
    v_h2, n_h2, accessible = fluid_info["v_h2_a3"], fluid_info["n_molecules"], fluid_info["accessible_a"]
    n_slab = len(slab)
    d_hh, d_hm = _min_distances(atoms, n_slab)
    n_metal = int(sum(s != "H" for s in slab.get_chemical_symbols()))
    centres = 0.5 * (fluid[0::2] + fluid[1::2])
    zc = centres[:, 2]
    q1, q3 = thickness + 0.25 * h, thickness + 0.75 * h
    n_mid = int(((zc >= q1) & (zc < q3)).sum())  # middle half of the region
    info = InterfaceInfo(
        metal=metal, precursor_formula=structure.composition.reduced_formula, template=tmpl.name,
        h_per_metal=float(h_per_metal), pressure_gpa=float(pressure_gpa), repeat=rep, n_atoms=len(atoms),
        n_metal=n_metal, n_h_slab=n_slab - n_metal, n_h2_molecules=n_h2, cell_lengths_a=tuple(float(x) for x in box),
        slab_z_range_a=(0.0, thickness), h2_z_range_a=(thickness, thickness + h),
        target_volume_per_metal_a3=target_volume_per_metal(metal, float(h_per_metal), float(pressure_gpa)),
        achieved_volume_per_metal_a3=area * thickness / n_metal,
        target_h2_volume_per_molecule_a3=v_h2, achieved_h2_volume_per_molecule_a3=area * accessible / n_h2,
        h2_accessible_thickness_a=accessible,
        interior_h2_volume_per_molecule_a3=area * 0.5 * h / n_mid if n_mid else math.inf,
        min_hh_intermolecular_a=d_hh, min_fluid_h_metal_a=d_hm, seed=int(seed))
    atoms.info["interface"] = info.as_dict()
    return atoms, info


__all__ = ["H2_BOND_A", "InterfaceInfo", "TAG_FLUID", "TAG_SLAB", "add_h2_fluid", "build_interface", "choose_repeat",
           "choose_template", "cut_in_widest_gap", "orthogonal_inplane", "pack_h2", "shortest_metal_h"]
