"""Dense atomic-fraction matrix: the vectorised stand-in for pymatgen Compositions.

A screen of N candidates over M distinct elements is held as an ``N x M``
matrix of atomic fractions. Every composition descriptor is then a handful of
numpy operations on that matrix and an ``M``-long per-element property vector,
instead of N Python-level matminer calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

HYDROGEN = "H"


@dataclass(frozen=True)
class CompositionMatrix:
    """Atomic fractions of N compositions over a shared element list.

    Attributes:
        elements: column order; always contains ``"H"``.
        fractions: ``(N, len(elements))`` array of atomic fractions, rows sum to 1.
    """

    elements: tuple[str, ...]
    fractions: np.ndarray

    def __post_init__(self) -> None:
        if self.fractions.ndim != 2 or self.fractions.shape[1] != len(self.elements):
            raise ValueError(
                f"fractions must have shape (N, {len(self.elements)}), got {self.fractions.shape}"
            )

    def __len__(self) -> int:
        return self.fractions.shape[0]

    @property
    def h_index(self) -> int:
        return self.elements.index(HYDROGEN)

    @property
    def present(self) -> np.ndarray:
        """Boolean mask of elements present in each composition."""
        return self.fractions > 0.0

    def slots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Compact view of the present elements, ``W`` = most elements in any row.

        Returns:
            ``(index, weight, mask)``, each ``(N, W)``: element column indices, atomic
            fractions, and whether the slot holds an element (padding slots have weight 0).
        """
        present = self.present
        width = int(present.sum(axis=1).max()) if len(self) else 0
        order = np.argsort(~present, axis=1, kind="stable")[:, :width]
        return order, np.take_along_axis(self.fractions, order, axis=1), np.take_along_axis(present, order, axis=1)

    @property
    def h_fraction(self) -> np.ndarray:
        return self.fractions[:, self.h_index]

    @property
    def metal_fractions(self) -> np.ndarray:
        """Fractions of each non-H element *within the metal sublattice* (rows sum to 1)."""
        f = self.fractions.copy()
        f[:, self.h_index] = 0.0
        total = f.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, f / total, 0.0)

    @classmethod
    def from_metal_lists(
        cls,
        metals: Sequence[Sequence[str]],
        metal_fractions: Sequence[Sequence[float]],
        h_per_metal: Sequence[float] | np.ndarray,
    ) -> "CompositionMatrix":
        """Build from per-candidate metal lists, metal-sublattice fractions and H/M."""
        elements = tuple(sorted({m for ms in metals for m in ms} | {HYDROGEN}))
        col = {e: i for i, e in enumerate(elements)}
        h = np.asarray(h_per_metal, dtype=float)
        n = len(h)
        frac = np.zeros((n, len(elements)))
        metal_share = 1.0 / (1.0 + h)
        # Loop over metal *slots* (1 for binaries, 2 for ternaries), vectorised over rows.
        width = max((len(ms) for ms in metals), default=0)
        for slot in range(width):
            rows = np.array([i for i, ms in enumerate(metals) if len(ms) > slot], dtype=int)
            if rows.size == 0:
                continue
            cols = np.array([col[metals[i][slot]] for i in rows], dtype=int)
            share = np.array([metal_fractions[i][slot] for i in rows], dtype=float)
            np.add.at(frac, (rows, cols), share * metal_share[rows])
        frac[:, col[HYDROGEN]] = h * metal_share
        return cls(elements, frac)

    @classmethod
    def from_candidates(cls, candidates: pd.DataFrame) -> "CompositionMatrix":
        """Build from a candidate DataFrame (columns ``metals``, ``metal_fractions``, ``h_per_metal``)."""
        metals = [s.split(",") for s in candidates["metals"].astype(str)]
        fracs = [[float(x) for x in s.split(",")] for s in candidates["metal_fractions"].astype(str)]
        return cls.from_metal_lists(metals, fracs, candidates["h_per_metal"].to_numpy(dtype=float))

    @classmethod
    def from_compositions(cls, compositions: Iterable) -> "CompositionMatrix":
        """Build from pymatgen ``Composition`` objects (or formula strings)."""
        from pymatgen.core import Composition

        comps = [c if isinstance(c, Composition) else Composition(c) for c in compositions]
        elements = tuple(sorted({str(e) for c in comps for e in c.elements} | {HYDROGEN}))
        col = {e: i for i, e in enumerate(elements)}
        frac = np.zeros((len(comps), len(elements)))
        for i, c in enumerate(comps):
            for el, amt in c.fractional_composition.get_el_amt_dict().items():
                frac[i, col[el]] = amt
        return cls(elements, frac)
