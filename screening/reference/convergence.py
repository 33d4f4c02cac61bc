"""Convergence test of the DFT settings (``make dft-convergence`` → ``data/dft/convergence.csv``).

For each test system (I4/mmm CaH4 at 40 GPa, Fm-3m LaH10 at 150 GPa) three cells are evaluated at fixed
geometry with GPAW: the hydride, the fcc metal and solid H2 (all built by the project's structure builder at
the target pressure; the geometry is held fixed so that only the numerical settings change). Reported per
setting:

* the formation enthalpy per atom ΔH_f = [H(MH_x) − H(M) − x/2 H(H2)] / (1 + x), H = E + P·V at the target
  pressure (P·V is the same for every setting, so this measures the convergence of the energy differences);
* the pressure of the hydride cell from the DFT stress;
* the error of both against the most converged setting of the scan, and the wall time.

Three scans (:func:`scan_settings`): the cutoff; the k-point density of the cells with hydrogen; the k-point
density of the elemental metal cells, which converge far more slowly (one-atom metallic cells). The chosen
setting is the cheapest whose errors are within ``tol_mev_per_atom`` and ``tol_gpa`` in every scan and system,
for it and every denser setting. Every single point is a result-store label, so an interrupted test resumes.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from screening.reference.dft_settings import DFTSettings

EV_PER_GPA_A3 = 1.0 / 160.21766208


@dataclass(frozen=True)
class TestSystem:
    """A hydride MH_x at a pressure, with its template."""

    metal: str
    template: str
    pressure_gpa: float


SYSTEMS = (TestSystem("Ca", "thcr2si2", 40.0), TestSystem("La", "fcc_clathrate", 150.0))
ECUTS_EV = (400.0, 500.0, 600.0, 800.0)
KPT_DENSITIES = (2.0, 3.0, 4.0, 6.0)
METAL_KPT_DENSITIES = (4.0, 6.0, 8.0, 10.0)
#: The variable of each scan.
SCANNED = {"ecut": "ecut_ev", "kpts": "kpt_density", "kpts_metal": "metal_kpt_density"}


def system_cells(system: TestSystem) -> dict:
    """The hydride, fcc-metal and H2 cells of a test system (ASE Atoms, ``info`` names them)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.structures import build_structure, h2_structure, load_templates, metal_structures

    structures = {
        "hydride": build_structure(load_templates()[system.template], system.metal, system.pressure_gpa),
        "metal": metal_structures(system.metal, system.pressure_gpa)["fcc"],
        "h2": h2_structure(system.pressure_gpa),
    }
    cells = {}
    for role, s in structures.items():
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.info.update({"role": role, "metal": system.metal, "pressure_gpa": system.pressure_gpa,
                           "source": f"convergence test: {role} of {system.metal}-H ({system.template}) built at "
                                     f"{system.pressure_gpa:g} GPa by screening.structures"})
        cells[role] = atoms
    return cells


def scan_settings(base: DFTSettings, ecuts: Sequence[float] = ECUTS_EV, kpt_densities: Sequence[float] = KPT_DENSITIES,
                  metal_kpt_densities: Sequence[float] = METAL_KPT_DENSITIES, ecut_for_k: float = 600.0,
                  k_for_ecut: float = 4.0) -> list[tuple[str, DFTSettings]]:
    """(scan name, settings) of the three scans.

    * ``ecut``: the cutoff, every cell at ``k_for_ecut``;
    * ``kpts``: the k-point density of the cells with hydrogen, the metal cells at the densest metal setting;
    * ``kpts_metal``: the k-point density of the metal cells, the others at the densest hydride setting.
    """
    k_ref, km_ref = max(kpt_densities), max(metal_kpt_densities)
    out = [("ecut", base.with_(ecut_ev=float(e), kpt_density=float(k_for_ecut), metal_kpt_density=float(k_for_ecut)))
           for e in ecuts]
    out += [("kpts", base.with_(ecut_ev=float(ecut_for_k), kpt_density=float(k), metal_kpt_density=float(km_ref)))
            for k in kpt_densities]
    out += [("kpts_metal", base.with_(ecut_ev=float(ecut_for_k), kpt_density=float(k_ref), metal_kpt_density=float(k)))
            for k in metal_kpt_densities]
    return out


def formation_row(system: TestSystem, labelled: dict) -> dict:
    """ΔH_f per atom and the hydride pressure from labelled hydride, metal and H2 cells."""
    p = system.pressure_gpa * EV_PER_GPA_A3

    def h_per(atoms, per):
        return (atoms.get_potential_energy() + p * atoms.get_volume()) / per

    hyd, met, h2 = labelled["hydride"], labelled["metal"], labelled["h2"]
    n_m = sum(1 for s in hyd.get_chemical_symbols() if s != "H")
    x = (len(hyd) - n_m) / n_m
    dh = (h_per(hyd, n_m) - h_per(met, len(met)) - x / 2 * h_per(h2, len(h2) / 2)) / (1 + x)
    stress = hyd.get_stress(voigt=True)
    return {"dH_f_ev_per_atom": float(dh), "pressure_gpa_dft": float(-np.mean(stress[:3]) / EV_PER_GPA_A3),
            "wall_s": float(sum(float(a.info.get("label_seconds", math.nan)) for a in labelled.values()))}


