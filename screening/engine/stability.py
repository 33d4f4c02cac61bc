"""Stability runs of an engine potential: the bulk precursor stays crystalline, dense H2 stays molecular.

A potential that meets its error targets on small cells can still fail in long MD: a crystal that disorders at room
temperature (the CHGNet-taught potential's cotunnite CaH2 did at 300 K and 40 GPa) or H2 that dissociates at the
synthesis temperature would make the interface runs meaningless. Two runs check it, with criteria fixed in advance:

* **bulk precursor** (default CaH2, cotunnite, ~96 atoms), NPT at ``temperature_k`` and ``pressure_gpa``: the metal
  sublattice is *crystalline* when, over the second half of the run, its q6 solid-like fraction
  (:func:`screening.md.analysis.crystallinity`, the melting tier's criterion) never drops below
  :data:`MIN_SOLID_FRACTION` and its Lindemann ratio (rms displacement about the mean site over the second half,
  divided by the mean nearest metal–metal distance) stays below :data:`LINDEMANN_SOLID` (0.1, the usual melting
  criterion);
* **dense H2 fluid** (hcp H2 at the Loubeyre density, ~128 atoms, melted in the run), NPT at the hot temperature: the
  fluid is *molecular* when, over the second half, on average at least :data:`MIN_PAIRED_FRACTION` of the H atoms
  have exactly one other H within :data:`H2_BOND_CUTOFF_A` (the H2 bond is 0.74 Å; intermolecular H–H at 40 GPa is
  beyond 1.2 Å).

Both run with the MD sessions of :mod:`screening.md` (LAMMPS for a ``lammps:`` spec), and a blown-up run is a failed
check with its error text, not an exception. Time steps: 1 fs for the bulk hydride at 300 K (its H modes have
periods near 30 fs), 0.5 fs for hot H2 (the vibron's period is about 8 fs; the engine's interface runs use the same).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.errors import CandidateError

MIN_SOLID_FRACTION = 0.9
LINDEMANN_SOLID = 0.1
H2_BOND_CUTOFF_A = 1.0
MIN_PAIRED_FRACTION = 0.9
FRAME_EVERY_PS = 0.25


@dataclass
class StabilityRun:
    """One stability run: what was simulated, the criterion, the value reached and the time series."""

    check: str
    system: str
    calculator: str
    pressure_gpa: float
    temperature_k: float
    time_ps: float
    n_atoms: int
    criterion: str
    value: float | None
    passed: bool
    series: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    error: str | None = None

    def row(self) -> dict[str, Any]:
        """The flat row of the report table (no time series)."""
        return {k: v for k, v in asdict(self).items() if k != "series"}


def paired_fraction(positions: np.ndarray, cell: np.ndarray, cutoff_a: float = H2_BOND_CUTOFF_A) -> float:
    """Fraction of atoms with exactly one other atom within ``cutoff_a`` (periodic): H atoms bound in H2."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms("H" * len(positions), positions=positions, cell=cell, pbc=True)
    i = neighbor_list("i", atoms, cutoff_a)
    return float(np.mean(np.bincount(i, minlength=len(atoms)) == 1))


def lindemann_ratio(unwrapped: np.ndarray, cell: np.ndarray) -> float:
    """rms displacement of atoms about their mean positions over a set of frames (centre-of-mass drift removed),
    divided by the mean nearest-neighbour distance of the mean positions.

    Args:
        unwrapped: (n_frames, n_atoms, 3) unwrapped Cartesian positions (Å) of one sublattice.
        cell: the cell of the last frame (rows, Å), for the nearest-neighbour distance.
    """
    from ase import Atoms

    x = np.asarray(unwrapped, dtype=float)
    if x.ndim != 3 or len(x) < 2:
        raise CandidateError("need at least two frames of positions for a Lindemann ratio")
    x = x - x.mean(axis=1, keepdims=True)  # remove the drift of the sublattice as a whole
    mean = x.mean(axis=0)
    rms = float(np.sqrt(np.mean(np.sum((x - mean) ** 2, axis=2))))
    atoms = Atoms("X" * mean.shape[0], positions=mean, cell=cell, pbc=True)
    d_nn = float(np.median(_nearest_distances(atoms)))
    return rms / d_nn


