"""Command-line interface: ``python -m screening --help`` (also ``superhydride-screen``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import warnings

import numpy as np

from screening.calculators import DEFAULT_CALCULATOR
from screening.candidates import parse_list
from screening.errors import CandidateError

DEFAULT_RANKING = "reports/ranking.csv"
DEFAULT_PLOT = "reports/prior_by_metal.png"
DEFAULT_LOMO = "reports/prior_lomo.csv"


_split = parse_list  # the CLI's name for it


def _metals(text: str | None, flag: str = "--metals") -> list[str] | None:
    items = _split(text, flag)
    return None if items is None else [str(x) for x in items]


def _positive_top(value: int) -> int:
    if value < 1:
        raise CandidateError(f"--top must be >= 1, got {value}")
    return value


def _announce_cache(cache: str | None = None) -> None:
    """Print where models and results are cached (stdout, with the rest of the run's log; stderr stays for errors)."""
    from screening.provenance import cache_dir

    print(f"cache: {cache_dir(cache)}")


class _Parser(argparse.ArgumentParser):
    """argparse with errors as ``error: <message>`` on their own line and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {self.prog}: {message}\n")


class _Version(argparse.Action):
    """``--version``: package version and git commit, computed only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from screening.provenance import version_text

        print(version_text())
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m screening",
        description="Screen metal-hydrogen systems for superhydride synthesizability: tier 1 (screen), tier 2a "
                    "(proxies), tier 2b (melting), tier 3 (engine), score, report. Models and results are cached in "
                    "$SCREENING_CACHE_DIR, else <checkout>/.cache, else ~/.cache/superhydride-screening.",
    )
    parser.add_argument("--version", action=_Version, help="print the package version and git commit, then exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("screen", help="rank a candidate grid and write the ranking CSV and heatmap")
    s.add_argument("--metals", help="metal systems, comma-separated (e.g. 'La,Y,Ca' or 'LaY' for a mixed hydride); default: all supported")
    s.add_argument("--h-per-metal", help="H/M ratios, comma-separated; default: 1,2,2.5,3,4,5,5.75,6,7,8,9,10,12")
    s.add_argument("--pressures", help="pressures in GPa, comma-separated; default: 0,25,50,100,150,200,300")
    s.add_argument("--formulas", help="hydride formulas instead of a grid, e.g. 'LaH10,CaH6,H3S'")
    s.add_argument("--out", default=DEFAULT_RANKING, help=f"ranking CSV (default {DEFAULT_RANKING})")
    s.add_argument("--plot", default=DEFAULT_PLOT, help=f"heatmap PNG (default {DEFAULT_PLOT}); '' to skip")
    s.add_argument("--data", help="experimental table to train the prior on (default data/experimental_hydrides.csv)")
    s.add_argument("--cache", help="model cache directory (default $SCREENING_CACHE_DIR, else <checkout>/.cache, "
                                        "else ~/.cache/superhydride-screening)")
    s.add_argument("--top", type=int, default=20, help="print this many top candidates (default 20; >= 1)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")

    c = sub.add_parser("prior-cv", help="leave-one-metal-out evaluation of the prior")
    c.add_argument("--out", default=DEFAULT_LOMO, help=f"per-positive CSV (default {DEFAULT_LOMO})")
    c.add_argument("--data", help="experimental table (default data/experimental_hydrides.csv)")
    c.add_argument("--seeds", type=int, default=3, help="repeat with this many seeds and report mean and spread (default 3)")
    c.add_argument("--quiet", action="store_true", help="no progress bars")

    e = sub.add_parser("proxies", help="tier 2a: pressure-enthalpy proxies for the top N of a ranking, merged into it")
    e.add_argument("--top", type=int, default=5, help="how many top-ranked binary candidates whose H/M has a template (default 5)")
    e.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV to read and update (default {DEFAULT_RANKING})")
    e.add_argument("--calculator", default=DEFAULT_CALCULATOR,
                   help=f"{DEFAULT_CALCULATOR} (default), chgnet, chgnet-r2scan, emt, lammps:<style>:<file>, gpaw, mace:<file>")
    e.add_argument("--pressures", help="relaxation pressures in GPa (default 0,25,50,100,150,200,300 plus the candidates')")
    e.add_argument("--templates", help="template names, comma-separated (default: all with <= --max-atoms atoms)")
    e.add_argument("--max-atoms", type=int, default=20, help="largest primitive cell to relax (default 20)")
    e.add_argument("--include-known", action="store_true", help="also count experimental training points among the top N")
    e.add_argument("--reports", default="reports", help="folder for enthalpy_<system>.png and hydrogenation_<system>.png")
    e.add_argument("--refine", choices=["gpaw"], default=None,
                   help="DFT single points (GPAW, converged settings) of every phase entering the hull and dH_r at "
                        "each candidate's pressure, reported beside the relaxation's numbers (after make setup-dft)")
    e.add_argument("--structures", default=None,
                   help="folder for the relaxed structures of every phase on the hull (CIF + extxyz + JSON provenance; "
                        "default <--reports>/structures; '' to skip)")
    e.add_argument("--quiet", action="store_true", help="no progress bars")

    r = sub.add_parser("score", help="recompute the synthesis window and synthesizability score of a ranking CSV "
                                     "(after tier-2 columns were merged, or with other weights)")
    r.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV to read and update (default {DEFAULT_RANKING})")
    r.add_argument("--weights", help="term weights, e.g. 'margin=1,prior=0.25' (others keep their defaults)")
    r.add_argument("--lab-temperature", type=float, default=None, help="heating available, K (default 2000)")

    v = sub.add_parser("validate", help="score and synthesis window against experiment, leave-one-metal-out")
    v.add_argument("--data", help="experimental CSV with the columns of data/experimental_hydrides.csv (default that file)")
    v.add_argument("--reports", default="reports", help="where validation.csv/.png/_summary.json go (default reports)")
    v.add_argument("--out-dir", dest="reports", help=argparse.SUPPRESS)  # old name, kept working
    v.add_argument("--no-nested", action="store_true", help="use the default weights instead of an inner LOMO search")
    v.add_argument("--compute-tier2a", action="store_true",
                   help="compute tier 2a (relaxations with the default calculator) for metals of --data that have none "
                        "stored (otherwise only stored results are used)")
    v.add_argument("--tier2a-pressures", help="tier-2a relaxation pressures in GPa, as given to make tier2a "
                                             "(default: the pressures each metal was observed at)")
    v.add_argument("--tier2a-templates", help="tier-2a template names, comma-separated, as given to make tier2a "
                                             "(default: all)")
    from screening.tier2a_table import DEFAULT_TIER2A_MAX_ATOMS

    v.add_argument("--tier2a-max-atoms", type=int, default=DEFAULT_TIER2A_MAX_ATOMS,
                   help=f"tier-2a largest primitive cell, as given to make tier2a (default {DEFAULT_TIER2A_MAX_ATOMS}, "
                        "as the committed tables)")
    v.add_argument("--quiet", action="store_true", help="no progress bars")

    g = sub.add_parser("engine", help="tier 3: trained fast potential + precursor/H2 interface MD for the top N "
                                      "candidates, on dask.distributed, merged into the ranking")
    g.add_argument("--top", type=int, default=1, help="how many top single-metal candidates (default 1)")
    g.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV to read and update (default {DEFAULT_RANKING})")
    g.add_argument("--potential", help="fitted POD directory or a calculator spec to use instead of training one")
    g.add_argument("--label-calculator", help="reference calculator for the training labels (default chgnet; "
                                              "'gpaw' after make setup-dft; 'distilled': the labels of "
                                              "make engine-distill)")
    g.add_argument("--temperature", type=float, help="MD temperature in K (default: 0.9 x window T_max, 600-2500 K)")
    g.add_argument("--control-temperature", type=float, help="also run a low-temperature control at this T (K)")
    g.add_argument("--time-ps", type=float, default=10.0, help="production MD length in ps (default 10)")
    g.add_argument("--checkpoint-ps", type=float, default=None,
                   help="run the production in segments of this many ps, checkpointed in the cache, so an "
                        "interrupted run resumes (default: one stage, no checkpoints)")
    g.add_argument("--scheduler", help=f"dask scheduler address (default ${{{'SCREENING_DASK_SCHEDULER'}}}, "
                                       "else a LocalCluster)")
    g.add_argument("--workers", type=int, help="LocalCluster worker processes (default: CPU count)")
    g.add_argument("--serial", action="store_true", help="run in this process instead of on dask")
    g.add_argument("--reports", default="reports", help="folder for trajectories and engine_<M>-H_uptake.png")
    g.add_argument("--quiet", action="store_true", help="no progress bars")

    _add_melting_parser(sub)
    _add_report_parser(sub)
    _add_export_parser(sub)
    sub.add_parser("columns", help="print the documented descriptor columns as a Markdown table")
    return parser


def _add_melting_parser(sub) -> None:
    from screening.proxies.melting import METHODS

    m = sub.add_parser("melting", help="tier 2b: melting temperature at pressure for the top N of a ranking, merged "
                                       "into --out")
    m.add_argument("--top", type=int, default=3, help="how many top-ranked rows (by synth_rank, else rank; default 3)")
    m.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV to read (default {DEFAULT_RANKING})")
    m.add_argument("--structures", default=None, help="folder with <candidate_id>.cif / <formula>.cif / POSCAR_<formula> "
                                                      "files (default: the template library, unrelaxed)")
    m.add_argument("--structure", default=None, help="one structure file, used for every selected row")
    m.add_argument("--calculator", default=DEFAULT_CALCULATOR,
                   help=f"{DEFAULT_CALCULATOR} (default), chgnet, chgnet-r2scan, emt, lammps:<style>:<file>, mace:<file>")
    m.add_argument("--method", default="auto", choices=METHODS,
                   help="coexistence (LAMMPS), hysteresis (ASE) or auto (default: by back end)")
    m.add_argument("--precision-k", type=float, default=30.0, help="target 1-sigma precision of T_m, K (default 30)")
    m.add_argument("--budget-s", type=float, default=1800.0,
                   help="per-candidate wall-time budget, s (estimated first; default 1800)")
    m.add_argument("--ramp-atoms", type=int, default=None, help="atoms in the heating/cooling cell (default: by method)")
    m.add_argument("--out", default="reports/ranking_melting.csv",
                   help="ranking CSV with the melting columns merged (default reports/ranking_melting.csv)")
    m.add_argument("--reports", default="reports", help="folder for melting_<formula>_<P>GPa.png (default reports)")
    m.add_argument("--reports-dir", dest="reports", help=argparse.SUPPRESS)  # old name, kept working
    m.add_argument("--quiet", action="store_true", help="no progress bars")
    m.add_argument("--no-progress", dest="quiet", action="store_true", help=argparse.SUPPRESS)  # old name


def _add_report_parser(sub) -> None:
    from screening.report import DEFAULT_TOP

    r = sub.add_parser("report", help="self-contained offline HTML report of a ranking and the figures in --reports")
    r.add_argument("--ranking", default=DEFAULT_RANKING, help=f"ranking CSV (default {DEFAULT_RANKING})")
    r.add_argument("--out", default="reports/report.html", help="HTML file to write (default reports/report.html)")
    r.add_argument("--reports", default=None, help="folder with figures and validation files (default: folder of --out)")
    r.add_argument("--reports-dir", dest="reports", help=argparse.SUPPRESS)  # old name, kept working
    r.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"rows of the ranking table (default {DEFAULT_TOP})")
    r.add_argument("--columns", default="", help="extra ranking columns to show, comma-separated")
    r.add_argument("--order-by", default=None,
                   help="rank column to order rows by (default synth_rank when present, else rank)")


