"""The prototype library in ``data/structure_templates.json``."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from descriptors.eos import data_dir
from screening.errors import CandidateError


@dataclass(frozen=True)
class Template:
    """One prototype: space group, archetype lattice and Wyckoff sites (species 'M' or 'H')."""

    name: str
    h_per_metal: float
    space_group: str
    number: int
    lattice: dict
    sites: tuple
    archetype: str
    archetype_pressure_gpa: float
    wyckoff_status: str
    source: str
    doi: str

    def conventional(self, metal: str = "La"):
        """The conventional cell with ``metal`` on the M sites, archetype lattice parameters."""
        from pymatgen.core import Lattice, Structure

        lat = self.lattice
        a = lat["a"]
        if self.number >= 195:
            lattice = Lattice.cubic(a)
        elif 168 <= self.number <= 194:
            lattice = Lattice.hexagonal(a, lat["c"])
        elif 75 <= self.number <= 142:
            lattice = Lattice.tetragonal(a, lat["c"])
        else:
            lattice = Lattice.orthorhombic(a, lat["b"], lat["c"])
        species = [metal if s["species"] == "M" else "H" for s in self.sites]
        coords = [s["coords"] for s in self.sites]
        return Structure.from_spacegroup(self.number, lattice, species, coords, tol=1e-3)


def primitive_size(template: Template) -> int:
    """Atoms in the template's primitive cell (independent of the metal)."""
    return _primitive_size(template.name) if load_templates().get(template.name) == template else \
        len(template.conventional("La").get_primitive_structure())


@functools.lru_cache(maxsize=None)
def _primitive_size(name: str) -> int:
    return len(load_templates()[name].conventional("La").get_primitive_structure())


@functools.lru_cache(maxsize=1)
def load_templates() -> dict[str, Template]:
    """All templates by name."""
    raw = json.loads((data_dir() / "structure_templates.json").read_text())
    out = {}
    for t in raw["templates"]:
        out[t["name"]] = Template(
            name=t["name"], h_per_metal=float(t["h_per_metal"]), space_group=t["space_group"], number=int(t["number"]),
            lattice=dict(t["lattice"]), sites=tuple(t["sites"]), archetype=t["archetype"],
            archetype_pressure_gpa=float(t["archetype_pressure_gpa"]), wyckoff_status=t["wyckoff_status"],
            source=t["source"], doi=t["doi"],
        )
    return out


def templates_for(h_per_metal: float | None = None, names=None) -> list[Template]:
    """Templates with this H/M (or all), optionally restricted to ``names``."""
    lib = load_templates()
    if names is not None:
        unknown = [n for n in names if n not in lib]
        if unknown:
            raise CandidateError(f"unknown template(s) {unknown}; valid: {sorted(lib)}")
        chosen = [lib[n] for n in names]
    else:
        chosen = list(lib.values())
    if h_per_metal is not None:
        chosen = [t for t in chosen if abs(t.h_per_metal - h_per_metal) < 1e-6]
    return chosen


def precursor_template(metal: str, h_per_metal: float) -> str:
    """Template of the precursor MH_x: the one whose archetype is this very hydride (CaH2 -> cotunnite),
    else the first template with that H/M."""
    from screening.formulas import hydride_formula

    candidates = templates_for(h_per_metal)
    if not candidates:
        raise CandidateError(f"no structure template for the precursor {hydride_formula(metal, h_per_metal)}")
    formula = hydride_formula(metal, h_per_metal)
    named = [t for t in candidates if formula in t.archetype.replace(" ", "").split("/")]
    return (named or candidates)[0].name