def _nearest_distances(atoms) -> np.ndarray:
    from ase.neighborlist import neighbor_list

    scale = (atoms.get_volume() / len(atoms)) ** (1 / 3)
    i, d = neighbor_list("id", atoms, 2.0 * scale)
    out = np.full(len(atoms), np.inf)
    np.minimum.at(out, i, d)
    return out


def bulk_cell(metal: str = "Ca", h_per_metal: float = 2.0, pressure_gpa: float = 40.0, min_atoms: int = 96,
              max_atoms: int = 160):
    """The engine's precursor template of MH_x at P (tier-1 volume), repeated to at least ``min_atoms``."""
    from screening.engine.training_set import md_cell
    from screening.md import to_atoms
    from screening.structures.builder import build_structure
    from screening.structures.templates import load_templates, precursor_template

    s = build_structure(load_templates()[precursor_template(metal, h_per_metal)], metal, pressure_gpa)
    return md_cell(to_atoms(s), min_atoms, max_atoms)


def h2_cell(pressure_gpa: float = 40.0, min_atoms: int = 128, max_atoms: int = 200):
    """hcp H2 at the Loubeyre volume at P, repeated to at least ``min_atoms``."""
    from screening.engine.training_set import md_cell
    from screening.md import to_atoms
    from screening.structures.builder import h2_structure

    return md_cell(to_atoms(h2_structure(pressure_gpa)), min_atoms, max_atoms)


def _run(atoms, calculator: str, stage_kw: dict, time_ps: float, timestep_fs: float, on_frame,
         progress: bool, frame_every_ps: float = FRAME_EVERY_PS) -> tuple[str | None, float]:
    from screening.md import Stage, open_session

    steps = int(round(time_ps * 1000.0 / timestep_fs))
    every = max(1, int(round(frame_every_ps * 1000.0 / timestep_fs)))
    t0 = time.perf_counter()
    with open_session(atoms, calculator, timestep_fs) as session:
        out = session.run(Stage("npt", steps, sample_every=every, **stage_kw), on_frame, progress=progress)
    return out.error, time.perf_counter() - t0


def bulk_stability(calculator: str, metal: str = "Ca", h_per_metal: float = 2.0, pressure_gpa: float = 40.0,
                   temperature_k: float = 300.0, time_ps: float = 50.0, *, atoms=None, timestep_fs: float = 1.0,
                   frame_every_ps: float = FRAME_EVERY_PS, seed: int = 0, progress: bool = True) -> StabilityRun:
    """NPT of the bulk precursor (:func:`bulk_cell`, or ``atoms`` if given); passes when its metal sublattice stays
    crystalline (module doc)."""
    from screening.md.analysis import crystallinity, metal_mask, shell_size

    atoms = bulk_cell(metal, h_per_metal, pressure_gpa) if atoms is None else atoms.copy()
    is_m = metal_mask(atoms.get_chemical_symbols())
    k = shell_size(atoms.positions[is_m], np.asarray(atoms.cell))
    t, solid, frames, cells = [], [], [], []

    def on_frame(fr) -> bool:
        t.append(fr.time_ps)
        solid.append(crystallinity(fr.positions[is_m], fr.cell, k)[0])
        frames.append(fr.positions[is_m].copy())
        cells.append(fr.cell.copy())
        return False

    stage = dict(t_start_k=float(temperature_k), pressure_gpa=float(pressure_gpa), init_velocities_k=float(temperature_k),
                 seed=seed, label=f"{atoms.get_chemical_formula()} {temperature_k:g} K")
    error, wall = _run(atoms, calculator, stage, time_ps, timestep_fs, on_frame, progress, frame_every_ps)
    half = len(t) // 2
    value, passed, lind = None, False, None
    if error is None and len(t) >= 4:
        value = float(np.min(solid[half:]))
        lind = lindemann_ratio(np.array(frames[half:]), cells[-1])
        passed = value >= MIN_SOLID_FRACTION and lind < LINDEMANN_SOLID
    return StabilityRun("bulk_crystalline", atoms.get_chemical_formula(), str(calculator), float(pressure_gpa),
                        float(temperature_k), float(t[-1]) if t else 0.0, len(atoms),
                        f"min solid-like metal fraction >= {MIN_SOLID_FRACTION} and Lindemann < {LINDEMANN_SOLID} "
                        "(second half)", value, bool(passed),
                        {"time_ps": t, "solid_fraction": solid, "lindemann_second_half": lind}, wall, error)


