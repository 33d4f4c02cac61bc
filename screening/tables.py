"""Reading the CSV tables users hand to the commands: one loader, errors that name the file.

Every command that takes a CSV (``proxies``, ``score``, ``engine``, ``melting``,
``validate --data``, the report) reads it through :func:`read_table`, so a missing,
empty, binary, malformed or truncated file ends in ``error: <path>: <what is wrong>``
(exit 2 from the CLI) before anything is computed or rewritten, never in a pandas traceback.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from screening.errors import CandidateError
from screening.provenance import atomic_write

#: Columns every ranking written by ``screen`` has and every later command relies on.
RANKING_REQUIRED = ("candidate_id", "metals", "h_per_metal", "pressure_gpa")


class InputFileError(CandidateError):
    """An input file is missing, unreadable or has bad content; the message starts with its path."""


def _csv_line(index: int) -> int:
    """Line number in the CSV of a 0-based data row (line 1 is the header)."""
    return int(index) + 2


def read_table(path: str | os.PathLike, *, required: Iterable[str] = (), what: str = "table",
               hint: str = "") -> pd.DataFrame:
    """Read a CSV file, or raise :class:`InputFileError` naming it and what is wrong.

    Checks: the file exists and is a regular file, is text (no NUL bytes), parses as CSV with
    a consistent number of fields, has at least one data row, has the ``required`` columns and
    no empty value in them (a truncated last line leaves them empty).

    Args:
        path: the CSV file.
        required: columns that must exist and be filled on every row.
        what: what the file is, for the message ("ranking", "experimental table").
        hint: appended to the message when the file does not exist (e.g. "run 'make screen' first").
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: {what} not found" + (f"; {hint}" if hint else ""))
    if not path.is_file():
        raise InputFileError(f"{path}: {what} is not a regular file")
    with path.open("rb") as fh:
        head = fh.read(65536)
    if b"\x00" in head:
        raise InputFileError(f"{path}: {what} is a binary file, not CSV text")
    try:
        table = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{path}: {what} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(f"{path}: {what} is not a readable CSV ({first})") from None
    if table.empty:
        raise InputFileError(f"{path}: {what} has a header but no data rows")
    required = list(required)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputFileError(f"{path}: {what} lacks column(s) {', '.join(missing)}; required: {', '.join(required)}")
    for col in required:
        blank = table[col].isna() | (table[col].astype(str).str.strip() == "")
        if blank.any():
            lines = [_csv_line(i) for i in table.index[blank][:5]]
            raise InputFileError(f"{path}: {what} has no {col} on line(s) {lines} (truncated or edited file?)")
    return table


def _numbers(table: pd.DataFrame, col: str, path: Path, what: str) -> np.ndarray:
    values = pd.to_numeric(table[col], errors="coerce")
    bad = values.isna() & table[col].notna()
    if bad.any():
        i = table.index[bad][0]
        raise InputFileError(f"{path}: {what} line {_csv_line(i)}: {col}={table.at[i, col]!r} is not a number")
    return values.to_numpy(dtype=float)


def check_range(table: pd.DataFrame, col: str, path: str | os.PathLike, *, what: str = "table",
                lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False, allow_missing: bool = True) -> None:
    """Raise :class:`InputFileError` naming the line and value where ``col`` is not a number in ``[lo, hi]``
    (``(lo, hi]`` with ``lo_open``); empty cells pass when ``allow_missing``."""
    if col not in table.columns:
        return
    path = Path(path)
    values = _numbers(table, col, path, what)
    finite = np.isfinite(values)
    low = values <= lo if lo_open else values < lo
    bad = (~np.isnan(values) & (~finite | low | (values > hi))) | (np.isnan(values) & (not allow_missing))
    if bad.any():
        i = table.index[np.flatnonzero(bad)[0]]
        raw = table.at[i, col]
        raw = raw.item() if isinstance(raw, np.generic) else raw
        bound = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{']' if math.isfinite(hi) else ')'}"
        raise InputFileError(f"{path}: {what} line {_csv_line(i)} ({table.at[i, table.columns[0]]}): "
                             f"{col}={raw!r} is outside {bound}")


def check_ranking(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Value checks of a ranking: unique ids, known metals, H/M > 0, sane pressures, scores in [0, 1]."""
    from screening.elements import FAMILY_OF

    path = Path(path)
    dup = table["candidate_id"].duplicated()
    if dup.any():
        i = table.index[dup][0]
        raise InputFileError(f"{path}: ranking line {_csv_line(i)}: candidate_id {table.at[i, 'candidate_id']!r} "
                             "appears twice")
    for i, metals in table["metals"].astype(str).items():
        unknown = [m for m in metals.replace(" ", "").split(",") if m not in FAMILY_OF]
        if unknown:
            raise InputFileError(f"{path}: ranking line {_csv_line(i)}: metals={metals!r} has unsupported "
                                 f"element(s) {unknown}")
    check_range(table, "h_per_metal", path, what="ranking", lo=0.0, lo_open=True, allow_missing=False)
    check_range(table, "pressure_gpa", path, what="ranking", lo=0.0, allow_missing=False)
    for col in ("prior_score", "synth_score", "term_hull", "term_reaction", "term_margin", "term_homologous",
                "term_precursor", "term_prior"):
        check_range(table, col, path, what="ranking", lo=0.0, hi=1.0)
    for col in ("tm_metal_k", "h_diffusion_onset_k", "t_min_k", "t_max_k"):
        check_range(table, col, path, what="ranking", lo=0.0, hi=1e5)


def read_ranking(path: str | os.PathLike, *, required: Iterable[str] = RANKING_REQUIRED) -> pd.DataFrame:
    """A ranking CSV read with :func:`read_table` and checked with :func:`check_ranking`."""
    table = read_table(path, required=required, what="ranking", hint="run 'make screen' first")
    check_ranking(table, path)
    return table


def write_ranking(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a ranking atomically (a killed run never leaves a half-written CSV)."""
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))


def merge_columns(ranking: pd.DataFrame, table: pd.DataFrame, columns) -> pd.DataFrame:
    """Left-join ``columns`` of ``table`` onto ``ranking`` by ``candidate_id``, replacing earlier copies.

    Every tier uses this to add its results to the ranking; rows without a result get NaN.
    """
    if "candidate_id" not in ranking.columns:
        raise CandidateError(f"ranking has no 'candidate_id' column; columns are {list(ranking.columns)[:8]}...")
    keep = ["candidate_id", *[c for c in columns if c in table.columns]]
    base = ranking.drop(columns=[c for c in columns if c in ranking.columns])
    merged = base.merge(table[keep].drop_duplicates("candidate_id", keep="last"), on="candidate_id", how="left")
    merged.attrs = dict(ranking.attrs)
    return merged