def _add_export_parser(sub) -> None:
    x = sub.add_parser("export-structures",
                       help="write the tier-2a relaxed structures of the ranking's metal systems as CIF/POSCAR/extxyz "
                            "(from the result store; nothing is recomputed)")
    x.add_argument("--ranking", default=DEFAULT_RANKING,
                   help=f"ranking CSV after 'proxies' (default {DEFAULT_RANKING}); its metal systems with tier-2a "
                        "results are exported")
    x.add_argument("--metals", help="metal systems to export instead, comma-separated (e.g. 'Ca,La')")
    x.add_argument("--calculator", help="only relaxations by this calculator name (e.g. chgnet, emt); default: the one "
                                        "with most stored relaxations of the system")
    x.add_argument("--format", default="cif,extxyz", help="comma-separated: cif, poscar, extxyz (default cif,extxyz)")
    x.add_argument("--all-phases", action="store_true",
                   help="every relaxed phase and pressure, not only those on the convex hull")
    x.add_argument("--out", default="reports/structures", help="output folder (default reports/structures)")


def _cmd_screen(args: argparse.Namespace) -> int:
    from screening.api import screen, write_ranking
    from screening.plots import plot_prior_by_metal

    _positive_top(args.top)
    formulas = _metals(args.formulas, "--formulas")
    metals, ratios, pressures = _metals(args.metals), _split(args.h_per_metal, "--h-per-metal"), \
        _split(args.pressures, "--pressures")
    _announce_cache(args.cache)
    table = screen(
        metals=metals,
        h_per_metal=ratios,
        pressures_gpa=pressures,
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
        raise CandidateError(f"--seeds must be >= 1, got {args.seeds}")
    _announce_cache()
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
    from screening.api import write_ranking
    from screening.plots import plot_enthalpy_system, plot_hydrogenation
    from screening.proxies.enthalpy import enthalpy_proxy, merge_into_ranking

    _positive_top(args.top)
    pressures = _split(args.pressures, "--pressures")
    from screening.tables import read_ranking

    ranking = read_ranking(args.ranking)
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
    _announce_cache()
    proxies = enthalpy_proxy(top, args.calculator, pressures, names,
                             args.max_atoms, progress=not args.quiet, systems_out=systems, refine=args.refine)
    from screening.score import score_candidates

    merged = merge_into_ranking(ranking, proxies)
    write_ranking(score_candidates(merged) if "synth_score" in merged.columns else merged, args.ranking)
    from screening.export import export_system_structures

    structures = Path(args.reports) / "structures" if args.structures is None else args.structures
    written = []
    for metal, system in systems.items():
        plot_enthalpy_system(system, Path(args.reports) / f"enthalpy_{metal}-H.png")
        plot_hydrogenation(system, Path(args.reports) / f"hydrogenation_{metal}-H.png")
        if structures:
            written += export_system_structures(system, structures)
    cols = ["candidate_id", "enthalpy_phase", "e_above_hull_ev_per_atom", "precursor", "dH_r_kj_per_mol_h2",
            "dV_r_a3_per_metal", "onset_pressure_gpa", "onset_status", "enthalpy_status"]
    if args.refine:
        cols += ["dH_r_kj_per_mol_h2_dft", "dH_r_refine_diff_kj_per_mol_h2", "e_above_hull_ev_per_atom_dft",
                 "onset_pressure_gpa_dft", "onset_status_dft", "refine_status"]
    print(proxies[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"calculator: {proxies['enthalpy_calculator'].dropna().iloc[0] if proxies['enthalpy_calculator'].notna().any() else args.calculator}")
    print(f"merged into {args.ranking}; plots in {args.reports}/"
          + (f"; {len(written)} relaxed structures (phases on the hull) in {structures}/" if structures else ""))
    return 0


def parse_weights(text: str | None):
    """``'margin=1,prior=0.25'`` -> :class:`ScoreWeights` (unnamed terms keep their defaults)."""
    from dataclasses import replace

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
    from screening.api import write_ranking
    from screening.score import DEFAULT_LAB_TEMPERATURE_K, score_candidates

    from screening.tables import read_ranking

    ranking = read_ranking(args.ranking)  # validated before anything is rewritten
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

    from screening.tier2a_table import settings_from_text
    from screening.validation import validate, write_validation

    settings = settings_from_text(args.tier2a_pressures, args.tier2a_templates, args.tier2a_max_atoms,
                                  flag_prefix="--tier2a-")
    _announce_cache()
    result, summary = validate(args.data, nested=not args.no_nested, progress=not args.quiet,
                               compute_tier2a=args.compute_tier2a, tier2a=settings)
    paths = write_validation(result, summary, args.reports)
    cols = ["formula", "metal", "h_per_metal", "observed_pressure_gpa", "predicted_p_min_gpa",
            "rank_at_reported_pressure", "top3", "synthesis_temperature_k", "t_min_k", "t_max_k", "t_in_window"]
    print(result[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(json.dumps({k: v for k, v in summary.items() if k != "weights_by_held_out_metal"}, indent=2, default=float))
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cmd_engine(args: argparse.Namespace) -> int:
    from screening.api import write_ranking
    from screening.engine.run import ENGINE_COLUMNS, EngineSettings, run_engine

    _positive_top(args.top)
    from screening.tables import read_ranking

    ranking = read_ranking(args.ranking)
    _announce_cache()
    settings = EngineSettings(temperature_k=args.temperature, control_temperature_k=args.control_temperature,
                              time_ps=args.time_ps, checkpoint_ps=args.checkpoint_ps,
                              label_calculator=args.label_calculator)
    merged = run_engine(ranking, args.top, settings=settings, potential=args.potential, scheduler=args.scheduler,
                        n_workers=args.workers, distributed=not args.serial, out_dir=args.reports,
                        progress=not args.quiet)
    write_ranking(merged, args.ranking)
    done = merged[merged["engine_status"].notna()]
    print(done[["candidate_id", *ENGINE_COLUMNS[:12]]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"merged into {args.ranking}; trajectories and uptake plots in {args.reports}/")
    return 0


def _cmd_melting(args: argparse.Namespace) -> int:
    from screening.api import write_ranking
    from screening.proxies.melting import MeltingEstimate, find_structure, melting_table, melting_temperature, \
        merge_melting_columns, plot_path
    from screening.tables import check_range, read_table

    _positive_top(args.top)
    ranking = read_table(args.ranking, required=("candidate_id", "formula", "pressure_gpa"), what="ranking",
                         hint="run 'make screen' first")
    check_range(ranking, "pressure_gpa", args.ranking, what="ranking", lo=0.0, allow_missing=False)
    order = next((c for c in ("synth_rank", "rank") if c in ranking.columns), None)
    rows = ranking.sort_values(order).head(args.top) if order else ranking.head(args.top)
    _announce_cache()
    estimates, ids = [], []
    for row in rows.to_dict("records"):
        structure, source = (args.structure, f"file {args.structure}") if args.structure else \
            find_structure(row, args.structures)
        if structure is None:
            print(f"{row['candidate_id']}: {source}; skipped (give --structures DIR or --structure FILE)")
            continue
        try:
            plot = plot_path(args.reports, row["formula"], row["pressure_gpa"])
            est = melting_temperature(structure, float(row["pressure_gpa"]), args.calculator, method=args.method,
                                      precision_k=args.precision_k, budget_s=args.budget_s,
                                      ramp_atoms=args.ramp_atoms, plot=plot, progress=not args.quiet)
        except CandidateError as exc:  # a bad structure file: report it, go on with the others
            est = MeltingEstimate(str(row["formula"]), float(row["pressure_gpa"]), args.method, None, None, None,
                                  None, None, None, "failed", f"bad input: {exc}",
                                  {"name": str(args.calculator), "version": None})
        est.diagnostics["structure_source"] = source
        estimates.append(est)
        ids.append(row["candidate_id"])
        tm = "n/a" if est.tm_metal_k is None else f"{est.tm_metal_k:.0f} ± {est.tm_metal_err_k:.0f} K"
        print(f"{row['candidate_id']}: T_m(metal) = {tm} [{est.status}] {est.message}")
    write_ranking(merge_melting_columns(ranking, melting_table(estimates, ids)), args.out)
    bad = sum(e.message.startswith("bad input") for e in estimates)
    print(f"wrote {args.out} ({len(estimates) - bad} estimates" + (f"; {bad} bad input)" if bad else ")"))
    return 0


def _cmd_report(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    import shlex

    from screening.report import build_report

    extra = [c.strip() for c in args.columns.split(",") if c.strip()]
    command = "python -m screening report " + shlex.join(argv if argv is not None else sys.argv[2:])
    out = build_report(args.ranking, args.reports, args.out, args.top, extra_columns=extra, order_by=args.order_by,
                       command=command)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    import pandas as pd

    from screening.export import FORMATS, export_from_store

    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise CandidateError(f"--format {args.format!r}: unknown {bad or 'empty'}; choose from {', '.join(FORMATS)}")
    if args.metals is not None:
        metals = _metals(args.metals)
    else:
        if not Path(args.ranking).exists():
            raise CandidateError(f"ranking {args.ranking!r} not found; run 'make screen' and 'make proxies' first")
        ranking = pd.read_csv(args.ranking)
        if "enthalpy_status" not in ranking.columns or not ranking["enthalpy_status"].notna().any():
            raise CandidateError(f"{args.ranking!r} has no tier-2a results; run 'make proxies' first (or give --metals)")
        done = ranking[ranking["enthalpy_status"].notna()]
        metals = sorted({str(m) for m in done["metals"] if "," not in str(m)})
    _announce_cache()
    written = []
    for metal in metals:
        paths = export_from_store(metal, args.out, formats=formats, calculator=args.calculator,
                                  hull_only=not args.all_phases)
        print(f"{metal}-H: {len(paths)} files")
        written += paths
    print(f"wrote {len(written)} files to {args.out}/ (each structure with a .json provenance sidecar)")
    return 0


def _cmd_columns(_: argparse.Namespace) -> int:
    from descriptors.pipeline import column_docs

    docs = column_docs()
    ours = docs[~docs["featurizer"].str.startswith("matminer")]
    print("| column | featurizer | meaning |\n|---|---|---|")
    for _, r in ours.iterrows():
        print(f"| `{r['column']}` | {r['featurizer']} | {r['meaning']} |")
    return 0


COMMANDS = {"screen": _cmd_screen, "prior-cv": _cmd_prior_cv, "proxies": _cmd_proxies, "melting": _cmd_melting,
            "score": _cmd_score, "validate": _cmd_validate, "engine": _cmd_engine, "report": _cmd_report,
            "export-structures": _cmd_export, "columns": _cmd_columns}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit code (2 on bad input)."""
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", module="pymatgen")
    warnings.filterwarnings("ignore", module="matminer")
    try:
        if args.command == "report":
            return _cmd_report(args, None if argv is None else list(argv)[1:])
        return COMMANDS[args.command](args)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
