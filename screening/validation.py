"""Validation of the score and the synthesis window against experiment, leave-one-metal-out.

For every metal M of the experimental table (any CSV with its columns):

1. everything learned is refitted without any row of M: the PU prior (on the default grid with
   M's candidates and positives removed) and the excess-hydrogen model of the window;
   the tier-2a physics of M (hull, reaction, onset) is taken from the result store where it was
   computed (:mod:`screening.tier2a_table`; ``compute_tier2a=True`` computes what is missing);
2. the score weights are chosen by an *inner* leave-one-metal-out over the remaining metals
   (a grid search maximising the inner top-3 rate), so M's data never chooses its own weights;
3. M's candidates (every grid H/M at each reported pressure of M) are scored, and compared with
   what was made there.

Figures: Spearman correlation of the predicted minimum pressure with the reported synthesis
pressure (rows that report one; also over every row with any observed pressure), the rank of the
experimentally made H/M among M's candidates at the reported pressure (top-1 and top-3 rates),
and whether a reported synthesis temperature lies inside the predicted window.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from screening.errors import CandidateError
from screening.score import TERMS, ScoreWeights, combine_terms, score_candidates
from screening.window import ExcessHydrogenModel, experimental_points

#: Weights searched by the inner loop (hull and reaction are fixed at 1: tier 2a covers only part of a table).
WEIGHT_GRID = {"richness": (0.5, 1.0, 2.0), "margin": (0.0, 0.5, 1.0), "homologous": (0.0, 0.5, 1.0),
               "precursor": (0.0, 0.5, 1.0), "prior": (0.0, 0.25, 0.5)}
H_TOLERANCE = 0.26


def lomo_splits(metals: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray, str]]:
    """``(train_index, test_index, held_out_metal)`` for every distinct metal of ``metals`` (one per row);
    a row's metal decides its side, so no metal is on both."""
    groups = np.asarray(metals, dtype=object)
    for metal in sorted(set(groups)):
        test = np.flatnonzero(groups == metal)
        train = np.flatnonzero(groups != metal)
        yield train, test, metal


@dataclass
class _Context:
    """Everything computed once: the labelled training grid and each metal's validation candidates."""

    config: object
    frame: pd.DataFrame
    X: np.ndarray
    y: np.ndarray
    points: pd.DataFrame
    candidates: dict
    priors: dict = field(default_factory=dict)
    tier2a_metals: list = field(default_factory=list)


def _context(table: pd.DataFrame, prior_config, progress: bool, tier2a=None, compute_tier2a: bool = False) -> _Context:
    from descriptors.pipeline import featurize_candidates
    from screening.elements import FAMILY_OF
    from screening.engine.melting_table import with_committed_melting
    from screening.prior import PriorConfig, training_frame
    from screening.tier2a_table import merge_tier2a, tier2a_for_candidates, validation_candidates

    config = prior_config or PriorConfig()
    frame = training_frame(config, table, progress)
    X = frame[list(config.features)].to_numpy(dtype=float)
    y = frame["label"].to_numpy()
    points = experimental_points(table)
    points = points[points["metal"].isin(list(FAMILY_OF))].reset_index(drop=True)
    if points["metal"].nunique() < 3:  # before any tier-2a relaxation is started
        raise CandidateError(f"leave-one-metal-out needs >= 3 metals with an observed pressure, got "
                             f"{sorted(points['metal'].unique())}")
    grids = validation_candidates(table)
    physics = tier2a_for_candidates(grids, tier2a, compute=compute_tier2a, progress=progress) if tier2a is not False else {}
    # each metal's tier-2a physics, and the committed tier-2b T_m of a system with an engine melting table
    candidates = {metal: with_committed_melting(merge_tier2a(featurize_candidates(grid, progress=False), physics.get(metal)))
                  for metal, grid in grids.items()}
    ctx = _Context(config, frame, X, y, points, candidates)
    ctx.tier2a_metals = sorted(physics)
    return ctx


def _fit_prior(ctx: _Context, exclude: frozenset):
    """The prior pipeline fitted without any row of the ``exclude`` metals (memoised per set)."""
    from screening.prior import make_pipeline, training_mask

    if exclude in ctx.priors:
        return ctx.priors[exclude]
    keep = training_mask(ctx.frame, exclude)
    ctx.priors[exclude] = make_pipeline(ctx.config).fit(ctx.X[keep], ctx.y[keep])
    return ctx.priors[exclude]


