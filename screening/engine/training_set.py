"""Training configurations for a machine-learning potential of one metal–hydrogen system.

Recipe (the seed study): a potential that must stay valid along an *unknown* hydrogenation path
MH_n + H2 -> MH_x is trained on structures with **different hydrogen contents** (the metal, the
precursor, the products, H2) over the whole pressure range, and on **hot, unstable
configurations** (strongly distorted, superheated and liquid-like cells, free surfaces and the
precursor / dense-H2 contact), not only on crystals near equilibrium.

:func:`generate_configurations` builds, for every pressure of a :class:`TrainingSetSpec`:

* ``template``: every structure template with a requested H/M (``screening.structures``), scaled
  to the project's volume model at P; ``metal``: fcc/bcc/hcp of the metal; plus solid H2;
* ``strain``: copies under random symmetric strains (volume and shape change);
* ``rattle``: small supercells with Gaussian displacements;
* ``hot_md``: snapshots of short NVT runs with the teacher at 1000–3000 K (above melting, so the
  last segments are liquid-like); ``h2_fluid``: the same for small dense-H2 cells;
* ``slab``: the precursor with a vacuum gap and with a thin dense-H2 layer, static and hot.

Hot MD samples *configurations*, not dynamics: by default every atom gets the same mass
(``md_mass_amu`` = 4 amu). The Boltzmann distribution of positions does not depend on the
masses, so this is exact for the sampled ensemble, and the heavy metal atoms move ~3x faster
per step, which is what makes a few hundred steps enough to disorder the metal sublattice.
Stored configurations carry the real masses.

Every MD run is one :class:`~screening.store.ResultStore` entry (kind ``engine.hot_md``) keyed by
its start structure, settings and the teacher's provenance, so an interrupted generation resumes.
Each returned ``Atoms`` has ``info`` keys ``config_id`` (hash of the content), ``family``,
``pressure_gpa`` (the target), ``h_per_metal``, ``source``, ``parent`` (the structure it came
from; use it for grouped train/test splits), ``temperature_k`` for MD snapshots.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.calculators import DEFAULT_CALCULATOR
from screening.engine.config_ids import config_id, content_hash
from screening.engine.interface import add_h2_fluid, cut_in_widest_gap, orthogonal_inplane
from screening.errors import CandidateError

PROTOCOL_VERSION = "training-set-v1"
FAMILIES = ("template", "metal", "strain", "rattle", "hot_md", "h2_fluid", "slab")
MIN_DISTANCE_A = 0.55  # a generated configuration with a closer pair is rejected (unphysical)
MAX_T_FACTOR = 4.0  # a snapshot hotter than this multiple of its thermostat target is a blow-up, dropped


@dataclass(frozen=True)
class TrainingSetSpec:
    """Settings of one training pool (defaults: a cheap pool for 0–60 GPa).

    Args:
        metal: metal symbol, e.g. ``"Ca"``.
        h_per_metal: hydrogen contents; 0 means the elemental metal. Each value > 0 needs a template.
            The smallest positive value is the precursor (slabs are cut from it).
        pressures_gpa: target pressures (>= 0).
        templates: restrict to these template names (default: every template with a requested H/M
            whose primitive cell has at most ``max_atoms`` atoms).
        n_strain: strained copies per structure and strain magnitude.
        strain_magnitudes: standard deviations of the random symmetric strain components.
        n_rattle: rattled copies per MD cell and amplitude.
        rattle_amplitudes_a: standard deviations of the Gaussian displacements (Å).
        md_temperatures_k: hot-MD segments, run back to back (velocities redrawn at each).
        md_steps: steps per segment; ``snapshot_every``: steps between kept snapshots.
        md_timestep_fs: MD timestep; ``md_mass_amu``: common mass of all atoms in MD (None: real masses).
        md_min_atoms: MD cells are supercells with at least this many atoms.
        max_atoms: no configuration is larger (labels are expensive).
        include_slabs: precursor slab with vacuum and with a dense-H2 layer.
        slab_templates: templates to cut slabs from (default: all of the precursor H/M).
        slab_vacuum_a / h2_layer_a: width of the vacuum gap / H2 layer (Å).
        slab_md_temperatures_k / slab_md_steps: hot MD of the slabs.
        use_interface_builder: also add ``screening.engine.interface.build_interface`` cells when
            that module exists and the cell fits in ``max_atoms``.
        h2_fluid_atoms: atoms in the dense-H2 MD cells (0 switches them off).
        seed: every random choice derives from it.
    """

    metal: str
    h_per_metal: tuple[float, ...] = (0.0, 2.0, 4.0, 6.0)
    pressures_gpa: tuple[float, ...] = (0.0, 20.0, 40.0, 60.0)
    templates: tuple[str, ...] | None = None
    n_strain: int = 2
    strain_magnitudes: tuple[float, ...] = (0.02, 0.05, 0.10)
    n_rattle: int = 2
    rattle_amplitudes_a: tuple[float, ...] = (0.05, 0.15, 0.30)
    md_temperatures_k: tuple[float, ...] = (1000.0, 2000.0, 3000.0)
    md_steps: int = 60
    snapshot_every: int = 10
    md_timestep_fs: float = 1.0
    md_mass_amu: float | None = 4.0
    md_min_atoms: int = 8
    max_atoms: int = 48
    include_slabs: bool = True
    slab_templates: tuple[str, ...] | None = None
    slab_vacuum_a: float = 8.0
    h2_layer_a: float = 4.0
    slab_md_temperatures_k: tuple[float, ...] = (1500.0,)
    slab_md_steps: int = 60
    use_interface_builder: bool = False
    h2_fluid_atoms: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        _validate_spec(self)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- validation
def _validate_spec(spec: TrainingSetSpec) -> None:
    from pymatgen.core.periodic_table import Element

    if not isinstance(spec.metal, str) or not Element.is_valid_symbol(spec.metal) or spec.metal == "H":
        raise CandidateError(f"unknown metal {spec.metal!r}: give an element symbol other than H, e.g. 'Ca'")
    if not Element(spec.metal).is_metal and spec.metal not in ("B", "Si", "Ge", "As", "Sb", "Te"):
        raise CandidateError(f"{spec.metal!r} is not a metal")
    object.__setattr__(spec, "h_per_metal", tuple(float(x) for x in spec.h_per_metal))
    object.__setattr__(spec, "pressures_gpa", tuple(float(x) for x in spec.pressures_gpa))
    if not spec.h_per_metal:
        raise CandidateError("h_per_metal is empty")
    if not spec.pressures_gpa:
        raise CandidateError("pressures_gpa is empty")
    for p in spec.pressures_gpa:
        if not math.isfinite(p) or p < 0:
            raise CandidateError(f"pressure {p!r} GPa is invalid: pressures must be finite and >= 0")
    for x in spec.h_per_metal:
        if not math.isfinite(x) or x < 0:
            raise CandidateError(f"h_per_metal {x!r} is invalid: must be finite and >= 0")
    for name in ("n_strain", "n_rattle", "md_steps", "snapshot_every", "md_min_atoms", "max_atoms", "slab_md_steps",
                 "h2_fluid_atoms"):
        v = getattr(spec, name)
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise CandidateError(f"{name} must be a non-negative integer, got {v!r}")
    if spec.snapshot_every < 1 or spec.max_atoms < 2:
        raise CandidateError(f"snapshot_every must be >= 1 and max_atoms >= 2, got {spec.snapshot_every}, {spec.max_atoms}")
    for name in ("md_temperatures_k", "slab_md_temperatures_k"):
        for t in getattr(spec, name):
            if not (math.isfinite(t) and t > 0):
                raise CandidateError(f"{name} contains {t!r}: temperatures must be > 0 K")
    for name in ("strain_magnitudes", "rattle_amplitudes_a"):
        for s in getattr(spec, name):
            if not (math.isfinite(s) and 0 <= s <= 0.5):
                raise CandidateError(f"{name} contains {s!r}: out of range")
    if not (spec.md_timestep_fs > 0) or (spec.md_mass_amu is not None and not spec.md_mass_amu > 0):
        raise CandidateError(f"md_timestep_fs and md_mass_amu must be > 0, got {spec.md_timestep_fs}, {spec.md_mass_amu}")
    for h in spec.h_per_metal:
        if h > 0 and not _templates(spec, h, check=False):
            from screening.structures import load_templates

            have = sorted({t.h_per_metal for t in load_templates().values()})
            raise CandidateError(f"no structure template with h_per_metal={h:g} (available: {have}; 0 = metal)")


def _templates(spec: TrainingSetSpec, h: float, check: bool = True):
    from screening.structures import templates_for
    from screening.structures.templates import primitive_size

    chosen = templates_for(h, names=spec.templates)
    fits = [t for t in chosen if primitive_size(t) <= spec.max_atoms]
    if check and chosen and not fits:
        raise CandidateError(f"every template with h_per_metal={h:g} has more than max_atoms={spec.max_atoms} atoms")
    return fits


# --------------------------------------------------------------------------- helpers
def seeded_rng(seed: int, *key: Any) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(repr(key).encode())])


def _to_atoms(structure):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = None
    return atoms


def _h_ratio(atoms) -> float:
    sym = atoms.get_chemical_symbols()
    n_h = sum(s == "H" for s in sym)
    n_m = len(sym) - n_h
    return float(n_h / n_m) if n_m else math.inf


def _min_sep(atoms) -> float:
    from screening.md import min_separation

    return min_separation(atoms)[0]


def tag_configuration(atoms, family: str, pressure: float, source: str, parent: str, temperature: float | None = None):
    """Clean copy with the standard info keys (real masses, no calculator, wrapped)."""
    out = atoms.copy()
    out.calc = None
    out.set_masses()  # real masses
    out.set_constraint()
    out.info = {}
    out.wrap()
    out.info.update(family=family, pressure_gpa=float(pressure), source=source, parent=parent)
    h = _h_ratio(out)
    out.info["h_per_metal"] = float(h) if math.isfinite(h) else -1.0  # -1: pure hydrogen
    if temperature is not None:
        out.info["temperature_k"] = float(temperature)
    out.info["config_id"] = config_id(out)
    return out


def md_cell(atoms, min_atoms: int, max_atoms: int):
    """Compact supercell with at least ``min_atoms`` atoms (repeat the shortest axis first), at most ``max_atoms``."""
    rep = [1, 1, 1]
    lengths = atoms.cell.lengths()
    while len(atoms) * np.prod(rep) < min_atoms:
        k = int(np.argmin([lengths[i] * rep[i] for i in range(3)]))
        if len(atoms) * np.prod(rep) * (rep[k] + 1) / rep[k] > max_atoms:
            break
        rep[k] += 1
    return atoms.repeat(rep) if rep != [1, 1, 1] else atoms.copy()


def random_strain(atoms, magnitude: float, rng: np.random.Generator):
    """Copy under a random symmetric strain ``eps`` (components ~ N(0, magnitude)); atoms move with the cell."""
    r = rng.normal(0.0, magnitude, (3, 3))
    eps = 0.5 * (r + r.T)
    out = atoms.copy()
    out.set_cell(np.asarray(atoms.cell) @ (np.eye(3) + eps), scale_atoms=True)
    return out


def rattle(atoms, amplitude_a: float, rng: np.random.Generator):
    """Copy with Gaussian displacements of standard deviation ``amplitude_a`` (Å)."""
    out = atoms.copy()
    out.positions = out.positions + rng.normal(0.0, amplitude_a, out.positions.shape)
    return out


# --------------------------------------------------------------------------- slabs
def accepted_copies(n: int, make) -> list:
    """Up to ``n`` results of ``make()`` with no pair closer than ``MIN_DISTANCE_A`` (20 n tries)."""
    out = []
    for _ in range(20 * max(n, 1)):
        if len(out) >= n:
            break
        candidate = make()
        if _min_sep(candidate) >= MIN_DISTANCE_A:
            out.append(candidate)
    return out


def _extend_c(atoms, gap_a: float):
    """Lengthen the c vector by ``gap_a`` along the surface normal (Cartesian positions kept)."""
    out = atoms.copy()
    cell = np.asarray(out.cell).copy()
    normal = np.cross(cell[0], cell[1])
    normal /= np.linalg.norm(normal)
    if np.dot(normal, cell[2]) < 0:
        normal = -normal
    cell[2] = cell[2] + gap_a * normal
    out.set_cell(cell, scale_atoms=False)
    return out


def _thick_enough(unit, max_atoms: int):
    """``unit`` repeated along c to at least ~5 Å thick, with at most ``max_atoms`` atoms, cut in its widest gap."""
    reps = 1
    while unit.cell.lengths()[2] * reps < 5.0 and len(unit) * (reps + 1) <= max_atoms:
        reps += 1
    slab = unit.repeat((1, 1, reps))
    cut_in_widest_gap(slab)
    return slab


def _h2_layer_cell(spec: TrainingSetSpec, conventional, name: str, pressure_gpa: float):
    """The precursor slab with a dense-H2 layer of ``spec.h2_layer_a`` on top, packed by the interface
    builder's packer (:func:`screening.engine.interface.add_h2_fluid`); None if it cannot fit ``max_atoms``.

    The slab is the conventional cell made orthorhombic in-plane (as in the interface builder); the
    molecule count follows the EOS density, capped so that the cell has at most ``max_atoms`` atoms.
    """
    try:
        unit = orthogonal_inplane(conventional)
    except CandidateError:
        return None
    if len(unit) > spec.max_atoms // 2:
        return None
    slab = _thick_enough(unit, spec.max_atoms // 2)
    slab = slab[np.argsort([s == "H" for s in slab.get_chemical_symbols()], kind="stable")]  # metal first
    seed = int(seeded_rng(spec.seed, "h2layer", name, pressure_gpa).integers(2**31))
    try:
        atoms, _ = add_h2_fluid(slab, spec.h2_layer_a, pressure_gpa, seed=seed,
                                max_molecules=(spec.max_atoms - len(slab)) // 2)
    except CandidateError:  # too thin for one molecule at this pressure, or no packing: skip this cell
        return None
    return atoms


def small_slabs(spec: TrainingSetSpec, pressure_gpa: float) -> list[tuple[str, Any]]:
    """Precursor slabs at P (``(name, Atoms)``): vacuum gap, and a dense-H2 layer (P > 0 only)."""
    from screening.structures import build_structure, templates_for

    pos_h = sorted(h for h in spec.h_per_metal if h > 0)
    if not pos_h:
        return []
    names = spec.slab_templates
    tmpls = templates_for(names=names) if names else templates_for(pos_h[0])
    out = []
    for t in tmpls:
        conventional = _to_atoms(build_structure(t, spec.metal, pressure_gpa, primitive=False))
        unit = conventional
        if len(unit) > spec.max_atoms // 2:
            unit = _to_atoms(build_structure(t, spec.metal, pressure_gpa, primitive=True))
        # at least ~5 Å thick, and at most half of max_atoms
        slab = _thick_enough(unit, spec.max_atoms // 2)
        out.append((f"{t.name}-vacuum", _extend_c(slab, spec.slab_vacuum_a)))
        if pressure_gpa > 0:
            layered = _h2_layer_cell(spec, conventional, t.name, pressure_gpa)
            if layered is not None:
                out.append((f"{t.name}-h2layer", layered))
        if spec.use_interface_builder and pressure_gpa > 0:
            out.extend(_interface_builder_cells(spec, t, pressure_gpa))
    return out


def _interface_builder_cells(spec: TrainingSetSpec, template, pressure_gpa: float) -> list:
    from screening.engine.interface import build_interface

    try:
        atoms, _ = build_interface(spec.metal, template.h_per_metal, pressure_gpa, template=template.name,
                                   repeat=(1, 1, 1), seed=spec.seed)
    except CandidateError:  # e.g. no packing for one cell: skip this optional family member
        return []
    return [(f"{template.name}-interface", atoms)] if len(atoms) <= spec.max_atoms else []


# --------------------------------------------------------------------------- hot MD
def run_hot_md(atoms, temperatures_k: Sequence[float], steps: int, snapshot_every: int, teacher: Any = DEFAULT_CALCULATOR, *,
               timestep_fs: float = 1.0, mass_amu: float | None = 4.0, seed: int = 0, store=None, calc=None,
               info=None, progress: bool = False) -> dict:
    """NVT segments at each temperature (velocities redrawn per segment), cached in the ResultStore.

    Returns:
        ``{"status", "error", "frames": [{"positions", "cell", "target_t_k", "temperature_k", "potential_ev",
        "segment", "step"}], "atom_steps", "wall_s", "teacher"}``; a segment that blows up ends the run
        (status ``"failed"``) but keeps the frames before it. Frames with a pair closer than
        0.55 Å are dropped.

    ``calc``/``info``: the teacher already built by :func:`screening.md.resolve_calculator` (both or neither).
    ``mass_amu``: common mass of every atom during the run (configurational sampling; None: real masses).
    """
    from screening.md import Stage, open_session, resolve_calculator

    if calc is None or info is None:
        calc, info = resolve_calculator(teacher)
    inputs = {"version": PROTOCOL_VERSION, "start": content_hash(atoms), "symbols": atoms.get_chemical_symbols(),
              "temperatures_k": list(temperatures_k), "steps": steps, "snapshot_every": snapshot_every,
              "timestep_fs": timestep_fs, "mass_amu": mass_amu, "seed": seed, "teacher": info.as_dict()}

    def compute() -> dict:
        start = time.perf_counter()
        a = atoms.copy()
        if mass_amu is not None:
            a.set_masses(np.full(len(a), float(mass_amu)))
        frames, error, atom_steps = [], None, 0
        session = open_session(a, teacher, timestep_fs, calc=calc)
        with session:
            for seg, t in enumerate(temperatures_k):
                def on_frame(fr, seg=seg):
                    if fr.step > 0:
                        frames.append({"positions": fr.positions.tolist(), "cell": fr.cell.tolist(),
                                       "target_t_k": fr.target_t_k, "temperature_k": fr.temperature_k,
                                       "potential_ev": fr.potential_ev, "segment": seg, "step": fr.step})
                    return False

                outcome = session.run(Stage("nvt", steps, float(t), sample_every=snapshot_every, init_velocities_k=float(t),
                                            seed=seed + 1000 * seg, label=f"{t:.0f} K"), on_frame, progress=progress)
                atom_steps += outcome.steps_done * len(a)
                if outcome.error:
                    error = outcome.error
                    break
        return {"status": "failed" if error else "ok", "error": error, "frames": frames, "atom_steps": atom_steps,
                "wall_s": time.perf_counter() - start, "teacher": info.label}

    if store is False:
        return compute()
    if store is None:
        from screening.store import ResultStore

        store = ResultStore()
    return store.get_or_compute("engine.hot_md", inputs, compute)[0]


def _md_snapshots(record: dict, start, family: str, pressure: float, parent: str, n_keep: int | None = None) -> list:
    from ase import Atoms

    out = []
    frames = record["frames"]
    if n_keep is not None and len(frames) > n_keep:
        frames = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, n_keep).round()]
    for fr in frames:
        a = Atoms(start.get_chemical_symbols(), positions=fr["positions"], cell=fr["cell"], pbc=True)
        if _min_sep(a) < MIN_DISTANCE_A or fr["temperature_k"] > MAX_T_FACTOR * fr["target_t_k"]:
            continue  # collapsed pair or a blown-up run (runaway temperature)
        tagged = tag_configuration(a, family, pressure, f"NVT {fr['target_t_k']:.0f} K, {record['teacher']}", parent,
                      temperature=fr["target_t_k"])
        tagged.info["md_temperature_k"] = float(fr["temperature_k"])
        out.append(tagged)
    return out


# --------------------------------------------------------------------------- generator
def _systems(spec: TrainingSetSpec, pressure: float) -> list[tuple[str, str, Any]]:
    """``(name, family, Atoms)`` of the static structures at one pressure."""
    from screening.structures import build_structure, h2_structure, metal_structures

    out = []
    for h in spec.h_per_metal:
        if h == 0:
            for phase, s in metal_structures(spec.metal, pressure).items():
                out.append((f"{spec.metal}-{phase}", "metal", _to_atoms(s)))
            continue
        for t in _templates(spec, h):
            try:
                s = build_structure(t, spec.metal, pressure)
            except CandidateError as exc:
                raise CandidateError(f"template {t.name!r} cannot be built for {spec.metal}H{h:g} at {pressure:g} GPa: {exc}") from None
            out.append((f"{spec.metal}H{h:g}-{t.name}", "template", _to_atoms(s)))
    out.append(("H2-hcp", "template", _to_atoms(h2_structure(pressure))))
    return out


def _md_systems(spec: TrainingSetSpec, systems: list) -> list[tuple[str, str, Any]]:
    """MD start cells: every hydride template, one metal phase (fcc), and the dense-H2 cell."""
    out = []
    for name, fam, atoms in systems:
        if fam == "metal" and not name.endswith("-fcc"):
            continue
        if name == "H2-hcp":
            if spec.h2_fluid_atoms:
                out.append((name, "h2_fluid", md_cell(atoms, spec.h2_fluid_atoms, max(spec.max_atoms, spec.h2_fluid_atoms))))
            continue
        out.append((name, "hot_md", md_cell(atoms, spec.md_min_atoms, spec.max_atoms)))
    return out


def generate_configurations(spec: TrainingSetSpec, teacher: Any = DEFAULT_CALCULATOR, *, store=None,
                            progress: bool = True, stats: dict | None = None) -> list:
    """The training pool of ``spec`` (ASE Atoms with ``info`` tags; see the module docstring).

    Args:
        spec: what to generate.
        teacher: calculator for the hot MD (registry name or ASE calculator); CHGNet by default.
        store: ResultStore for the MD runs (default: the project cache; False: no caching).
        progress: tqdm bar over the MD runs.
        stats: if given, filled with MD totals (``md_runs``, ``md_failed``, ``md_atom_steps``, ``md_wall_s`` of
            the runs as first computed, ``md_cached_runs``).

    Returns:
        Configurations in a deterministic order, duplicates (same ``config_id``) removed.

    Raises:
        CandidateError: bad spec values or an unbuildable template (the value is named).
    """
    from tqdm.auto import tqdm

    if not isinstance(spec, TrainingSetSpec):
        raise CandidateError(f"spec must be a TrainingSetSpec, got {type(spec).__name__}")
    configs: list = []
    md_jobs: list[tuple] = []
    for p in spec.pressures_gpa:
        systems = _systems(spec, p)
        for name, fam, atoms in systems:
            parent = f"{name}@{p:g}"
            configs.append(tag_configuration(atoms, fam, p, f"{name} scaled to the volume model at {p:g} GPa", parent))
            for mag in spec.strain_magnitudes:
                rng = seeded_rng(spec.seed, "strain", name, p, mag)
                for s in accepted_copies(spec.n_strain, lambda: random_strain(atoms, mag, rng)):
                    configs.append(tag_configuration(s, "strain", p, f"{name}, random symmetric strain sd {mag:g}", parent))
        for name, fam, cell in _md_systems(spec, systems):
            parent = f"{name}@{p:g}"
            for amp in spec.rattle_amplitudes_a:
                rng = seeded_rng(spec.seed, "rattle", name, p, amp)
                for r in accepted_copies(spec.n_rattle, lambda: rattle(random_strain(cell, 0.02, rng), amp, rng)):
                    configs.append(tag_configuration(r, "rattle", p, f"{name} x{len(cell)} atoms, rattle sd {amp:g} Å", parent))
            if spec.md_steps and spec.md_temperatures_k:
                md_jobs.append((cell, fam, p, parent, tuple(spec.md_temperatures_k), spec.md_steps))
        if spec.include_slabs:
            for name, slab in small_slabs(spec, p):
                parent = f"{spec.metal}-slab-{name}@{p:g}"
                configs.append(tag_configuration(slab, "slab", p, f"{name} slab, static", parent))
                if spec.slab_md_steps and spec.slab_md_temperatures_k:
                    md_jobs.append((slab, "slab", p, parent, tuple(spec.slab_md_temperatures_k), spec.slab_md_steps))
    if md_jobs:
        from screening.md import resolve_calculator

        calc, info = resolve_calculator(teacher)
        for cell, fam, p, parent, temps, steps in tqdm(md_jobs, desc=f"hot MD {spec.metal}-H ({teacher})",
                                                       disable=not progress):
            seed = int(seeded_rng(spec.seed, "md", parent).integers(2**31))
            rec = run_hot_md(cell, temps, steps, spec.snapshot_every, teacher, timestep_fs=spec.md_timestep_fs,
                             mass_amu=spec.md_mass_amu, seed=seed, store=store, calc=calc, info=info)
            configs.extend(_md_snapshots(rec, cell, fam, p, parent))
            if stats is not None:
                stats["md_runs"] = stats.get("md_runs", 0) + 1
                stats["md_failed"] = stats.get("md_failed", 0) + (rec["status"] != "ok")
                stats["md_atom_steps"] = stats.get("md_atom_steps", 0) + rec["atom_steps"]
                stats["md_wall_s"] = stats.get("md_wall_s", 0.0) + rec["wall_s"]
    seen, unique = set(), []
    for a in configs:
        if a.info["config_id"] not in seen and len(a) <= max(spec.max_atoms, spec.h2_fluid_atoms):
            seen.add(a.info["config_id"])
            unique.append(a)
    return unique


def pool_summary(configs: Sequence) -> dict:
    """Counts by family, by H/M and by pressure, and the atom-count range."""
    from collections import Counter

    return {
        "n": len(configs),
        "by_family": dict(sorted(Counter(a.info.get("family") for a in configs).items())),
        "by_h_per_metal": {f"{k:g}": v for k, v in sorted(Counter(round(a.info.get("h_per_metal", -1), 3) for a in configs).items())},
        "by_pressure_gpa": {f"{k:g}": v for k, v in sorted(Counter(a.info.get("pressure_gpa") for a in configs).items())},
        "atoms_min_max": [min(map(len, configs)), max(map(len, configs))] if configs else [0, 0],
    }


# --------------------------------------------------------------------------- driver
def label_training_configurations(configs: Sequence, calculator: Any, *, store=None,
                                  progress: bool = True) -> tuple[list, list[dict]]:
    """Labels of training or held-out configurations: ``(labelled, failures)``.

    ``"gpaw"`` labels are the project's DFT labels: the converged
    :data:`~screening.reference.dft_settings.DEFAULT_DFT_SETTINGS` of each cell, on the Dask runner
    (:func:`~screening.reference.campaign.label_distributed`: both cores here, a cluster with
    ``$SCREENING_DASK_SCHEDULER``), in the same result-store entries as the hydride dataset. Any other calculator
    labels in this process (:func:`~screening.engine.labelling.label_configurations`).
    """
    if isinstance(calculator, str) and calculator == "gpaw":
        from screening.calculators import require_gpaw
        from screening.reference.campaign import label_distributed
        from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS

        # without GPAW or an element's PAW dataset: an error naming it, before a cluster starts
        require_gpaw(sorted({s for a in configs for s in a.get_chemical_symbols()}))
        labelled, failures = label_distributed(configs, "gpaw", [DEFAULT_DFT_SETTINGS.calculator_settings(a)
                                                                  for a in configs], store=store, progress=progress)
        return [a for a in labelled if a is not None], failures
    from screening.engine.labelling import label_configurations

    return label_configurations(configs, calculator, store=store, progress=progress, return_failures=True)


def split_pool(pool: Sequence, *, n_train: int | None, n_holdout: int, holdout_pressure_gpa: float,
               holdout_max_atoms: int, min_per_family: int) -> tuple[list[int], list[int]]:
    """``(train, holdout)`` indices of a training pool (see :func:`build_training_data` for the rules).

    The hold-out set is ``n_holdout`` members at ``holdout_pressure_gpa`` with at most ``holdout_max_atoms`` atoms,
    spread over the families (sorted). The training indices come in selection order: first ``min_per_family`` per
    family (FPS within each), then FPS over the rest, so any prefix of them is itself a diverse set.
    """
    from screening.engine.labelling import select_configurations, select_stratified

    cand = [i for i, a in enumerate(pool) if abs(a.info["pressure_gpa"] - holdout_pressure_gpa) < 1e-6
            and len(a) <= holdout_max_atoms]
    hold_local = select_stratified([pool[i] for i in cand], n_holdout) if cand else []
    hold_idx = sorted(cand[i] for i in hold_local)
    hold_set = set(hold_idx)
    rest = [i for i in range(len(pool)) if i not in hold_set]
    n_sel = len(rest) if n_train is None else min(n_train, len(rest))
    rest_cfg = [pool[i] for i in rest]
    n_families = len({a.info["family"] for a in rest_cfg})
    base = select_stratified(rest_cfg, min(n_sel, min_per_family * n_families))
    fill = select_configurations(rest_cfg, n_sel - len(base), already_selected=base)
    return [rest[i] for i in list(base) + fill], hold_idx


def build_training_data(metal: str, spec: TrainingSetSpec | None = None, teacher: Any = DEFAULT_CALCULATOR,
                        out_dir: str | Path | None = None, *, n_train: int | None = 500, n_holdout: int = 25,
                        holdout_pressure_gpa: float = 40.0, holdout_max_atoms: int = 12, min_per_family: int = 20,
                        label_calculator: Any = None,
                        store=None, progress: bool = True) -> dict:
    """Generate the pool, hold out small configurations at one pressure, FPS-select and label a training set.

    Writes (atomically) into ``out_dir`` (default ``$SCREENING_CACHE_DIR/engine/<metal>-H``):
    ``pool.extxyz`` (unlabelled pool), ``holdout_<P>gpa.extxyz`` (unlabelled),
    ``holdout_<P>gpa_<calc>.extxyz`` and ``train_<calc>.extxyz`` (labelled), and ``summary.json``.
    Every step is cached (MD runs and labels in the ResultStore), so a rerun resumes.

    Args:
        metal: must equal ``spec.metal`` when a spec is given.
        n_train: configurations to label from the pool minus the hold-out; None: all of them. The first
            ``min_per_family`` x (number of families) are spread evenly over the families (FPS within
            each, so that e.g. the dense-H2 fluid is not crowded out), the rest by FPS over everything.
        n_holdout: hold-out size, spread evenly over the families (FPS within each) among pool members at
            ``holdout_pressure_gpa`` with at most ``holdout_max_atoms`` atoms. They are removed from the
            training candidates, but their MD neighbours are not (group by ``info["parent"]`` for that).
        label_calculator: calculator for the labels (default: the teacher).

    Returns:
        The summary dict (counts, timings, files, label failures).
    """
    from screening.engine.labelling import write_extxyz
    from screening.provenance import cache_dir

    spec = spec or TrainingSetSpec(metal=metal)
    if spec.metal != metal:
        raise CandidateError(f"metal {metal!r} does not match spec.metal {spec.metal!r}")
    out = Path(out_dir) if out_dir is not None else cache_dir() / "engine" / f"{metal}-H"
    out.mkdir(parents=True, exist_ok=True)
    label_calc = label_calculator or teacher
    calc_tag = label_calc if isinstance(label_calc, str) else type(label_calc).__name__.lower()
    calc_tag = calc_tag.replace(":", "_").replace("/", "_")
    t0 = time.perf_counter()
    md_stats: dict = {}
    pool = generate_configurations(spec, teacher, store=store, progress=progress, stats=md_stats)
    t_gen = time.perf_counter() - t0
    if md_stats.get("md_wall_s"):
        md_stats["md_atom_steps_per_s"] = md_stats["md_atom_steps"] / md_stats["md_wall_s"]
    write_extxyz(pool, out / "pool.extxyz")

    train_idx, hold_idx = split_pool(pool, n_train=n_train, n_holdout=n_holdout,
                                     holdout_pressure_gpa=holdout_pressure_gpa, holdout_max_atoms=holdout_max_atoms,
                                     min_per_family=min_per_family)

    t1 = time.perf_counter()
    holdout = [pool[i] for i in hold_idx]
    ptag = f"{holdout_pressure_gpa:g}gpa"
    write_extxyz(holdout, out / f"holdout_{ptag}.extxyz")
    hold_lab, hold_fail = label_training_configurations(holdout, label_calc, store=store, progress=progress)
    write_extxyz(hold_lab, out / f"holdout_{ptag}_{calc_tag}.extxyz")
    train_lab, train_fail = label_training_configurations([pool[i] for i in train_idx], label_calc, store=store,
                                                          progress=progress)
    write_extxyz(train_lab, out / f"train_{calc_tag}.extxyz")
    t_lab = time.perf_counter() - t1

    summary = {
        "metal": metal, "teacher": str(teacher), "label_calculator": str(label_calc), "spec": spec.as_dict(),
        "pool": pool_summary(pool), "train": pool_summary(train_lab), "holdout": pool_summary(hold_lab),
        "label_source": train_lab[0].info["label_source"] if train_lab else None,
        "failures": train_fail + hold_fail, "generation_s": t_gen, "labelling_s": t_lab, "md": md_stats,
        "files": {k: str(out / v) for k, v in {"pool": "pool.extxyz", "train": f"train_{calc_tag}.extxyz",
                                                 "holdout": f"holdout_{ptag}.extxyz",
                                                 "holdout_labelled": f"holdout_{ptag}_{calc_tag}.extxyz"}.items()},
    }
    from screening.provenance import atomic_write

    atomic_write(out / "summary.json", lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1, default=str)))
    return summary


__all__ = ["FAMILIES", "TrainingSetSpec", "build_training_data", "config_id", "content_hash", "generate_configurations",
           "label_training_configurations", "md_cell", "pool_summary", "random_strain", "rattle", "run_hot_md", "small_slabs",
           "split_pool"]
