"""Tier-3 benchmark: the fitted Ca–H POD potential in LAMMPS against CHGNet in ASE, same cell, same run.

    make bench        (part of it)
    .venv/bin/python benchmarks/bench_engine.py [--slab-atoms 48] [--potential lammps:pod:<dir>:Ca,H]

The cell is the engine's own CaH2 (cotunnite) slab in dense H2 at 40 GPa. Both calculators run
NVT at 300 K after one warm-up step, one after the other in this process, one thread each.
The Ca–H potential is fitted from the committed GPAW labels (``data/engine/Ca-H``, ``make engine-labels``) into a
fresh cache, so the printed time is the engine's wall time from committed labels to a potential; without committed
labels it comes from the cache (``make engine`` or ``benchmarks/engine_ca_h.py`` trains it; on a fresh machine this
script trains it first, ~40 min with CHGNet labels).
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
from screening.md.speed import atom_steps_per_s  # noqa: E402


def main(argv=None) -> int:
    import torch

    from screening.engine.interface import build_interface
    from screening.engine.run import EngineSettings, system_potential

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slab-atoms", type=int, default=48, help="precursor slab atoms (default 48)")
    ap.add_argument("--pod-steps", type=int, default=2000)
    ap.add_argument("--chgnet-steps", type=int, default=3)
    ap.add_argument("--potential", default=None,
                    help="a lammps:pod:<dir>:Ca,H spec to measure instead of the fit to the committed labels")
    args = ap.parse_args(argv)

    import tempfile

    from screening.engine.dft_labels import committed_labels

    if args.potential:
        spec = args.potential
        print(f"Ca-H potential: {spec}")
    else:
        committed = committed_labels("Ca")
        labels = "gpaw" if committed and committed["train"] else None
        fresh = tempfile.TemporaryDirectory(prefix="bench-engine-")
        t0 = time.perf_counter()
        pot = system_potential("Ca", EngineSettings(label_calculator=labels), cache=fresh.name if labels else None)
        what = (f"fitted from the {len(committed['train'])} committed GPAW labels into a fresh cache" if labels
                else "loaded or fitted (CHGNet labels)")
        print(f"Ca-H potential: {pot.directory.name}, {what} in {time.perf_counter() - t0:.1f} s")
        spec = pot.spec
    atoms, info = build_interface("Ca", 2.0, 40.0, template="cotunnite", n_slab_atoms_target=args.slab_atoms)
    print(f"cell: CaH2/H2 interface at 40 GPa, {len(atoms)} atoms ({info.n_metal} Ca)")
    rows = []
    for name, spec, steps in (("POD (LAMMPS)", spec, args.pod_steps), ("CHGNet (ASE)", "chgnet", args.chgnet_steps)):
        try:
            rate = atom_steps_per_s(atoms, spec, steps, 0.5)
        except CandidateError as exc:  # a potential that breaks on the cell has no speed
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 2
        rows.append((name, steps, rate))
        print(f"  {name:14s} {steps:6d} steps  {rate:12.1f} atom-steps/s")
    ratio = rows[0][2] / rows[1][2]
    print(f"ratio POD/CHGNet: {ratio:.0f}x (target >= 300x)")

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