def _scored(ctx: _Context, metal: str, prior, excess: ExcessHydrogenModel) -> pd.DataFrame:
    cands = ctx.candidates[metal].copy()
    cands["prior_score"] = prior.predict_proba(cands[list(ctx.config.features)].to_numpy(dtype=float))[:, 1]
    return score_candidates(cands, window_model=excess)


def _row_ranks(points: pd.DataFrame, scored: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """Rank (1 = best) of each point's H/M among the candidates at its pressure.

    Ties count half: rank = 1 + (candidates scoring higher) + (other candidates scoring the same) / 2,
    so a term that cannot tell candidates apart earns the random expectation, not the grid order.
    """
    s = scored.assign(_s=scores)
    out = []
    for _, r in points.iterrows():
        at = s[np.isclose(s["pressure_gpa"], r["pressure_gpa"])]
        h = at["h_per_metal"].to_numpy(float)
        hit = np.flatnonzero(np.abs(h - r["h_per_metal"]) <= H_TOLERANCE)
        if not hit.size:
            out.append(np.nan)
            continue
        mine = at["_s"].to_numpy(float)[hit[np.argmin(np.abs(h[hit] - r["h_per_metal"]))]]
        others = at["_s"].to_numpy(float)
        tol = 1e-12
        out.append(1.0 + float(np.sum(others > mine + tol)) + (float(np.sum(np.abs(others - mine) <= tol)) - 1.0) / 2.0)
    return pd.DataFrame({"rank": out, "n_candidates": [len(s[np.isclose(s["pressure_gpa"], p)]) for p in points["pressure_gpa"]]},
                        index=points.index)


def _weight_candidates() -> list[ScoreWeights]:
    names = list(WEIGHT_GRID)
    out = []
    for combo in itertools.product(*WEIGHT_GRID.values()):
        kw = dict(zip(names, combo))
        if sum(kw.values()) > 0:
            out.append(ScoreWeights(hull=1.0, reaction=1.0, **kw))
    return out


def _choose_weights(per_metal: dict[str, tuple[pd.DataFrame, pd.DataFrame]], grid: list[ScoreWeights]) -> ScoreWeights:
    """The grid weights with the best top-3 rate over the given metals (ties: best mean rank, then grid order)."""
    best, best_key = None, None
    for w in grid:
        ranks = pd.concat([_row_ranks(pts, scored, combine_terms(scored, w))["rank"] for pts, scored in per_metal.values()])
        key = (float((ranks <= 3).mean()), -float(ranks.mean()))
        if best_key is None or key > best_key:
            best, best_key = w, key
    return best


def validate(data_path: str | Path | None = None, *, prior_config=None, nested: bool = True,
             progress: bool = True, compute_tier2a: bool = False, tier2a=None) -> tuple[pd.DataFrame, dict]:
    """Leave-one-metal-out validation; returns (one row per experimental row, summary dict).

    Args:
        data_path: any CSV with the columns of ``data/experimental_hydrides.csv`` (default that file).
        prior_config: :class:`screening.prior.PriorConfig` (default settings).
        nested: choose weights by inner leave-one-metal-out (else use the default weights).
        compute_tier2a: compute the tier-2a physics of metals that have none in the result store (slow:
            relaxations with the default calculator); otherwise only stored results are used.
        tier2a: :class:`screening.tier2a_table.Tier2aSettings` (pressures, templates, cell size,
            calculator), or False to ignore tier 2a altogether.
    """
    from scipy.stats import spearmanr

    from screening.experimental import load_experimental
    from screening.score import DEFAULT_WEIGHTS

    table = load_experimental(data_path)
    for col in ("synthesis_temperature_k",):
        if col not in table.columns:
            table[col] = np.nan
    ctx = _context(table, prior_config, progress, tier2a, compute_tier2a)
    grid = _weight_candidates()
    metals = sorted(ctx.points["metal"].unique())
    rows, chosen = [], {}
    pairs = list(itertools.combinations(metals, 2)) if nested else []
    bar = tqdm(total=len(metals) + len(pairs), desc="leave-one-metal-out priors", disable=not progress)
    outer = {}
    for metal in metals:
        exclude = frozenset({metal})
        prior = _fit_prior(ctx, exclude)
        bar.update()
        excess = ExcessHydrogenModel.fit(ctx.points[ctx.points["metal"] != metal], source=f"fit without {metal}")
        outer[metal] = (prior, excess)
    outer_scored = {m: (ctx.points[ctx.points["metal"] == m], _scored(ctx, m, *outer[m])) for m in metals}
    # Diagnosis on the same outer folds: each term alone, and the a-priori weights of ScoreWeights().
    probes = {f"only_{t}": ScoreWeights(**{n: float(n == t) for n in TERMS}) for t in TERMS}
    probes["a_priori_weights"] = ScoreWeights()
    probes.update({f"a_priori_without_{t}": replace(ScoreWeights(), **{t: 0.0}) for t in TERMS})
    probe_ranks = {k: pd.concat([_row_ranks(pts, sc, combine_terms(sc, w))["rank"] for pts, sc in outer_scored.values()])
                   for k, w in probes.items()}
    for train_idx, test_idx, metal in lomo_splits(ctx.points["metal"].tolist()):
        prior, excess = outer[metal]
        test = ctx.points.iloc[test_idx]
        if nested:
            inner = {}
            for other in sorted(set(ctx.points["metal"].iloc[train_idx])):
                pair_prior = _fit_prior(ctx, frozenset({metal, other}))
                bar.update()
                rest = ctx.points[~ctx.points["metal"].isin([metal, other])]
                pair_excess = ExcessHydrogenModel.fit(rest, source=f"fit without {metal}, {other}")
                pts = ctx.points[ctx.points["metal"] == other]
                inner[other] = (pts, _scored(ctx, other, pair_prior, pair_excess))
            weights = _choose_weights(inner, grid)
        else:
            weights = DEFAULT_WEIGHTS
        chosen[metal] = weights.as_dict()
        scored = outer_scored[metal][1]
        ranks = _row_ranks(test, scored, combine_terms(scored, weights))
        for (i, r), rank, n in zip(test.iterrows(), ranks["rank"], ranks["n_candidates"]):
            at = scored[np.isclose(scored["pressure_gpa"], r["pressure_gpa"])]
            row = at.iloc[int(np.argmin(np.abs(at["h_per_metal"].to_numpy(float) - r["h_per_metal"])))]
            src = table.iloc[int(r["row"])]
            t_syn = float(src["synthesis_temperature_k"])
            rows.append({
                "formula": src["formula"], "metal": metal, "h_per_metal": r["h_per_metal"],
                "observed_pressure_gpa": r["pressure_gpa"], "pressure_source": r["pressure_source"],
                "reported_synthesis_pressure_gpa": src["synthesis_pressure_gpa"],
                "predicted_p_min_gpa": float(row["p_min_gpa"]),
                "p_min_status": row["p_min_status"], "p_min_source": row["p_min_source"],
                "recommended_precursor": row["recommended_precursor"],
                "tier2a": bool(pd.notna(row.get("e_above_hull_ev_per_atom", np.nan))),
                "rank_at_reported_pressure": rank, "n_candidates": n,
                "top1": bool(rank <= 1) if np.isfinite(rank) else False,
                "top3": bool(rank <= 3) if np.isfinite(rank) else False,
                "synthesis_temperature_k": t_syn, "t_min_k": row["t_min_k"], "t_max_k": row["t_max_k"],
                "t_in_window": (bool(row["t_min_k"] <= t_syn <= row["t_max_k"]) if np.isfinite(t_syn) else np.nan),
                "synth_score": float(combine_terms(row.to_frame().T, weights)[0]),
                "weights": ",".join(f"{k}={v:g}" for k, v in weights.as_dict().items()),
                "reference": src["reference"], "doi": src.get("doi", ""),
            })
    bar.close()
    result = pd.DataFrame(rows)
    syn = result.dropna(subset=["reported_synthesis_pressure_gpa"])
    has_t = result.dropna(subset=["synthesis_temperature_k"])
    summary = {
        "n_rows_with_pressure": int(len(result)),
        "n_metals": int(result["metal"].nunique()),
        "spearman_pmin_vs_synthesis_pressure": float(spearmanr(syn["predicted_p_min_gpa"], syn["reported_synthesis_pressure_gpa"])[0]),
        "n_rows_synthesis_pressure": int(len(syn)),
        "spearman_pmin_vs_observed_pressure_all_rows": float(spearmanr(result["predicted_p_min_gpa"], result["observed_pressure_gpa"])[0]),
        "top1_rate": float(result["top1"].mean()),
        "top3_rate": float(result["top3"].mean()),
        "random_top3_rate": float((3.0 / result["n_candidates"]).mean()),
        "n_rows_synthesis_temperature": int(len(has_t)),
        "t_in_window_rate": float(has_t["t_in_window"].astype(float).mean()) if len(has_t) else float("nan"),
        "weights_by_held_out_metal": chosen,
        "nested_weight_selection": nested,
        "prior": ctx.config.label,
        "tier2a_metals": ctx.tier2a_metals,
        "tier2a_calculator": next((str(c) for m in ctx.tier2a_metals for c in ctx.candidates[m].get("enthalpy_calculator", [])
                                   if isinstance(c, str)), None),
        "n_rows_with_tier2a": int(result["tier2a"].sum()) if len(result) else 0,
    }
    summary["top3_rate_by_metal"] = term_diagnosis(result)
    summary["top3_rate_probes"] = {k: float((r <= 3).mean()) for k, r in probe_ranks.items()}
    if nested:
        # The defaults for new candidates: the same selection, made once over every metal's LOMO scores.
        summary["weights_selected_on_all_metals"] = _choose_weights(outer_scored, grid).as_dict()
    return result, summary


def term_diagnosis(result: pd.DataFrame) -> dict:
    """Top-3 rate per metal, to say which metals (and so which terms) fail."""
    return {m: float(g["top3"].mean()) for m, g in result.groupby("metal")}


def plot_validation(result: pd.DataFrame, summary: dict, path: str | Path) -> Path:
    """Predicted minimum pressure against the experimental pressure, one labelled point per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 5.0  # GPa: log axes; a predicted 0 (no pressure needed) is drawn on the floor
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    x = result["observed_pressure_gpa"].astype(float)
    y = result["predicted_p_min_gpa"].astype(float).clip(lower=floor)
    syn = result["reported_synthesis_pressure_gpa"].notna()
    ax.scatter(x[syn], y[syn], c="C0", label="reported synthesis pressure")
    ax.scatter(x[~syn], y[~syn], c="C1", marker="s", label="other observed pressure (range, Tc or volume)")
    for i, r in result.iterrows():
        ax.annotate(str(r["formula"]).split(" ")[0], (x[i], y[i]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    hi = max(300.0, float(np.nanmax([x.max(), y.max()])) * 1.3)
    ax.plot([floor, hi], [floor, hi], "k--", lw=0.8, label="predicted = observed")
    ax.set(xscale="log", yscale="log", xlim=(10, hi), ylim=(floor * 0.8, hi), xlabel="experimental pressure (GPa)",
           ylabel=f"predicted minimum pressure (GPa; < {floor:g} drawn at {floor:g})")
    ax.set_title(f"Leave-one-metal-out: Spearman {summary['spearman_pmin_vs_synthesis_pressure']:.2f} "
                 f"(n={summary['n_rows_synthesis_pressure']} synthesis pressures), top-3 {summary['top3_rate']:.0%}",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    calc = summary.get("tier2a_calculator") or "none"
    fig.text(0.01, 0.005, f"p_min: tier-2a onset where computed (calculator: {calc}; metals {summary.get('tier2a_metals', [])}), "
             "else the tier-1 excess-H model refitted without each metal", fontsize=6)
    fig.tight_layout()
    from screening.provenance import save_figure

    path = save_figure(fig, path, dpi=130)
    plt.close(fig)
    return path


def write_validation(result: pd.DataFrame, summary: dict, out_dir: str | Path = "reports") -> dict[str, Path]:
    """``validation.csv``, ``validation_summary.json`` and ``validation.png`` in ``out_dir`` (atomic writes)."""
    from screening.provenance import atomic_write

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "validation.csv", "json": out_dir / "validation_summary.json",
             "png": out_dir / "validation.png"}
    atomic_write(paths["csv"], lambda tmp: result.to_csv(tmp, index=False))
    atomic_write(paths["json"], lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2, default=float)))
    plot_validation(result, summary, paths["png"])
    from screening.figure_provenance import write_plot_provenance

    write_plot_provenance(
        paths["png"], {"name": summary.get("tier2a_calculator") or "none (no energy calculator)",
                       "kind": "tier-2a enthalpies where computed (a universal ML potential unless stated); "
                               "tier-1 models refitted per held-out metal"},
        {"prior": summary["prior"], "nested_weight_selection": summary["nested_weight_selection"],
         "weight_grid": WEIGHT_GRID, "h_tolerance": H_TOLERANCE},
        "Predicted minimum pressure (tier-2a onset where computed, else the tier-1 excess-H model refitted without the "
        "metal) against the experimental "
        "pressure of each row of the experimental table; leave-one-metal-out.")
    return paths
