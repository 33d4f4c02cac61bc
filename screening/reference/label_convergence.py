"""k-point convergence of DFT labels for a potential's training set (hot, disordered, surface cells).

The dataset settings (:mod:`screening.reference.convergence`) converge *formation enthalpies* of ordered
hydrides to 5 meV/atom over 0–300 GPa; LaH10 at 150 GPa is what sets their k-point density. A fitted potential
of one system in a narrower range (the seed's Ca–H at 0–60 GPa) needs something else converged: the energy
*differences between configurations* of its training set, the forces and the pressure. Hot and liquid-like
cells have no symmetry, so their k-points cost the most, and they are also the ones whose Brillouin-zone
sampling errors average out fastest. This test measures it on such cells:

* the configurations: hot-MD, slab and H2-fluid members of the engine's training pool of one system at one
  pressure (:func:`screening.engine.training_set.generate_configurations`), chosen by family;
* for each k-point density: the energy per atom of each configuration relative to the mean over the set
  (``E_i/N_i − <E/N>``), the forces and the pressure, against the densest setting of the scan;
* the chosen density: the lowest one whose errors, and those of every denser one, are within tolerance.
  Defaults: 3 meV/atom, 0.05 eV/Å and 1 GPa, a third or less of the potential's targets (10 meV/atom,
  0.3 eV/Å), so that label noise stays small against the fit's error.

Every single point is a result-store label on the Dask runner (:func:`~screening.reference.campaign.label_distributed`),
so an interrupted test resumes and labels at the chosen setting are reused by the training set.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Sequence

import numpy as np
import pandas as pd

from screening.errors import CandidateError
from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS, DFTSettings
from screening.relax import EV_PER_GPA_A3

KPT_DENSITIES = (1.0, 1.5, 2.0, 3.0, 4.0)
FAMILIES = ("hot_md", "slab", "h2_fluid")
TOLERANCES = {"relative_energy_mev_per_atom": 3.0, "forces_rmse_ev_per_a": 0.05, "pressure_gpa": 1.0}


def hot_configurations(metal: str = "Ca", pressure_gpa: float = 40.0, n: int = 4, *, max_atoms: int = 12,
                       h_per_metal: Sequence[float] = (2.0, 4.0), teacher: str = "chgnet", store=None,
                       progress: bool = True, seed: int = 0) -> list:
    """``n`` cells of the training pool of M–H at one pressure, spread over :data:`FAMILIES` (FPS within each).

    The pool is the engine's own (same generator and settings, cells of at most ``max_atoms`` atoms), so the test
    measures the kind of cell the potential is trained on.
    """
    from screening.engine.labelling import select_stratified
    from screening.engine.training_set import TrainingSetSpec, generate_configurations

    spec = TrainingSetSpec(metal=metal, h_per_metal=tuple(h_per_metal), pressures_gpa=(float(pressure_gpa),),
                           max_atoms=int(max_atoms), md_min_atoms=min(8, int(max_atoms)), seed=seed)
    pool = [a for a in generate_configurations(spec, teacher, store=store, progress=progress)
            if a.info["family"] in FAMILIES and len(a) <= max_atoms]
    if len(pool) < 2:
        raise CandidateError(f"the {metal}-H pool at {pressure_gpa:g} GPa has {len(pool)} hot/slab/fluid cells of "
                             f"at most {max_atoms} atoms; need at least 2")
    return [pool[i] for i in select_stratified(pool, min(n, len(pool)))]


def label_table(labelled: dict, configs: Sequence) -> pd.DataFrame:
    """Per configuration and k-point density: energy per atom, relative energy, pressure, and errors.

    ``labelled``: ``{kpt_density: [labelled copy of configs[i] or None]}``. Errors are against the densest
    density: relative energy (meV/atom), force RMSE (eV/Å), pressure (GPa); a configuration that failed at any
    density is left out of every density's relative energies (the mean must be over the same set).
    """
    densities = sorted(labelled)
    ok = [i for i in range(len(configs)) if all(labelled[k][i] is not None for k in densities)]
    if not ok:
        return pd.DataFrame()

    def rel_energies(k) -> np.ndarray:
        e = np.array([labelled[k][i].get_potential_energy() / len(configs[i]) for i in ok])
        return e - e.mean()

    def pressure(a) -> float:
        return float(-np.mean(a.get_stress(voigt=True)[:3]) / EV_PER_GPA_A3)

    ref_k = densities[-1]
    ref_rel = rel_energies(ref_k)
    rows = []
    for k in densities:
        rel = rel_energies(k)
        for j, i in enumerate(ok):
            a, ref = labelled[k][i], labelled[ref_k][i]
            rows.append({"kpt_density": float(k), "config_id": configs[i].info.get("config_id", str(i)),
                         "family": configs[i].info.get("family", ""), "n_atoms": len(configs[i]),
                         "energy_ev_per_atom": a.get_potential_energy() / len(a),
                         "relative_energy_ev_per_atom": float(rel[j]),
                         "relative_energy_error_mev_per_atom": 1000 * float(rel[j] - ref_rel[j]),
                         "forces_rmse_ev_per_a": float(np.sqrt(np.mean((a.get_forces() - ref.get_forces()) ** 2))),
                         "pressure_gpa": pressure(a), "pressure_error_gpa": pressure(a) - pressure(ref),
                         "label_seconds": float(a.info.get("label_seconds", math.nan))})
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Worst error over the configurations at each k-point density, and the total wall time."""
    return table.groupby("kpt_density").agg(
        n_configs=("config_id", "size"),
        relative_energy_mev_per_atom=("relative_energy_error_mev_per_atom", lambda x: float(np.abs(x).max())),
        forces_rmse_ev_per_a=("forces_rmse_ev_per_a", "max"),
        pressure_gpa=("pressure_error_gpa", lambda x: float(np.abs(x).max())),
        label_seconds=("label_seconds", "sum")).reset_index()


