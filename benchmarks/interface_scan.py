"""Tabulate interface runs at several temperatures over one common window: is there a thermal onset of surface
disorder below the seed's 1473 K?

The runs come from the engine (``benchmarks/engine_ca_h.py --potential <fit> --temperature T --time-ps 4
--no-control``, cached in the result store; longer runs are cut at ``--t-end``). For every trajectory this script
reports, over the same window (default the last 2 ps before ``--t-end`` = 4.8 ps, the end of a 4-ps run after the
1-ps ramp): H/M in the slab, the liquid-like fraction of the metal by depth (:func:`screening.engine.depth.
analyse_slab_trajectory`, the engine's q6 criterion) and the per-atom phase of the core over the last picosecond
(:func:`screening.engine.local_phase.core_phase`).

    python benchmarks/interface_scan.py reports/engine_CaH4_at_40GPa_*K.extxyz --out scan.csv
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def row(path: Path, reference, t_end_ps: float, window_ps: float) -> dict:
    """One table row of the trajectory at ``path`` (frames carry ``time_ps``)."""
    from screening.engine.depth import analyse_slab_trajectory
    from screening.engine.local_phase import core_phase, read_trajectory
    from screening.errors import CandidateError

    frames = [f for f in read_trajectory(path) if f.info["time_ps"] <= t_end_ps + 1e-9]
    t = np.array([f.info["time_ps"] for f in frames])
    if t[-1] < t_end_ps - 0.1:
        raise CandidateError(f"{path.name} ends at {t[-1]:.2f} ps, before --t-end {t_end_ps} ps")
    res = analyse_slab_trajectory(frames, reference, target_template=None)
    late = t >= t_end_ps - window_ps
    liquid = np.nanmean(res.liquid_fraction_by_depth[late], axis=0)
    core = core_phase([f for f, ti in zip(frames, t) if ti >= t_end_ps - 1.0], reference)
    match = re.search(r"_(\d+)K\.extxyz$", path.name)
    return {"trajectory": path.name, "temperature_k": int(match.group(1)) if match else None,
            "t_end_ps": t_end_ps, "window_ps": window_ps,
            "h_per_metal_start": float(res.h_per_metal_slab[0]),
            "h_per_metal_end": float(np.mean(res.h_per_metal_slab[t >= t_end_ps - 1.0])),
            "liquid_0_2a": float(liquid[0]), "liquid_2_4a": float(liquid[1]), "liquid_core": float(liquid[-1]),
            "core_phase": core["phase"],
            "core_fractions": json.dumps({k: round(v, 3) for k, v in core["fractions"].items()}),
            "core_h_per_metal": core["h_per_metal_core"], "surface_h_per_metal": core["h_per_metal_surface"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trajectories", nargs="+")
    ap.add_argument("--t-end", type=float, default=4.8, help="ps; every run is cut here (the 4-ps runs end at 4.8 ps)")
    ap.add_argument("--window", type=float, default=2.0, help="ps before --t-end for the depth profile")
    ap.add_argument("--potential", default="", help="recorded in the table (the runs' potential)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from screening.engine.local_phase import precursor_crystal
    from screening.errors import CandidateError
    from screening.reference.dataset import code_version

    reference = precursor_crystal("Ca", 2.0, 40.0, "cotunnite")
    rows = []
    for name in args.trajectories:
        try:
            rows.append(row(Path(name), reference, args.t_end, args.window))
        except (CandidateError, KeyError) as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 2
    table = pd.DataFrame(rows).sort_values("temperature_k")
    table["potential"] = args.potential
    table["code_version"] = code_version()
    table["source"] = ("computed by benchmarks/interface_scan.py from engine interface trajectories (CaH2 slab + dense "
                       "H2 at 40 GPa, the engine's POD potential, not DFT)")
    print(table.drop(columns=["source", "code_version", "potential"]).to_string(index=False))
    if args.out:
        from screening.provenance import atomic_write

        atomic_write(args.out, lambda tmp: table.to_csv(tmp, index=False, float_format="%.4g"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
