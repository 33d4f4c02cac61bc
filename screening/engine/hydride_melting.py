"""Melting temperatures of a system's hydrides with the engine's own potential (tier 2b on the DFT-taught POD).

With CHGNet one melting estimate costs 133–641 h; with the engine's distilled POD (about 450x faster) the melting
tier (:func:`screening.proxies.melting.melting_temperature`) becomes affordable for the hydrides that matter to the
engine: the precursor and the product of each system (CaH2 and CaH4 for Ca–H) at the engine's pressures. Each
estimate is the tier's own (metal-sublattice T_m with its uncertainty, H-diffusion onset, status); this module only
chooses the structures (the tier-2a templates of MH_x at P, the same the engine builds its slabs from), runs them,
and keeps the table as committed data with the potential's provenance:

``python -m screening.engine.hydride_melting --metal Ca`` (``make engine-melting METAL=Ca``) writes
``data/engine/<M>-H/melting.csv``: one row per (MH_x, P), keyed by the ranking's ``candidate_id`` (``CaH4@40GPa``),
with the tier-2b columns, the potential's spec, data hash and label files, and the melting settings.
``--merge reports/ranking.csv`` then puts these T_m into the matching rows of a ranking (other rows untouched) and
rescores it, so those rows' temperature windows come from tier 2b. Every MD protocol is cached in the result store:
an interrupted run resumes.

Cost, and so the default method: the hysteresis bracket (heating and cooling ramps of a ~96-atom cell at 200 K/ps,
Luo–Strachan–Swift formula) is about 3e6 atom-steps, ~15 min per estimate on one core; solid–liquid coexistence
(>= 1,000 atoms, two 40-ps NPH runs) is ~30x more. ``--method coexistence`` runs it where the budget allows. Fast
ramps superheat more; the Luo–Strachan–Swift combination of T+ and T- corrects most of it, and the reported
uncertainty is the tier's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from screening.engine.melting_table import MELTING_FILE, committed_melting, merge_into_ranking
from screening.errors import CandidateError

DEFAULT_PRESSURES_GPA = (20.0, 40.0, 60.0)
#: the precursor and product of the seed reaction (MH2 + H2 -> MH4)
DEFAULT_H_PER_METAL = (2.0, 4.0)
#: the hysteresis bracket on ~96-atom cells at 200 K/ps from 800 K (every hydride here is solid there at >= 20 GPa):
#: the POD runs ~3,500 atom-steps/s on such a cell with the tier's sampling (measured on the Ca-H fit), so heating to
#: ~2,500 K and cooling back take ~15 min (at 100 K/ps on 128 atoms: ~45 min, from the rate of its first minutes)
DEFAULT_SETTINGS = {"method": "hysteresis", "ramp_atoms": 96, "rate_k_per_ps": 200.0, "t_range_k": (800.0, 4000.0),
                    "precision_k": 30.0}


def candidate_id(metal: str, h_per_metal: float, pressure_gpa: float) -> str:
    """The ranking's id of MH_x at P (``CaH4@40GPa``)."""
    from screening.window import hydride_formula

    return f"{hydride_formula(metal, h_per_metal)}@{pressure_gpa:g}GPa"


def hydride_structure(metal: str, h_per_metal: float, pressure_gpa: float):
    """The template structure of MH_x at P the engine uses (:func:`~screening.structures.templates.precursor_template`, volume
    from the tier-1 guess; the NPT equilibration of every melting run relaxes it)."""
    from screening.structures.builder import build_structure
    from screening.structures.templates import load_templates, precursor_template

    name = precursor_template(metal, h_per_metal)
    return build_structure(load_templates()[name], metal, float(pressure_gpa), primitive=False), name


def potential_provenance(potential: str) -> dict:
    """Spec, data hash, label sources and settings of a fitted ``lammps:pod:<dir>:...`` potential (its
    ``provenance.json``); just the spec for anything else."""
    from screening.engine.run import fitted_pod_dir

    directory = fitted_pod_dir(potential)
    if directory is None or not (directory / "provenance.json").is_file():
        return {"potential": str(potential)}
    prov = json.loads((directory / "provenance.json").read_text())
    return {"potential": f"POD {prov.get('data_hash', '')[:24]}", "potential_data_hash": prov.get("data_hash", ""),
            "potential_label_sources": json.dumps(prov.get("label_sources", [])),
            "potential_settings": json.dumps(prov.get("settings", {}), sort_keys=True)}


