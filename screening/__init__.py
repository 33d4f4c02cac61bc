"""Tiered screening of metal–hydrogen systems for superhydride synthesizability.

Tier 1 (this release): candidate grid, descriptors and a positive-unlabeled prior.

>>> import screening
>>> df = screening.screen(metals=["La", "Ca"], pressures_gpa=[100, 150])
"""

from screening.api import best_by_metal_and_pressure, screen, write_ranking
from screening.candidates import (
    DEFAULT_H_PER_METAL,
    DEFAULT_PRESSURES_GPA,
    candidate_grid,
    candidates_from_formulas,
)
from screening.elements import FAMILIES, SUPPORTED_METALS
from screening.errors import CandidateError, DuplicateCandidateWarning
from screening.prior import BaggingPUClassifier, PriorConfig, leave_one_metal_out, load_or_train_prior

__version__ = "0.1.0"

__all__ = [
    "BaggingPUClassifier",
    "CandidateError",
    "DEFAULT_H_PER_METAL",
    "DEFAULT_PRESSURES_GPA",
    "DuplicateCandidateWarning",
    "FAMILIES",
    "PriorConfig",
    "SUPPORTED_METALS",
    "best_by_metal_and_pressure",
    "candidate_grid",
    "candidates_from_formulas",
    "leave_one_metal_out",
    "load_or_train_prior",
    "screen",
    "write_ranking",
]
