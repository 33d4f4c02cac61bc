"""The pressure domain of the hydride DFT data: frames a potential is trained and judged on.

CHGNet 0.3.0, the calculator of the dataset's round-1 relaxations, collapses some cells under pressure. The
collapse is visible only in the DFT label: fcc Sr relaxed "at 150 GPa" has 0.95 Å³/atom and a GPAW pressure of
146,000 GPa; 11 of the 12 fcc metals at 150 GPa have GPAW pressures of 400 to 146,000 GPa, and 12 hydride
cells at 300 GPa 450 to 1,400 GPa. Such labels are correct DFT of structures that no experiment of the screening grid (0–300 GPa)
reaches, and their energies (up to +715 eV/atom) would dominate a squared-error fit. A frame is in the domain
when its DFT pressure is at most :data:`DOMAIN_MAX_PRESSURE_GPA`, twice the top of the grid, so that the
repulsive wall above the grid is still learnt. The rule reads only the label's own pressure, never a model's
error. Frames outside stay in ``data/dft`` (with their labels and provenance); the fine-tune and the benchmark
leave them out and count them, and the dataset makes no copies (EOS, rattled, strained) of them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from screening.relax import EV_PER_GPA_A3

#: Twice the highest pressure of the screening grid (GPa).
DOMAIN_MAX_PRESSURE_GPA = 600.0


def dft_pressure_gpa(atoms) -> float:
    """Pressure −tr(σ)/3 of a labelled frame (GPa; ASE stress of its calculator)."""
    return float(-np.mean(atoms.get_stress(voigt=True)[:3]) / EV_PER_GPA_A3)


def in_domain(atoms, max_pressure_gpa: float = DOMAIN_MAX_PRESSURE_GPA) -> bool:
    """True when the frame has no stress label or its DFT pressure is at most ``max_pressure_gpa``."""
    results = getattr(atoms.calc, "results", None) or {}
    if results.get("stress") is None:
        return True
    return dft_pressure_gpa(atoms) <= max_pressure_gpa


def domain_frames(frames: Sequence, max_pressure_gpa: float | None = DOMAIN_MAX_PRESSURE_GPA) -> tuple[list, list[str]]:
    """``(frames in the domain, config_ids of those left out)``; ``max_pressure_gpa=None`` keeps every frame."""
    if max_pressure_gpa is None:
        return list(frames), []
    kept, left = [], []
    for a in frames:
        (kept if in_domain(a, max_pressure_gpa) else left).append(a)
    return kept, [str(a.info.get("config_id", "")) for a in left]
