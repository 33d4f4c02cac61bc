"""Back-end-independent pieces of the MD layer: run stages, frames, sessions, input checks.

A simulation is a sequence of :class:`Stage` objects (NPT ramp, NPH, NVT with a frozen
slab, ...) run by an :class:`MDSession`. A session streams :class:`Frame` objects to a
callback, which may stop the stage early. Two back ends implement the session:
:mod:`screening.md.lammps_backend` (LAMMPS specs) and :mod:`screening.md.ase_backend`
(any other ASE calculator). Callers never write LAMMPS input.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from screening.errors import CandidateError

ENSEMBLES = ("npt", "nph", "nvt", "nve")
MIN_SEPARATION_A = 0.5  # closer than this in an input structure (or during MD) is unphysical
#: A kinetic temperature above this is a blow-up: no interatomic potential (ML, EAM, EMT) describes matter
#: at tens of thousands of kelvin (electronic excitation), and a runaway integration shows up here first.
MAX_MD_TEMPERATURE_K = 20_000.0
#: |potential energy| per atom above this (eV) is a broken number, not chemistry (~1-10 eV/atom).
MAX_ABS_EV_PER_ATOM = 1e3


def frame_problem(frame: "Frame", n_atoms: int) -> str | None:
    """Why a sampled frame means the run blew up, or None: non-finite values, absurd temperature or energy."""
    if not all(math.isfinite(v) for v in (frame.temperature_k, frame.potential_ev, frame.volume_a3)) \
            or not np.isfinite(frame.positions).all():
        return "non-finite energy/temperature/volume/positions"
    if frame.temperature_k > MAX_MD_TEMPERATURE_K:
        return (f"blow-up: temperature {frame.temperature_k:.3g} K exceeds {MAX_MD_TEMPERATURE_K:.0f} K, "
                "beyond what any interatomic potential describes")
    if abs(frame.potential_ev) / max(n_atoms, 1) > MAX_ABS_EV_PER_ATOM:
        return (f"blow-up: potential energy {frame.potential_ev / max(n_atoms, 1):.3g} eV/atom is beyond "
                f"+-{MAX_ABS_EV_PER_ATOM:g} eV/atom")
    if frame.volume_a3 <= 0:
        return f"blow-up: cell volume {frame.volume_a3:.3g} Å^3"
    return None


@dataclass(frozen=True)
class Stage:
    """One MD segment.

    Args:
        ensemble: ``"npt"`` (thermostat + anisotropic barostat), ``"nph"`` (barostat only,
            energy flows freely: used for solid-liquid coexistence), ``"nvt"`` (Langevin),
            ``"nve"``.
        steps: number of MD steps.
        t_start_k: thermostat target at the start; ``t_end_k`` (optional) makes a linear ramp.
        pressure_gpa: barostat target (``npt``/``nph``).
        sample_every: steps between frames sent to the callback.
        frozen: indices of atoms held fixed (zero force and velocity); ``nvt``, or ``npt`` with
            ``barostat="z"`` (the box then changes along c only and only mobile atoms are remapped,
            so a melted slab next to a fixed crystal can reach its own density).
        barostat: ``"aniso"`` (a, b, c relax independently) or ``"z"`` (c only).
        init_velocities_k: if set, draw Maxwell-Boltzmann velocities at this temperature first.
        seed: random seed for velocities and the Langevin thermostat.
        label: name shown in progress bars.
    """

    ensemble: str
    steps: int
    t_start_k: float
    t_end_k: float | None = None
    pressure_gpa: float = 0.0
    sample_every: int = 100
    frozen: tuple[int, ...] = ()
    barostat: str = "aniso"
    init_velocities_k: float | None = None
    seed: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise CandidateError(f"unknown MD ensemble {self.ensemble!r}; valid: {', '.join(ENSEMBLES)}")
        if self.steps < 1 or self.sample_every < 1:
            raise CandidateError(f"stage needs steps >= 1 and sample_every >= 1, got {self.steps}, {self.sample_every}")
        if self.barostat not in ("aniso", "z"):
            raise CandidateError(f"unknown barostat {self.barostat!r}; valid: 'aniso', 'z'")
        if self.frozen and not (self.ensemble == "nvt" or (self.ensemble == "npt" and self.barostat == "z")):
            raise CandidateError("frozen atoms need an 'nvt' stage or an 'npt' stage with barostat='z', "
                                 f"not {self.ensemble!r}/{self.barostat!r}")

    def target_temperature(self, step: int) -> float:
        """Thermostat target after ``step`` steps of this stage (linear ramp)."""
        if self.t_end_k is None:
            return self.t_start_k
        return self.t_start_k + (self.t_end_k - self.t_start_k) * step / self.steps


@dataclass
class Frame:
    """A snapshot: thermodynamics plus unwrapped Cartesian positions (Å) and the cell (rows, Å)."""

    step: int
    time_ps: float
    target_t_k: float
    temperature_k: float
    pressure_gpa: float
    volume_a3: float
    potential_ev: float
    kinetic_ev: float
    conserved_ev: float  # NaN where the integrator has no conserved quantity
    positions: np.ndarray
    cell: np.ndarray

    @property
    def enthalpy_ev(self) -> float:
        """E_pot + E_kin + P V (eV)."""
        return self.potential_ev + self.kinetic_ev + self.pressure_gpa * self.volume_a3 / 160.21766208


@dataclass
class StageOutcome:
    """How a stage ended: steps done, whether the callback stopped it, and any error text."""

    steps_done: int
    stopped_early: bool = False
    error: str | None = None
    extra: dict = field(default_factory=dict)


FrameCallback = Callable[[Frame], bool]


class MDSession(ABC):
    """A live simulation of one structure with one potential; stages run back to back.

    Use as a context manager. ``run(stage, on_frame)`` calls ``on_frame(frame)`` at step 0
    and every ``stage.sample_every`` steps; returning True stops the stage. Errors of the
    engine (lost atoms, NaN forces) end the stage with ``StageOutcome.error`` set instead
    of raising, so that a blown-up run becomes a reported failure.
    """

    backend: str = "abstract"

    def __init__(self, atoms, timestep_fs: float) -> None:
        if not (math.isfinite(timestep_fs) and timestep_fs > 0):
            raise CandidateError(f"timestep_fs must be a positive number, got {timestep_fs!r}")
        self.symbols = tuple(atoms.get_chemical_symbols())
        self.masses = np.asarray(atoms.get_masses(), dtype=float)
        self.timestep_fs = float(timestep_fs)
        self.time_ps = 0.0

    @abstractmethod
    def run(self, stage: Stage, on_frame: FrameCallback | None = None, progress: bool = False) -> StageOutcome:
        """Run one stage; see the class docstring."""

    @abstractmethod
    def _frame(self, step: int, target: float, ensemble: str) -> Frame:
        """Sample the current state."""

    def _drive(self, stage: Stage, frame: Frame, advance: Callable[[int, int], None], on_frame: FrameCallback | None,
               progress: bool, engine: str) -> StageOutcome:
        """The sampling loop both back ends share.

        Calls ``on_frame`` (which may stop the stage), then ``advance(done, k)`` for the next
        ``k <= stage.sample_every`` steps, samples a new frame, and ends the stage with an error
        on an engine exception or a frame that :func:`frame_problem` flags (non-finite values, a
        temperature above :data:`MAX_MD_TEMPERATURE_K`, an absurd energy per atom).
        """
        from tqdm.auto import tqdm

        name = stage.label or stage.ensemble
        done, stopped, error = 0, False, None
        with tqdm(total=stage.steps, desc=name, disable=not progress, leave=False) as bar:
            while True:
                problem = frame_problem(frame, len(self.symbols))
                if problem:
                    error = f"{problem} at step {done} of stage {name!r}"
                    break
                if on_frame is not None and on_frame(frame):
                    stopped = True
                    break
                if done >= stage.steps:
                    break
                k = min(stage.sample_every, stage.steps - done)
                try:
                    advance(done, k)
                    done += k
                    self.time_ps += k * self.timestep_fs / 1000.0
                    bar.update(k)
                    frame = self._frame(done, stage.target_temperature(done), stage.ensemble)
                except Exception as exc:
                    error = f"{engine} error ({type(exc).__name__}) in stage {name!r} after {done} steps: {exc}"
                    break
        return StageOutcome(done, stopped, error)

    @abstractmethod
    def get_atoms(self):
        """The current configuration as ASE Atoms (wrapped into the cell)."""

    @abstractmethod
    def get_state(self):
        """The current configuration with its velocities (ASE units), wrapped into the cell: what a new session
        opened with ``open_session(state, ..., keep_velocities=True)`` continues from (a checkpoint)."""

    def close(self) -> None:  # pragma: no cover - trivial
        """Release engine resources."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def to_atoms(structure: Any):
    """ASE Atoms from a pymatgen Structure, ASE Atoms or a structure file path (CIF/POSCAR/...)."""
    from ase import Atoms

    if isinstance(structure, Atoms):
        return structure.copy()
    try:
        from pymatgen.core import Structure

        if isinstance(structure, Structure):
            from pymatgen.io.ase import AseAtomsAdaptor

            return AseAtomsAdaptor.get_atoms(structure)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(structure, (str, bytes)) or hasattr(structure, "__fspath__"):
        from pathlib import Path

        path = Path(structure)
        if not path.exists():
            raise CandidateError(f"structure file {str(path)!r} does not exist")
        from ase.io import read

        try:
            atoms = read(path)
        except Exception as exc:  # noqa: BLE001 - ASE's readers raise anything from StopIteration to KeyError
            raise CandidateError(f"{path}: not a readable structure file ({type(exc).__name__}: {exc})") from None
        if not hasattr(atoms, "get_positions"):
            raise CandidateError(f"{path}: not a single structure")
        return atoms
    raise CandidateError(f"structure must be a pymatgen Structure, ASE Atoms or a file path, got {type(structure).__name__}")


