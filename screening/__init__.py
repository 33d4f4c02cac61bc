"""Tiered screening of metal–hydrogen systems for superhydride synthesizability.

Tier 1: candidate grid, descriptors and a positive-unlabeled prior (:func:`screen`).
Tier 2a: pressure–enthalpy proxies (:func:`enthalpy_proxy`). Tier 2b: melting (:func:`melting_temperature`).
Score and window: :func:`score_candidates`, :func:`synthesis_window`; validation: :func:`validate`.
Tier 3: trained fast potential + interface MD on dask (:func:`run_engine`).

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

#: Tier-2 entry points, imported on first use so that ``import screening`` stays light.
_LAZY = {
    "enthalpy_proxy": "screening.proxies.enthalpy",
    "compute_system": "screening.proxies.enthalpy",
    "melting_temperature": "screening.proxies.melting",
    "get_calculator": "screening.calculators",
    "ResultStore": "screening.store",
    "score_candidates": "screening.score",
    "synthesis_window": "screening.window",
    "validate": "screening.validation",
    "run_engine": "screening.engine.run",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'screening' has no attribute {name!r}")


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
    "ResultStore",
    "candidate_grid",
    "compute_system",
    "enthalpy_proxy",
    "get_calculator",
    "melting_temperature",
    "run_engine",
    "score_candidates",
    "synthesis_window",
    "validate",
    "candidates_from_formulas",
    "leave_one_metal_out",
    "load_or_train_prior",
    "screen",
    "write_ranking",
]
