"""Metal sublattices: extraction, comparison, and the precursor-compatibility measure.

Hydrogen uptake that keeps the metal sublattice (topotactic, martensite-like) is easier than
one that must rebuild it (reconstructive). Two measures are used:

* ``matched``: pymatgen ``StructureMatcher`` on the metal-only sublattices, volume scaled
  (``scale=True``), loose tolerances (:data:`LOOSE_TOLERANCES`) so that a strained version of the
  same arrangement still matches;
* ``similarity`` in [0, 1]: ``exp(-delta / SIMILARITY_SCALE)``, where ``delta`` is the mean
  absolute difference of the sorted first-``N_NEIGHBOURS`` metal–metal distances, each divided
  by the cube root of the volume per metal (a scale-free shell fingerprint, averaged over sites).

Both are properties of the template pair, independent of the metal species and the pressure.
The interface MD identifies its product phase with the same helpers and stricter (pymatgen default)
tolerances (:func:`screening.engine.simulate.match_product_phase`).
"""

from __future__ import annotations

import functools

import numpy as np

N_NEIGHBOURS = 14
SIMILARITY_SCALE = 0.05  # a 5% mean change of the scaled neighbour distances gives similarity 1/e
#: Strain-tolerant settings for "same arrangement up to a martensite-like distortion" (precursor compatibility).
LOOSE_TOLERANCES = {"ltol": 0.3, "stol": 0.5, "angle_tol": 10.0}


def metal_sublattice(structure, species: str = "Ca"):
    """The metal sites only, all relabelled ``species`` (the arrangement is compared, not the chemistry).

    Accepts a pymatgen ``Structure`` or ASE ``Atoms``; returns a new ``Structure`` (possibly empty).
    """
    from pymatgen.core import Structure

    if not isinstance(structure, Structure):
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    s = structure.copy()
    if any(el.symbol == "H" for el in s.composition.elements):
        s.remove_species(["H"])
    if len(s):
        s.replace_species({el: species for el in s.composition.elements if el.symbol != species})
    return s


@functools.lru_cache(maxsize=1)
def _template_sublattices() -> dict:
    from screening.structures.templates import load_templates

    return {name: metal_sublattice(t.conventional("Ca")) for name, t in load_templates().items()}


def template_metal_sublattices() -> dict:
    """Metal-only conventional cells of every template in data/structure_templates.json (name -> Structure)."""
    return {name: s.copy() for name, s in _template_sublattices().items()}


def sublattice_matcher(ltol: float, stol: float, angle_tol: float):
    """pymatgen ``StructureMatcher`` for metal sublattices: volume scaled, supercells allowed."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(ltol=ltol, stol=stol, angle_tol=angle_tol, scale=True, attempt_supercell=True,
                            primitive_cell=True)


def shell_fingerprint(sublattice, n_neighbours: int = N_NEIGHBOURS) -> np.ndarray:
    """Mean over sites of the sorted first ``n_neighbours`` distances / (V per site)^(1/3)."""
    scale = (sublattice.volume / len(sublattice)) ** (1.0 / 3.0)
    r = 3.0 * scale
    while True:
        neigh = sublattice.get_all_neighbors(r)
        if min(len(n) for n in neigh) >= n_neighbours:
            break
        r *= 1.3
    d = np.array([sorted(x.nn_distance for x in n)[:n_neighbours] for n in neigh])
    return d.mean(axis=0) / scale


def compare_sublattices(a, b) -> dict:
    """``{"matched": bool, "similarity": float, "delta": float}`` for two structures' metal sublattices."""
    sa, sb = metal_sublattice(a), metal_sublattice(b)
    if not len(sa) or not len(sb):
        raise ValueError("both structures need metal sites")
    matched = bool(sublattice_matcher(**LOOSE_TOLERANCES).fit(sa, sb))
    delta = float(np.mean(np.abs(shell_fingerprint(sa) - shell_fingerprint(sb))))
    return {"matched": matched, "similarity": float(np.exp(-delta / SIMILARITY_SCALE)), "delta": delta}


@functools.lru_cache(maxsize=None)
def template_compatibility(precursor: str, product: str) -> dict:
    """:func:`compare_sublattices` of two templates of ``data/structure_templates.json``: read from the
    committed ``data/template_compatibility.csv`` (built from the same template file), else computed."""
    stored = _stored_compatibility().get((precursor, product))
    if stored is not None:
        return dict(stored)
    subs = _template_sublattices()
    for name in (precursor, product):
        if name not in subs:
            raise KeyError(f"unknown template {name!r}; known: {', '.join(subs)}")
    return compare_sublattices(subs[precursor], subs[product])


COMPATIBILITY_FILE = "template_compatibility.csv"


def _templates_sha256() -> str:
    import hashlib

    from descriptors.eos import data_dir

    return hashlib.sha256((data_dir() / "structure_templates.json").read_bytes()).hexdigest()


def compatibility_table():
    """:func:`compare_sublattices` of every ordered template pair (slow: ~10 s; run by
    :func:`write_compatibility_table`, which regenerates ``data/template_compatibility.csv``)."""
    import pandas as pd

    subs = _template_sublattices()
    sha = _templates_sha256()
    rows = []
    for a in subs:
        for b in subs:
            c = compare_sublattices(subs[a], subs[b])
            rows.append({"precursor": a, "product": b, "matched": c["matched"], "similarity": round(c["similarity"], 6),
                         "delta": round(c["delta"], 6), "templates_sha256": sha,
                         "source": "computed: screening.structures.sublattice.compatibility_table (pymatgen StructureMatcher, "
                                   f"ltol={LOOSE_TOLERANCES['ltol']}, stol={LOOSE_TOLERANCES['stol']}, "
                                   f"angle_tol={LOOSE_TOLERANCES['angle_tol']}; shell fingerprint N={N_NEIGHBOURS})"})
    return pd.DataFrame(rows)


def write_compatibility_table(path=None):
    """Regenerate the committed table (``python -c 'from screening.structures.sublattice import
    write_compatibility_table as w; w()'``) after editing ``data/structure_templates.json``."""
    from descriptors.eos import data_dir

    path = path or data_dir() / COMPATIBILITY_FILE
    compatibility_table().to_csv(path, index=False)
    _stored_compatibility.cache_clear()
    return path


@functools.lru_cache(maxsize=1)
def _stored_compatibility() -> dict:
    """``{(precursor, product): row}`` from the committed table, or {} when it is missing or was built
    from another version of the template file (then pairs are computed on demand)."""
    import pandas as pd

    from descriptors.eos import data_dir

    path = data_dir() / COMPATIBILITY_FILE
    if not path.exists():
        return {}
    table = pd.read_csv(path)
    if set(table["templates_sha256"]) != {_templates_sha256()}:
        return {}
    return {(r.precursor, r.product): {"matched": bool(r.matched), "similarity": float(r.similarity), "delta": float(r.delta)}
            for r in table.itertuples()}
