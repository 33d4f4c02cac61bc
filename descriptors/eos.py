"""Vectorised Vinet equation of state and the reference constants it is fed with."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

#: eV per (GPa * Å^3)
GPA_A3_TO_EV = 1.0 / 160.21766208


def data_dir() -> Path:
    """The project's ``data/`` directory (reference tables with sources)."""
    return Path(__file__).resolve().parent.parent / "data"


@functools.lru_cache(maxsize=1)
def reference_constants() -> dict[str, float]:
    """Constants from ``data/reference_constants.csv`` (each row carries its source)."""
    table = pd.read_csv(data_dir() / "reference_constants.csv")
    return dict(zip(table["name"], table["value"].astype(float)))


def vinet_pressure(v: np.ndarray, v0: np.ndarray, k0: np.ndarray, k0p: np.ndarray) -> np.ndarray:
    """Vinet P(V) in the units of ``k0``."""
    x = np.cbrt(np.asarray(v, dtype=float) / v0)
    return 3.0 * k0 * (1.0 - x) / x**2 * np.exp(1.5 * (k0p - 1.0) * (1.0 - x))


def vinet_volume(p, v0, k0, k0p, iterations: int = 60) -> np.ndarray:
    """Invert the Vinet EOS: V(P) for P >= 0, vectorised by bisection on x = (V/V0)^(1/3).

    All arguments broadcast. P(x) is monotonically decreasing on (0, 1], so
    bisection converges unconditionally (60 halvings: |dx| < 1e-18).
    """
    p, v0, k0, k0p = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (p, v0, k0, k0p)))
    lo = np.full(p.shape, 0.05)
    hi = np.ones(p.shape)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        too_compressed = vinet_pressure(mid**3 * v0, v0, k0, k0p) > p
        lo = np.where(too_compressed, mid, lo)
        hi = np.where(too_compressed, hi, mid)
    return (0.5 * (lo + hi)) ** 3 * v0


def h2_volume_per_molecule(pressure_gpa) -> np.ndarray:
    """Volume of solid H2 per molecule (Å^3) from the Loubeyre et al. (2020) Vinet fit."""
    c = reference_constants()
    v0 = c["h2_vinet_v0"] * 1.0e24 / 6.02214076e23
    return vinet_volume(pressure_gpa, v0, c["h2_vinet_k0"], c["h2_vinet_k0p"])
