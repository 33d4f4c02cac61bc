"""MD speed of a calculator on a cell, in atom-steps per second (the unit of every speed ratio in the project)."""

from __future__ import annotations

import time
from typing import Any


def atom_steps_per_s(atoms, calculator: Any, steps: int, timestep_fs: float, calc: Any = None, *,
                     seed: int | None = None, n_threads: int = 1) -> float:
    """NVT at 300 K for ``steps`` steps after one warm-up step (model loading, neighbour lists); returns
    ``steps * len(atoms) / wall seconds``. ``calculator`` (and ``calc``, ``n_threads``) are what
    :func:`screening.md.open_session` takes; ``seed`` fixes the initial velocities.

    Raises:
        CandidateError: the run failed or stopped before ``steps`` (a potential that loses atoms at once would
            otherwise look fast).
    """
    from screening.errors import CandidateError
    from screening.md import Stage, open_session

    if steps < 1:
        raise CandidateError(f"steps must be >= 1, got {steps!r}")
    seeded = {} if seed is None else {"seed": seed}
    with open_session(atoms, calculator, timestep_fs, calc=calc, n_threads=n_threads) as s:
        warm = s.run(Stage("nvt", 1, 300.0, init_velocities_k=300.0, sample_every=1, **seeded))
        t0 = time.perf_counter()
        out = s.run(Stage("nvt", steps, 300.0, sample_every=steps, **seeded)) if not warm.error else warm
        wall = time.perf_counter() - t0
    if out.error or out.steps_done < steps:  # a run that stopped early is not a speed
        raise CandidateError(f"speed run of {calculator!s} stopped after {out.steps_done} of {steps} steps: "
                             f"{out.error or 'stopped early'}")
    return steps * len(atoms) / wall
