"""The engine's POD against ML-IAP networks on SNAP descriptors (screening.engine.nn_snap), side by side:
errors on the committed GPAW hold-out of Ca-H at 40 GPa and atom-steps/s on the bench cell (the 160-atom CaH2/H2
interface of benchmarks/bench_engine.py, positions relaxed with the POD), with CHGNet in ASE as the reference speed.

    .venv/bin/python benchmarks/nn_snap_vs_pod.py --pod <dir> --nn <X.mliap.model> [--nn ...] --out table.csv
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> int:
    import numpy as np
    import pandas as pd
    import torch

    from screening.engine.dft_labels import committed_labels
    from screening.engine.interface import build_interface
    from screening.engine.nn_snap import predict, spec_of
    from screening.engine.potential import label_errors
    from screening.errors import CandidateError
    from screening.md import resolve_calculator
    from screening.md.relax_positions import relax_positions
    from screening.md.speed import atom_steps_per_s

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pod", required=True, help="folder of a fitted POD potential")
    ap.add_argument("--nn", action="append", required=True, help="an X.mliap.model (repeatable)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--chgnet-steps", type=int, default=12)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    specs = {"POD": f"lammps:pod:{Path(args.pod).resolve()}:Ca,H"}
    specs.update({f"NN {Path(m).parent.name}": spec_of(m, ("Ca", "H")) for m in args.nn})
    holdout = committed_labels("Ca")["holdout"]
    atoms, _ = build_interface("Ca", 2.0, 40.0, template="cotunnite", n_slab_atoms_target=48)
    atoms, relax = relax_positions(atoms, resolve_calculator(specs["POD"])[0], 200, 0.2)
    rows = []
    try:
        chgnet = atom_steps_per_s(atoms, "chgnet", args.chgnet_steps, 0.5, seed=1)
        for name, spec in specs.items():
            err = label_errors(predict(spec, holdout), holdout, ("Ca", "H"))
            rates = [atom_steps_per_s(atoms, spec, args.steps, 0.5, seed=1) for _ in range(2)]
            rows.append({"potential": name, "spec": spec, "holdout_energy_mev_atom": err["energy_rmse_mev_per_atom"],
                         "holdout_forces_ev_a": err["forces_rmse_ev_per_a"], "holdout_stress_gpa": err["stress_rmse_gpa"],
                         "atom_steps_per_s": float(np.median(rates)), "chgnet_atom_steps_per_s": chgnet,
                         "ratio_to_chgnet": float(np.median(rates)) / chgnet, "cell": f"{atoms.get_chemical_formula()} "
                         f"({len(atoms)} atoms), NVT 300 K, {args.steps} steps x2 (median); CHGNet {args.chgnet_steps}"})
            print(rows[-1], flush=True)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pd.DataFrame(rows).to_csv(args.out, index=False, float_format="%.4g")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
