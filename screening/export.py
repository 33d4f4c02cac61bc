"""Tier-2a relaxed structures as files a DFT code reads (CIF, POSCAR, extended XYZ).

Every relaxation of the enthalpy tier is stored (``results.sqlite``) with its relaxed cell. This module
writes, for one metal–H system and every pressure of its grid, the phases on the convex hull (the metal,
H2 and the stable hydrides; ``hull_only=False`` for every phase), each with a JSON sidecar saying which
calculator and settings relaxed it, at which pressure, its enthalpy and hull distance. A universal ML
potential is labelled as such: these are starting geometries for DFT, not DFT structures.

File names: ``<formula>_<template>_<P>GPa.<ext>`` (e.g. ``LaH10_fcc_clathrate_150GPa.cif``,
``H2_mhcp_50GPa.extxyz``), sidecar ``<same stem>.json``. Written atomically.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from screening.errors import CandidateError
from screening.formulas import chemical_formula
from screening.provenance import atomic_write

#: Formats and their file extensions.
FORMATS = {"cif": ".cif", "poscar": ".vasp", "extxyz": ".extxyz"}


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _write_structure(structure, path: Path, fmt: str, comment: str, info: dict) -> Path:
    """One structure file in ``fmt``; POSCAR and extxyz carry a one-line provenance comment."""
    if fmt == "cif":
        from pymatgen.io.cif import CifWriter

        text = f"# {comment}\n" + str(CifWriter(structure))
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    if fmt == "poscar":
        from pymatgen.io.vasp import Poscar

        text = Poscar(structure, comment=comment[:200]).get_str()
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    if fmt == "extxyz":
        from ase.io import write
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.info.update({k: v for k, v in info.items() if isinstance(v, (str, int, float, bool))})
        return atomic_write(path, lambda tmp: write(tmp, atoms, format="extxyz"))
    raise CandidateError(f"unknown structure format {fmt!r}; choose from {', '.join(FORMATS)}")


def export_system_structures(system, out_dir: str | Path, formats: Sequence[str] = ("cif", "extxyz"),
                             hull_only: bool = True) -> list[Path]:
    """Write the relaxed structures of a :class:`~screening.proxies.enthalpy.SystemResult`.

    Args:
        system: a computed system (:func:`screening.compute_system` or :func:`system_from_store`); its
            ``relaxations`` table must hold the relaxed structures (column ``structure``).
        out_dir: folder to write into (created).
        formats: any of :data:`FORMATS`.
        hull_only: only the phases on the convex hull at each pressure (default); else every usable relaxation.

    Returns:
        The paths written (structure files and their ``.json`` sidecars).
    """
    from pymatgen.core import Structure

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise CandidateError(f"unknown structure format(s) {bad}; choose from {', '.join(FORMATS)}")
    table = system.relaxations
    if table is None or "structure" not in table.columns:
        raise CandidateError(f"the {system.metal}-H system carries no relaxed structures to export")
    out = Path(out_dir)
    written: list[Path] = []
    for p in system.pressures:
        hull = system.hull(p)
        on = hull[hull["on_hull"]] if hull_only else hull
        wanted = {"H2": (0.0, True)}
        wanted.update({r.phase: (r.e_above_hull_ev_per_atom, bool(r.on_hull)) for r in on.itertuples()})
        if not hull_only:
            usable = table[(table["pressure_gpa"] == p) & table["status"].isin(["ok", "not_converged"])]
            for name in usable["phase"]:
                wanted.setdefault(name, (math.nan, False))
        for name, (e_hull, on_hull) in wanted.items():
            rows = table[(table["phase"] == name) & (table["pressure_gpa"] == p)]
            if rows.empty or not isinstance(rows.iloc[0]["structure"], dict):
                continue
            row = rows.iloc[0]
            structure = Structure.from_dict(row["structure"])
            formula = "H2" if name == "H2" else chemical_formula(structure.composition)  # molecular solid
            stem = _safe(f"{formula}_{row['template']}_{p:g}GPa")
            info = {
                "formula": formula, "phase": name, "template": row["template"], "pressure_gpa": float(p),
                "calculator": system.calculator.label, "calculator_kind": system.calculator.kind,
                "relax_settings": json.dumps(system.settings.as_dict()), "status": row["status"],
                "converged": bool(row["converged"]), "enthalpy_ev_per_fu": float(row["enthalpy_ev_per_fu"]),
                "e_above_hull_ev_per_atom": float(e_hull), "on_hull": on_hull,
                "note": "relaxed by the tier-2a enthalpy proxy; a starting geometry for DFT, not a DFT structure",
            }
            comment = (f"{formula} {row['template']} relaxed at {p:g} GPa by {system.calculator.label}; "
                       f"status {row['status']}; superhydride-screening tier 2a")
            for fmt in formats:
                written.append(_write_structure(structure, out / f"{stem}{FORMATS[fmt]}", fmt, comment, info))
            sidecar = json.dumps({**info, "calculator": system.calculator.as_dict(),
                                  "relax_settings": system.settings.as_dict(),
                                  "files": [f"{stem}{FORMATS[f]}" for f in formats]}, indent=2, default=str)
            written.append(atomic_write(out / f"{stem}.json", lambda tmp, t=sidecar: Path(tmp).write_text(t + "\n")))
    return written


# --------------------------------------------------------------------------- from the result store
def _parse_phase(key: str, metal: str) -> tuple[str, float] | None:
    """(kind, H/M) of a stored phase key (``H2``, ``Ca/fcc``, ``CaH5.75/A15``)."""
    if key == "H2":
        return "h2", math.inf
    m = re.fullmatch(rf"{re.escape(metal)}/(fcc|bcc|hcp)", key)
    if m:
        return "metal", 0.0
    m = re.fullmatch(rf"{re.escape(metal)}H([0-9.]+)/.+", key)
    if m:
        return "hydride", float(m.group(1))
    return None


def stored_relaxations(metal: str, store=None) -> list[tuple[dict, dict]]:
    """(inputs, result) of every stored tier-2a relaxation of the ``metal``–H system (read-only), including the
    H2 relaxations every system shares (stored under :data:`~screening.proxies.enthalpy.SHARED_H2_METAL`)."""
    from screening.proxies.enthalpy import SHARED_H2_METAL
    from screening.relax import checked_relaxation
    from screening.store import ResultStore

    path = (store or ResultStore()).path
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT inputs, result FROM results WHERE kind = 'relax'").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise CandidateError(f"cannot read the result store {str(path)!r}: {exc}") from None
    out = []
    for inputs_text, result_text in rows:
        inputs = json.loads(inputs_text)
        start = inputs.get("start", {})
        if start.get("metal") == metal or (start.get("metal") == SHARED_H2_METAL and start.get("phase") == "H2"):
            out.append((inputs, checked_relaxation(json.loads(result_text))))
    return out


def system_from_store(metal: str, calculator: str | None = None, store=None):
    """Rebuild a metal–H system from the stored relaxations only (no calculator is loaded, nothing is run).

    Uses the calculator (``calculator`` = its registry name, else the one with most stored relaxations
    of the system) and relaxation settings with most results, and every pressure at which H2 and a metal
    reference were relaxed.
    """
    from screening.calculators import CalculatorInfo
    from screening.proxies.enthalpy import _display_name, relaxation_row, system_from_relaxations
    from screening.relax import RelaxSettings

    records = stored_relaxations(metal, store)
    if calculator:
        records = [r for r in records if r[0]["calculator"].get("name") == calculator]
    if not records:
        raise CandidateError(f"no stored tier-2a relaxations of {metal}-H"
                             + (f" by {calculator!r}" if calculator else "") + "; run 'make proxies' first")
    def group(inputs: dict) -> str:
        return json.dumps([inputs["calculator"], inputs["settings"]], sort_keys=True)

    best = Counter(group(i) for i, _ in records).most_common(1)[0][0]
    records = [(i, r) for i, r in records if group(i) == best]
    info = CalculatorInfo(**records[0][0]["calculator"])
    settings = RelaxSettings(**records[0][0]["settings"])
    rows = []
    for inputs, res in records:
        key = inputs["start"]["phase"]
        parsed = _parse_phase(key, metal)
        if parsed is None:
            continue
        kind, x = parsed
        tname = inputs["start"]["template"]
        rows.append(relaxation_row(_display_name(key, kind, metal, x, tname), kind, x, tname,
                                   float(inputs["pressure_gpa"]), res, True))
    table = (pd.DataFrame(rows).sort_values(["phase", "pressure_gpa"], kind="stable")
             .drop_duplicates(["phase", "pressure_gpa"], keep="last").reset_index(drop=True))  # H2: shared and per-metal
    ok = table[table["status"].isin(["ok", "not_converged"])]
    have_h2 = set(ok.loc[ok["kind"] == "h2", "pressure_gpa"])
    have_metal = set(ok.loc[ok["kind"] == "metal", "pressure_gpa"])
    pressures = sorted(have_h2 & have_metal)
    if len(pressures) < 2:
        raise CandidateError(f"stored {metal}-H relaxations cover fewer than two pressures with H2 and the metal")
    table = table[table["pressure_gpa"].isin(pressures)]
    return system_from_relaxations(metal, info, settings, pressures, _complete(table, pressures))


def _complete(table: pd.DataFrame, pressures: Iterable[float]) -> pd.DataFrame:
    """Give every phase a row at every pressure (missing ones as 'missing', NaN), as compute_system does."""
    rows = [table]
    for name, g in table.groupby("phase", sort=False):
        first = g.iloc[0]
        for p in set(pressures) - set(g["pressure_gpa"]):
            rows.append(pd.DataFrame([{"phase": name, "kind": first["kind"], "h_per_metal": first["h_per_metal"],
                                       "template": first["template"], "pressure_gpa": p, "status": "missing",
                                       "converged": False, "enthalpy_ev_per_fu": math.nan,
                                       "volume_a3_per_fu": math.nan, "structure": None}]))
    return pd.concat(rows, ignore_index=True).sort_values(["phase", "pressure_gpa"], kind="stable")


def export_from_store(metal: str, out_dir: str | Path, formats: Sequence[str] = ("cif", "extxyz"),
                      calculator: str | None = None, hull_only: bool = True, store=None) -> list[Path]:
    """:func:`export_system_structures` of :func:`system_from_store` (``python -m screening export-structures``)."""
    return export_system_structures(system_from_store(metal, calculator, store), out_dir, formats, hull_only)


__all__ = ["FORMATS", "export_from_store", "export_system_structures", "stored_relaxations", "system_from_store"]
