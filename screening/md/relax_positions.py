"""FIRE minimisation of the atomic positions at a fixed cell: the start of an MD run or of a speed benchmark.

It removes the stress of a random packing (an H2 fluid filled in by the interface builder) and of an unrelaxed
surface, so that the first MD steps do not start from atoms pressed into each other.
"""

from __future__ import annotations

import math

import numpy as np


def relax_positions(atoms, calc, steps: int, fmax: float) -> tuple:
    """FIRE (``maxstep`` 0.1 A) on the positions of a copy of ``atoms`` with ``calc``, fixed cell.

    Args:
        atoms: the structure (not modified).
        calc: an ASE calculator.
        steps: at most this many FIRE steps (0: no minimisation, the copy is returned as is).
        fmax: stop when every force is below this (eV/A).

    Returns:
        ``(relaxed copy without calculator, report)``; the report has ``steps`` and, after a minimisation, the
        largest force before and after (eV/A) and the energy change (eV/atom). A calculator failure or a non-finite
        result returns the unrelaxed copy and ``report["error"]``, so the caller decides whether that ends its run.
    """
    start = atoms.copy()
    if steps <= 0:
        return start, {"steps": 0}
    from ase.optimize import FIRE

    work = atoms.copy()
    work.calc = calc
    try:
        e0 = float(work.get_potential_energy())
        f0 = float(np.linalg.norm(work.get_forces(), axis=1).max())
        opt = FIRE(work, logfile=None, maxstep=0.1)
        opt.run(fmax=fmax, steps=steps)
        e1 = float(work.get_potential_energy())
        f1 = float(np.linalg.norm(work.get_forces(), axis=1).max())
    except Exception as exc:  # calculator failures are reported, not raised
        return start, {"steps": 0, "error": f"relaxation failed ({type(exc).__name__}): {exc}"}
    if not (math.isfinite(e1) and np.isfinite(work.positions).all()):
        return start, {"steps": int(opt.nsteps), "error": "relaxation produced non-finite energy or positions"}
    out = work.copy()
    out.calc = None
    return out, {"steps": int(opt.nsteps), "fmax_start_ev_a": f0, "fmax_end_ev_a": f1,
                 "energy_change_ev_per_atom": (e1 - e0) / len(atoms)}


__all__ = ["relax_positions"]
