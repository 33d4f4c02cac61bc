"""Can the engine's fit form represent the Ca–H energy surface at all? POD fitted to a smooth teacher on the pool.

A potential fitted to a few dozen DFT labels can miss the targets for two reasons: too few labels, or a fit form
too poor for the surface. This separates them. The whole training pool of the engine's labelling plan (about 850
cells of one M–H system: strained, rattled, hot-MD, slab and H2-fluid cells over 0–60 GPa) is labelled with a
teacher that is cheap and smooth (a CHGNet model, seconds for the pool), every POD candidate of
:data:`~screening.engine.pod_selection.ALL_POD_CANDIDATES` asked for is fitted to all of it except the committed
hold-out cells, and its errors are measured against the teacher (training and hold-out cells) and against GPAW
(the committed hold-out labels). If a fit cannot follow its own teacher on 800+ cells to within the targets
(10 meV/atom, 0.3 eV/Å), more DFT labels will not bring it there either.

``python -m screening.engine.fit_capacity --metal Ca`` (``make engine-capacity``) writes
``reports/engine_fit_capacity_<M>.csv``: one row per candidate and set (``train``, ``holdout``, ``holdout_gpaw``),
and per family on the training cells.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from screening.errors import CandidateError

REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"
#: the candidates measured by default: the CHGNet-era default, the larger basis at energy weights 1, 10 and 100,
#: and the four-body basis
DEFAULT_CANDIDATES = ("2b8-3b6x3-we1", "2b10-3b8x4-we1", "2b10-3b8x4-we10", "2b10-3b8x4-we100",
                      "2b10-3b8x4-4b4x2-we10")


def teacher_pool(metal: str, teacher: str, *, store=None, progress: bool = True) -> list:
    """The labelling plan's pool of ``metal`` (:func:`~screening.engine.dft_labels.selection`'s cells before the
    selection), labelled with ``teacher`` (cached in the result store)."""
    from screening.engine.dft_labels import LabelPlan
    from screening.engine.labelling import label_configurations
    from screening.engine.training_set import generate_configurations

    plan = LabelPlan(metal=metal)
    pool = [a for a in generate_configurations(plan.spec(), plan.teacher, store=store, progress=progress)
            if len(a) <= plan.max_atoms]
    labelled, failures = label_configurations(pool, teacher, store=store, progress=progress, return_failures=True)
    if failures:
        raise CandidateError(f"{len(failures)} pool cells failed with {teacher}: {failures[:3]}")
    return labelled


def within_domain(configs: Sequence, *, min_pressure_gpa: float | None = None,
                  energy_window_ev_per_atom: float | None = None, max_force_ev_per_a: float | None = None) -> list:
    """The labelled ``configs`` inside a fitting domain: pressure at least ``min_pressure_gpa``; energy per atom at
    most ``energy_window_ev_per_atom`` above the lowest of the same H fraction among ``configs``; no force
    component above ``max_force_ev_per_a``. None: no limit."""
    import numpy as np

    def h_fraction(a) -> float:
        return round(a.get_chemical_symbols().count("H") / len(a), 6)

    lowest: dict[float, float] = {}
    for a in configs:
        x = h_fraction(a)
        lowest[x] = min(lowest.get(x, np.inf), a.get_potential_energy() / len(a))
    out = []
    for a in configs:
        if min_pressure_gpa is not None and float(a.info["pressure_gpa"]) < min_pressure_gpa:
            continue
        if (energy_window_ev_per_atom is not None
                and a.get_potential_energy() / len(a) - lowest[h_fraction(a)] > energy_window_ev_per_atom):
            continue
        if max_force_ev_per_a is not None and np.abs(a.get_forces()).max() > max_force_ev_per_a:
            continue
        out.append(a)
    return out


def capacity_table(pool: Sequence, gpaw_holdout: Sequence, elements: Sequence[str],
                   candidates: Sequence[str] = DEFAULT_CANDIDATES, *, domain: dict | None = None,
                   cache: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Errors of each candidate fitted to ``pool`` minus the hold-out cells (:func:`~screening.engine.config_ids.
    match_configurations`): against the teacher
    on the training and hold-out cells, against ``gpaw_holdout``, and per family on the training cells.
    ``domain``: keyword limits of :func:`within_domain` on the training cells (the hold-out cells are all kept)."""
    from tqdm import tqdm

    from screening.engine.config_ids import match_configurations
    from screening.engine.fit_report import error_table
    from screening.engine.pod_selection import ALL_POD_CANDIDATES as POD_CANDIDATES
    from screening.engine.potential import fit_pod

    unknown = [c for c in candidates if c not in POD_CANDIDATES]
    if unknown:
        raise CandidateError(f"unknown POD candidate(s) {unknown}; valid: {', '.join(POD_CANDIDATES)}")
    where = match_configurations(gpaw_holdout, pool)
    missing = [str(a.info.get("config_id")) for a, i in zip(gpaw_holdout, where) if i is None]
    if missing:
        raise CandidateError(f"hold-out cells {missing[:3]} are not in the pool: labels of another plan?")
    held = set(where)
    train = within_domain([a for i, a in enumerate(pool) if i not in held], **(domain or {}))
    holdout = [pool[i] for i in where]
    tables = []
    for name in tqdm(candidates, desc="POD fits to the teacher", unit="fit", disable=not progress):
        fit = fit_pod(train, elements, POD_CANDIDATES[name], cache=cache, progress=False)
        table = error_table(fit, {"train": train, "holdout": holdout, "holdout_gpaw": list(gpaw_holdout)})
        table = table[(table["set"] == "train") | (table["family"] == "all")]
        table.insert(0, "candidate", name)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m screening.engine.fit_capacity --metal Ca [--teacher chgnet-hydride]``."""
    from screening.engine.dft_labels import committed_labels
    from screening.provenance import atomic_write

    ap = argparse.ArgumentParser(prog="python -m screening.engine.fit_capacity", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--teacher", default="chgnet-hydride", help="calculator registry name of the teacher")
    ap.add_argument("--candidates", default=",".join(DEFAULT_CANDIDATES))
    ap.add_argument("--min-pressure", type=float, default=None, help="fit only cells at this pressure or above (GPa)")
    ap.add_argument("--energy-window", type=float, default=None,
                    help="fit only cells within this energy (eV/atom) of the lowest of their H fraction")
    ap.add_argument("--max-force", type=float, default=None, help="fit only cells without a larger force (eV/Å)")
    ap.add_argument("--out", default=None, help="CSV path (default reports/engine_fit_capacity_<M>.csv)")
    args = ap.parse_args(argv)
    try:
        committed = committed_labels(args.metal)
        if not committed or not committed["holdout"]:
            raise CandidateError(f"no committed hold-out labels of {args.metal}-H (run make engine-labels "
                                 f"METAL={args.metal})")
        pool = teacher_pool(args.metal, args.teacher)
        domain = {"min_pressure_gpa": args.min_pressure, "energy_window_ev_per_atom": args.energy_window,
                  "max_force_ev_per_a": args.max_force}
        table = capacity_table(pool, committed["holdout"], (args.metal, "H"),
                               [c.strip() for c in args.candidates.split(",") if c.strip()], domain=domain)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table["teacher"] = args.teacher
    table["domain"] = json.dumps(domain, sort_keys=True)
    table["source"] = (f"computed by screening.engine.fit_capacity: POD fitted to the {args.metal}-H pool labelled by "
                       f"{args.teacher} (a fine-tuned universal potential, not DFT); holdout_gpaw: the committed "
                       f"GPAW hold-out labels")
    out = Path(args.out) if args.out else REPORTS_DIR / f"engine_fit_capacity_{args.metal}.csv"
    atomic_write(out, lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g"))
    cols = ["candidate", "set", "family", "n_configs", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a",
            "stress_rmse_gpa"]
    print(table[table["family"] == "all"][cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
