"""The committed hydride melting tables (``data/engine/<M>-H/melting.csv``) and their merge into candidate frames.

:mod:`screening.engine.hydride_melting` computes the tables (tier 2b on the engine's potential) and commits them;
this module only reads them and puts their T_m into the matching rows of a ranking, so that
:func:`screening.screen` and the score validation can use them without importing the melting runner (and, through
its command line, :mod:`screening.api`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from screening.errors import CandidateError

#: the table's file name inside the system's label folder (:func:`screening.engine.folders.label_directory`)
MELTING_FILE = "melting.csv"


def committed_melting(metal: str, out_dir: str | Path | None = None) -> pd.DataFrame | None:
    """The committed melting table of ``metal`` (None if there is none)."""
    from screening.engine.folders import label_directory

    path = label_directory(metal, out_dir) / MELTING_FILE
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    missing = [c for c in ("candidate_id", "tm_metal_k", "melting_status") if c not in table.columns]
    if missing:
        raise CandidateError(f"{path}: not a melting table (no column(s) {missing})")
    return table


def with_committed_melting(frame: pd.DataFrame, out_dir: str | Path | None = None) -> pd.DataFrame:
    """``frame`` with the committed T_m of every system that has a melting table (``data/engine/<M>-H/melting.csv``)
    put into its matching rows (by ``candidate_id``, :func:`merge_into_ranking`), so their temperature windows come
    from tier 2b on the engine's potential; rows that already hold a T_m (``tm_metal_k``) keep theirs. Rows say
    where their T_m comes from (``melting_calculator``, ``potential``). A frame without ``candidate_id`` or
    ``metals`` is returned unchanged."""
    if "candidate_id" not in frame.columns or "metals" not in frame.columns or frame.empty:
        return frame
    has_tm = (pd.to_numeric(frame["tm_metal_k"], errors="coerce").notna() if "tm_metal_k" in frame.columns
              else pd.Series(False, index=frame.index))
    out = frame
    for metal in sorted(set(frame["metals"].astype(str))):
        if "," in metal:
            continue
        table = committed_melting(metal, out_dir)
        if table is None:
            continue
        table = table[~table["candidate_id"].isin(frame.loc[has_tm, "candidate_id"])]
        if len(table) and frame["candidate_id"].isin(table["candidate_id"]).any():
            out = merge_into_ranking(out, table)
    return out


def merge_into_ranking(ranking: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``ranking`` with the tier-2b columns of the rows ``table`` covers (by ``candidate_id``) replaced by
    ``table``'s; every other row keeps what it had. Rescored if the ranking holds scores."""
    from screening.proxies.melting import MELTING_COLUMNS

    if "candidate_id" not in ranking.columns:
        raise CandidateError("ranking has no 'candidate_id' column")
    out = ranking.copy()
    by_id = table.drop_duplicates("candidate_id", keep="last").set_index("candidate_id")
    hit = out["candidate_id"].isin(by_id.index)
    for col in MELTING_COLUMNS:
        if col not in by_id.columns:
            continue
        if col not in out.columns:
            out[col] = pd.Series([None] * len(out), dtype=object if by_id[col].dtype == object else float)
        if by_id[col].dtype == object or by_id[col].dtype == bool:  # flags and text: no float column to cast into
            out[col] = out[col].astype(object)
        out.loc[hit, col] = out.loc[hit, "candidate_id"].map(by_id[col]).to_numpy()
    out.attrs = dict(ranking.attrs)
    if "synth_score" in out.columns:
        from screening.score import score_candidates

        out = score_candidates(out)
    return out