def run_convergence(base: DFTSettings | None = None, systems: Sequence[TestSystem] = SYSTEMS, *,
                    ecuts: Sequence[float] = ECUTS_EV, kpt_densities: Sequence[float] = KPT_DENSITIES,
                    metal_kpt_densities: Sequence[float] = METAL_KPT_DENSITIES, store=None,
                    scheduler: str | None = None, n_workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run the scans for every system (labels on the Dask runner, each distinct one once) and return the table."""
    from screening.calculators import get_calculator
    from screening.reference.campaign import label_distributed
    from screening.store import ResultStore

    base = base or DFTSettings()
    store = store or ResultStore()
    plan = scan_settings(base, ecuts, kpt_densities, metal_kpt_densities)
    cells = {s: system_cells(s) for s in systems}
    # Every distinct (cell, effective settings) once, cheapest first, so a partial run has complete low settings.
    jobs: dict = {}
    for _, st in plan:
        for s in systems:
            for role, atoms in cells[s].items():
                eff = st.calculator_settings(atoms)
                jobs.setdefault((s, role, json.dumps(eff, sort_keys=True)), (atoms, eff))
    order = sorted(jobs, key=lambda k: (jobs[k][1]["ecut_ev"] * jobs[k][1]["kpt_density"] ** 3 * len(jobs[k][0]), k[1]))
    out, _ = label_distributed([jobs[k][0] for k in order], "gpaw", [jobs[k][1] for k in order], store=store,
                               scheduler=scheduler, n_workers=n_workers, progress=progress)
    done = dict(zip(order, out))
    rows = []
    info = get_calculator("gpaw")[1]
    for scan, st in plan:
        for s in systems:
            trio = {role: done.get((s, role, json.dumps(st.calculator_settings(a), sort_keys=True)))
                    for role, a in cells[s].items()}
            row = {"scan": scan, "system": f"{s.metal}H{_x(cells[s]['hydride'])} ({s.template})", "metal": s.metal,
                   "pressure_gpa": s.pressure_gpa, "ecut_ev": st.ecut_ev, "kpt_density": st.kpt_density,
                   "metal_kpt_density": st.metal_kpt_density, "smearing": st.smearing,
                   "smearing_width_ev": st.smearing_width_ev}
            if all(v is not None for v in trio.values()):
                row.update(formation_row(s, trio))
                row["status"] = "ok"
            else:
                row.update({"dH_f_ev_per_atom": math.nan, "pressure_gpa_dft": math.nan, "wall_s": math.nan,
                            "status": "failed: " + ", ".join(r for r, v in trio.items() if v is None)})
            row["calculator"] = info.label
            rows.append(row)
    return add_errors(pd.DataFrame(rows))


def _x(hyd) -> str:
    n_m = sum(1 for s in hyd.get_chemical_symbols() if s != "H")
    return f"{(len(hyd) - n_m) / n_m:g}"


def add_errors(table: pd.DataFrame) -> pd.DataFrame:
    """Errors of ΔH_f (meV/atom) and pressure (GPa) against the most converged setting of each scan and system."""
    table = table.copy()
    table["dH_f_error_mev_per_atom"] = math.nan
    table["pressure_error_gpa"] = math.nan
    for (scan, metal), g in table.groupby(["scan", "metal"]):
        ref = g.sort_values([c for c in ("ecut_ev", "kpt_density", "metal_kpt_density") if c in g]).iloc[-1]
        table.loc[g.index, "dH_f_error_mev_per_atom"] = (g["dH_f_ev_per_atom"] - ref["dH_f_ev_per_atom"]) * 1000
        table.loc[g.index, "pressure_error_gpa"] = g["pressure_gpa_dft"] - ref["pressure_gpa_dft"]
    return table


def choose_settings(table: pd.DataFrame, base: DFTSettings, tol_mev_per_atom: float = 5.0,
                    tol_gpa: float = 1.0) -> DFTSettings:
    """The lowest cutoff and k-point densities whose errors (every system) are within tolerance.

    A value counts only if every larger value of its scan is within tolerance too (no lucky low setting).
    """
    def lowest(scan: str, column: str, default: float) -> float:
        g = table[table["scan"] == scan]
        if g.empty:
            return default
        ok = {v: bool((d["status"] == "ok").all() and (d["dH_f_error_mev_per_atom"].abs() <= tol_mev_per_atom).all()
                      and (d["pressure_error_gpa"].abs() <= tol_gpa).all()) for v, d in g.groupby(column)}
        values = sorted(ok)
        good = [v for i, v in enumerate(values) if all(ok[w] for w in values[i:])]
        return float(min(good)) if good else float(max(values))

    return base.with_(**{col: lowest(scan, col, getattr(base, col)) for scan, col in SCANNED.items()})


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m screening.reference.convergence", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="data/dft/convergence.csv", help="convergence table (CSV)")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: CPU count)")
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    from screening.provenance import atomic_write

    base = DFTSettings()
    table = run_convergence(base, scheduler=args.scheduler, n_workers=args.workers, progress=not args.quiet)
    chosen = choose_settings(table, base)
    table["chosen"] = table.apply(lambda r: getattr(chosen, SCANNED[r["scan"]]) == r[SCANNED[r["scan"]]], axis=1)
    table["source"] = "computed by screening.reference.convergence (make dft-convergence)"
    atomic_write(args.out, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    cols = ["scan", "system", "ecut_ev", "kpt_density", "metal_kpt_density", "dH_f_ev_per_atom", "dH_f_error_mev_per_atom",
            "pressure_gpa_dft", "pressure_error_gpa", "wall_s", "status"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"chosen: ecut {chosen.ecut_ev:g} eV, k-point density {chosen.kpt_density:g} /Å^-1 (hydrides, H2), "
          f"{chosen.metal_kpt_density:g} /Å^-1 (metal cells) "
          f"(≤ 5 meV/atom and ≤ 1 GPa against the most converged setting) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
