"""DFT volumes at the target pressures, from the dataset's EOS points (``data/dft/volumes.csv``).

Every relaxed round-1 cell of the dataset has ``eos`` copies: its exact-symmetry primitive cell scaled
isotropically (:mod:`screening.reference.dataset`). For a cubic cell whose atoms all sit on Wyckoff positions
without free coordinates (fluorite MH2, sodalite MH6, fcc and bcc metals), isotropic scaling is the only degree
of freedom, so the DFT pressures of the cell and its copies give the DFT equilibrium volume at any pressure
between them: ln V is interpolated as a quadratic in P through the points (exact at each point, monotone
checked). Cells with free coordinates or a non-cubic lattice are left out, since there the relaxed volume also
depends on the internal relaxation; so is a target pressure outside the sampled range (no extrapolation).

The table is the DFT side of the relaxed-volume benchmark
(:func:`screening.reference.benchmark.volume_benchmark`); its ``structure`` column names the relaxed cell as
``<file>#<config_id>`` inside the dataset folder.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from screening.reference.domain import dft_pressure_gpa

#: A cell whose DFT forces are all below this (eV/Å) at every EOS point has no free coordinates to relax.
MAX_FORCE_EV_PER_A = 0.01
VOLUME_TABLE_COLUMNS = ("phase", "metal", "template", "pressure_gpa", "dft_volume_a3_per_atom", "structure", "source",
                        "space_group", "n_points", "pressure_min_gpa", "pressure_max_gpa", "max_force_ev_per_a",
                        "status")


def _space_group(atoms) -> tuple[str, int]:
    import spglib

    dataset = spglib.get_symmetry_dataset((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=1e-3)
    if dataset is None:
        return "P1", 1
    return str(dataset.international), int(dataset.number)


def volume_at_pressure(volumes: Sequence[float], pressures: Sequence[float], target_gpa: float) -> float:
    """Volume at ``target_gpa`` from (V, P) points of one cell: ln V quadratic (linear for two points) in P.

    Returns NaN when the target is outside the sampled pressures or the interpolant is not monotone there.
    """
    v = np.asarray(volumes, float)
    p = np.asarray(pressures, float)
    if len(v) < 2 or not (p.min() <= target_gpa <= p.max()):
        return math.nan
    order = np.argsort(p)
    p, lnv = p[order], np.log(v[order])
    coef = np.polyfit(p, lnv, min(2, len(p) - 1))
    grid = np.linspace(p[0], p[-1], 101)
    if np.any(np.diff(np.polyval(coef, grid)) >= 0):  # volume must fall with pressure
        return math.nan
    return float(np.exp(np.polyval(coef, target_gpa)))


def dft_volumes(frames: Sequence) -> pd.DataFrame:
    """One row per relaxed round-1 cell that has ``eos`` copies (see the module docstring for the rules).

    ``frames``: labelled dataset frames (``info``: family, parent, config_id, metal, template, pressure_gpa;
    ``source_file`` when read by :func:`screening.reference.finetune.load_frames`).
    """
    from pymatgen.core import Composition

    by_id = {a.info["config_id"]: a for a in frames}
    groups: dict[str, list] = {}
    for a in frames:
        if a.info.get("family") == "eos" and a.info.get("parent") in by_id:
            groups.setdefault(a.info["parent"], []).append(a)
    rows = []
    for parent_id, copies in sorted(groups.items()):
        parent = by_id[parent_id]
        points = [parent, *copies]
        target = float(parent.info["pressure_gpa"])
        pressures = [dft_pressure_gpa(a) for a in points]
        volumes = [a.get_volume() / len(a) for a in points]
        max_force = max(float(np.abs(a.get_forces()).max()) if len(a) else 0.0 for a in points)
        symbol, number = _space_group(copies[0])
        formula = Composition(parent.get_chemical_formula()).reduced_formula
        template = str(parent.info.get("template", ""))
        status = "ok"
        v = math.nan
        if number < 195:
            status = f"not cubic ({symbol}): the volume depends on the cell shape"
        elif max_force > MAX_FORCE_EV_PER_A:
            status = f"free coordinates (max force {max_force:.3f} eV/A)"
        else:
            v = volume_at_pressure(volumes, pressures, target)
            if not math.isfinite(v):
                status = f"{target:g} GPa outside the sampled {min(pressures):.1f}-{max(pressures):.1f} GPa"
        src_file = Path(str(parent.info.get("source_file", f"{parent.info.get('metal', '')}.extxyz"))).name
        label = str(parent.info.get("label_source", "dft")).split(";")[0]
        rows.append({
            "phase": f"{formula}/{template}", "metal": parent.info.get("metal"), "template": template,
            "pressure_gpa": target, "dft_volume_a3_per_atom": v, "structure": f"{src_file}#{parent_id}",
            "source": (f"{label}: ln V quadratic in P through {len(points)} EOS points of the {symbol} cell "
                       f"(volumes {min(volumes):.3f}-{max(volumes):.3f} A^3/atom)"),
            "space_group": f"{symbol} ({number})", "n_points": len(points), "pressure_min_gpa": min(pressures),
            "pressure_max_gpa": max(pressures), "max_force_ev_per_a": max_force, "status": status})
    return pd.DataFrame(rows, columns=list(VOLUME_TABLE_COLUMNS))


def read_structure(spec: str, folder: str | Path):
    """The structure named by a volume table: ``<file>`` (ASE reads its last frame) or ``<file>#<config_id>``."""
    from ase.io import read

    from screening.errors import CandidateError

    name, _, cid = str(spec).partition("#")
    path = Path(name) if Path(name).is_absolute() else Path(folder) / name
    if not path.is_file():
        raise CandidateError(f"structure file {str(path)!r} does not exist")
    if not cid:
        return read(path)
    from screening.engine.labelling import read_extxyz

    for a in read_extxyz(path):
        if a.info.get("config_id") == cid:
            return a
    raise CandidateError(f"no frame with config_id {cid!r} in {str(path)!r}")


__all__ = ["MAX_FORCE_EV_PER_A", "VOLUME_TABLE_COLUMNS", "dft_volumes", "read_structure", "volume_at_pressure"]
