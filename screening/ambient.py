"""Hydrides that exist at ambient pressure: the only precursors the window recommends.

``data/ambient_hydrides.csv`` lists, with a literature source on every row, the binary hydrides
known at ambient conditions (formula, H/M, structure, and the matching template of
``data/structure_templates.json`` where one exists). A metal with no row has no ambient hydride:
its precursor is the element itself (H/M 0).
"""

from __future__ import annotations

import functools

import pandas as pd

from descriptors.eos import data_dir
from screening.errors import CandidateError

COLUMNS = ("formula", "metal", "h_per_metal", "structure", "template", "reference")
SOURCE = "data/ambient_hydrides.csv"


@functools.lru_cache(maxsize=1)
def ambient_table() -> pd.DataFrame:
    """The curated table (checked: needed columns, a reference on every row, known templates)."""
    from screening.structures.templates import load_templates

    path = data_dir() / "ambient_hydrides.csv"
    table = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise CandidateError(f"{path} lacks column(s) {missing}")
    unsourced = table["reference"].isna() | (table["reference"].astype(str).str.strip() == "")
    if unsourced.any():
        raise CandidateError(f"{path}: rows {list(table.index[unsourced])} have no reference")
    unknown = set(table["template"].dropna()) - set(load_templates())
    if unknown:
        raise CandidateError(f"{path}: unknown template(s) {sorted(unknown)}")
    return table


@functools.lru_cache(maxsize=None)
def ambient_hydrides(metal: str) -> tuple[tuple[str, float, str | None], ...]:
    """``(formula, h_per_metal, template or None)`` of every ambient hydride of ``metal``, by H/M."""
    t = ambient_table()
    rows = t[t["metal"] == metal].sort_values("h_per_metal")
    return tuple((str(r.formula), float(r.h_per_metal), None if pd.isna(r.template) else str(r.template))
                 for r in rows.itertuples())


def ambient_h_per_metal(metal: str) -> float:
    """H/M of the H-richest ambient hydride of ``metal`` (0 when it has none: the element is the precursor)."""
    from pymatgen.core import Element

    try:
        Element(metal)
    except ValueError:
        raise CandidateError(f"unknown element {metal!r}") from None
    rows = ambient_hydrides(metal)
    return max(x for _, x, _ in rows) if rows else 0.0
