"""Molecular dynamics behind one API with two back ends.

``open_session(atoms, calculator, timestep_fs)`` picks the back end from the calculator:
a ``"lammps:<style>:<file>"`` spec runs in LAMMPS through its Python module, anything
else (``"chgnet"``, ``"emt"``, an ASE Calculator object, ...) runs with ASE integrators.
Both stream the same :class:`Frame` objects, which :mod:`screening.md.analysis` turns
into order parameters, per-species MSD and blow-up checks.
"""

from __future__ import annotations

from typing import Any

from screening.calculators import CalculatorInfo, get_calculator, parse_lammps_spec
from screening.md.base import (ENSEMBLES, MIN_SEPARATION_A, Frame, MDSession, Stage, StageOutcome, min_separation,
                               to_atoms, validate_structure)


def backend_name(calculator: Any) -> str:
    """``"lammps"`` for a ``"lammps:..."`` spec, else ``"ase"``."""
    return "lammps" if isinstance(calculator, str) and calculator.strip().startswith("lammps:") else "ase"


def resolve_calculator(calculator: Any) -> tuple[Any, CalculatorInfo]:
    """Build the calculator once (validating the name) and check it can run MD at pressure."""
    from screening.md.ase_backend import check_md_capable

    calc, info = get_calculator(calculator)
    if backend_name(calculator) == "ase":
        check_md_capable(calc, info.name)
    return calc, info


def open_session(atoms, calculator: Any, timestep_fs: float, calc: Any = None, n_threads: int = 1,
                 keep_velocities: bool = False) -> MDSession:
    """Start an MD session for ``atoms`` with the back end that fits ``calculator``.

    Args:
        atoms: ASE Atoms (validated with :func:`validate_structure` by the caller).
        calculator: a registry name/spec or an ASE Calculator (see :mod:`screening.calculators`).
        timestep_fs: MD timestep in fs.
        calc: an already-built ASE calculator for ``calculator`` (skips rebuilding; ASE back end only).
        n_threads: OpenMP threads for LAMMPS.
        keep_velocities: start from the velocities of ``atoms`` (a state from :meth:`MDSession.get_state`)
            instead of zero.
    """
    if backend_name(calculator) == "lammps":
        from screening.md.lammps_backend import LammpsSession

        return LammpsSession(atoms, parse_lammps_spec(calculator.strip()), timestep_fs, n_threads=n_threads,
                             keep_velocities=keep_velocities)
    from screening.md.ase_backend import AseSession

    if calc is None:
        calc, info = resolve_calculator(calculator)
        name = info.name
    else:
        name = str(calculator) if isinstance(calculator, str) else type(calculator).__name__
    return AseSession(atoms, calc, timestep_fs, name=name, keep_velocities=keep_velocities)


__all__ = ["ENSEMBLES", "MIN_SEPARATION_A", "Frame", "MDSession", "Stage", "StageOutcome", "backend_name",
           "min_separation", "open_session", "resolve_calculator", "to_atoms", "validate_structure"]
