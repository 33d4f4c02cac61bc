"""Tier 2b: melting temperature of a (hydride) crystal at pressure from fast MD.

Method (``method="coexistence"``, the default for LAMMPS potentials)
    1. *Hysteresis bracket.* A small cell is heated at constant rate (NPT) until its metal
       sublattice melts (T+, superheated), then a melt is cooled until it crystallises
       (T-, undercooled). The Luo-Strachan-Swift formula
       ``T_m = T+ + T- - sqrt(T+ T-)`` (J. Chem. Phys. 120, 11640 (2004)) turns the pair
       into a first estimate; both events are located from three independent signals
       (crystallinity of the metal sublattice, metal diffusion, latent-heat jump in H).
    2. *Solid-liquid coexistence* (Morris et al., PRB 49, 3109 (1994)). A cell elongated 3:1
       along c is equilibrated as a solid (NPT) at the guess T+/1.25, the upper half is
       melted at 1.7x the guess and brought back to the guess with the lower half frozen
       (barostat along c only, so the liquid reaches its own density), and the two-phase
       system is run at constant enthalpy and pressure (NPH, anisotropic barostat). The
       interface moves, releasing or absorbing latent heat, until the temperature settles
       at T_m(P). The order parameter confirms that both phases survive; if one phase takes
       over, the guess is bisected and the run repeated. A second run starts from the other
       side of the first result (T approaches T_m from above in one run, from below in the
       other); half their spread combined with the block-averaged standard errors is the
       reported uncertainty. An NPH run stops after >= 20 ps once the block SEM and the
       drift of T over the second half are below precision/4.

    Why: coexistence has no superheating bias and needs no free-energy calculation; the
    hysteresis step makes it robust when no good guess exists, which is the normal case
    for a new hydride at 150 GPa.

``method="hysteresis"`` (default for ASE calculators such as CHGNet, whose cost rules out
thousand-atom cells) stops after step 1 and reports the Luo-Strachan-Swift value.

Hydrides can be superionic: the order parameter and T_m refer to the metal sublattice
only, and the onset of hydrogen diffusion (per-species MSD during heating) is reported
separately as ``h_diffusion_onset_k``. A run that blows up (atoms closer than half the
input's shortest bond, NaN, conserved-energy drift, runaway temperature, engine error)
yields ``status="failed"`` and no T_m, with one exception: a heating ramp that fails in the melt, after at least
two signals had found the melting below the failure, keeps that T+ (status at best ``"uncertain"``, the failure
named in ``message``); the ramp only heats on for the stop rule's hold once the crystal has melted.

Every MD protocol (one ramp, one coexistence attempt, one fixed-T run) is a separate
:class:`~screening.store.ResultStore` entry keyed by the structure, pressure, calculator
provenance and all settings, so reruns are free and a killed run resumes.

Structures: any pymatgen Structure / ASE Atoms / CIF / POSCAR. The CLI takes user files
(``--structures DIR`` with ``<candidate_id>``/``<formula>`` files, or ``--structure FILE``) and
otherwise falls back to the enthalpy tier's template library (``screening.structures``,
unrelaxed prototype); relaxed structures from that tier are the intended long-term source.

    python -m screening melting --top 3 --ranking reports/ranking.csv --structures my_cifs/
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.calculators import DEFAULT_CALCULATOR
from screening.errors import CandidateError
from screening.paths import file_in
from screening.md import backend_name, open_session, resolve_calculator, to_atoms, validate_structure
from screening.md.analysis import D_MIN_A2_PER_PS, block_sem, jump_location, persistent_crossing, tail_mean
from screening.md.base import Stage
from screening.md.runner import blowup_distance, reference_shell, run_protocol, series_array

METHODS = ("auto", "coexistence", "hysteresis")
PROTOCOL_VERSION = "melting-v2"
FRAMES_PER_PS = 10
SOLID, LIQUID = 0.7, 0.2  # crystallinity above/below which the metal sublattice is unambiguous
SIGNAL_AGREEMENT = 0.10  # signals for T+/T- must agree within 10 % of T
COEX_ELONGATION = 3.0  # c : a of the coexistence cell, so each slab is much thicker than the interface
MIN_NPH_PS = 20  # shortest NPH coexistence run before the statistical stopping test
SUPERHEATING = 1.25  # T+/T_m of a defect-free periodic crystal heated at ~10-100 K/ps (0.2-0.3 for metals)


# --------------------------------------------------------------------------- formula and helpers
def luo_strachan_swift(t_plus_k: float, t_minus_k: float) -> float:
    """Melting temperature from superheating (T+) and undercooling (T-) limits.

    ``T_m = T+ + T- - sqrt(T+ T-)``, Luo, Strachan & Swift, J. Chem. Phys. 120, 11640 (2004).

    Raises:
        CandidateError: non-positive temperatures or T+ < T-.
    """
    if not (t_plus_k > 0 and t_minus_k > 0) or not all(map(math.isfinite, (t_plus_k, t_minus_k))):
        raise CandidateError(f"T+ and T- must be positive temperatures, got T+={t_plus_k!r}, T-={t_minus_k!r}")
    if t_plus_k < t_minus_k:
        raise CandidateError(f"superheating limit T+={t_plus_k} K is below the undercooling limit T-={t_minus_k} K")
    return t_plus_k + t_minus_k - math.sqrt(t_plus_k * t_minus_k)


def luo_strachan_swift_error(t_plus_k: float, t_minus_k: float, err_plus_k: float, err_minus_k: float) -> float:
    """Propagated 1-sigma error of :func:`luo_strachan_swift` for independent errors of T+ and T-."""
    r = math.sqrt(t_minus_k / t_plus_k)
    return math.hypot((1 - 0.5 * r) * err_plus_k, (1 - 0.5 / r) * err_minus_k)


def check_range(name: str, lo: float, hi: float, minimum: float) -> tuple[float, float]:
    """Validate an inclusive (lo, hi) range; raise CandidateError naming the bad value."""
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise CandidateError(f"{name} must be two numbers (low, high), got {lo!r}, {hi!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise CandidateError(f"{name} must be finite, got ({lo}, {hi})")
    if lo < minimum:
        raise CandidateError(f"{name} low end {lo} is below the allowed minimum {minimum}")
    if hi <= lo:
        raise CandidateError(f"{name} ({lo}, {hi}) is empty or inverted: need low < high")
    return lo, hi


def pressure_range(p_min_gpa: float, p_max_gpa: float, n: int) -> list[float]:
    """``n`` evenly spaced pressures from p_min to p_max (GPa); raises for empty/inverted ranges."""
    if int(n) < 2:
        raise CandidateError(f"a pressure range needs n >= 2 points, got n={n}")
    lo, hi = check_range("pressure range (GPa)", p_min_gpa, p_max_gpa, -10.0)
    return [float(p) for p in np.linspace(lo, hi, int(n))]


def _check_pressure(p: float) -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise CandidateError(f"pressure_gpa must be a number, got {p!r}") from None
    if not math.isfinite(p) or p < -10.0 or p > 1000.0:
        raise CandidateError(f"pressure_gpa={p} is outside the supported range [-10, 1000] GPa")
    return p


def plot_path(reports: str | Path, formula: str, pressure_gpa: float) -> Path:
    """Where the melting figure of ``formula`` at ``pressure_gpa`` goes (``melting_<formula>_<P>GPa.png``)."""
    return file_in(reports, f"{formula}_{float(pressure_gpa):g}GPa", prefix="melting_", suffix=".png")


# --------------------------------------------------------------------------- results
@dataclass
class PhaseResult:
    """State of the metal sublattice after an NPT run at fixed T and P.

    ``phase`` is ``"solid"``, ``"liquid"``, ``"superionic"`` (metal solid, H diffusing),
    ``"mixed"`` (signals disagree) or ``"failed"`` (blown-up run; see ``message``).
    """

    phase: str
    temperature_k: float
    pressure_gpa: float
    solid_fraction: float
    d_metal_a2_ps: float
    d_h_a2_ps: float | None
    volume_per_atom_a3: float
    status: str
    message: str
    n_atoms: int
    simulated_ps: float
    cached: bool
    calculator: dict

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class MeltingEstimate:
    """T_m(P) of the metal sublattice with uncertainty and diagnostics.

    ``status``: ``"ok"``; ``"failed"`` (blown-up MD: no T_m); ``"no-melting"`` (solid up to
    the top of ``t_range_k``: T_m is a lower bound); ``"over-budget"`` (not run, see message);
    ``"uncertain"`` (a T_m exists but signals disagreed or coexistence did not converge).
    """

    formula: str
    pressure_gpa: float
    method: str
    tm_metal_k: float | None
    tm_metal_err_k: float | None
    h_diffusion_onset_k: float | None
    superionic: bool | None
    t_plus_k: float | None
    t_minus_k: float | None
    status: str
    message: str
    calculator: dict
    diagnostics: dict = field(default_factory=dict)
    plot: str | None = None
    records: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        """Everything except the raw time series."""
        d = asdict(self)
        d.pop("records")
        return d


# --------------------------------------------------------------------------- the job
class _Job:
    """One structure + pressure + calculator: builds cells, runs cached protocols."""

    def __init__(self, structure: Any, pressure_gpa: float, calculator: Any, timestep_fs: float | None,
                 seed: int, store: Any, progress: bool, n_threads: int) -> None:
        self.atoms = to_atoms(structure)
        validate_structure(self.atoms)
        self.pressure_gpa = _check_pressure(pressure_gpa)
        self.calculator = calculator
        self.backend = backend_name(calculator)
        self.calc, self.info = resolve_calculator(calculator)
        if self.backend == "lammps":  # fail before any MD if the potential lacks an element
            from screening.calculators import parse_lammps_spec
            from screening.md.lammps_backend import check_elements

            check_elements(parse_lammps_spec(calculator.strip()), self.atoms.get_chemical_symbols())
        has_h = "H" in self.atoms.get_chemical_symbols()
        if timestep_fs is None:
            timestep_fs = 0.5 if has_h else 2.0
        if not (isinstance(timestep_fs, (int, float)) and math.isfinite(timestep_fs) and timestep_fs > 0):
            raise CandidateError(f"timestep_fs must be a positive number, got {timestep_fs!r}")
        self.timestep_fs = float(timestep_fs)
        self.has_h = has_h
        self.seed = int(seed)
        self.progress = progress
        self.n_threads = n_threads
        if store is None:
            from screening.store import ResultStore

            store = ResultStore()
        self.store = store or None
        self.conventional = _conventional(self.atoms)
        self.shell = reference_shell(self.conventional)
        self.min_distance = blowup_distance(self.atoms)
        self.formula = self.atoms.get_chemical_formula(mode="reduce")
        self.cached = 0
        self.compute_s = 0.0
        self.computed = 0

    @property
    def steps_per_ps(self) -> int:
        return max(1, round(1000.0 / self.timestep_fs))

    def cell(self, n_target: int, elongate: float = 1.0):
        """Supercell of the conventional cell with >= n_target atoms; c is ``elongate`` times a and b."""
        return _supercell(self.conventional, n_target, elongate)

    def inputs(self, kind: str, cell, **settings) -> dict:
        """Cache key inputs: structure, pressure, calculator provenance, every setting."""
        from screening.provenance import sha256_text

        geometry = json.dumps([cell.get_chemical_symbols(), np.round(np.array(cell.cell), 6).tolist(),
                               np.round(cell.positions, 5).tolist()])
        return {"protocol": PROTOCOL_VERSION, "kind": kind, "formula": self.formula, "n_atoms": len(cell),
                "blowup_distance_a": round(self.min_distance, 4),
                "repeats": cell.info.get("repeats"), "structure_sha256": sha256_text(geometry),
                "cell": np.round(np.array(cell.cell), 6).tolist(), "pressure_gpa": self.pressure_gpa,
                "calculator": self.info.as_dict(), "backend": self.backend, "timestep_fs": self.timestep_fs,
                "seed": self.seed, "frames_per_ps": FRAMES_PER_PS, **settings}

    def run(self, kind: str, cell, protocol, **settings) -> tuple[dict, bool]:
        """Run (or fetch) one protocol on ``cell``; every call is one cache entry."""

        def compute() -> dict:
            with open_session(cell, self.calculator, self.timestep_fs, calc=self.calc,
                              n_threads=self.n_threads) as session:
                return run_protocol(session, protocol, self.shell, self.min_distance,
                                    frames_per_lag=FRAMES_PER_PS, progress=self.progress)

        inputs = self.inputs(kind, cell, **settings)
        start = time.perf_counter()
        if self.store is None:
            result, cached = compute(), False
        else:
            result, cached = self.store.get_or_compute(f"melting.{kind}", inputs, compute)
        took = self.store.seconds(f"melting.{kind}", inputs) if cached else time.perf_counter() - start
        self.compute_s += took or 0.0  # a cached run counts with the time it took when it was computed
        self.cached += cached
        self.computed += not cached
        return result, cached

    def probe_rate(self, cell, steps: int) -> float:
        """Measured atom-steps/s of this calculator on ``cell`` (a short NVT run, not cached; raises
        :class:`~screening.errors.CandidateError` if the run fails)."""
        from screening.md.speed import atom_steps_per_s

        return atom_steps_per_s(cell, self.calculator, steps, self.timestep_fs, calc=self.calc, seed=self.seed,
                                n_threads=self.n_threads)


def _conventional(atoms):
    """Conventional standard cell (cubic for fcc/bcc) so supercells have near-orthogonal, even shapes."""
    try:
        from pymatgen.io.ase import AseAtomsAdaptor
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        s = SpacegroupAnalyzer(AseAtomsAdaptor.get_structure(atoms), symprec=0.05).get_conventional_standard_structure()
        conv = AseAtomsAdaptor.get_atoms(s)
        conv.calc = None
        return conv
    except Exception:  # symmetry detection fails on distorted cells: keep the input cell
        return atoms.copy()


def _supercell(atoms, n_target: int, elongate: float = 1.0, max_aspect: float = 1.25):
    """Smallest diagonal repeat with >= n_target atoms whose box is near-cubic (c stretched by ``elongate``).

    Among repeats with aspect ratio (longest/shortest of a, b, c/elongate) <= ``max_aspect``
    the one with fewest atoms wins; if none qualifies, the most compact one.
    """
    lengths = atoms.cell.lengths() / np.array([1.0, 1.0, elongate])
    n0 = len(atoms)
    best, best_key = None, None
    top = int(np.ceil(max(2.0, (n_target / n0) ** (1 / 3) * 2.0 * lengths.max() / lengths.min()))) + 1
    for na in range(1, top + 1):
        for nb in range(1, top + 1):
            for nc in range(1, int(top * max(elongate, 1.0)) + 2):
                n = n0 * na * nb * nc
                if n < n_target:
                    continue
                dims = lengths * (na, nb, nc)
                aspect = dims.max() / dims.min()
                key = (aspect > max_aspect, n if aspect <= max_aspect else aspect, aspect)
                if best_key is None or key < best_key:
                    best, best_key = (na, nb, nc), key
    sc = atoms.repeat(best)
    sc.info["repeats"] = list(best)
    return sc


# --------------------------------------------------------------------------- stop rules
def _last(rec, key: str, n: int) -> np.ndarray:
    return np.asarray(rec.series[key][-n:], dtype=float)


def _liquid_for(n: int):
    def rule(rec) -> bool:
        sf, d = _last(rec, "solid_fraction", n), _last(rec, "d_metal", n)
        return len(sf) == n and bool((sf < LIQUID).all() and (d > D_MIN_A2_PER_PS).all())
    return rule


def _solid_for(n: int):
    def rule(rec) -> bool:
        sf = _last(rec, "solid_fraction", n)
        return len(sf) == n and bool((sf > SOLID).all())
    return rule


def _frozen_for(n: int):
    """Cooling: stop once crystallised, or once the melt has vitrified (disordered and not diffusing)."""
    solid = _solid_for(n)

    def rule(rec) -> bool:
        sf, d = _last(rec, "solid_fraction", n), _last(rec, "d_metal", n)
        glass = len(sf) == n and bool((sf < LIQUID).all() and (d < 0.2 * D_MIN_A2_PER_PS).all())
        return solid(rec) or glass
    return rule


def _settled(min_frames: int, n_hold: int, sem_target: float):
    """Coexistence NPH stop rule: one phase took over, or T converged with both phases present."""
    def rule(rec) -> bool:
        sf = np.asarray(rec.series["solid_fraction"], dtype=float)
        if len(sf) >= n_hold and ((sf[-n_hold:] < 0.03).all() or (sf[-n_hold:] > 0.97).all()):
            return True
        if len(sf) < min_frames:
            return False
        t = np.asarray(rec.series["t_k"], dtype=float)[len(sf) // 2:]
        drift = abs(np.polyfit(np.arange(len(t)), t, 1)[0]) * len(t)  # change of T over the averaging window
        return 0.1 < sf[-1] < 0.9 and block_sem(t) < sem_target and drift < sem_target
    return rule


def _phase_rule(min_frames: int, n_hold: int):
    liquid, solid = _liquid_for(n_hold), _solid_for(n_hold)

    def rule(rec) -> bool:
        if len(rec.series["t_k"]) < min_frames:
            return False
        d = _last(rec, "d_metal", n_hold)
        return liquid(rec) or (solid(rec) and bool((d < D_MIN_A2_PER_PS).all()))
    return rule


# --------------------------------------------------------------------------- protocols
def _ramp_protocol(job: _Job, t_from: float, t_to: float, rate_k_ps: float, pre_ps: float, heating: bool):
    """Equilibrate at t_from, then ramp to t_to; stops once the end phase is unambiguous."""
    spp = job.steps_per_ps
    every = max(1, spp // FRAMES_PER_PS)
    hold = 3 * FRAMES_PER_PS

    def protocol(session, record):
        yield Stage("npt", int(pre_ps * spp), t_from, pressure_gpa=job.pressure_gpa, sample_every=every,
                    init_velocities_k=t_from, seed=job.seed, label="equilibrate"), None
        steps = int(abs(t_to - t_from) / rate_k_ps * spp)
        yield Stage("npt", steps, t_from, t_to, pressure_gpa=job.pressure_gpa, sample_every=every, seed=job.seed,
                    label="ramp"), (_liquid_for(hold) if heating else _frozen_for(hold))
    return protocol


def _coexistence_protocol(job: _Job, t_guess: float, max_ps: float, sem_target: float, seed: int):
    spp = job.steps_per_ps
    every = max(1, spp // FRAMES_PER_PS)
    nph_every = max(1, spp // 2)  # two frames per ps in the long NPH stage
    p = job.pressure_gpa

    def protocol(session, record):
        yield Stage("npt", 4 * spp, t_guess, pressure_gpa=p, sample_every=every, init_velocities_k=t_guess,
                    seed=seed, label="solid"), None
        atoms = session.get_atoms()
        frac_c = atoms.get_scaled_positions(wrap=True)[:, 2]
        frozen = tuple(int(i) for i in np.where(frac_c < 0.5)[0])
        # melt the upper half with the lower half frozen; barostat along c lets the liquid reach its density
        yield Stage("npt", 4 * spp, 1.7 * t_guess, pressure_gpa=p, sample_every=every, frozen=frozen, barostat="z",
                    init_velocities_k=1.7 * t_guess, seed=seed + 1, label="melt-half"), None
        yield Stage("npt", 3 * spp, t_guess, pressure_gpa=p, sample_every=every, frozen=frozen, barostat="z",
                    seed=seed + 2, label="cool-half"), None
        yield Stage("nph", int(max_ps * spp), t_guess, pressure_gpa=p, sample_every=nph_every,
                    init_velocities_k=t_guess, seed=seed + 3, label="nph"), \
            _settled(min_frames=2 * MIN_NPH_PS + 1, n_hold=4, sem_target=sem_target)
    return protocol


def _phase_protocol(job: _Job, temperature_k: float, max_ps: float, min_ps: float):
    spp = job.steps_per_ps
    every = max(1, spp // FRAMES_PER_PS)

    def protocol(session, record):
        yield Stage("npt", int(max_ps * spp), temperature_k, pressure_gpa=job.pressure_gpa, sample_every=every,
                    init_velocities_k=temperature_k, seed=job.seed, label="npt"), \
            _phase_rule(int(min_ps * FRAMES_PER_PS), 2 * FRAMES_PER_PS)
    return protocol


# --------------------------------------------------------------------------- signal extraction
def ramp_events(record: dict, heating: bool) -> dict:
    """T+ (heating) or T- (cooling) of the metal sublattice from three signals, plus H onset."""
    x = series_array(record, "ramp", "target_t_k")
    sf = series_array(record, "ramp", "solid_fraction")
    d_metal = series_array(record, "ramp", "d_metal")
    h = series_array(record, "ramp", "h_per_atom")
    hold = 2 * FRAMES_PER_PS
    signals = {
        "crystallinity": persistent_crossing(x, sf, 0.5, above=not heating, hold=hold),
        "metal_diffusion": persistent_crossing(x, d_metal, D_MIN_A2_PER_PS, above=heating, hold=hold),
    }
    t_jump, significance = jump_location(x, h, FRAMES_PER_PS, rising=heating)
    signals["enthalpy_jump"] = t_jump if significance > 4.0 else None
    found = [v for v in signals.values() if v is not None]
    event = float(np.median(found)) if len(found) >= 2 else None
    agree = bool(event and max(found) - min(found) <= SIGNAL_AGREEMENT * event)
    out = {"t_event_k": event, "signals": signals, "enthalpy_jump_significance": significance,
           "signals_agree": agree, "spread_k": (max(found) - min(found)) if found else None}
    if heating and not np.all(np.isnan(series_array(record, "ramp", "d_H"))):
        out["h_onset_k"] = persistent_crossing(x, series_array(record, "ramp", "d_H"), D_MIN_A2_PER_PS,
                                               above=True, hold=hold)
    return out


def _coexistence_summary(record: dict) -> dict:
    sf = series_array(record, "nph", "solid_fraction")
    t = series_array(record, "nph", "t_k")
    if record["status"] != "ok" or len(sf) == 0:
        return {"outcome": "failed", "t_k": None, "sem_k": None}
    final_sf = tail_mean(sf, 0.1)
    tail = t[len(t) // 2:]
    outcome = "melted" if final_sf < 0.05 else "solidified" if final_sf > 0.95 else "two-phase"
    return {"outcome": outcome, "t_k": float(np.nanmean(tail)), "sem_k": block_sem(tail),
            "final_solid_fraction": final_sf, "final_t_k": float(t[-1]),
            "nph_ps": float(len(t) - 1) / 2.0}


# --------------------------------------------------------------------------- public API
def phase_at(structure: Any, temperature_k: float, pressure_gpa: float, calculator: Any = DEFAULT_CALCULATOR, *,
             n_atoms: int = 256, max_ps: float = 10.0, min_ps: float = 2.0, timestep_fs: float | None = None,
             seed: int = 0, store: Any = None, progress: bool = False, n_threads: int = 1) -> PhaseResult:
    """Run NPT at (T, P) from the crystal and classify the metal sublattice.

    Uses crystallinity (solid-bond fraction) *and* metal diffusion; stops early once both
    have agreed on one phase for 2 ps (after ``min_ps``). ``"failed"`` for blown-up runs.
    """
    if not (isinstance(temperature_k, (int, float)) and math.isfinite(temperature_k) and temperature_k > 0):
        raise CandidateError(f"temperature_k must be a positive number, got {temperature_k!r}")
    if not (0.0 < min_ps <= max_ps and math.isfinite(max_ps)):
        raise CandidateError(f"need 0 < min_ps <= max_ps, got min_ps={min_ps!r}, max_ps={max_ps!r}")
    job = _Job(structure, pressure_gpa, calculator, timestep_fs, seed, store, progress, n_threads)
    cell = job.cell(n_atoms)
    rec, cached = job.run("phase", cell, _phase_protocol(job, float(temperature_k), max_ps, min_ps),
                          temperature_k=float(temperature_k), max_ps=max_ps, min_ps=min_ps)
    tail = 2 * FRAMES_PER_PS / max(len(series_array(rec, "npt", "t_k")), 1)
    sf = tail_mean(series_array(rec, "npt", "solid_fraction"), tail)
    dm = tail_mean(series_array(rec, "npt", "d_metal"), tail)
    dh = tail_mean(series_array(rec, "npt", "d_H"), tail) if job.has_h else None
    if rec["status"] != "ok":
        phase = "failed"
    elif sf < 0.3 and dm > D_MIN_A2_PER_PS:
        phase = "liquid"
    elif sf > 0.6 and dm < D_MIN_A2_PER_PS:
        phase = "superionic" if dh is not None and dh > D_MIN_A2_PER_PS else "solid"
    else:
        phase = "mixed"
    n_t = len(series_array(rec, "npt", "t_k"))
    return PhaseResult(phase, float(temperature_k), job.pressure_gpa, sf, dm, dh,
                       tail_mean(series_array(rec, "npt", "v_per_atom"), tail), rec["status"],
                       rec["error"] or "", len(cell), (n_t - 1) / FRAMES_PER_PS, cached, job.info.as_dict())


def melting_temperature(structure: Any, pressure_gpa: float, calculator: Any = DEFAULT_CALCULATOR, *, method: str = "auto",
                        t_range_k: tuple[float, float] | None = None, precision_k: float = 30.0,
                        rate_k_per_ps: float = 25.0, ramp_atoms: int | None = None, timestep_fs: float | None = None,
                        max_nph_ps: float = 40.0, seed: int = 0, store: Any = None, budget_s: float | None = None,
                        plot: str | Path | None = None, progress: bool = True,
                        n_threads: int = 1) -> MeltingEstimate:
    """Melting temperature of the metal sublattice at ``pressure_gpa``.

    Args:
        structure: the crystal (pymatgen Structure, ASE Atoms or a file path); any cell, it is
            converted to the conventional cell and repeated.
        pressure_gpa: target pressure.
        calculator: ``"lammps:<style>:<file>"`` (LAMMPS back end) or any other registry name /
            ASE calculator (ASE back end), see :mod:`screening.calculators`.
        method: ``"coexistence"``, ``"hysteresis"`` or ``"auto"`` (coexistence for LAMMPS,
            hysteresis for ASE calculators).
        t_range_k: (low, high) temperatures of the heating ramp; default (300, 4000). A solid that
            has not melted at ``high`` gives ``status="no-melting"``.
        precision_k: target 1-sigma precision; sets the coexistence cell size (4,000 atoms at 25 K,
            scaling as precision^-2) and the statistical stopping criterion.
        rate_k_per_ps: heating/cooling rate of the hysteresis ramps.
        ramp_atoms: atoms in the ramp cell (default 500 for LAMMPS, 64 for ASE calculators).
        timestep_fs: default 2 fs, or 0.5 fs if the structure contains hydrogen.
        max_nph_ps: longest NPH coexistence run.
        seed: all velocities/thermostat noise derive from it (deterministic).
        store: a ResultStore (default: the project cache), or False for no caching.
        budget_s: if given, measure this calculator's speed first and refuse (status
            ``"over-budget"``) when the planned MD would take longer.
        plot: write the diagnostic figure here (PNG).
        n_threads: OpenMP threads for LAMMPS.

    Returns:
        A :class:`MeltingEstimate`.

    Raises:
        CandidateError: bad structure (empty, overlapping atoms), pressure, ranges or method.
        CalculatorError: unknown calculator, or one that cannot run MD at pressure.
    """
    if method not in METHODS:
        raise CandidateError(f"unknown melting method {method!r}; valid: {', '.join(METHODS)}")
    t_lo, t_hi = check_range("t_range_k", *(t_range_k or (300.0, 4000.0)), minimum=1.0)
    if not (math.isfinite(precision_k) and precision_k > 0):
        raise CandidateError(f"precision_k must be a positive number of kelvin, got {precision_k!r}")
    if not (math.isfinite(rate_k_per_ps) and rate_k_per_ps > 0):
        raise CandidateError(f"rate_k_per_ps must be positive, got {rate_k_per_ps!r}")
    job = _Job(structure, pressure_gpa, calculator, timestep_fs, seed, store, progress, n_threads)
    if method == "auto":
        method = "coexistence" if job.backend == "lammps" else "hysteresis"
    ramp_atoms = ramp_atoms or (500 if job.backend == "lammps" else 64)
    ramp_cell = job.cell(ramp_atoms)
    coex_atoms = int(np.clip(4000 * (25.0 / precision_k) ** 2, 1000, 32000))
    coex_cell = job.cell(coex_atoms, elongate=COEX_ELONGATION) if method == "coexistence" else None
    estimate = MeltingEstimate(job.formula, job.pressure_gpa, method, None, None, None, None, None, None, "failed", "",
                               job.info.as_dict(), diagnostics={
                                   "backend": job.backend, "timestep_fs": job.timestep_fs, "ramp_atoms": len(ramp_cell),
                                   "coexistence_atoms": None if coex_cell is None else len(coex_cell),
                                   "shell_size": job.shell, "rate_k_per_ps": rate_k_per_ps, "t_range_k": [t_lo, t_hi]})
    start = time.perf_counter()
    if budget_s is not None:
        planned = _planned_atom_steps(job, len(ramp_cell), coex_cell, t_lo, t_hi, rate_k_per_ps, max_nph_ps)
        try:
            rate = job.probe_rate(ramp_cell, 200 if job.backend == "lammps" else 3)
        except CandidateError as exc:  # the potential fails on the cell: no estimate, a failed row that says why
            estimate.message = f"speed probe failed: {exc}"
            return _finish(estimate, job, start, plot)
        estimate.diagnostics.update(planned_atom_steps=planned, measured_atom_steps_per_s=rate)
        if planned / rate > budget_s:
            estimate.status = "over-budget"
            estimate.message = (f"planned {planned:.3g} atom-steps at a measured {rate:.3g} atom-steps/s would take "
                                f"{planned / rate / 3600:.2f} h > budget {budget_s:.0f} s; not run")
            return _finish(estimate, job, start, plot)
    _hysteresis(job, estimate, ramp_cell, t_lo, t_hi, rate_k_per_ps, cool=method == "hysteresis")
    if method == "coexistence" and estimate.status in ("ok", "uncertain"):
        _coexistence(job, estimate, coex_cell, precision_k, max_nph_ps)
    return _finish(estimate, job, start, plot)


def _planned_atom_steps(job: _Job, n_ramp: int, coex_cell, t_lo, t_hi, rate, max_nph_ps) -> float:
    ramp_ps = 2 * (2.0 + (t_hi - t_lo) / rate)
    coex_ps = 0.0 if coex_cell is None else 3 * (10.0 + max_nph_ps)
    return (n_ramp * ramp_ps + (0 if coex_cell is None else len(coex_cell) * coex_ps)) * job.steps_per_ps


def _ramp(job: _Job, est: MeltingEstimate, cell, t_from: float, t_to: float, rate: float, heating: bool) -> dict | None:
    """Run one heating or cooling ramp, record it, and return its events (None after marking the estimate failed)."""
    name = "heating" if heating else "cooling"
    rec, _ = job.run("ramp-heat" if heating else "ramp-cool", cell,
                     _ramp_protocol(job, t_from, t_to, rate, 2.0 if heating else 5.0, heating=heating),
                     t_from=t_from, t_to=t_to, rate=rate)
    est.records[name] = rec
    if rec["status"] != "ok":
        events = _melted_before_failure(rec) if heating else None
        if events is None:
            est.status, est.message = "failed", f"{name} ramp failed: {rec['error']}"
            return None
        est.diagnostics[name] = events
        return events
    events = ramp_events(rec, heating=heating)
    est.diagnostics[name] = events
    return events


def _melted_before_failure(rec: dict) -> dict | None:
    """The heating events of a ramp that failed (blow-up, lost atoms) *after* the crystal had melted.

    The heating ramp is only read up to its melting event, and it keeps heating for the stop rule's hold (3 ps, 600 K
    at 200 K/ps) to make sure the end phase is liquid. A potential that fails in that hot liquid has still given T+
    by the same rule as a run that did not fail: at least two of the three signals found the melting in the frames
    before the failure, all of them below the temperature where it failed. Otherwise (or with no ramp frames) None.
    """
    if "ramp" not in rec.get("stages", {}):
        return None
    t = series_array(rec, "ramp", "target_t_k")
    if not len(t):
        return None
    events = ramp_events(rec, heating=True)
    found = [v for v in events["signals"].values() if v is not None]
    if events["t_event_k"] is None or len(found) < 2 or max(found) >= t[-1]:
        return None
    return {**events, "failed_at_k": float(t[-1]), "failure": str(rec.get("error", ""))}


def _hysteresis(job: _Job, est: MeltingEstimate, cell, t_lo: float, t_hi: float, rate: float, cool: bool) -> None:
    up = _ramp(job, est, cell, t_lo, t_hi, rate, heating=True)
    if up is None:
        return
    heat = est.records["heating"]
    est.h_diffusion_onset_k = up.get("h_onset_k")
    t_plus = up["t_event_k"]
    if t_plus is None:
        sf_end = tail_mean(series_array(heat, "ramp", "solid_fraction"), 0.05)
        est.status = "no-melting"
        est.tm_metal_k = None
        est.message = (f"metal sublattice still solid (crystallinity {sf_end:.2f}) at the top of the ramp, "
                       f"{t_hi:.0f} K: T_m > {t_hi:.0f} K is likely; raise t_range_k")
        return
    est.t_plus_k = t_plus
    note = (f"; the heating ramp failed at {up['failed_at_k']:.0f} K in the melt, after T+ "
            f"({up['failure'].splitlines()[0][:120]})" if "failed_at_k" in up else "")
    if job.has_h:
        onset = est.h_diffusion_onset_k
        est.superionic = bool(onset is not None and onset < t_plus - 0.05 * t_plus)
    if not cool:  # coexistence follows and bisects: the typical superheating ratio is guess enough
        est.tm_metal_k, est.tm_metal_err_k = t_plus / SUPERHEATING, 0.1 * t_plus
        est.status = "ok" if up["signals_agree"] and not note else "uncertain"
        est.message = f"T+/{SUPERHEATING} (superheating limit) as coexistence starting guess" + note
        return
    t_hot = max(1.15 * t_plus, t_plus + 150.0)
    down = _ramp(job, est, cell, t_hot, t_lo, rate, heating=False)
    if down is None:
        return
    t_minus = down["t_event_k"]
    spread = max(up["spread_k"] or 0.0, rate / FRAMES_PER_PS)  # at least one frame of the ramp
    if t_minus is None:  # no crystallisation seen: fall back to the typical T+/T_m ratio of fast heating
        est.tm_metal_k, est.tm_metal_err_k = t_plus / SUPERHEATING, 0.1 * t_plus
        est.status = "uncertain"
        est.message = (f"melt did not crystallise on cooling (vitrified or too fast); T_m ~ T+/{SUPERHEATING} "
                       "(typical superheating of a perfect crystal at 10-100 K/ps), 10 % error" + note)
        return
    est.t_minus_k = t_minus
    est.tm_metal_k = luo_strachan_swift(t_plus, t_minus)
    est.tm_metal_err_k = max(luo_strachan_swift_error(t_plus, t_minus, spread, max(down["spread_k"] or 0, spread)),
                             0.05 * est.tm_metal_k)  # the formula itself is good to ~5 % (Luo et al. 2004)
    agree = up["signals_agree"] and down["signals_agree"]
    est.status = "ok" if agree and not note else "uncertain"
    est.message = "Luo-Strachan-Swift hysteresis estimate" + ("" if agree else "; melting signals disagree") + note


def _coexistence(job: _Job, est: MeltingEstimate, cell, precision_k: float, max_nph_ps: float) -> None:
    guess = est.tm_metal_k
    lo, hi = 0.0, math.inf
    attempts, two_phase = [], []
    for k in range(6):
        rec, cached = job.run("coexistence", cell, _coexistence_protocol(job, guess, max_nph_ps, precision_k / 4,
                                                                         job.seed + 10 * k),
                              t_guess=round(guess, 3), max_nph_ps=max_nph_ps, sem_target=precision_k / 4,
                              min_nph_ps=MIN_NPH_PS,
                              attempt_seed=job.seed + 10 * k)
        summary = {"t_guess_k": guess, "cached": cached, **_coexistence_summary(rec)}
        attempts.append(summary)
        est.records[f"coexistence_{k}"] = rec
        if rec["status"] != "ok":
            est.status, est.message = "failed", f"coexistence run failed: {rec['error']}"
            est.tm_metal_k = est.tm_metal_err_k = None
            break
        t = summary["t_k"]
        delta = max(precision_k, 0.03 * t)  # well inside the latent-heat buffer of a half-melted cell
        if summary["outcome"] == "two-phase":
            two_phase.append(summary)
            if len(two_phase) == 2:
                break
            guess = t - delta if guess > t else t + delta  # second run approaches T_m from the other side
        elif summary["outcome"] == "melted":
            hi = min(hi, summary["final_t_k"], guess)
            guess = 0.5 * (lo + hi) if lo > 0 else hi - max(100.0, 0.08 * hi)
        else:
            lo = max(lo, summary["final_t_k"], guess)
            guess = 0.5 * (lo + hi) if math.isfinite(hi) else lo + max(100.0, 0.08 * lo)
    est.diagnostics["coexistence"] = attempts
    if est.status == "failed":
        return
    est.diagnostics["hysteresis_tm_k"] = est.tm_metal_k
    if not two_phase:
        est.status = "uncertain"
        est.message = f"no coexistence run kept both phases; hysteresis value kept; bracket ({lo:.0f}, {hi:.0f}) K"
        return
    temps = np.array([a["t_k"] for a in two_phase])
    sems = np.array([a["sem_k"] for a in two_phase])
    est.tm_metal_k = float(temps.mean())
    spread = float(temps.max() - temps.min()) / 2.0
    est.tm_metal_err_k = float(math.hypot(spread, math.sqrt((sems ** 2).sum()) / len(sems)))
    est.status = "ok" if len(two_phase) == 2 else "uncertain"
    est.message = (f"NPH solid-liquid coexistence, {len(two_phase)} two-phase run(s) of {len(cell)} atoms"
                   + ("" if len(two_phase) == 2 else "; only one run kept both phases"))


def _finish(est: MeltingEstimate, job: _Job, start: float, plot: str | Path | None) -> MeltingEstimate:
    est.diagnostics.update(wall_s=time.perf_counter() - start, compute_s=job.compute_s, runs_cached=job.cached,
                           runs_computed=job.computed,
                           atom_steps=int(sum(r.get("atom_steps", 0) for r in est.records.values())))
    if plot is not None and est.records:
        from screening.md.plotting import plot_melting

        est.plot = str(plot_melting(est, plot))
    return est


def melting_curve(structure: Any, pressures_gpa: Sequence[float], calculator: Any = DEFAULT_CALCULATOR,
                  **kwargs) -> list[MeltingEstimate]:
    """:func:`melting_temperature` at each pressure (ascending, non-empty); keyword arguments pass through."""
    pressures = [_check_pressure(p) for p in (pressures_gpa or [])]
    if not pressures:
        raise CandidateError("pressures_gpa is empty: give at least one pressure in GPa")
    if any(b <= a for a, b in zip(pressures, pressures[1:])):
        raise CandidateError(f"pressures_gpa must be strictly increasing, got {pressures}")
    return [melting_temperature(structure, p, calculator, **kwargs) for p in pressures]


MELTING_COLUMNS = ("tm_metal_k", "tm_metal_err_k", "h_diffusion_onset_k", "superionic", "melting_method",
                   "melting_status", "melting_calculator")


def melting_table(estimates: Sequence[MeltingEstimate], candidate_ids: Sequence[str] | None = None):
    """One row per estimate with the ranking columns (plus formula, pressure_gpa, candidate_id)."""
    import pandas as pd

    rows = []
    for k, e in enumerate(estimates):
        rows.append({"candidate_id": candidate_ids[k] if candidate_ids else f"{e.formula}@{e.pressure_gpa:g}GPa",
                     "formula": e.formula, "pressure_gpa": e.pressure_gpa, "tm_metal_k": e.tm_metal_k,
                     "tm_metal_err_k": e.tm_metal_err_k, "h_diffusion_onset_k": e.h_diffusion_onset_k,
                     "superionic": e.superionic, "melting_method": e.method, "melting_status": e.status,
                     "melting_calculator": f"{e.calculator.get('name')} ({e.calculator.get('version')})"})
    return pd.DataFrame(rows, columns=["candidate_id", "formula", "pressure_gpa", *MELTING_COLUMNS])


def merge_melting_columns(ranking, estimates):
    """Left-join T_m(P) columns onto a ranking DataFrame by ``candidate_id``.

    Args:
        ranking: tier-1 ranking (must have ``candidate_id``).
        estimates: a :func:`melting_table` DataFrame or a list of :class:`MeltingEstimate`.

    Rows without an estimate get NaN; existing melting columns are replaced.
    """
    import pandas as pd

    from screening.tables import merge_columns

    table = estimates if isinstance(estimates, pd.DataFrame) else melting_table(estimates)
    return merge_columns(ranking, table, MELTING_COLUMNS)


# --------------------------------------------------------------------------- CLI
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".POSCAR", ".xyz", ".extxyz", "")


def find_structure(row: dict, directory: str | Path | None):
    """A structure for a ranking row, and where it came from.

    Order: ``<candidate_id>`` / ``<formula>`` / ``POSCAR_<formula>`` (CIF, POSCAR, ...) in ``directory``,
    names made safe by :func:`screening.paths.safe_stem` (``LaH10@150GPa`` -> ``LaH10_at_150GPa.cif``);
    else the enthalpy tier's template library (``screening.structures``: first template with this
    H/M, metal substituted, volume from its pressure-aware guess; *unrelaxed*, the NPT
    equilibration at the start of every run relaxes the cell). Returns ``(structure, source)``
    or ``(None, reason)``.
    """
    if directory is not None:
        names = [(str(row.get("candidate_id", "")), ""), (str(row.get("formula", "")), ""),
                 (str(row.get("formula", "")), "POSCAR_")]
        for name, prefix in names:
            if not name or name == "nan":
                continue
            for suffix in STRUCTURE_SUFFIXES:
                p = file_in(directory, name, prefix=prefix, suffix=suffix)  # never outside ``directory``
                if p.is_file():
                    return p, f"file {p}"
    metals = str(row.get("metals", row.get("metal", "")))
    try:
        from screening.structures import build_structure, templates_for

        if "," in metals or not metals:
            return None, f"no structure file and no single-metal template for metals={metals!r}"
        for template in templates_for(float(row["h_per_metal"])):
            return build_structure(template, metals, float(row["pressure_gpa"])), f"template {template.name} (unrelaxed)"
    except (ImportError, CandidateError, KeyError, ValueError) as exc:
        return None, f"no structure file; template library unavailable ({exc})"
    return None, f"no structure file and no template with H/M = {row.get('h_per_metal')}"


def main(argv: Sequence[str] | None = None) -> int:
    """The old entry point: ``python -m screening.proxies.melting`` is now ``python -m screening melting``."""
    print("error: 'python -m screening.proxies.melting' is now 'python -m screening melting' (same flags; "
          "--no-progress is --quiet, --reports-dir is --reports)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
