"""Composition and hydride descriptors for metal–hydrogen candidates.

All featurizers are matminer ``BaseFeaturizer`` subclasses with a vectorised
``featurize_matrix`` path; see :mod:`descriptors.pipeline` for the assembled table.
"""

from descriptors.composition_matrix import CompositionMatrix
from descriptors.hydride import HydrogenContent, MetalProperties, PressureVolume
from descriptors.matminer_vectorized import (
    VectorizedElementProperty,
    VectorizedStoichiometry,
    VectorizedValenceOrbital,
)
from descriptors.pipeline import column_docs, default_featurizers, descriptor_columns, featurize_candidates

__all__ = [
    "CompositionMatrix",
    "HydrogenContent",
    "MetalProperties",
    "PressureVolume",
    "VectorizedElementProperty",
    "VectorizedStoichiometry",
    "VectorizedValenceOrbital",
    "column_docs",
    "default_featurizers",
    "descriptor_columns",
    "featurize_candidates",
]
