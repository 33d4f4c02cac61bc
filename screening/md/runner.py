"""Run a protocol (a sequence of stages) in one session and return a JSON-able record.

A protocol is a generator that yields ``(stage, stop_rule)`` pairs and may look at the
session between stages (e.g. to pick the half of the cell to freeze). Every stage is
recorded by a :class:`~screening.md.analysis.Recorder`; the first failure (engine error
or blow-up) ends the protocol with ``status = "failed"``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterator

import numpy as np

from screening.md.analysis import Recorder, metal_mask, shell_size
from screening.md.base import MDSession, Stage, min_separation

Protocol = Callable[[MDSession, dict], Iterator[tuple[Stage, Any]]]


def reference_shell(atoms) -> int:
    """First-shell size of the metal sublattice of a reference crystal."""
    mask = metal_mask(atoms.get_chemical_symbols())
    return shell_size(atoms.positions[mask], np.array(atoms.cell))


def run_protocol(session: MDSession, protocol: Protocol, shell: int, min_distance_a: float,
                 frames_per_lag: int = 10, progress: bool = False) -> dict:
    """Execute ``protocol`` on ``session``.

    Returns:
        ``{"status": "ok"|"failed", "error", "stages": {label: series}, "outcomes": {label: {...}},
        "atom_steps", "wall_s", "n_atoms"}``. ``protocol`` receives the live ``results`` dict
        (stage series so far) so that later stages can depend on earlier ones.
    """
    n = len(session.symbols)
    record: dict = {"status": "ok", "error": None, "stages": {}, "outcomes": {}, "atom_steps": 0, "n_atoms": n}
    start = time.perf_counter()
    for stage, stop_rule in protocol(session, record):
        rec = Recorder(session.symbols, session.masses, shell, min_distance_a, lag_frames=frames_per_lag,
                       stop_rule=stop_rule, max_drift_ev_per_atom=None if stage.t_end_k is not None else 0.05)
        outcome = session.run(stage, rec, progress=progress)
        record["atom_steps"] += outcome.steps_done * n
        record["stages"][stage.label] = {k: [None if not math.isfinite(x) else x for x in v]
                                         for k, v in rec.series.items()}
        record["outcomes"][stage.label] = {"steps": outcome.steps_done, "stopped_early": outcome.stopped_early}
        error = outcome.error or rec.failure
        if error:
            record.update(status="failed", error=error)
            break
    record["wall_s"] = time.perf_counter() - start
    return record


#: closest H–H approach that is still physical: the H2 bond (0.74 Å) vibrating at 4,000 K reaches about 0.6 Å
H_PAIR_FLOOR_A = 0.5


def blowup_distance(atoms) -> float:
    """Closest approach (Å) that counts as a blow-up: half the shortest distance in the input crystal, at most
    :data:`H_PAIR_FLOOR_A` when the crystal holds two or more H atoms (H can pair into H2 in the run: a 0.68-Å H–H
    pair in hot CaH4 is a bond, not a blow-up, although the template's shortest distance is 1.52 Å)."""
    d, _, _ = min_separation(atoms)
    out = max(0.35, 0.5 * d) if math.isfinite(d) else 0.35
    if atoms.get_chemical_symbols().count("H") >= 2:
        out = min(out, H_PAIR_FLOOR_A)
    return out


def series_array(record: dict, label: str, key: str) -> np.ndarray:
    """One series of a stored record as a float array (None -> NaN)."""
    vals = record["stages"].get(label, {}).get(key, [])
    return np.array([math.nan if v is None else v for v in vals], dtype=float)
