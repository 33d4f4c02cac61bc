"""Assemble the descriptor table for a candidate DataFrame."""

from __future__ import annotations

import functools
from typing import Sequence

import pandas as pd
from tqdm.auto import tqdm

from descriptors.base import MatrixFeaturizer
from descriptors.composition_matrix import CompositionMatrix
from descriptors.hydride import HydrogenContent, MetalProperties, PressureVolume
from descriptors.matminer_vectorized import (
    VectorizedElementProperty,
    VectorizedStoichiometry,
    VectorizedValenceOrbital,
)


def default_featurizers() -> list[MatrixFeaturizer]:
    """Magpie ElementProperty, Stoichiometry, ValenceOrbital and the three hydride featurizers."""
    return list(_default_featurizers())


@functools.lru_cache(maxsize=1)
def _default_featurizers() -> tuple[MatrixFeaturizer, ...]:
    # Built once per process: matminer loads its Magpie tables in the constructors.
    return (
        VectorizedElementProperty.from_preset("magpie"),
        VectorizedStoichiometry(),
        VectorizedValenceOrbital(),
        HydrogenContent(),
        MetalProperties(),
        PressureVolume(),
    )


def featurize_candidates(
    candidates: pd.DataFrame,
    featurizers: Sequence[MatrixFeaturizer] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Return ``candidates`` with one column per descriptor appended.

    Args:
        candidates: output of :func:`screening.candidates.candidate_grid` (needs
            ``metals``, ``metal_fractions``, ``h_per_metal``, ``pressure_gpa``).
        featurizers: defaults to :func:`default_featurizers`.
        progress: show a progress bar over featurizers.

    Descriptor columns that duplicate a candidate column (``h_per_metal``,
    ``pressure_gpa``) are not repeated.
    """
    featurizers = list(featurizers) if featurizers is not None else default_featurizers()
    cm = CompositionMatrix.from_candidates(candidates)
    pressure = candidates["pressure_gpa"].to_numpy(dtype=float)
    blocks = []
    for f in tqdm(featurizers, desc="descriptors", disable=not progress, leave=False):
        values = f.featurize_matrix(cm, pressure if f.needs_pressure else None)
        block = pd.DataFrame(values, columns=f.feature_labels(), index=candidates.index)
        blocks.append(block.drop(columns=[c for c in block.columns if c in candidates.columns]))
    return pd.concat([candidates, *blocks], axis=1)


#: Candidate columns that are model inputs themselves (the featurizers take them as inputs).
INPUT_FEATURES = {"pressure_gpa": "pressure, GPa (the candidate's own column)"}


def descriptor_columns(featurizers: Sequence[MatrixFeaturizer] | None = None) -> list[str]:
    """Names of the numeric model inputs: ``pressure_gpa`` and every featurizer column."""
    featurizers = list(featurizers) if featurizers is not None else default_featurizers()
    seen: list[str] = list(INPUT_FEATURES)
    for f in featurizers:
        seen.extend(c for c in f.feature_labels() if c not in seen)
    return seen


def column_docs() -> pd.DataFrame:
    """One row per descriptor column: name, featurizer and meaning (used for the README)."""
    rows = [{"column": k, "featurizer": "candidate", "meaning": v} for k, v in INPUT_FEATURES.items()]
    for f in default_featurizers():
        docs = getattr(f, "feature_docs", None)
        if docs:
            rows += [{"column": k, "featurizer": type(f).__name__, "meaning": v} for k, v in docs.items()]
        else:
            base = type(f.featurizer).__name__
            rows += [{"column": c, "featurizer": f"matminer {base}", "meaning": "see matminer docs"} for c in f.feature_labels()]
    return pd.DataFrame(rows)


__all__ = ["featurize_candidates", "default_featurizers", "descriptor_columns", "column_docs"]