def min_separation(atoms) -> tuple[float, int, int]:
    """Shortest interatomic distance (Å, with periodic images) and the pair of atoms."""
    from ase.neighborlist import neighbor_list

    if len(atoms) == 1 and not atoms.pbc.any():
        return math.inf, 0, 0
    i, j, d = neighbor_list("ijd", atoms, 3.0)
    if len(d) == 0:
        return math.inf, 0, 0
    k = int(np.argmin(d))
    return float(d[k]), int(i[k]), int(j[k])


def validate_structure(atoms) -> None:
    """Raise CandidateError for an empty, non-periodic, non-finite or overlapping structure."""
    if len(atoms) == 0:
        raise CandidateError("structure is empty (0 atoms)")
    if not atoms.pbc.all():
        raise CandidateError(f"structure must be periodic in all three directions for bulk MD, pbc={atoms.pbc.tolist()}")
    if not np.isfinite(atoms.positions).all() or abs(atoms.cell.volume) < 1e-6:
        raise CandidateError("structure has non-finite positions or a zero-volume cell")
    d, i, j = min_separation(atoms)
    if d < MIN_SEPARATION_A:
        sym = atoms.get_chemical_symbols()
        raise CandidateError(
            f"atoms {i} ({sym[i]}) and {j} ({sym[j]}) are {d:.3f} Å apart, closer than the physical minimum "
            f"{MIN_SEPARATION_A} Å: overlapping atoms; fix the structure"
        )
