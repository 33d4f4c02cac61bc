"""The pandas-returning entry points shown in the README."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from descriptors.pipeline import featurize_candidates
from screening.candidates import (
    CANDIDATE_COLUMNS,
    DEFAULT_PRESSURES_GPA,
    candidate_grid,
    candidates_from_formulas,
    deduplicate,
    parse_metal_system,
    validate_h_per_metal,
    validate_pressures,
)
from screening.errors import CandidateError
from screening.prior import PriorConfig, load_or_train_prior
from screening.tables import merge_columns, write_ranking

RESULT_COLUMNS = ("prior_score", "rank", "rank_in_metal", "prior_training_positive")
PROVENANCE_COLUMNS = ("prior_model", "prior_training_data_sha256", "software_versions")


def _check_candidate_frame(candidates: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise CandidateError(f"candidate frame lacks column(s) {missing}; build it with screening.candidate_grid()")
    if candidates.empty:
        raise CandidateError("the candidate frame is empty")
    for spec in candidates["metals"].unique():
        parse_metal_system(str(spec).replace(",", ""))
    validate_h_per_metal(candidates["h_per_metal"].tolist())
    validate_pressures(candidates["pressure_gpa"].tolist())
    return deduplicate(candidates[list(CANDIDATE_COLUMNS)].copy())


def screen(
    metals: Iterable[str] | None = None,
    h_per_metal: Iterable[float] | None = None,
    pressures_gpa: Iterable[float] | None = None,
    *,
    formulas: Iterable[str] | None = None,
    candidates: pd.DataFrame | None = None,
    prior_config: PriorConfig | None = None,
    data_path: str | Path | None = None,
    cache: str | Path | None = None,
    progress: bool = True,
    synthesis_score: bool = True,
    weights=None,
) -> pd.DataFrame:
    """Tier-1 screen: candidates, descriptors, PU prior score and rank, synthesizability score and window.

    Give at most one of: a grid (``metals`` x ``h_per_metal`` x ``pressures_gpa``,
    each defaulting to the embedded default grid), ``formulas`` (each at every
    pressure of ``pressures_gpa``), or a ready ``candidates`` frame.

    Args:
        metals: metal systems (``"La"``, or ``"LaY"`` for a mixed-metal hydride).
        h_per_metal: H atoms per metal atom.
        pressures_gpa: pressures in GPa.
        formulas: hydride formulas such as ``"LaH10"`` or ``"H3S"``.
        candidates: a frame with the columns of :func:`screening.candidate_grid`.
        prior_config: settings of the prior (defaults: :class:`PriorConfig`).
        data_path: experimental table to train on (default ``data/experimental_hydrides.csv``).
        cache: model cache directory (default ``$SCREENING_CACHE_DIR`` or ``~/.cache/...``).
        progress: show progress bars.
        synthesis_score: add the synthesis window and the synthesizability score
            (:func:`screening.score.score_candidates`) and sort by ``synth_rank``.
        weights: :class:`screening.score.ScoreWeights` (default: the validated defaults).

    Returns:
        One row per candidate, sorted by ``synth_rank`` (1 = most promising; by ``rank``,
        the prior's order, when ``synthesis_score=False``), with the candidate columns, ``prior_score``,
        ``rank``, ``rank_in_metal``, every descriptor, the window and score columns, and
        provenance columns; ``df.attrs["provenance"]`` holds the
        same as a dict.

    Raises:
        CandidateError: invalid elements, ratios, pressures, or an empty grid.
    """
    if candidates is not None:
        if formulas is not None or metals is not None:
            raise CandidateError("give either candidates, formulas or a metal grid, not several")
        cands = _check_candidate_frame(candidates)
    elif formulas is not None:
        if metals is not None or h_per_metal is not None:
            raise CandidateError("formulas fix the metals and H/M; do not also pass metals or h_per_metal")
        cands = candidates_from_formulas(formulas, DEFAULT_PRESSURES_GPA if pressures_gpa is None else pressures_gpa)
    else:
        cands = candidate_grid(metals, h_per_metal, pressures_gpa)

    model = load_or_train_prior(prior_config, data_path, cache, progress)
    table = featurize_candidates(cands, progress=progress)
    score = model.score(table)
    by_metal = pd.Series(score, index=table.index).groupby([table["metals"], table["metal_fractions"]])
    results = {
        "prior_score": score,
        # Deterministic ranking: score descending, ties in candidate order.
        "rank": pd.Series(score, index=table.index).rank(ascending=False, method="first").astype(int),
        "rank_in_metal": by_metal.rank(ascending=False, method="first").astype(int),
        "prior_training_positive": model.is_training_positive(table),
    }
    for offset, name in enumerate(RESULT_COLUMNS):
        table.insert(len(CANDIDATE_COLUMNS) + offset, name, results[name])

    provenance = {
        "prior_model": model.model_id,
        "prior_training_data_sha256": model.data_sha256,
        "software_versions": "; ".join(f"{k}={v}" for k, v in model.versions.items()),
    }
    for key, value in provenance.items():
        table[key] = value
    table = table.sort_values("rank").reset_index(drop=True)
    if synthesis_score:
        from screening.engine.melting_table import with_committed_melting
        from screening.score import score_candidates

        # rows of a system with a committed hydride melting table get its tier-2b T_m (and so their window)
        table = score_candidates(with_committed_melting(table), weights)
    table.attrs["provenance"] = {**provenance, "prior_config": json.loads(json.dumps(model.config.__dict__, default=list)),
                                 "n_training_positives": model.n_positives}
    return table


def best_by_metal_and_pressure(table: pd.DataFrame, column: str = "prior_score") -> pd.DataFrame:
    """Best ``column`` (default the prior score; e.g. ``synth_score``) and its H/M per metal system and pressure."""
    idx = table.groupby(["metals", "metal_fractions", "pressure_gpa"])[column].idxmax()
    return table.loc[idx, ["metals", "metal_fractions", "metal", "pressure_gpa", "h_per_metal", column]]


__all__ = ["screen", "write_ranking", "merge_columns", "best_by_metal_and_pressure"]