def choose_kpt_density(summary: pd.DataFrame, tolerances: dict | None = None) -> float:
    """Lowest density whose worst errors, and those of every denser one, are within ``tolerances``."""
    tol = {**TOLERANCES, **(tolerances or {})}
    rows = summary.sort_values("kpt_density")
    ok = [all(float(r[c]) <= t for c, t in tol.items()) for _, r in rows.iterrows()]
    densities = list(rows["kpt_density"])
    good = [k for i, k in enumerate(densities) if all(ok[i:])]
    return float(min(good)) if good else float(max(densities))


def run_label_convergence(configs: Sequence, base: DFTSettings = DEFAULT_DFT_SETTINGS,
                          kpt_densities: Sequence[float] = KPT_DENSITIES, *, calculator: str = "gpaw", store=None,
                          scheduler: str | None = None, n_workers: int | None = None,
                          progress: bool = True) -> pd.DataFrame:
    """Label every configuration at every density (cheapest first) and return :func:`label_table`."""
    from screening.reference.campaign import label_distributed

    densities = sorted(float(k) for k in kpt_densities)
    if len(densities) < 2:
        raise CandidateError(f"a convergence scan needs at least two k-point densities, got {list(kpt_densities)}")
    jobs = [(k, i) for k in densities for i in range(len(configs))]
    settings = [base.with_(kpt_density=k, metal_kpt_density=k).calculator_settings(configs[i]) for k, i in jobs]
    out, _ = label_distributed([configs[i] for _, i in jobs], calculator, settings, store=store, scheduler=scheduler,
                               n_workers=n_workers, progress=progress)
    labelled = {k: [None] * len(configs) for k in densities}
    for (k, i), lab in zip(jobs, out):
        labelled[k][i] = lab
    return label_table(labelled, configs)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m screening.reference.label_convergence",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--pressure", type=float, default=40.0, help="GPa")
    ap.add_argument("--n-configs", type=int, default=4)
    ap.add_argument("--max-atoms", type=int, default=12)
    ap.add_argument("--kpt-densities", default=",".join(f"{k:g}" for k in KPT_DENSITIES))
    ap.add_argument("--out", default=None, help="CSV (default data/dft/label_convergence_<metal>H_<P>GPa.csv)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    from screening.provenance import atomic_write

    try:
        densities = [float(x) for x in args.kpt_densities.split(",") if x.strip()]
        configs = hot_configurations(args.metal, args.pressure, args.n_configs, max_atoms=args.max_atoms,
                                     progress=not args.quiet)
        table = run_label_convergence(configs, kpt_densities=densities, scheduler=args.scheduler,
                                      n_workers=args.workers, progress=not args.quiet)
    except (CandidateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = summarise(table)
    chosen = choose_kpt_density(summary)
    table["chosen_kpt_density"] = chosen
    table["settings"] = str({k: v for k, v in DEFAULT_DFT_SETTINGS.as_dict().items() if "kpt" not in k})
    table["source"] = "computed by screening.reference.label_convergence"
    out = args.out or f"data/dft/label_convergence_{args.metal}H_{args.pressure:g}GPa.csv"
    atomic_write(out, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"chosen k-point density: {chosen:g} /A^-1 (worst errors within {TOLERANCES}) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
