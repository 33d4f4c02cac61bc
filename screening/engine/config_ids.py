"""Content hashes and short ids of atomic configurations.

Shared by the training-set generator (:mod:`screening.engine.training_set`, which tags every
configuration with its id) and the labelling (:mod:`screening.engine.labelling`, which keys every
cached label by the hash), so neither module has to import the other.

The hash is exact (positions to 1e-5 Å), and hot MD is not bitwise reproducible across machines: the same
snapshot of the same seeded run, made on another CPU, differs by 1e-7–1e-5 Å and can get another id (measured on
the Ca–H pool: 15 of 76 committed cells). Whether two cells are *the same configuration* is therefore decided by
:func:`same_configuration` (within :data:`SAME_CONFIGURATION_TOL_A`), and :func:`match_configurations` finds the
committed counterpart of a regenerated cell.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def content_hash(atoms) -> str:
    """SHA-256 of a configuration's content (numbers, positions and cell to 1e-5 Å, pbc)."""
    payload = {
        "numbers": [int(z) for z in atoms.numbers],
        "positions": np.round(np.asarray(atoms.positions, dtype=float), 5).tolist(),
        "cell": np.round(np.asarray(atoms.cell, dtype=float), 5).tolist(),
        "pbc": [bool(x) for x in atoms.pbc],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":")).replace("-0.0,", "0.0,")
    return hashlib.sha256(text.encode()).hexdigest()


def config_id(atoms) -> str:
    """Stable short id of a configuration (``"c"`` + 16 hex digits of :func:`content_hash`)."""
    return "c" + content_hash(atoms)[:16]


#: two cells closer than this (Å, largest deviation of a lattice vector or, minimum image, of an atom) are the same
#: configuration: far above the cross-machine noise of the pool's MD (≤ 6e-4 Å measured) and far below the
#: smallest rattle of the pool (0.05 Å standard deviation)
SAME_CONFIGURATION_TOL_A = 5e-3


def same_configuration(a, b, tol_a: float = SAME_CONFIGURATION_TOL_A) -> bool:
    """Whether ``a`` and ``b`` are the same configuration: same atoms in the same order, same periodicity,
    lattice vectors and positions (minimum image) within ``tol_a``."""
    if len(a) != len(b) or list(a.numbers) != list(b.numbers) or list(a.pbc) != list(b.pbc):
        return False
    cell_a, cell_b = np.asarray(a.cell, dtype=float), np.asarray(b.cell, dtype=float)
    if np.abs(cell_a - cell_b).max() > tol_a:
        return False
    d = np.asarray(b.positions, dtype=float) - np.asarray(a.positions, dtype=float)
    if a.pbc.any() and abs(np.linalg.det(cell_a)) > 1e-9:
        frac = np.linalg.solve(cell_a.T, d.T).T
        frac -= np.where(a.pbc, np.round(frac), 0.0)
        d = frac @ cell_a
    return bool(np.abs(d).max() <= tol_a) if len(d) else True


def match_configurations(frames, pool, tol_a: float = SAME_CONFIGURATION_TOL_A) -> list[int | None]:
    """For each of ``frames``, the index in ``pool`` of the same configuration (:func:`same_configuration`): the
    one with the same ``config_id`` if there is one, else the first within ``tol_a``; None where there is none."""
    by_id = {str(c.info.get("config_id") or config_id(c)): i for i, c in enumerate(pool)}
    by_numbers: dict[tuple, list[int]] = {}
    for i, c in enumerate(pool):
        by_numbers.setdefault(tuple(int(z) for z in c.numbers), []).append(i)
    out: list[int | None] = []
    for a in frames:
        i = by_id.get(str(a.info.get("config_id") or config_id(a)))
        if i is None:
            i = next((j for j in by_numbers.get(tuple(int(z) for z in a.numbers), ())
                      if same_configuration(a, pool[j], tol_a)), None)
        out.append(i)
    return out


def unique_configurations(frames, tol_a: float = SAME_CONFIGURATION_TOL_A) -> list:
    """``frames`` without the later copies of a configuration already among them (:func:`same_configuration`)."""
    kept: list = []
    by_numbers: dict[tuple, list] = {}
    for a in frames:
        key = tuple(int(z) for z in a.numbers)
        if any(same_configuration(a, b, tol_a) for b in by_numbers.get(key, ())):
            continue
        by_numbers.setdefault(key, []).append(a)
        kept.append(a)
    return kept


__all__ = ["SAME_CONFIGURATION_TOL_A", "config_id", "content_hash", "match_configurations", "same_configuration",
           "unique_configurations"]
