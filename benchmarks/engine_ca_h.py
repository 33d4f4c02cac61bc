"""Tier-3 demonstration on the seed system: CaH2 + dense H2 at 40 GPa.

    make engine-demo            (.venv/bin/python benchmarks/engine_ca_h.py [--time-ps 10] [--labels distilled])

1. the Ca–H POD potential over 0–60 GPa (training pool with hot MD, CHGNet labels, fitpod), cached;
2. its errors: train and held-out against the CHGNet labels, and against GPAW PBE on the held-out
   configurations at 40 GPa (after ``make setup-dft``; otherwise the reason is printed);
3. the engine through ``run_engine`` on dask (2 workers): the CaH2 (cotunnite) slab in dense H2 at
   40 GPa and 1473 K (the seed study's 1200 °C), with a 300 K control far below melting;
4. writes ``reports/engine_Ca-H_uptake.png``, per run the depth x time heat map of the liquid-like
   fraction beside the uptake curve and snapshots (``reports/engine_CaH4_at_40GPa_<kind>_<T>_K_depth.png``),
   trajectories, and ``reports/engine_Ca-H_summary.json`` (with the depth profiles and the product-phase
   check against CaH4's I4/mmm Ca sublattice).

``--potential DIR_OR_SPEC`` uses an already fitted POD potential (its directory or its
``lammps:pod:<dir>:Ca,H`` spec) instead of training one.

Every stage is cached: a rerun reports from the cache, an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"


def dft_errors(pot, holdout_path: Path) -> dict:
    """POD and CHGNet against GPAW on the held-out configurations at 40 GPa (one energy constant per element removed).

    The committed GPAW hold-out labels of Ca-H (``data/engine/Ca-H``, ``make engine-labels``) are used when present;
    otherwise the CHGNet-era hold-out cells at ``holdout_path`` are labelled with GPAW here.
    """
    import importlib.util

    from screening.engine.distilled import committed_holdout
    from screening.engine.labelling import label_configurations, read_extxyz
    from screening.engine.potential import label_errors, predict
    from screening.engine.training_set import label_training_configurations
    from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS

    t0 = time.perf_counter()
    dft, failures, settings = committed_holdout("Ca"), [], "committed labels (data/engine/Ca-H/manifest.json)"
    if not dft:
        if importlib.util.find_spec("gpaw") is None:
            return {"status": "GPAW is not installed: run 'make setup-dft' (apt libxc/openblas/fftw, pip gpaw gpaw-data)"}
        dft, failures = label_training_configurations(read_extxyz(holdout_path), "gpaw")  # converged settings
        settings = DEFAULT_DFT_SETTINGS.as_dict()
    chg = label_configurations(dft, "chgnet")
    pod = predict(pot, dft)
    return {"status": "ok", "gpaw_settings": settings, "label_source": dft[0].info["label_source"] if dft else "",
            "n_configs": len(dft), "failures": failures, "gpaw_wall_s": time.perf_counter() - t0,
            "pressures_gpa": sorted({round(float(a.info.get("pressure_gpa", float("nan"))), 1) for a in dft}),
            "pod_vs_gpaw": label_errors(pod, dft, pot.elements, align_elements=True),
            "chgnet_vs_gpaw": label_errors(chg, dft, pot.elements, align_elements=True),
            "pod_vs_chgnet": label_errors(pod, chg, pot.elements)}


def main(argv=None) -> int:
    import pandas as pd

    from screening.engine.run import EngineSettings, holdout_pressure, run_engine, system_potential, training_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-ps", type=float, default=10.0, help="production MD length (default 10 ps)")
    ap.add_argument("--checkpoint-ps", type=float, default=None,
                    help="production in checkpointed segments of this many ps (an interrupted run resumes)")
    ap.add_argument("--temperature", type=float, default=1473.0)
    ap.add_argument("--control-temperature", type=float, default=300.0)
    ap.add_argument("--no-control", action="store_true",
                    help="the hot run alone (one worker's work; a later run with the control reuses it)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--potential", default=None, help="fitted POD potential directory or lammps:pod spec (skips training)")
    ap.add_argument("--labels", default=None, help="label calculator of the potential: chgnet (default), gpaw (the "
                    "committed GPAW labels) or distilled (the committed distilled and active-learning labels)")
    args = ap.parse_args(argv)
    settings = EngineSettings(temperature_k=args.temperature,
                              control_temperature_k=None if args.no_control else args.control_temperature,
                              time_ps=args.time_ps, checkpoint_ps=args.checkpoint_ps,
                              **({"label_calculator": args.labels} if args.labels else {}))
    wall = {}
    t0 = time.perf_counter()
    if args.potential:
        from screening.engine.potential import load_potential
        from screening.engine.run import fitted_pod_dir

        directory = fitted_pod_dir(args.potential) or args.potential
        if not Path(directory).is_dir():
            print(f"error: --potential {args.potential!r} is not a fitted POD potential directory or lammps:pod spec",
                  file=sys.stderr)
            return 2
        pot = load_potential(directory)
    else:
        pot = system_potential("Ca", settings, progress=True)
    wall["potential (training data + labels + fit, or cache)"] = time.perf_counter() - t0
    print(f"potential: {pot.spec}\n  labels: {sorted(set(pot.label_sources))}\n  range: {pot.training_range}")
    for part in ("train", "holdout"):
        m = pot.metrics.get(part) or {}
        if m:
            print(f"  {part:8s} vs its own labels: E {m['energy_rmse_mev_per_atom']:.1f} meV/atom, F {m['forces_rmse_ev_per_a']:.3f} "
                  f"eV/A, stress {m['stress_rmse_gpa']:.2f} GPa ({m['n_configs']} configs)")
    ranking = pd.DataFrame([{"candidate_id": "CaH4@40GPa", "metals": "Ca", "h_per_metal": 4.0, "pressure_gpa": 40.0,
                             "synth_rank": 1, "precursor": "CaH2"}])
    t0 = time.perf_counter()
    out = run_engine(ranking, top=1, settings=settings, potential=pot, n_workers=args.workers, out_dir=REPORTS)
    wall["interface MD, hot and control in parallel (or cache)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    holdout = training_dir("Ca") / f"holdout_{holdout_pressure(settings):g}gpa.extxyz"
    dft = dft_errors(pot, holdout)
    wall["GPAW held-out labels (or cache)"] = time.perf_counter() - t0
    if dft["status"] == "ok":
        for k in ("pod_vs_gpaw", "chgnet_vs_gpaw", "pod_vs_chgnet"):
            m = dft[k]
            print(f"  {k:15s}: E {m['energy_rmse_mev_per_atom']:.1f} meV/atom, F {m['forces_rmse_ev_per_a']:.3f} eV/A, "
                  f"stress {m['stress_rmse_gpa']:.2f} GPa ({m['n_configs']} held-out configs at 40 GPa)")
    else:
        print("  DFT comparison:", dft["status"])

    row = out.iloc[0]
    runs = out.attrs["engine_results"]["CaH4@40GPa"]
    for kind in runs:
        wall[f"interface MD {kind} (compute)"] = runs[kind]["wall_s"]
    from screening.engine.run import depth_summary, product_target
    from screening.engine.simulate import InterfaceResult

    depth = {k: depth_summary(InterfaceResult.from_dict(v)) for k, v in runs.items()}
    targets = {k: product_target(ranking.iloc[0].to_dict(), InterfaceResult.from_dict(v)) for k, v in runs.items()}
    summary = {"potential": {"spec": pot.spec, "data_hash": pot.data_hash, "label_sources": sorted(set(pot.label_sources)),
                             "training_range": pot.training_range, "metrics": pot.metrics,
                             "settings": pot.settings.__dict__},
               "dft": dft, "engine": {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()
                                      if str(k).startswith("engine_")},
               "runs": {k: {kk: v[kk] for kk in ("status", "message", "h_per_metal_initial", "h_per_metal_final",
                                                  "uptake_rate_per_ps", "uptake_rate_err_per_ps", "initial_phase",
                                                  "product_phase", "target_temperature_k", "n_atoms", "wall_s")}
                        for k, v in runs.items()},
               "depth_profiles": {k: d["profile"] for k, d in depth.items()},
               "product_target": {k: {"target": t, "matches": m} for k, (t, m) in targets.items()},
               "wall_s": wall}
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "engine_Ca-H_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    for kind, r in summary["runs"].items():
        print(f"  {kind:8s} {r['target_temperature_k']:.0f} K: {r['status']}, H/Ca(slab) {r['h_per_metal_initial']:.3f} -> "
              f"{r['h_per_metal_final']:.3f}, rate {r['uptake_rate_per_ps']:.4f} +- {r['uptake_rate_err_per_ps']:.4f} /ps, "
              f"phase {r['initial_phase']} -> {r['product_phase']}, {r['wall_s']:.0f} s")
        prof = summary["depth_profiles"].get(kind) or {}
        if prof:
            cells = ", ".join(f"{lo:g} Å: {f:.2f}" for lo, f in zip(prof["depth_bins_a"], prof["liquid_fraction"]))
            print(f"           liquid-like fraction by depth (second half of production): {cells}")
        t = summary["product_target"][kind]
        print(f"           final Ca sublattice matches {t['target']} (CaH4 I4/mmm): {t['matches']}")
    print("depth figures: " + ", ".join(str(p) for p in sorted(REPORTS.glob("engine_CaH4_at_40GPa_*_depth.png"))))
    print("wall times: " + "; ".join(f"{k}: {v:.0f} s" for k, v in wall.items()))
    print(f"wrote {REPORTS / 'engine_Ca-H_uptake.png'} and {REPORTS / 'engine_Ca-H_summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