def h2_stability(calculator: str, pressure_gpa: float = 40.0, temperature_k: float = 1473.0, time_ps: float = 20.0, *,
                 timestep_fs: float = 0.5, seed: int = 0, progress: bool = True) -> StabilityRun:
    """NPT of dense H2; passes when the fluid stays molecular (module doc)."""
    atoms = h2_cell(pressure_gpa)
    t, paired = [], []

    def on_frame(fr) -> bool:
        t.append(fr.time_ps)
        paired.append(paired_fraction(fr.positions, fr.cell))
        return False

    stage = dict(t_start_k=float(temperature_k), pressure_gpa=float(pressure_gpa), init_velocities_k=float(temperature_k),
                 seed=seed, label=f"H2 fluid {temperature_k:g} K")
    error, wall = _run(atoms, calculator, stage, time_ps, timestep_fs, on_frame, progress)
    half = len(t) // 2
    value, passed = None, False
    if error is None and len(t) >= 4:
        value = float(np.mean(paired[half:]))
        passed = value >= MIN_PAIRED_FRACTION
    return StabilityRun("h2_molecular", "H2", str(calculator), float(pressure_gpa), float(temperature_k),
                        float(t[-1]) if t else 0.0, len(atoms),
                        f"mean fraction of H with exactly one H within {H2_BOND_CUTOFF_A} A >= {MIN_PAIRED_FRACTION} "
                        "(second half)", value, bool(passed), {"time_ps": t, "paired_fraction": paired}, wall, error)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.engine.stability [--potential lammps:pod:<dir>:Ca,H]``: both runs, a CSV and a JSON."""
    import pandas as pd

    ap = argparse.ArgumentParser(prog="python -m screening.engine.stability", description=__doc__.split("\n")[0])
    ap.add_argument("--potential", default=None, help="a lammps:pod:<dir>:<elements> spec or any registry name "
                    "(default: the POD fit to the committed labels of --metal, make engine-fit)")
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--pressure", type=float, default=40.0, help="GPa")
    ap.add_argument("--bulk-temperature", type=float, default=300.0)
    ap.add_argument("--bulk-ps", type=float, default=50.0)
    ap.add_argument("--h2-temperature", type=float, default=1473.0)
    ap.add_argument("--h2-ps", type=float, default=20.0)
    ap.add_argument("--checks", default="bulk,h2", help="which runs, comma-separated: bulk, h2")
    ap.add_argument("--out", default="reports/engine_stability.csv")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    for name in ("bulk_ps", "h2_ps", "bulk_temperature", "h2_temperature"):
        v = getattr(args, name)
        if not (math.isfinite(v) and v > 0):
            print(f"error: --{name.replace('_', '-')} must be positive, got {v}", file=sys.stderr)
            return 2
    checks = [c.strip() for c in args.checks.split(",") if c.strip()]
    bad = [c for c in checks if c not in ("bulk", "h2")]
    if bad or not checks:
        print(f"error: --checks {args.checks!r}: valid are bulk, h2", file=sys.stderr)
        return 2
    try:
        if args.potential is None:
            from screening.engine.fit_report import fit_committed

            args.potential = fit_committed(args.metal)[0].spec
        runs = []
        if "bulk" in checks:
            runs.append(bulk_stability(args.potential, args.metal, 2.0, args.pressure, args.bulk_temperature,
                                       args.bulk_ps, progress=not args.quiet))
        if "h2" in checks:
            runs.append(h2_stability(args.potential, args.pressure, args.h2_temperature, args.h2_ps,
                                     progress=not args.quiet))
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame([r.row() for r in runs])
    table.to_csv(out, index=False)
    out.with_suffix(".json").write_text(json.dumps([asdict(r) for r in runs], indent=1, default=float))
    print(table[["check", "system", "temperature_k", "time_ps", "value", "passed", "error"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
