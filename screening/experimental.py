"""The experimental table of high-pressure hydrides and the positives the prior learns from.

``data/experimental_hydrides.csv`` is copied from ``shared/data`` unchanged; every
row carries ``reference`` and, where known, ``doi``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from descriptors.eos import data_dir
from screening.elements import FAMILY_OF
from screening.errors import CandidateError

REQUIRED_COLUMNS = ("formula", "metal", "h_per_metal", "synthesis_pressure_gpa", "reference")

#: Where the pressure of an observation is taken from, in order of preference.
PRESSURE_SOURCES = (
    "synthesis_pressure_gpa",
    "p_range_midpoint",
    "p_max_gpa",
    "p_min_gpa",
    "tc_pressure_gpa",
    "volume_pressure_gpa",
)


def default_path() -> Path:
    return data_dir() / "experimental_hydrides.csv"


def load_experimental(path: str | Path | None = None) -> pd.DataFrame:
    """Read an experimental-hydride table and check it before use.

    Checks (each failure is a :class:`screening.tables.InputFileError` naming the file and line):
    the required columns exist, every row has a formula, metal, H/M and reference; every
    metal is a supported element (no silent dropping); H/M > 0; every pressure column
    (``synthesis_pressure_gpa``, ``p_min_gpa``, ...) is >= 0 GPa where given.
    """
    from screening.tables import InputFileError, check_range, read_table

    path = Path(path) if path is not None else default_path()
    table = read_table(path, required=[c for c in REQUIRED_COLUMNS if c != "synthesis_pressure_gpa"],
                       what="experimental table")
    if "synthesis_pressure_gpa" not in table.columns:
        raise CandidateError(f"{path} lacks column(s) ['synthesis_pressure_gpa']; required: {list(REQUIRED_COLUMNS)}")
    unknown = ~table["metal"].astype(str).isin(list(FAMILY_OF))
    if unknown.any():
        i = table.index[unknown][0]
        raise InputFileError(f"{path}: experimental table line {i + 2} ({table.at[i, 'formula']}): metal "
                             f"{table.at[i, 'metal']!r} is not a supported element (see screening.elements)")
    check_range(table, "h_per_metal", path, what="experimental table", lo=0.0, lo_open=True, allow_missing=False)
    for col in ("synthesis_pressure_gpa", "p_min_gpa", "p_max_gpa", "tc_pressure_gpa", "volume_pressure_gpa"):
        check_range(table, col, path, what="experimental table", lo=0.0)
    check_range(table, "synthesis_temperature_k", path, what="experimental table", lo=0.0, lo_open=True)
    return table


def observed_pressure(table: pd.DataFrame) -> pd.DataFrame:
    """Pressure at which each phase was observed, and which column it came from.

    Preference: the reported synthesis pressure; the midpoint of a reported
    range; one end of a range; the pressure of the reported Tc or volume.
    Rows with none of these get NaN and are not used as located positives.
    """
    col = lambda c: table[c] if c in table.columns else pd.Series(np.nan, index=table.index)  # noqa: E731
    candidates = {
        "synthesis_pressure_gpa": col("synthesis_pressure_gpa"),
        "p_range_midpoint": 0.5 * (col("p_min_gpa") + col("p_max_gpa")),
        "p_max_gpa": col("p_max_gpa"),
        "p_min_gpa": col("p_min_gpa"),
        "tc_pressure_gpa": col("tc_pressure_gpa"),
        "volume_pressure_gpa": col("volume_pressure_gpa"),
    }
    pressure = pd.Series(np.nan, index=table.index)
    source = pd.Series("", index=table.index, dtype=object)
    for name in PRESSURE_SOURCES:
        fill = pressure.isna() & candidates[name].notna()
        pressure[fill] = candidates[name][fill]
        source[fill] = name
    return pd.DataFrame({"observed_pressure_gpa": pressure, "pressure_source": source})


def _nearest(values: np.ndarray, grid: Sequence[float]) -> np.ndarray:
    g = np.asarray(sorted(grid), dtype=float)
    return g[np.abs(values[:, None] - g[None, :]).argmin(axis=1)]


def located_positives(
    table: pd.DataFrame,
    h_grid: Sequence[float],
    pressure_grid: Sequence[float],
    h_tolerance: float = 0.26,
) -> pd.DataFrame:
    """Experimental phases placed on the candidate grid (nearest H/M and nearest pressure).

    Rows are dropped (and listed in the ``dropped`` attribute) when the metal is not
    a supported element, the pressure is unknown, or no grid H/M lies within
    ``h_tolerance`` of the reported H/M.
    """
    obs = observed_pressure(table)
    h = table["h_per_metal"].to_numpy(dtype=float)
    h_snap = _nearest(h, h_grid)
    keep = table["metal"].isin(list(FAMILY_OF)) & obs["observed_pressure_gpa"].notna() & (np.abs(h_snap - h) <= h_tolerance)
    out = pd.DataFrame(
        {
            "metal": table["metal"],
            "formula": table["formula"],
            "h_per_metal": h_snap,
            "pressure_gpa": _nearest(obs["observed_pressure_gpa"].fillna(0).to_numpy(dtype=float), pressure_grid),
            "observed_pressure_gpa": obs["observed_pressure_gpa"],
            "pressure_source": obs["pressure_source"],
            "reference": table["reference"],
            "doi": table.get("doi", pd.Series("", index=table.index)),
        }
    )
    located = out[keep].reset_index(drop=True)
    located.attrs["dropped"] = out[~keep].reset_index(drop=True)
    return located
