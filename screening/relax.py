"""Cell-and-position relaxation under hydrostatic pressure, cached in the result store."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from screening.calculators import CalculatorInfo
from screening.store import ResultStore

EV_PER_GPA_A3 = 1.0 / 160.21766208
#: Relaxation steps between two checks of the distance floors (a collapsing structure is stopped early).
COLLAPSE_CHECK_EVERY = 10


@dataclass(frozen=True)
class RelaxSettings:
    """Settings of one relaxation (ASE FrechetCellFilter + optimizer)."""

    fmax_ev_per_a: float = 0.05
    max_steps: int = 300
    optimizer: str = "FIRE"

    def as_dict(self) -> dict:
        return asdict(self)


def _distance_problem(structure, when: str) -> str | None:
    """The builder's distance floors (:func:`screening.structures.check_distances`) as a message, or None."""
    from screening.structures import StructureError, check_distances

    try:
        check_distances(structure)
    except StructureError as exc:
        return f"{when}: {exc}"
    return None


def checked_relaxation(result: dict) -> dict:
    """A stored relaxation with the distance floors applied to its relaxed structure.

    Results cached before the floors existed (or before they were tightened) can hold a structure the
    potential collapsed, e.g. fcc Sr at 0.95 Å^3/atom "relaxed" at 150 GPa. Such a result comes back as
    ``failed`` with the floor it breaks; every other result comes back unchanged.
    """
    if result.get("status") not in ("ok", "not_converged") or "structure" not in result:
        return result
    from pymatgen.core import Structure

    problem = _distance_problem(Structure.from_dict(result["structure"]), "stored relaxation")
    if problem is None:
        return result
    return {**{k: v for k, v in result.items() if k != "structure"}, "status": "failed", "converged": False,
            "error": problem}


def relax_at_pressure(structure, pressure_gpa: float, calc, settings: RelaxSettings) -> dict:
    """Relax cell and positions at ``pressure_gpa`` (ASE ``FrechetCellFilter`` with ``scalar_pressure``).

    Returns a JSON-able dict: energy, volume, enthalpy H = E + PV (eV, Å^3, per cell), number of atoms,
    steps, ``converged``, final max force and pressure, ``status`` (``ok``, ``not_converged``,
    ``failed``, or ``rejected``: the starting structure has atoms closer than the builder's floors,
    nothing was computed) and the relaxed structure (pymatgen dict). Non-convergence is reported,
    not hidden; a relaxation that ends with overlapping atoms is ``failed``.
    ``warnings`` (only when there are some) copies the calculator's ``results["warnings"]``, e.g. a
    fine-tuned model asked about an element absent from its fine-tuning data.
    """
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    problem = _distance_problem(structure, "starting structure")
    if problem:
        return {"status": "rejected", "error": problem, "converged": False, "pressure_gpa": pressure_gpa}
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calc
    filt = FrechetCellFilter(atoms, scalar_pressure=pressure_gpa * EV_PER_GPA_A3)
    opt = {"FIRE": FIRE, "BFGS": BFGS}[settings.optimizer](filt, logfile=None)
    start = time.perf_counter()
    try:
        # The cell filter does 3x3 matrix exponentials every step; multithreaded BLAS busy-waits on
        # such tiny matrices (measured 40x slower on 2 busy cores), so BLAS runs single-threaded here.
        with threadpool_limits(limits=1, user_api="blas"):
            converged = False
            for step, converged in enumerate(opt.irun(fmax=settings.fmax_ev_per_a, steps=settings.max_steps)):
                # A structure the potential collapses gets ever denser neighbour lists (minutes per step):
                # stop it as soon as it crosses the builder's distance floors.
                if step and step % COLLAPSE_CHECK_EVERY == 0:
                    problem = _distance_problem(AseAtomsAdaptor.get_structure(atoms), f"collapsed at step {step}")
                    if problem:
                        return {"status": "failed", "error": problem, "converged": False, "pressure_gpa": pressure_gpa,
                                "steps": step, "n_atoms": len(atoms), "volume_a3": float(atoms.get_volume())}
            converged = bool(converged)
        energy = float(atoms.get_potential_energy())
        forces = atoms.get_forces()
        stress = atoms.get_stress(voigt=True)
    except Exception as exc:  # a calculator crash is a failed relaxation, recorded as such
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "converged": False, "pressure_gpa": pressure_gpa}
    volume = float(atoms.get_volume())
    if not (math.isfinite(energy) and math.isfinite(volume)):
        return {"status": "failed", "error": "non-finite energy or volume", "converged": False, "pressure_gpa": pressure_gpa}
    relaxed = AseAtomsAdaptor.get_structure(atoms)
    problem = _distance_problem(relaxed, "after relaxation")
    if problem:
        return {"status": "failed", "error": problem, "converged": False, "pressure_gpa": pressure_gpa,
                "energy_ev": energy, "volume_a3": volume, "n_atoms": len(atoms)}
    warnings = list(getattr(calc, "results", {}).get("warnings") or [])
    return {
        "status": "ok" if converged else "not_converged",
        "converged": converged,
        "pressure_gpa": pressure_gpa,
        "energy_ev": energy,
        "volume_a3": volume,
        "enthalpy_ev": energy + pressure_gpa * EV_PER_GPA_A3 * volume,
        "n_atoms": len(atoms),
        "steps": int(opt.nsteps),
        "max_force_ev_per_a": float(np.linalg.norm(forces, axis=1).max()),
        "achieved_pressure_gpa": float(-stress[:3].mean() / EV_PER_GPA_A3),
        "seconds": time.perf_counter() - start,
        "structure": relaxed.as_dict(),
        **({"warnings": warnings} if warnings else {}),
    }


def cached_relaxation(
    store: ResultStore,
    label: dict,
    structure_factory,
    pressure_gpa: float,
    calc,
    info: CalculatorInfo,
    settings: RelaxSettings,
) -> tuple[dict, bool]:
    """Relaxation through the store. ``label`` identifies the starting structure (formula, template,
    builder version); with pressure, calculator provenance and settings it forms the cache key."""
    inputs = relaxation_inputs(label, pressure_gpa, info, settings)
    result, cached = store.get_or_compute(
        "relax", inputs, lambda: relax_at_pressure(structure_factory(), pressure_gpa, calc, settings))
    return (checked_relaxation(result) if cached else result), cached


def relaxation_inputs(label: dict, pressure_gpa: float, info: CalculatorInfo, settings: RelaxSettings) -> dict:
    """The cache inputs of one relaxation (also used to look a finished one up)."""
    return {"start": label, "pressure_gpa": float(pressure_gpa), "calculator": info.as_dict(), "settings": settings.as_dict()}
