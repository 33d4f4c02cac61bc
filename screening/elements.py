"""Which elements the default screen covers, grouped by family."""

from __future__ import annotations

#: Hydride-forming elements by family. Fr, Ra and Po are left out (no usable hydride
#: chemistry or element data); S and Se are included as benchmarks because H3S and
#: H3Se are the first pressure-made superhydrides.
FAMILIES: dict[str, tuple[str, ...]] = {
    "alkali": ("Li", "Na", "K", "Rb", "Cs"),
    "alkaline_earth": ("Be", "Mg", "Ca", "Sr", "Ba"),
    "rare_earth": (
        "Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu",
    ),
    "actinide": ("Ac", "Th", "Pa", "U", "Np", "Pu"),
    "transition": (
        "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
        "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd",
        "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg",
    ),
    "post_transition": ("Al", "Ga", "In", "Sn", "Tl", "Pb", "Bi"),
    "metalloid": ("B", "Si", "Ge", "As", "Sb", "Te"),
    "chalcogen_benchmark": ("S", "Se"),
}

FAMILY_OF: dict[str, str] = {el: fam for fam, els in FAMILIES.items() for el in els}

#: Every element a candidate may contain besides H, in family order.
SUPPORTED_METALS: tuple[str, ...] = tuple(FAMILY_OF)


def valid_choices_text() -> str:
    """Human-readable list of supported metals, by family, for error messages."""
    return "; ".join(f"{fam}: {' '.join(els)}" for fam, els in FAMILIES.items())
