"""Onset pressure of a hydrogenation reaction from ΔH_r at a few pressures (tier 2a and its DFT refinement)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def onset_from_points(pressures: Sequence[float], dh: Sequence[float]) -> tuple[float, str]:
    """The lowest pressure where ΔH_r crosses from >= 0 to < 0, linear between the given points (ascending P);
    statuses as in :meth:`screening.proxies.enthalpy.SystemResult.onset`."""
    grid, dh = np.asarray(pressures, float), np.asarray(dh, float)
    if dh[0] < 0:
        return math.nan, "below range"
    down = np.flatnonzero((dh[:-1] >= 0) & (dh[1:] < 0))
    if down.size == 0:
        return math.nan, "above range"
    i = int(down[0])
    p0 = grid[i] - dh[i] * (grid[i + 1] - grid[i]) / (dh[i + 1] - dh[i])
    return float(p0), "within range"


__all__ = ["onset_from_points"]