def hydride_melting(metal: str, potential: str, *, pressures_gpa: Sequence[float] = DEFAULT_PRESSURES_GPA,
                    h_per_metal: Sequence[float] = DEFAULT_H_PER_METAL, settings: dict | None = None,
                    seed: int = 0, store: Any = None, plots: str | Path | None = None,
                    progress: bool = True) -> pd.DataFrame:
    """T_m(P) of each MH_x with ``potential``; one row per (x, P) with the tier-2b columns and provenance."""
    from screening.proxies.melting import melting_table, melting_temperature

    s = {**DEFAULT_SETTINGS, **(settings or {})}
    rows, estimates, ids = [], [], []
    for x in h_per_metal:
        for p in pressures_gpa:
            structure, template = hydride_structure(metal, float(x), float(p))
            t0 = time.perf_counter()
            plot = None if plots is None else Path(plots) / f"melting_{candidate_id(metal, x, p).replace('@', '_at_')}.png"
            est = melting_temperature(structure, float(p), potential, method=s["method"],
                                      t_range_k=tuple(s["t_range_k"]), precision_k=s["precision_k"],
                                      rate_k_per_ps=s["rate_k_per_ps"], ramp_atoms=s["ramp_atoms"], seed=seed,
                                      store=store, plot=plot, progress=progress)
            estimates.append(est)
            ids.append(candidate_id(metal, x, p))
            rows.append({"h_per_metal": float(x), "template": template, "t_plus_k": est.t_plus_k,
                         "t_minus_k": est.t_minus_k, "melting_message": est.message,
                         "wall_s": round(est.diagnostics.get("compute_s") or time.perf_counter() - t0, 1)})
            if progress:
                print(f"{ids[-1]}: {est.status}, T_m {est.tm_metal_k} ± {est.tm_metal_err_k} K, H diffusion onset "
                      f"{est.h_diffusion_onset_k} K", flush=True)
    table = pd.concat([melting_table(estimates, ids), pd.DataFrame(rows)], axis=1)
    table["metals"] = metal
    table["melting_settings"] = json.dumps(s, sort_keys=True)
    for k, v in potential_provenance(potential).items():
        table[k] = v
    from screening.reference.dataset import code_version

    table["code_version"] = code_version()
    table["source"] = ("computed by screening.engine.hydride_melting: the melting tier (screening.proxies.melting) "
                       "with the engine's POD potential, a machine-learned potential taught by a fine-tuned CHGNet "
                       "and GPAW labels, not DFT")
    return table


def write_table(table: pd.DataFrame, metal: str, out_dir: str | Path | None = None) -> Path:
    """Write ``table`` into ``data/engine/<M>-H/melting.csv`` (atomically): its rows replace the committed rows of the
    same ``candidate_id``, the other committed rows stay (one (H/M, P) per run keeps the others' results). Every row
    carries the potential it was computed with."""
    from screening.engine.folders import label_directory
    from screening.provenance import atomic_write

    path = label_directory(metal, out_dir) / MELTING_FILE
    old = committed_melting(metal, out_dir)
    if old is not None:
        table = pd.concat([old[~old["candidate_id"].isin(table["candidate_id"])], table], ignore_index=True)
        table = table.sort_values(["h_per_metal", "pressure_gpa"], kind="stable").reset_index(drop=True)
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.engine.hydride_melting --metal Ca [--potential SPEC] [--merge ranking.csv]``."""
    ap = argparse.ArgumentParser(prog="python -m screening.engine.hydride_melting", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--potential", default=None, help="lammps:pod:<dir>:<elements> (default: the distilled fit of "
                                                      "the committed labels, make engine LABELS=distilled)")
    ap.add_argument("--pressures", default=",".join(f"{p:g}" for p in DEFAULT_PRESSURES_GPA), help="GPa")
    ap.add_argument("--h-per-metal", default=",".join(f"{x:g}" for x in DEFAULT_H_PER_METAL))
    ap.add_argument("--method", default=DEFAULT_SETTINGS["method"], choices=("hysteresis", "coexistence"))
    ap.add_argument("--ramp-atoms", type=int, default=DEFAULT_SETTINGS["ramp_atoms"])
    ap.add_argument("--rate", type=float, default=DEFAULT_SETTINGS["rate_k_per_ps"], help="K/ps")
    ap.add_argument("--merge", default=None, help="a ranking CSV whose matching rows get these T_m (then rescored)")
    ap.add_argument("--skip-run", action="store_true", help="only merge the committed table")
    ap.add_argument("--reports", default="reports", help="folder for the diagnostic plots")
    args = ap.parse_args(argv)
    try:
        pressures = [float(v) for v in args.pressures.split(",") if v.strip()]
        xs = [float(v) for v in args.h_per_metal.split(",") if v.strip()]
    except ValueError as exc:
        print(f"error: --pressures/--h-per-metal: {exc}", file=sys.stderr)
        return 2
    if not pressures or not xs or min(pressures) <= 0 or min(xs) <= 0:
        print(f"error: pressures {pressures} and H/M {xs} must be positive numbers", file=sys.stderr)
        return 2
    if args.ramp_atoms < 16 or not args.rate > 0:
        print(f"error: --ramp-atoms {args.ramp_atoms} (>= 16) / --rate {args.rate} (> 0)", file=sys.stderr)
        return 2
    try:
        if not args.skip_run:
            potential = args.potential
            if potential is None:
                from screening.engine.distilled import fit_distilled

                potential = fit_distilled(args.metal).spec
            Path(args.reports).mkdir(parents=True, exist_ok=True)
            table = hydride_melting(args.metal, potential, pressures_gpa=pressures, h_per_metal=xs,
                                    settings={"method": args.method, "ramp_atoms": args.ramp_atoms,
                                              "rate_k_per_ps": args.rate}, plots=args.reports)
            print(f"wrote {write_table(table, args.metal)}")
        if args.merge:
            from screening.tables import write_ranking

            table = committed_melting(args.metal)
            if table is None:
                raise CandidateError(f"no committed melting table of {args.metal}-H (run make engine-melting)")
            if not Path(args.merge).is_file():
                raise CandidateError(f"ranking file {args.merge} not found")
            ranking = pd.read_csv(args.merge)
            merged = merge_into_ranking(ranking, table)
            write_ranking(merged, args.merge)
            print(f"merged T_m of {int(ranking['candidate_id'].isin(table['candidate_id']).sum())} rows into "
                  f"{args.merge}")
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.skip_run:
        cols = ["candidate_id", "tm_metal_k", "tm_metal_err_k", "h_diffusion_onset_k", "melting_status", "wall_s"]
        print(table[cols].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
