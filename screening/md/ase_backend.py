"""ASE back end: MD with any ASE calculator (CHGNet, EMT, MACE, ...).

* ``nvt``: Langevin (ASE), frozen atoms through ``FixAtoms``.
* ``npt``: ``Inhomogeneous_NPTBerendsen`` (Berendsen thermostat + anisotropic Berendsen barostat).
  Berendsen coupling gives correct averages (T_m, volumes) but damped fluctuations.
* ``nph``: the same barostat with the thermostat switched off (``taut`` -> infinity).
* ``nve``: velocity Verlet.
"""

from __future__ import annotations

import math

import numpy as np
from ase import units

from screening.calculators import CalculatorError
from screening.md.base import Frame, FrameCallback, MDSession, Stage, StageOutcome

T_DAMP_FS = 100.0
P_DAMP_FS = 1000.0
LANGEVIN_FRICTION_PER_FS = 0.01


def check_md_capable(calc, name: str, need_stress: bool = True) -> None:
    """Raise CalculatorError unless ``calc`` provides forces (and stress for a barostat)."""
    props = set(getattr(calc, "implemented_properties", ()) or ())
    needed = {"energy", "forces"} | ({"stress"} if need_stress else set())
    missing = sorted(needed - props)
    if missing:
        raise CalculatorError(
            f"calculator {name!r} cannot be used for MD at fixed pressure: it implements {sorted(props)}, "
            f"MD needs {sorted(needed)} (missing {missing})"
        )


class AseSession(MDSession):
    """An MD session on an ASE ``Atoms`` object with an attached calculator."""

    backend = "ase"

    def __init__(self, atoms, calc, timestep_fs: float, name: str = "calculator", keep_velocities: bool = False) -> None:
        super().__init__(atoms, timestep_fs)
        check_md_capable(calc, name)
        self.atoms = atoms.copy()
        self.atoms.calc = calc
        if not keep_velocities:
            self.atoms.set_momenta(np.zeros((len(atoms), 3)))

    def get_atoms(self):
        atoms = self.atoms.copy()
        atoms.calc = None
        atoms.wrap()
        return atoms

    def get_state(self):
        atoms = self.atoms.copy()
        atoms.calc = None
        atoms.set_constraint()
        atoms.wrap()
        return atoms

    def _dynamics(self, stage: Stage, rng: np.random.Generator):
        from ase.md.langevin import Langevin
        from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen
        from ase.md.verlet import VelocityVerlet

        dt = self.timestep_fs * units.fs
        if stage.ensemble == "nvt":
            return Langevin(self.atoms, dt, temperature_K=stage.t_start_k,
                            friction=LANGEVIN_FRICTION_PER_FS / units.fs, fixcm=False, rng=rng)
        if stage.ensemble == "nve":
            return VelocityVerlet(self.atoms, dt)
        bulk_gpa = 100.0 + 4.0 * max(stage.pressure_gpa, 0.0)  # rough B(P): sets only the barostat speed
        taut = T_DAMP_FS if stage.ensemble == "npt" else 1e30
        return Inhomogeneous_NPTBerendsen(
            self.atoms, dt, mask=(1, 1, 1) if stage.barostat == "aniso" else (0, 0, 1), temperature_K=max(stage.t_start_k, 1.0), pressure_au=stage.pressure_gpa * units.GPa,
            taut=taut * units.fs, taup=P_DAMP_FS * units.fs, compressibility_au=1.0 / (bulk_gpa * units.GPa))

    def _frame(self, step: int, target: float, ensemble: str) -> Frame:
        a = self.atoms
        pe = float(a.get_potential_energy())
        ke = float(a.get_kinetic_energy())
        try:
            p = float(-np.trace(a.get_stress(voigt=False)) / 3.0 / units.GPa)
        except Exception:
            p = math.nan
        return Frame(step=step, time_ps=self.time_ps, target_t_k=target, temperature_k=float(a.get_temperature()),
                     pressure_gpa=p, volume_a3=float(a.get_volume()), potential_ev=pe, kinetic_ev=ke,
                     conserved_ev=pe + ke if ensemble == "nve" else math.nan,
                     positions=a.get_positions().copy(), cell=np.array(a.cell))

    def run(self, stage: Stage, on_frame: FrameCallback | None = None, progress: bool = False) -> StageOutcome:
        from ase.constraints import FixAtoms
        from ase.md.velocitydistribution import Stationary, thermalize_momenta

        rng = np.random.default_rng(stage.seed)

        self.atoms.set_constraint()
        if stage.init_velocities_k is not None:
            thermalize_momenta(self.atoms, temperature_K=stage.init_velocities_k, rng=rng)
            Stationary(self.atoms)
        if stage.frozen:
            self.atoms.set_constraint(FixAtoms(indices=list(stage.frozen)))
            p = self.atoms.get_momenta()
            p[list(stage.frozen)] = 0.0
            self.atoms.set_momenta(p, apply_constraint=False)
        dyn = self._dynamics(stage, rng)
        try:  # calculator errors (NaN, atoms too close for an ML graph, ...) end the stage as a failure
            frame = self._frame(0, stage.target_temperature(0), stage.ensemble)
        except Exception as exc:
            self.atoms.set_constraint()
            return StageOutcome(0, False, f"{type(exc).__name__} in stage {stage.label or stage.ensemble!r}: {exc}")

        def advance(done: int, k: int) -> None:
            if stage.ensemble in ("nvt", "npt"):
                dyn.set_temperature(temperature_K=max(stage.target_temperature(done + k / 2), 1.0))
            dyn.run(k)

        outcome = self._drive(stage, frame, advance, on_frame, progress, "ASE")
        self.atoms.set_constraint()
        return outcome
