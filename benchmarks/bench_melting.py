"""Tier-2b benchmark: Cu melting validation with LAMMPS, and MD speed of LAMMPS EAM vs CHGNet-in-ASE.

    .venv/bin/python benchmarks/bench_melting.py                 # everything (~10 min on 2 cores)
    .venv/bin/python benchmarks/bench_melting.py --skip-cu       # speeds + hydride feasibility only
    .venv/bin/python benchmarks/bench_melting.py --skip-hydrides # Cu validation + speeds

1. Cu, ``lammps:eam/alloy:Cu_mishin1.eam.alloy``, 0 GPa: T_m by NPH coexistence, with a fresh
   (empty) result store so the wall time is a real cold estimate. Reference for this
   potential ~1330-1345 K (experiment 1358 K); pass = within 60 K of 1340 K.
2. The same at 10 GPa: pass = T_m(10 GPa) - err > T_m(0) + err.
3. atom-steps/s of LAMMPS EAM and of ASE+CHGNet (and ASE+EMT) measured side by side in this
   process, on the cells the melting protocols use.
4. Hydrides with CHGNet (LaH10 at 150/200 GPa, CaH4 at 40/80 GPa): the hysteresis protocol is
   planned, its cost estimated from the measured speed, and run only if it fits ``--budget-s``.
   The two hydride cells are *unrelaxed prototype structures written here for the speed
   measurement only* (Fm-3m LaH10, I4/mmm CaH4); real runs take structures from the
   enthalpy tier's template library (screening.structures) or a user CIF.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

from ase.build import bulk  # noqa: E402

from screening.md import resolve_calculator  # noqa: E402
from screening.md.speed import atom_steps_per_s  # noqa: E402
from screening.proxies.melting import _conventional, _supercell, melting_temperature  # noqa: E402
from screening.store import ResultStore  # noqa: E402

CU_EAM = "lammps:eam/alloy:Cu_mishin1.eam.alloy"
CU_REFERENCE_K, CU_TOLERANCE_K = 1340.0, 60.0
REPORTS = Path(__file__).resolve().parents[1] / "reports"


def hydride_prototypes() -> dict:
    """Unrelaxed demo cells (for speed/feasibility only; not a structure library)."""
    from pymatgen.core import Lattice, Structure

    lah10 = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.10), ["La", "H", "H"],
                                      [[0, 0, 0], [0.25, 0.25, 0.25], [0.12, 0.12, 0.12]])
    cah4 = Structure.from_spacegroup("I4/mmm", Lattice.tetragonal(3.0, 5.9), ["Ca", "H", "H"],
                                     [[0, 0, 0], [0, 0.5, 0.25], [0, 0, 0.43]])
    return {"LaH10": (lah10, (150.0, 200.0)), "CaH4": (cah4, (40.0, 80.0))}


def cu_estimate(pressure: float, store: ResultStore) -> object:
    t0 = time.perf_counter()
    est = melting_temperature(bulk("Cu", "fcc", a=3.615), pressure, CU_EAM, store=store, progress=False,
                              plot=REPORTS / f"melting_Cu_{pressure:g}GPa.png")
    wall = time.perf_counter() - t0
    print(f"Cu {pressure:5.1f} GPa: T_m = {est.tm_metal_k:.0f} ± {est.tm_metal_err_k:.0f} K [{est.status}] "
          f"T+ = {est.t_plus_k:.0f} K, coexistence runs: "
          + ", ".join(f"{a['t_guess_k']:.0f}->{a['t_k']:.0f} K ({a['outcome']})" for a in est.diagnostics["coexistence"])
          + f"; {est.diagnostics['coexistence_atoms']} atoms, {est.diagnostics['atom_steps'] / 1e6:.0f} M atom-steps, "
          f"wall {wall:.0f} s; plot {est.plot}")
    return est, wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-cu", action="store_true")
    ap.add_argument("--skip-hydrides", action="store_true")
    ap.add_argument("--budget-s", type=float, default=1800.0, help="per hydride estimate")
    args = ap.parse_args(argv)
    print(f"cores: {os.cpu_count()}")
    ok = True

    if not args.skip_cu:
        with tempfile.TemporaryDirectory() as tmp:
            store = ResultStore(Path(tmp) / "bench.sqlite")  # cold: nothing cached
            est0, wall0 = cu_estimate(0.0, store)
            est10, _ = cu_estimate(10.0, store)
        within = abs(est0.tm_metal_k - CU_REFERENCE_K) <= CU_TOLERANCE_K
        rises = est10.tm_metal_k - est10.tm_metal_err_k > est0.tm_metal_k + est0.tm_metal_err_k
        print(f"  check T_m(0 GPa) within {CU_TOLERANCE_K:.0f} K of {CU_REFERENCE_K:.0f} K: {'PASS' if within else 'FAIL'}")
        print(f"  check T_m rises 0 -> 10 GPa beyond errors (+{est10.tm_metal_k - est0.tm_metal_k:.0f} K): "
              f"{'PASS' if rises else 'FAIL'}")
        print(f"  check one Cu estimate <= 600 s wall: {'PASS' if wall0 <= 600 else 'FAIL'} ({wall0:.0f} s)")
        ok &= within and rises

    print("\nMD speed, measured side by side (NVT 300 K, after one warm-up step):")
    print(f"{'system':10s} {'calculator':42s} {'atoms':>6s} {'steps':>6s} {'atom-steps/s':>13s}")
    cu500 = _supercell(_conventional(bulk("Cu", "fcc", a=3.615)), 500)
    cu108 = _supercell(_conventional(bulk("Cu", "fcc", a=3.615)), 108)
    rows = [("Cu", CU_EAM, cu500, 2000, 2.0), ("Cu", "emt", cu108, 50, 2.0)]
    chgnet, _ = resolve_calculator("chgnet")
    rows.append(("Cu", "chgnet", cu108, 3, 2.0))
    from pymatgen.io.ase import AseAtomsAdaptor

    hydrides = hydride_prototypes()
    for name, (structure, _) in hydrides.items():
        rows.append((name, "chgnet", _conventional(AseAtomsAdaptor.get_atoms(structure)), 3, 0.5))
    rates = {}
    for system, calc, atoms, steps, dt in rows:
        rate = atom_steps_per_s(atoms, calc, steps, dt, calc=chgnet if calc == "chgnet" else None)
        rates[(system, calc)] = rate
        print(f"{system:10s} {calc:42s} {len(atoms):6d} {steps:6d} {rate:13.3g}")
    print(f"LAMMPS EAM / CHGNet on Cu: {rates[('Cu', CU_EAM)] / rates[('Cu', 'chgnet')]:.3g}x")

    if not args.skip_hydrides:
        print(f"\nHydrides with CHGNet (hysteresis protocol, budget {args.budget_s:.0f} s per estimate):")
        for name, (structure, pressures) in hydrides.items():
            for p in pressures:
                est = melting_temperature(structure, p, "chgnet", method="hysteresis", budget_s=args.budget_s,
                                          t_range_k=(300.0, 3500.0), ramp_atoms=40, progress=False,
                                          plot=REPORTS / f"melting_{name}_{p:g}GPa.png")
                tm = "n/a" if est.tm_metal_k is None else f"{est.tm_metal_k:.0f} ± {est.tm_metal_err_k:.0f} K"
                print(f"{name:6s} {p:6.0f} GPa: T_m = {tm} [{est.status}] {est.message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
