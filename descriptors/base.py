"""Base class for featurizers that work on a whole :class:`CompositionMatrix` at once."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
from matminer.featurizers.base import BaseFeaturizer

from descriptors.composition_matrix import CompositionMatrix


class MatrixFeaturizer(BaseFeaturizer, abc.ABC):
    """A matminer ``BaseFeaturizer`` whose real implementation is vectorised.

    Subclasses implement :meth:`featurize_matrix`, which maps an ``N``-row
    :class:`CompositionMatrix` (and, for pressure-aware featurizers, an
    ``N``-long pressure vector in GPa) to an ``(N, n_features)`` array.
    :meth:`featurize` — the matminer row-by-row entry point — is a one-row call
    of the same code, so both paths give identical numbers.
    """

    #: True if :meth:`featurize_matrix` needs a pressure vector.
    needs_pressure: bool = False

    @abc.abstractmethod
    def featurize_matrix(self, cm: CompositionMatrix, pressure_gpa: np.ndarray | None = None) -> np.ndarray:
        """Vectorised features for every row of ``cm``."""

    def featurize(self, comp: Any, pressure_gpa: float | None = None) -> list[float]:
        """matminer-style single-composition entry point.

        Args:
            comp: pymatgen ``Composition`` or formula string.
            pressure_gpa: pressure in GPa (only for pressure-aware featurizers).
        """
        cm = CompositionMatrix.from_compositions([comp])
        p = None
        if self.needs_pressure:
            if pressure_gpa is None:
                raise ValueError(f"{type(self).__name__} needs pressure_gpa")
            p = np.array([float(pressure_gpa)])
        return self.featurize_matrix(cm, p)[0].tolist()
