"""Tier-3 benchmark: the fitted Ca–H POD potential in LAMMPS against CHGNet in ASE, same cell, same run.

    make bench        (part of it)
    .venv/bin/python benchmarks/bench_engine.py [--slab-atoms 48] [--potential lammps:pod:<dir>:Ca,H]

The cell is the engine's own CaH2 (cotunnite) slab in dense H2 at 40 GPa. Both calculators run
NVT at 300 K after one warm-up step, in turns in this process (``--repeats`` each), one thread each; the ratio is
that of the medians.
The positions are first relaxed with the potential at fixed cell (as the engine's interface MD starts).
The Ca–H potential is fitted from the committed labels (``data/engine/Ca-H``: the distilled and active-learning
labels of ``make engine-distill``, else the GPAW labels of ``make engine-labels``) into a fresh cache, so the printed
time is the engine's wall time from committed labels to a potential; without committed labels it comes from the
cache (``make engine`` or ``benchmarks/engine_ca_h.py`` trains it; on a fresh machine this script trains it first,
~40 min with CHGNet labels).
Also printed: the wall time of the engine for one candidate, from the cached demonstration run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screening.errors import CandidateError  # noqa: E402
from screening.md import resolve_calculator  # noqa: E402
from screening.md.relax_positions import relax_positions  # noqa: E402
from screening.md.speed import atom_steps_per_s  # noqa: E402

RELAX_STEPS, RELAX_FMAX = 200, 0.2  # the interface MD's own defaults (screening.engine.simulate.simulate_interface)


def main(argv=None) -> int:
    import torch

    from screening.engine.interface import build_interface
    from screening.engine.run import EngineSettings, system_potential

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slab-atoms", type=int, default=48, help="precursor slab atoms (default 48)")
    ap.add_argument("--pod-steps", type=int, default=2000)
    ap.add_argument("--chgnet-steps", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3, help="timings of each, in turns (default 3)")
    ap.add_argument("--potential", default=None,
                    help="a lammps:pod:<dir>:Ca,H spec to measure instead of the fit to the committed labels")
    args = ap.parse_args(argv)

    import tempfile

    from screening.engine.dft_labels import committed_labels
    from screening.engine.distilled import committed_distilled

    if args.potential:
        spec = args.potential
        print(f"Ca-H potential: {spec}")
    else:  # the engine's potential from what is committed: distilled labels, else GPAW labels, else CHGNet labels
        if committed_distilled("Ca"):
            labels = "distilled"
        else:  # the GPAW labels are read only when there are no distilled ones
            committed = committed_labels("Ca")
            labels = "gpaw" if committed and committed["train"] else None
        fresh = tempfile.TemporaryDirectory(prefix="bench-engine-")
        t0 = time.perf_counter()
        pot = system_potential("Ca", EngineSettings(label_calculator=labels), cache=fresh.name if labels else None)
        what = (f"fitted from the committed {labels} labels (data/engine/Ca-H) into a fresh cache" if labels
                else "loaded or fitted (CHGNet labels)")
        print(f"Ca-H potential: {pot.directory.name}, {what} in {time.perf_counter() - t0:.1f} s")
        spec = pot.spec
    atoms, info = build_interface("Ca", 2.0, 40.0, template="cotunnite", n_slab_atoms_target=args.slab_atoms)
    # the engine's own start: positions relaxed with the potential at fixed cell (a raw H2 packing has atoms
    # pressed into each other, which a fitted potential may not survive)
    atoms, relax = relax_positions(atoms, resolve_calculator(spec)[0], RELAX_STEPS, RELAX_FMAX)
    if relax.get("error"):
        print(f"error: relaxing the bench cell with {spec}: {relax['error']}", file=sys.stderr)
        return 2
    print(f"cell: CaH2/H2 interface at 40 GPa, {len(atoms)} atoms ({info.n_metal} Ca), positions relaxed with the "
          f"potential ({relax['steps']} FIRE steps, max force {relax['fmax_end_ev_a']:.2f} eV/A)")
    # the two are timed in turns, ``--repeats`` times each, and the medians compared: CHGNet's rate on this cell has
    # moved between 21 and 49 atom-steps/s from one call to the next, which a single pair of runs cannot separate
    # from a change of the potential
    import numpy as np

    runs = (("POD (LAMMPS)", spec, args.pod_steps), ("CHGNet (ASE)", "chgnet", args.chgnet_steps))
    rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(args.repeats):
        for name, calc_spec, steps in runs:
            try:
                rates[name].append(atom_steps_per_s(atoms, calc_spec, steps, 0.5))
            except CandidateError as exc:  # a potential that breaks on the cell has no speed
                print(f"error: {name}: {exc}", file=sys.stderr)
                return 2
    for name, _, steps in runs:
        r = rates[name]
        print(f"  {name:14s} {steps:6d} steps x{len(r)}  median {np.median(r):10.1f} atom-steps/s "
              f"(range {min(r):.1f}-{max(r):.1f})")
    pod, ref = np.array(rates[runs[0][0]]), np.array(rates[runs[1][0]])
    print(f"ratio POD/CHGNet: {np.median(pod) / np.median(ref):.0f}x from the medians, "
          f"{(pod / ref).min():.0f}-{(pod / ref).max():.0f}x pair by pair (target >= 300x)")

    summary = Path(__file__).resolve().parents[1] / "reports" / "engine_Ca-H_summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        print("engine wall time for one candidate (from reports/engine_Ca-H_summary.json): "
              + ", ".join(f"{k} {v:.0f} s" for k, v in s.get("wall_s", {}).items()))
    else:
        print("no engine demonstration on record yet (benchmarks/engine_ca_h.py writes reports/engine_Ca-H_summary.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
