"""Exploration runs of a fitted potential in the engine's states: dense H2, the precursor/H2 interface, bulk hydrides.

A :class:`Probe` is one short NPT run (a cell, a temperature and pressure, a length); :func:`explore` runs it with
a potential and returns the sampled frames and the outcome (steps done, the error of a run that blew up). Active
learning (:mod:`screening.engine.active_learning`) labels the frames; the candidate screen
(:mod:`screening.engine.candidate_screen`) only asks whether the run finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from screening.errors import CandidateError


@dataclass(frozen=True)
class Probe:
    """One exploration run: a cell of the system, an ensemble point and a length.

    Args:
        name: short label (used in provenance and CV groups).
        kind: ``"h2"`` (dense H2 fluid, :func:`~screening.engine.stability.h2_cell`), ``"bulk"`` (the precursor
            template of MH_x, :func:`~screening.engine.stability.bulk_cell`) or ``"interface"`` (the engine's
            precursor/H2 interface, :func:`~screening.engine.interface.build_interface`, barostat along z).
        temperature_k, pressure_gpa: NPT target.
        h_per_metal: x of MH_x (``bulk`` and ``interface``).
        time_ps, timestep_fs, sample_fs: run length, MD step and the spacing of the sampled frames (fine: a
            failing potential can heat a cell to 10^4 K within 40 fs).
        min_atoms: smallest cell of an ``h2`` or ``bulk`` probe; ``n_slab_atoms``: slab size of an ``interface``
            probe. The teacher labels the examined frames, and CHGNet's graph of dense H2 is large: a 128-atom
            H2 cell at 40 GPa took 36 s and 11.7 GB, a 478-atom interface cell did not fit in 24 GB.
    """

    name: str
    kind: str
    temperature_k: float
    pressure_gpa: float = 40.0
    h_per_metal: float | None = None
    time_ps: float = 2.0
    timestep_fs: float = 0.5
    sample_fs: float = 5.0
    min_atoms: int = 64
    n_slab_atoms: int = 48

    def __post_init__(self) -> None:
        if self.kind not in ("h2", "bulk", "interface"):
            raise CandidateError(f"probe {self.name}: unknown kind {self.kind!r} (valid: h2, bulk, interface)")
        if self.kind != "h2" and self.h_per_metal is None:
            raise CandidateError(f"probe {self.name}: kind {self.kind!r} needs h_per_metal")
        if min(self.temperature_k, self.pressure_gpa, self.time_ps, self.timestep_fs, self.sample_fs) <= 0:
            raise CandidateError(f"probe {self.name}: temperature, pressure, times must be positive")

    def cell(self, metal: str, seed: int = 0):
        """The starting cell (ASE Atoms) of this probe for ``metal``."""
        from screening.engine.stability import bulk_cell, h2_cell

        if self.kind == "h2":
            return h2_cell(self.pressure_gpa, min_atoms=self.min_atoms)
        if self.kind == "bulk":
            return bulk_cell(metal, self.h_per_metal, self.pressure_gpa, min_atoms=self.min_atoms)
        from screening.engine.interface import build_interface
        from screening.structures.templates import precursor_template

        atoms, _ = build_interface(metal, self.h_per_metal, self.pressure_gpa,
                                   template=precursor_template(metal, self.h_per_metal),
                                   n_slab_atoms_target=self.n_slab_atoms, seed=seed)
        return atoms


#: the engine's states at 40 GPa: the H2 fluid and the interface at the seed's 1473 K, the precursor and product
#: bulk at 1473 K and hot (2500 K: the melting tier heats them)
DEFAULT_PROBES = (
    Probe("h2_fluid_1473K", "h2", 1473.0),
    Probe("interface_1473K", "interface", 1473.0, h_per_metal=2.0),
    Probe("MH2_1473K", "bulk", 1473.0, h_per_metal=2.0),
    Probe("MH4_1473K", "bulk", 1473.0, h_per_metal=4.0),
    Probe("MH2_2500K", "bulk", 2500.0, h_per_metal=2.0),
    Probe("MH4_2500K", "bulk", 2500.0, h_per_metal=4.0),
)


def explore(probe: Probe, potential: str, metal: str, *, seed: int = 0, progress: bool = False
            ) -> tuple[list, dict]:
    """Run ``probe`` with ``potential`` (a registry spec); returns the sampled frames (ASE Atoms, wrapped, with
    ``info`` naming the probe, step and MD temperature) and the run's outcome (steps, error, hottest frame)."""
    from ase import Atoms

    from screening.md import Stage, open_session

    start = probe.cell(metal, seed)
    symbols = start.get_chemical_symbols()
    steps = int(round(probe.time_ps * 1000.0 / probe.timestep_fs))
    every = max(1, int(round(probe.sample_fs / probe.timestep_fs)))
    frames: list = []

    def on_frame(fr) -> bool:
        a = Atoms(symbols, positions=fr.positions, cell=fr.cell, pbc=True)
        a.wrap()
        a.info.update({"probe": probe.name, "md_step": int(fr.step), "md_temperature_k": float(fr.temperature_k),
                       "pressure_gpa": float(probe.pressure_gpa)})
        frames.append(a)
        return False

    stage = Stage("npt", steps, t_start_k=probe.temperature_k, pressure_gpa=probe.pressure_gpa, sample_every=every,
                  init_velocities_k=probe.temperature_k, seed=int(seed),
                  barostat="z" if probe.kind == "interface" else "aniso", label=f"{probe.name} (seed {seed})")
    t0 = time.perf_counter()
    with open_session(start, potential, probe.timestep_fs) as session:
        out = session.run(stage, on_frame, progress=progress)
    hottest = max((a.info["md_temperature_k"] for a in frames), default=float("nan"))
    return frames, {"probe": probe.name, "n_atoms": len(start), "steps_planned": steps, "steps_done": out.steps_done,
                    "error": out.error, "hottest_k": hottest, "wall_s": round(time.perf_counter() - t0, 1)}


__all__ = ["DEFAULT_PROBES", "Probe", "explore"]
