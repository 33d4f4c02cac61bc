"""Adapt a template to a metal and pressure, and reject unphysical geometries.

The first-guess volume per metal atom is the tier-1 ideal-mixing estimate
(:class:`descriptors.hydride.PressureVolume`) at the target pressure, so the
relaxation starts near the right density. The distance check is what catches a
wrong Wyckoff parameter: a structure whose shortest M–H, H–H or M–M distance is
below a floor is refused with the offending pair named.
"""

from __future__ import annotations

import numpy as np

from descriptors.elements import element_table
from descriptors.eos import h2_volume_per_molecule
from descriptors.hydride import PressureVolume
from screening.errors import CandidateError
from screening.structures.templates import Template

#: Floors for interatomic distances, Å. H–H: the H2 bond is 0.74 Å and shortens
#: little under pressure. M–H and M–M: a fraction of the covalent-radius sum.
MIN_HH_A = 0.60
COVALENT_FRACTION = 0.60
H_COVALENT_A = 0.31


class StructureError(CandidateError):
    """A built or relaxed structure is unphysical (names the pair and the distance)."""


def _floors(metal_radius: float) -> dict[str, float]:
    return {
        "H-H": MIN_HH_A,
        "M-H": COVALENT_FRACTION * (metal_radius + H_COVALENT_A),
        "M-M": COVALENT_FRACTION * 2 * metal_radius,
    }


def shortest_lattice_vector(lattice) -> float:
    """Length (Å) of the shortest non-zero lattice vector: the distance from an atom to its own image.

    ``min(lattice.abc)`` is that length only for a reduced basis; a cell sheared during a relaxation can
    have three long edges and a short a − b. The search runs over the LLL-reduced basis, whose shortest
    vector is among the combinations with coefficients in {-1, 0, 1} in three dimensions.
    """
    m = lattice.get_lll_reduced_lattice().matrix
    coeffs = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1) if (i, j, k) != (0, 0, 0)])
    return float(np.linalg.norm(coeffs @ m, axis=1).min())


def shortest_distances(structure) -> dict[str, float]:
    """Shortest H–H, M–H and M–M distances (Å), periodic images included."""
    dm = structure.distance_matrix.copy()
    np.fill_diagonal(dm, np.inf)
    # A one-atom-per-species cell needs its own periodic images.
    self_image = shortest_lattice_vector(structure.lattice)
    is_h = np.array([site.specie.symbol == "H" for site in structure])
    out = {}
    for name, a, b in (("H-H", is_h, is_h), ("M-H", ~is_h, is_h), ("M-M", ~is_h, ~is_h)):
        if a.any() and b.any():
            sub = dm[np.ix_(a, b)]
            value = float(sub.min()) if sub.size else np.inf
            if name != "M-H":
                value = min(value, self_image)
            out[name] = value
    return out


def check_distances(structure, label: str = "") -> dict[str, float]:
    """Raise :class:`StructureError` if a shortest distance is below its floor; return the distances."""
    metals = sorted({s.specie.symbol for s in structure if s.specie.symbol != "H"})
    radius = float(element_table(tuple(metals))["covalent_radius_A"].min()) if metals else 0.0
    floors = _floors(radius)
    found = shortest_distances(structure)
    for pair, d in found.items():
        if d < floors[pair]:
            raise StructureError(
                f"{label or structure.composition.reduced_formula}: shortest {pair} distance {d:.2f} Å is below the "
                f"{floors[pair]:.2f} Å floor; the template's Wyckoff parameters or the volume are wrong"
            )
    return found


def target_volume_per_metal(metal: str, h_per_metal: float, pressure_gpa: float) -> float:
    """Tier-1 ideal-mixing volume per metal atom (Å^3) of MH_x at P."""
    from descriptors.composition_matrix import CompositionMatrix

    cm = CompositionMatrix.from_metal_lists([[metal]], [[1.0]], [h_per_metal])
    feats = PressureVolume().featurize_matrix(cm, np.array([pressure_gpa]))
    return float(feats[0, PressureVolume().feature_labels().index("volume_per_metal_est_A3")])


def build_structure(template: Template, metal: str, pressure_gpa: float, primitive: bool = True):
    """Template with ``metal`` substituted, volume scaled to the pressure-aware first guess, distances checked.

    Returns:
        pymatgen ``Structure`` (primitive cell by default).

    Raises:
        StructureError: the geometry violates a distance floor.
    """
    s = template.conventional(metal)
    if primitive:
        s = s.get_primitive_structure()
    n_metal = sum(1 for site in s if site.specie.symbol != "H")
    s.scale_lattice(target_volume_per_metal(metal, template.h_per_metal, pressure_gpa) * n_metal)
    check_distances(s, f"{template.name} {metal}H{template.h_per_metal:g} at {pressure_gpa:g} GPa")
    return s


def h2_structure(pressure_gpa: float):
    """Solid H2 reference: hcp lattice of H2 molecules aligned with c (P6_3/mmc, 4 atoms).

    This ordered stand-in for phase I is the usual reference in structure searches
    up to ~300 GPa. The starting volume comes from the Loubeyre et al. (2020) EOS.
    """
    from pymatgen.core import Lattice, Structure

    v = float(h2_volume_per_molecule(pressure_gpa))
    c_over_a = 1.633
    a = (2 * v / (np.sqrt(3) / 2 * c_over_a)) ** (1 / 3)
    c = c_over_a * a
    delta = 0.37 / c
    return Structure.from_spacegroup(194, Lattice.hexagonal(a, c), ["H"], [[1 / 3, 2 / 3, 0.25 + delta]])


def metal_structures(metal: str, pressure_gpa: float) -> dict:
    """Elemental references: fcc, bcc and hcp (ideal c/a) at the tier-1 volume of the metal at P."""
    from pymatgen.core import Lattice, Structure

    v = target_volume_per_metal(metal, 1e-9, pressure_gpa)
    a_fcc = (4 * v) ** (1 / 3)
    a_bcc = (2 * v) ** (1 / 3)
    a_hcp = (2 * v / (np.sqrt(3) / 2 * 1.633)) ** (1 / 3)
    return {
        "fcc": Structure(Lattice.cubic(a_fcc), [metal] * 4, [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]]).get_primitive_structure(),
        "bcc": Structure(Lattice.cubic(a_bcc), [metal] * 2, [[0, 0, 0], [.5, .5, .5]]).get_primitive_structure(),
        "hcp": Structure.from_spacegroup(194, Lattice.hexagonal(a_hcp, 1.633 * a_hcp), [metal], [[1 / 3, 2 / 3, 0.25]]),
    }


__all__ = ["StructureError", "build_structure", "check_distances", "h2_structure", "metal_structures",
           "shortest_distances", "shortest_lattice_vector", "target_volume_per_metal"]
