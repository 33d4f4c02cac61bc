"""Vectorised re-implementations of matminer composition featurizers.

Each class wraps a configured matminer featurizer, takes its element data
source, statistics and labels from it, and computes the *same numbers* for a
whole :class:`CompositionMatrix` with numpy. ``tests/test_descriptors.py``
checks them against matminer's own ``featurize`` on real candidates.

Supported: ``ElementProperty`` (stats minimum, maximum, range, mean, avg_dev,
mode — the Magpie preset), ``Stoichiometry`` (``num_atoms=False``) and
``ValenceOrbital``.
"""

from __future__ import annotations

import functools

import numpy as np
from matminer.featurizers.composition import ElementProperty, Stoichiometry, ValenceOrbital

from descriptors.base import MatrixFeaturizer
from descriptors.composition_matrix import CompositionMatrix


def _property_matrix(data_source, elements: tuple[str, ...], props: tuple[str, ...]) -> np.ndarray:
    """``(len(elements), len(props))`` array of element properties from a matminer data source."""
    return _cached_property_matrix(data_source, elements, props).copy()


@functools.lru_cache(maxsize=64)
def _cached_property_matrix(data_source, elements, props) -> np.ndarray:
    from pymatgen.core import Element

    return np.array(
        [[float(data_source.get_elemental_property(Element(e), p)) for p in props] for e in elements],
        dtype=float,
    )


def _weighted_stats(cm: CompositionMatrix, prop: np.ndarray, stats: tuple[str, ...]) -> np.ndarray:
    """matminer ``PropertyStats`` for every composition and property at once.

    Works on the compact slot view of ``cm`` (only the elements present in a row),
    so memory is ``N x W x K`` with W = 2 for binary hydrides.

    Args:
        cm: N compositions over M elements.
        prop: ``(M, K)`` element properties.
        stats: statistic names.

    Returns:
        ``(N, K, len(stats))`` array.
    """
    index, w, mask = cm.slots()  # (N, W)
    p = prop[index]  # (N, W, K)
    m = mask[:, :, None]
    nan_hit = np.any(m & np.isnan(p), axis=1)  # (N, K): a present element lacks data
    p0 = np.where(m, np.nan_to_num(p, nan=0.0), 0.0)
    lo = np.where(m, p0, np.inf).min(axis=1)
    hi = np.where(m, p0, -np.inf).max(axis=1)
    mean = np.einsum("nw,nwk->nk", w, p0)
    out = {}
    for name in stats:
        if name == "minimum":
            val = lo
        elif name == "maximum":
            val = hi
        elif name == "range":
            val = hi - lo
        elif name == "mean":
            val = mean
        elif name == "avg_dev":
            val = np.einsum("nw,nwk->nk", w, np.abs(p0 - mean[:, None, :]) * m)
        elif name == "mode":
            # matminer: among the entries with the largest weight, the minimum value.
            top = (np.isclose(w, w.max(axis=1, keepdims=True)) & mask)[:, :, None]
            val = np.where(top, p0, np.inf).min(axis=1)
            val = np.where(np.any(top & np.isnan(p), axis=1), np.nan, val)
        else:
            raise NotImplementedError(
                f"statistic {name!r} is not vectorised; supported: minimum, maximum, range, mean, avg_dev, mode"
            )
        out[name] = np.where(nan_hit, np.nan, val)
    return np.stack([out[s] for s in stats], axis=2)


class _Wrapped(MatrixFeaturizer):
    """Delegates labels, citations and implementors to the wrapped matminer featurizer."""

    def __init__(self, featurizer) -> None:
        self.featurizer = featurizer

    def feature_labels(self) -> list[str]:
        return self.featurizer.feature_labels()

    def citations(self) -> list[str]:
        return self.featurizer.citations()

    def implementors(self) -> list[str]:
        return ["superhydride-screening (vectorisation)"] + list(self.featurizer.implementors())


class VectorizedElementProperty(_Wrapped):
    """Vectorised ``matminer.featurizers.composition.ElementProperty``.

    Example:
        >>> VectorizedElementProperty.from_preset("magpie")
    """

    def __init__(self, featurizer: ElementProperty) -> None:
        if not isinstance(featurizer, ElementProperty):
            raise TypeError(f"expected ElementProperty, got {type(featurizer).__name__}")
        super().__init__(featurizer)

    @classmethod
    def from_preset(cls, preset: str = "magpie", impute_nan: bool = False) -> "VectorizedElementProperty":
        return cls(ElementProperty.from_preset(preset, impute_nan=impute_nan))

    def featurize_matrix(self, cm: CompositionMatrix, pressure_gpa: np.ndarray | None = None) -> np.ndarray:
        f = self.featurizer
        prop = _property_matrix(f.data_source, cm.elements, tuple(f.features))
        stats = _weighted_stats(cm, prop, tuple(f.stats))  # (N, K, S), labels are property-major
        return stats.reshape(len(cm), -1)


class VectorizedStoichiometry(_Wrapped):
    """Vectorised ``matminer.featurizers.composition.Stoichiometry`` (p-norms of fractions)."""

    def __init__(self, featurizer: Stoichiometry | None = None) -> None:
        featurizer = featurizer or Stoichiometry()
        if featurizer.num_atoms:
            raise NotImplementedError("Stoichiometry(num_atoms=True) is not vectorised")
        super().__init__(featurizer)

    def featurize_matrix(self, cm: CompositionMatrix, pressure_gpa: np.ndarray | None = None) -> np.ndarray:
        cols = []
        for p in self.featurizer.p_list:
            if p < 0:
                raise ValueError(f"p-norm not defined for p = {p} < 0")
            if p == 0:
                cols.append(cm.present.sum(axis=1).astype(float))
            else:
                cols.append((cm.fractions**p).sum(axis=1) ** (1.0 / p))
        return np.column_stack(cols)


class VectorizedValenceOrbital(_Wrapped):
    """Vectorised ``matminer.featurizers.composition.ValenceOrbital``."""

    def __init__(self, featurizer: ValenceOrbital | None = None) -> None:
        super().__init__(featurizer or ValenceOrbital())

    def featurize_matrix(self, cm: CompositionMatrix, pressure_gpa: np.ndarray | None = None) -> np.ndarray:
        f = self.featurizer
        props = tuple(f"N{o}Valence" for o in f.orbitals) + ("NValence",)
        table = _property_matrix(f.data_source, cm.elements, props)
        means = _weighted_stats(cm, table, ("mean",))[:, :, 0]  # (N, n_orb + 1)
        avg, total = means[:, :-1], means[:, -1:]
        parts = {"avg": avg, "frac": avg / total}
        return np.column_stack([parts[p] for p in f.props])
