"""Command-line interface: ``python -m screening --help`` (also ``superhydride-screen``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import warnings

import numpy as np

DEFAULT_RANKING = "reports/ranking.csv"
DEFAULT_PLOT = "reports/prior_by_metal.png"
DEFAULT_LOMO = "reports/prior_lomo.csv"


def _split(text: str | None) -> list[object] | None:
    """Split a comma/space separated list; numbers become floats, anything else stays text
    so that validation can name the offending value."""
    if text is None or not text.strip():
        return None
    items = [t for t in text.replace(",", " ").split() if t]
    out: list[object] = []
    for t in items:
        try:
            out.append(float(t))
        except ValueError:
            out.append(t)
    return out


def _metals(text: str | None) -> list[str] | None:
    items = _split(text)
    return None if items is None else [str(x) for x in items]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m screening",
        description="Screen metal-hydrogen systems for superhydride synthesizability (tier 1: descriptors + PU prior).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("screen", help="rank a candidate grid and write the ranking CSV and heatmap")
    s.add_argument("--metals", help="metal systems, comma-separated (e.g. 'La,Y,Ca' or 'LaY' for a mixed hydride); default: all supported")
    s.add_argument("--h-per-metal", help="H/M ratios, comma-separated; default: 1,2,2.5,3,4,5,5.75,6,7,8,9,10,12")
    s.add_argument("--pressures", help="pressures in GPa, comma-separated; default: 0,25,50,100,150,200,300")
    s.add_argument("--formulas", help="hydride formulas instead of a grid, e.g. 'LaH10,CaH6,H3S'")
    s.add_argument("--out", default=DEFAULT_RANKING, help=f"ranking CSV (default {DEFAULT_RANKING})")
    s.add_argument("--plot", default=DEFAULT_PLOT, help=f"heatmap PNG (default {DEFAULT_PLOT}); '' to skip")
    s.add_argument("--data", help="experimental table to train the prior on (default data/experimental_hydrides.csv)")
    s.add_argument("--cache", help="model cache directory (default $SCREENING_CACHE_DIR or ~/.cache/superhydride-screening)")
    s.add_argument("--top", type=int, default=15, help="print this many top candidates (default 15)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")

    c = sub.add_parser("prior-cv", help="leave-one-metal-out evaluation of the prior")
    c.add_argument("--out", default=DEFAULT_LOMO, help=f"per-positive CSV (default {DEFAULT_LOMO})")
    c.add_argument("--data", help="experimental table (default data/experimental_hydrides.csv)")
    c.add_argument("--seeds", type=int, default=3, help="repeat with this many seeds and report mean and spread (default 3)")
    c.add_argument("--quiet", action="store_true")

    e = sub.add_parser("proxies", help="tier 2a: pressure-enthalpy proxies for the top N of a ranking, merged into it")
    e.add_argument("--top", type=int, default=5, help="how many top-ranked binary candidates whose H/M has a template (default 5)")
    e.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV to read and update (default {DEFAULT_RANKING})")
    e.add_argument("--calculator", default="chgnet", help="chgnet (default), emt, lammps:<style>:<file>, gpaw, mace:<file>")
    e.add_argument("--pressures", help="relaxation pressures in GPa (default 0,25,50,100,150,200,300 plus the candidates')")
    e.add_argument("--templates", help="template names, comma-separated (default: all with <= --max-atoms atoms)")
    e.add_argument("--max-atoms", type=int, default=20, help="largest primitive cell to relax (default 20)")
    e.add_argument("--include-known", action="store_true", help="also count experimental training points among the top N")
    e.add_argument("--reports", default="reports", help="folder for enthalpy_<system>.png and hydrogenation_<system>.png")
    e.add_argument("--quiet", action="store_true")

    r = sub.add_parser("score", help="recompute the synthesis window and synthesizability score of a ranking CSV "
                                     "(after tier-2 columns were merged, or with other weights)")
    r.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV to read and update (default {DEFAULT_RANKING})")
    r.add_argument("--weights", help="term weights, e.g. 'margin=1,prior=0.25' (others keep their defaults)")
    r.add_argument("--lab-temperature", type=float, default=None, help="heating available, K (default 2000)")

    v = sub.add_parser("validate", help="score and synthesis window against experiment, leave-one-metal-out")
    v.add_argument("--data", help="experimental CSV with the columns of data/experimental_hydrides.csv (default that file)")
    v.add_argument("--out-dir", default="reports", help="where validation.csv/.png/_summary.json go (default reports)")
    v.add_argument("--no-nested", action="store_true", help="use the default weights instead of an inner LOMO search")
    v.add_argument("--quiet", action="store_true")

    g = sub.add_parser("engine", help="tier 3: trained fast potential + precursor/H2 interface MD for the top N "
                                      "candidates, on dask.distributed, merged into the ranking")
    g.add_argument("--top", type=int, default=1, help="how many top single-metal candidates (default 1)")
    g.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV to read and update (default {DEFAULT_RANKING})")
    g.add_argument("--potential", help="fitted POD directory or a calculator spec to use instead of training one")
    g.add_argument("--label-calculator", help="reference calculator for the training labels (default chgnet; "
                                              "'gpaw' after make setup-dft)")
    g.add_argument("--temperature", type=float, help="MD temperature in K (default: 0.9 x window T_max, 600-2500 K)")
    g.add_argument("--control-temperature", type=float, help="also run a low-temperature control at this T (K)")
    g.add_argument("--time-ps", type=float, default=10.0, help="production MD length in ps (default 10)")
    g.add_argument("--scheduler", help=f"dask scheduler address (default ${{{'SCREENING_DASK_SCHEDULER'}}}, "
                                       "else a LocalCluster)")
    g.add_argument("--workers", type=int, help="LocalCluster worker processes (default: CPU count)")
    g.add_argument("--serial", action="store_true", help="run in this process instead of on dask")
    g.add_argument("--reports", default="reports", help="folder for trajectories and engine_<M>-H_uptake.png")
    g.add_argument("--quiet", action="store_true")

    sub.add_parser("columns", help="print the documented descriptor columns as a Markdown table")
    return parser


def _cmd_screen(args: argparse.Namespace) -> int:
    from screening.api import screen, write_ranking
    from screening.plots import plot_prior_by_metal

    formulas = _metals(args.formulas)
    table = screen(
        metals=_metals(args.metals),
        h_per_metal=_split(args.h_per_metal),
        pressures_gpa=_split(args.pressures),
        formulas=formulas,
        data_path=args.data,
        cache=args.cache,
        progress=not args.quiet,
    )
    out = write_ranking(table, args.out)
    print(f"wrote {out} ({len(table)} candidates, {table.shape[1]} columns)")
    if args.plot:
        print(f"wrote {plot_prior_by_metal(table, args.plot)}")
    _print_top(table, args.top, args.plot)
    print(f"prior: {table.attrs['provenance']['prior_model']}")
    return 0


def _print_top(table, top: int, plot: str) -> None:
    """The top non-training candidates with the score and their synthesis window; the score heat map
    ``score_by_metal.png`` beside the prior's."""
    from screening.plots import plot_score_by_metal

    if plot:
        print(f"wrote {plot_score_by_metal(table, Path(plot).with_name('score_by_metal.png'))}")
    cols = ["synth_rank", "candidate_id", "synth_score", "synth_score_sigma", "p_min_gpa", "p_min_status", "t_min_k",
            "t_max_k", "recommended_precursor", "prior_score"]
    known = table["prior_training_positive"].astype(bool)
    print(f"top {top} candidates that are not experimental training points "
          f"({int(known.sum())} training points, scored in-sample, are in the CSV with prior_training_positive=True):")
    print(table.loc[~known, cols].head(top).to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def _cmd_prior_cv(args: argparse.Namespace) -> int:
    from screening.api import write_ranking
    from screening.prior import PriorConfig, lomo_over_seeds

    config = PriorConfig()
    if args.seeds < 1:
        raise SystemExit(f"error: --seeds must be >= 1, got {args.seeds}")
    result, summary = lomo_over_seeds(config, args.seeds, args.data, progress=not args.quiet)
    write_ranking(result, args.out)
    first = result[result["seed"] == config.random_state]
    print(first.drop(columns="seed").to_string(index=False))
    print(f"\nprior: {config.label}; leave-one-metal-out over {args.seeds} seed(s)")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    stats = summary.drop(columns="seed").agg(["mean", "std"]).T
    print("\nmean +- std over seeds:")
    for name, row in stats.iterrows():
        print(f"  {name:30s} {row['mean']:.3f} +- {0.0 if np.isnan(row['std']) else row['std']:.3f}")
    print(f"wrote {args.out}")
    return 0


def _cmd_proxies(args: argparse.Namespace) -> int:
    import pandas as pd

    from screening.api import write_ranking
    from screening.plots import plot_enthalpy_system, plot_hydrogenation
    from screening.proxies.enthalpy import enthalpy_proxy, merge_into_ranking

    if args.top < 1:
        raise SystemExit(f"error: --top must be >= 1, got {args.top}")
    if not Path(args.ranking).exists():
        print(f"error: ranking {args.ranking!r} not found; run 'make screen' first", file=sys.stderr)
        return 2
    ranking = pd.read_csv(args.ranking)
    from screening.structures import load_templates
    from screening.structures.templates import primitive_size

    # Only H/M ratios with a template small enough to relax (--max-atoms) can get numbers.
    names = None if not args.templates else [t for t in args.templates.split(",") if t]
    ratios = {t.h_per_metal for t in load_templates().values()
              if (names is None or t.name in names) and primitive_size(t) <= args.max_atoms}
    pool = ranking[~ranking["metals"].astype(str).str.contains(",") & ranking["h_per_metal"].round(6).isin(ratios)]
    if not args.include_known and "prior_training_positive" in pool:
        pool = pool[~pool["prior_training_positive"].astype(bool)]
    top = pool.sort_values("synth_rank" if "synth_rank" in pool.columns else "rank").head(args.top)
    systems: dict = {}
    proxies = enthalpy_proxy(top, args.calculator, _split(args.pressures), names,
                             args.max_atoms, progress=not args.quiet, systems_out=systems)
    from screening.score import score_candidates

    merged = merge_into_ranking(ranking, proxies)
    write_ranking(score_candidates(merged) if "synth_score" in merged.columns else merged, args.ranking)
    for metal, system in systems.items():
        plot_enthalpy_system(system, Path(args.reports) / f"enthalpy_{metal}-H.png")
        plot_hydrogenation(system, Path(args.reports) / f"hydrogenation_{metal}-H.png")
    cols = ["candidate_id", "enthalpy_phase", "e_above_hull_ev_per_atom", "precursor", "dH_r_kj_per_mol_h2",
            "dV_r_a3_per_metal", "onset_pressure_gpa", "onset_status", "enthalpy_status"]
    print(proxies[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"calculator: {proxies['enthalpy_calculator'].dropna().iloc[0] if proxies['enthalpy_calculator'].notna().any() else args.calculator}")
    print(f"merged into {args.ranking}; plots in {args.reports}/")
    return 0


def parse_weights(text: str | None):
    """``'margin=1,prior=0.25'`` -> :class:`ScoreWeights` (unnamed terms keep their defaults)."""
    from dataclasses import replace

    from screening.errors import CandidateError
    from screening.score import DEFAULT_WEIGHTS, TERMS

    if not text:
        return DEFAULT_WEIGHTS
    values = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in TERMS:
            raise CandidateError(f"unknown score term {name!r} in --weights; valid: {', '.join(TERMS)}")
        try:
            values[name] = float(value)
        except ValueError:
            raise CandidateError(f"weight of {name!r} must be a number, got {value!r}") from None
    return replace(DEFAULT_WEIGHTS, **values)


def _cmd_score(args: argparse.Namespace) -> int:
    import pandas as pd

    from screening.api import write_ranking
    from screening.score import DEFAULT_LAB_TEMPERATURE_K, score_candidates

    if not Path(args.ranking).exists():
        print(f"error: ranking {args.ranking!r} not found; run 'make screen' first", file=sys.stderr)
        return 2
    ranking = pd.read_csv(args.ranking)
    lab = DEFAULT_LAB_TEMPERATURE_K if args.lab_temperature is None else args.lab_temperature
    scored = score_candidates(ranking, parse_weights(args.weights), lab_temperature_k=lab)
    write_ranking(scored, args.ranking)
    cols = ["synth_rank", "candidate_id", "synth_score", "synth_score_sigma", "synth_terms_present", "p_min_gpa",
            "p_min_source", "recommended_precursor"]
    print(scored[cols].head(15).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"weights: {scored['score_weights'].iloc[0]}; wrote {args.ranking}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import json

    from screening.validation import validate, write_validation

    result, summary = validate(args.data, nested=not args.no_nested, progress=not args.quiet)
    paths = write_validation(result, summary, args.out_dir)
    cols = ["formula", "metal", "h_per_metal", "observed_pressure_gpa", "predicted_p_min_gpa",
            "rank_at_reported_pressure", "top3", "synthesis_temperature_k", "t_min_k", "t_max_k", "t_in_window"]
    print(result[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(json.dumps({k: v for k, v in summary.items() if k != "weights_by_held_out_metal"}, indent=2, default=float))
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cmd_engine(args: argparse.Namespace) -> int:
    import pandas as pd

    from screening.api import write_ranking
    from screening.engine.run import ENGINE_COLUMNS, EngineSettings, run_engine

    if not Path(args.ranking).exists():
        print(f"error: ranking {args.ranking!r} not found; run 'make screen' first", file=sys.stderr)
        return 2
    ranking = pd.read_csv(args.ranking)
    settings = EngineSettings(temperature_k=args.temperature, control_temperature_k=args.control_temperature,
                              time_ps=args.time_ps, label_calculator=args.label_calculator)
    merged = run_engine(ranking, args.top, settings=settings, potential=args.potential, scheduler=args.scheduler,
                        n_workers=args.workers, distributed=not args.serial, out_dir=args.reports,
                        progress=not args.quiet)
    write_ranking(merged, args.ranking)
    done = merged[merged["engine_status"].notna()]
    print(done[["candidate_id", *ENGINE_COLUMNS[:12]]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"merged into {args.ranking}; trajectories and uptake plots in {args.reports}/")
    return 0


def _cmd_columns(_: argparse.Namespace) -> int:
    from descriptors.pipeline import column_docs

    docs = column_docs()
    ours = docs[~docs["featurizer"].str.startswith("matminer")]
    print("| column | featurizer | meaning |\n|---|---|---|")
    for _, r in ours.iterrows():
        print(f"| `{r['column']}` | {r['featurizer']} | {r['meaning']} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit code (2 on bad input)."""
    from screening.errors import CandidateError

    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", module="pymatgen")
    warnings.filterwarnings("ignore", module="matminer")
    try:
        return {"screen": _cmd_screen, "prior-cv": _cmd_prior_cv, "proxies": _cmd_proxies, "score": _cmd_score,
                "validate": _cmd_validate, "engine": _cmd_engine, "columns": _cmd_columns}[args.command](args)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
