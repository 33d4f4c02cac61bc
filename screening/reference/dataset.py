"""The hydride DFT dataset (``make dft-data`` → ``data/dft/*.extxyz``).

Configurations, for every metal of a :class:`DatasetPlan` (s, d and f block), in priority rounds so that an
interrupted campaign still covers every metal evenly:

1. ``h2``: solid H2 from 0 to 300 GPa at the experimental EOS volume (molecules intact; not relaxed, since
   the universal potential dissociates H2 above ~150 GPa); ``template_relaxed``: the tier-2a templates (cells of
   at most ``max_atoms`` atoms) relaxed with stock CHGNet 0.3.0 at each pressure (the project default when the
   dataset was started, pinned so that the committed frames stay reproducible; the same cached relaxations tier 2a
   used then); ``metal_ref``: the fcc and bcc metal relaxed the same way. Relaxed cells are
   labelled as their exact-symmetry primitive cell (:mod:`screening.structures.symmetry`). Above the lowest
   pressure the metal references are ``metal_volume`` cells instead: the ideal lattice at the tier-1 volume,
   because CHGNet collapses elemental metals under pressure;
2. ``eos``: the exact-symmetry primitive cell of each relaxed round-1 cell scaled isotropically to
   ``eos_volume_factors`` of its volume (DFT pressure–volume points; they keep the point group, so they cost no
   more than round 1, and for cells without free coordinates they give the DFT volume at the target pressure,
   :mod:`screening.reference.volumes`);
3. ``rattled``: copies of round 1 with Gaussian displacements (forces far from zero);
4. ``strained``: copies of round 1 under random symmetric strains (stress far from the target pressure).

The rattled and strained copies of solid H2 are labelled right after round 1, before the EOS points: H2 is the
reservoir of every hull and reaction enthalpy, and its 4-atom cells cost a minute or two.

Every configuration is labelled with GPAW at :data:`~screening.reference.dft_settings.DEFAULT_DFT_SETTINGS`
through :func:`~screening.reference.campaign.label_distributed` (Dask; labels cached in the result store, so an
interrupted run resumes). Finished labels are exported as they accumulate to ``data/dft/<metal>.extxyz`` (and
``data/dft/H.extxyz`` for H2), with per-frame provenance: ``label_source``, ``label_provenance`` (code, version,
settings), ``label_seconds`` (wall time), ``source`` (how the structure was made), ``parent``, ``family``,
``metal``, ``pressure_gpa``, ``code_version``. ``data/dft/manifest.json`` records the plan, the settings, the
code version and the counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence


from screening.errors import CandidateError
from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS, DFTSettings
from screening.reference.domain import in_domain

log = logging.getLogger(__name__)

DATASET_VERSION = "hydride-dft-v1"
#: s block, d block, f block (La's 4f shell is empty, Ce and Lu are the f-block members).
DEFAULT_METALS = ("Li", "Na", "Mg", "Ca", "Sr", "Ba", "Sc", "Y", "Zr", "La", "Ce", "Lu")
#: Metals to keep out of the fine-tune's training part (one per block), for the unseen-metal benchmark.
UNSEEN_METALS = ("Sr", "Sc", "Ce")
#: In campaign order: the hydrides that matter most for superhydride synthesis first.
DEFAULT_TEMPLATES = ("fluorite", "thcr2si2", "sodalite", "fcc_clathrate", "bif3", "rocksalt")
#: In campaign order: the superhydride range first, then the seed's, then the top of the grid.
DEFAULT_PRESSURES_GPA = (150.0, 25.0, 300.0)
DEFAULT_H2_PRESSURES_GPA = (0.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0)
FAMILIES = ("template_relaxed", "metal_ref", "metal_volume", "h2", "eos", "rattled", "strained")
#: Round of each family of copies (round 1: the relaxed cells and H2).
COPY_ROUNDS = {"eos": 2, "rattled": 3, "strained": 4}


@dataclass(frozen=True)
class DatasetPlan:
    """What the dataset contains (every field is recorded in ``manifest.json``).

    Args:
        metals: metal symbols.
        templates: tier-2a template names (cells above ``max_atoms`` are skipped).
        pressures_gpa: relaxation pressures of templates and metals.
        h2_pressures_gpa: pressures of the solid-H2 frames.
        metal_lattices: elemental references relaxed at each pressure.
        eos_volume_factors: volumes of the ``eos`` copies relative to the relaxed cell (CHGNet's volume at a
            target pressure is 5–15 % off at 150–300 GPa, so the factors bracket the DFT volume).
        rattle_a: standard deviation of the rattled copies' displacements (Å).
        strain: standard deviation of the strained copies' strain components.
        max_atoms: largest cell labelled.
        n_core_templates: the first templates, labelled at every pressure before the metals and the other
            templates (:func:`campaign_order`).
        seed: seed of every random copy.
    """

    metals: tuple[str, ...] = DEFAULT_METALS
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    pressures_gpa: tuple[float, ...] = DEFAULT_PRESSURES_GPA
    h2_pressures_gpa: tuple[float, ...] = DEFAULT_H2_PRESSURES_GPA
    metal_lattices: tuple[str, ...] = ("fcc", "bcc")
    eos_volume_factors: tuple[float, ...] = (0.92, 1.08)
    rattle_a: float = 0.08
    strain: float = 0.03
    max_atoms: int = 12
    n_core_templates: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        from screening.structures import load_templates

        unknown = [t for t in self.templates if t not in load_templates()]
        if unknown:
            raise CandidateError(f"unknown template(s) {unknown}; valid: {sorted(load_templates())}")
        from pymatgen.core.periodic_table import Element

        for m in self.metals:
            if not Element.is_valid_symbol(m) or m == "H":
                raise CandidateError(f"not a metal symbol: {m!r}")
        for p in (*self.pressures_gpa, *self.h2_pressures_gpa):
            if not (math.isfinite(p) and 0 <= p <= 500):
                raise CandidateError(f"pressure {p!r} GPa is outside 0–500 GPa")
        for f in self.eos_volume_factors:
            if not (math.isfinite(f) and 0.5 <= f <= 1.5) or f == 1.0:
                raise CandidateError(f"eos volume factor {f!r} must be in 0.5–1.5 and not 1")

    def as_dict(self) -> dict:
        return asdict(self)


def code_version() -> str:
    """Package version and git commit of the code that made a frame."""
    import subprocess
    from importlib.metadata import version

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"superhydride-screening {version('superhydride-screening')}" + (f" ({commit})" if commit else "")


# --------------------------------------------------------------------------- configurations
def _relaxed(store, metal: str, phase: str, template: str, factory, pressure: float, calc, info):
    """A relaxation shared with tier 2a (same cache label), as ASE Atoms, or None if it failed."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.proxies.enthalpy import relaxation_label
    from screening.relax import RelaxSettings, cached_relaxation
    from screening.structures.builder import StructureError

    label = relaxation_label(phase, template, metal)
    try:
        res, _ = cached_relaxation(store, label, factory, pressure, calc, info, RelaxSettings())
    except StructureError as exc:
        log.info("skipped %s at %g GPa: %s", phase, pressure, exc)
        return None
    if res.get("status") not in ("ok", "not_converged") or "structure" not in res:
        return None
    return AseAtomsAdaptor.get_atoms(Structure.from_dict(res["structure"]))


def _symmetrized(atoms, source: str):
    """The exact-symmetry primitive cell of a relaxed structure and its source text (see
    :mod:`screening.structures.symmetry`: without it GPAW samples up to 12x the k-points)."""
    from screening.structures.symmetry import SYMPREC_A, standardize_primitive

    out, group = standardize_primitive(atoms)
    return out, f"{source}; symmetrized to {group} (spglib standard primitive cell, symprec {SYMPREC_A:g} A)"


def _base_key(family: str, metal: str, template: str, pressure: float) -> tuple:
    return family, metal, template, round(float(pressure), 6)


def _base_configurations(plan: DatasetPlan, store, calculator, existing: dict | None = None) -> Iterator:
    """Round 1: solid H2, then the metals and each template, each at every pressure and for every metal.

    ``existing`` maps :func:`_base_key` to a round-1 frame already in the dataset (read from ``data/dft``):
    such a frame is used as it is, so a fresh machine extends the committed dataset without redoing the
    relaxations behind it.
    """
    from screening.calculators import get_calculator
    from screening.engine.training_set import tag_configuration
    from screening.structures import build_structure, load_templates, metal_structures
    from screening.structures.templates import primitive_size

    existing = existing or {}
    calc, info = get_calculator(calculator)
    relaxer = info.label
    templates = [load_templates()[t] for t in plan.templates if primitive_size(load_templates()[t]) <= plan.max_atoms]
    yield from _h2_frames(plan, existing)  # first: cheap, and every hull needs it
    for kind, name, p, metal in campaign_order(plan, [t.name for t in templates]):
        if kind == "metal_ref":
            if p > min(plan.pressures_gpa):
                yield _metal_at_tier1_volume(metal, name, p, existing)
                continue
            key = _base_key("metal_ref", metal, name, p)
            if key in existing:
                yield existing[key]
                continue
            atoms = _relaxed(store, metal, f"{metal}/{name}", name,
                             lambda lat=name, p=p, metal=metal: metal_structures(metal, p)[lat], p, calc, info)
            if atoms is not None:
                atoms, source = _symmetrized(atoms, f"{name} {metal} relaxed at {p:g} GPa with {relaxer}")
                yield _frame(tag_configuration(atoms, "metal_ref", p, source, parent=""), metal, 1, template=name)
            continue
        key = _base_key("template_relaxed", metal, name, p)
        if key in existing:
            yield existing[key]
            continue
        t = load_templates()[name]
        phase = f"{metal}H{t.h_per_metal:g}/{t.name}"
        atoms = _relaxed(store, metal, phase, t.name, lambda t=t, p=p, metal=metal: build_structure(t, metal, p), p,
                         calc, info)
        if atoms is not None:
            atoms, source = _symmetrized(atoms, f"template {t.name} ({t.space_group}) {phase.split('/')[0]} relaxed "
                                                f"at {p:g} GPa with {relaxer} (tier-2a cache)")
            yield _frame(tag_configuration(atoms, "template_relaxed", p, source, parent=""), metal, 1,
                         template=t.name)


def _metal_at_tier1_volume(metal: str, lattice: str, pressure: float, existing: dict):
    """The ideal ``lattice`` of ``metal`` at its tier-1 volume for ``pressure``, not relaxed (family ``metal_volume``).

    CHGNet 0.3.0 collapses elemental metals under pressure: 11 of the 12 fcc metals it relaxed at 150 GPa came
    out at GPAW pressures of 400 to 146,000 GPa (fcc Sr at 0.95 Å³/atom). A one-atom fcc or bcc cell has no free
    coordinate, so the reference above the lowest pressure of the plan is the lattice at the tier-1 EOS volume
    (:func:`screening.structures.builder.target_volume_per_metal`), and its EOS copies bracket the DFT volume.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.engine.training_set import tag_configuration
    from screening.structures import metal_structures

    key = _base_key("metal_volume", metal, lattice, pressure)
    if key in existing:
        return existing[key]
    atoms = AseAtomsAdaptor.get_atoms(metal_structures(metal, pressure)[lattice])
    source = (f"{lattice} {metal} at the tier-1 volume for {pressure:g} GPa ({atoms.get_volume() / len(atoms):.2f} "
              f"A^3/atom), not relaxed (CHGNet 0.3.0 collapses metals under pressure)")
    return _frame(tag_configuration(atoms, "metal_volume", pressure, source, parent=""), metal, 1, template=lattice)


def campaign_order(plan: DatasetPlan, templates: Sequence[str]) -> list[tuple[str, str, float, str]]:
    """Round-1 jobs ``(family, structure name, pressure, metal)`` in the order they are labelled.

    Two tiers: first the first ``n_core_templates`` templates, then the metal lattices and the other templates.
    Within a tier, structure by structure, then pressure by pressure in the plan's order, then metal by metal: a
    campaign stopped at any point has every metal, and each structure it reached at every pressure of the plan
    (a fine-tune needs the pressure range before it needs more structures). The metals come in the second tier
    because one-atom metallic cells at the converged k-point density cost 5–30 times a hydride cell (many
    k-points, slow SCF at high pressure).
    """
    structures = [("template_relaxed", t) for t in templates] + [("metal_ref", lat) for lat in plan.metal_lattices]
    core = {("template_relaxed", t) for t in templates[:plan.n_core_templates]}
    jobs = []
    for tier in (True, False):
        for family, name in structures:
            if ((family, name) in core) != tier:
                continue
            for p in plan.pressures_gpa:
                jobs.extend((family, name, p, metal) for metal in plan.metals)
    return jobs


def _h2_frames(plan: DatasetPlan, existing: dict) -> Iterator:
    """Solid H2 at the experimental (Loubeyre 2020) volume of each pressure, molecules intact, not relaxed.

    The universal potential dissociates H2 above ~150 GPa, so its relaxed cells would teach the wrong phase.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.engine.training_set import tag_configuration
    from screening.structures import h2_structure

    for p in plan.h2_pressures_gpa:
        key = _base_key("h2", "H", "mhcp", p)
        if key in existing:
            yield existing[key]
            continue
        atoms = AseAtomsAdaptor.get_atoms(h2_structure(p))
        source = (f"solid H2 (P6_3/mmc, molecules along c, bond 0.74 A) at the Loubeyre et al. (2020) EOS volume "
                  f"for {p:g} GPa, not relaxed")
        yield _frame(tag_configuration(atoms, "h2", p, source, parent=""), "H", 1, template="mhcp")


def _frame(atoms, metal: str, round_: int, template: str = ""):
    if not atoms.info.get("parent"):  # a round-1 frame is its own group (and extxyz cannot hold an empty string)
        atoms.info["parent"] = atoms.info["config_id"]
    atoms.info["metal"] = metal
    atoms.info["round"] = int(round_)
    if template:
        atoms.info["template"] = template
    return atoms


def _eos_copies(base, factors: Sequence[float]) -> list:
    """The exact-symmetry primitive cell of a round-1 frame scaled isotropically to each ``factor`` x its volume."""
    from screening.engine.training_set import tag_configuration
    from screening.structures.symmetry import scaled_primitives

    cells, group = scaled_primitives(base, factors)
    out = []
    for factor, cell in zip(factors, cells):
        source = f"{base.info['source']}; then {group} primitive cell scaled isotropically to {factor:g} x its volume"
        copy = tag_configuration(cell, "eos", base.info["pressure_gpa"], source, parent=base.info["config_id"])
        copy.info["volume_factor"] = float(factor)
        out.append(_frame(copy, base.info["metal"], COPY_ROUNDS["eos"], base.info.get("template", "")))
    return out


def _copies(base, plan: DatasetPlan, family: str):
    """The rattled or strained copy of a round-1 frame (deterministic in its config_id)."""
    from screening.engine.training_set import accepted_copies, random_strain, rattle, seeded_rng, tag_configuration

    rng = seeded_rng(plan.seed, family, base.info["config_id"])
    make = (lambda: rattle(base, plan.rattle_a, rng)) if family == "rattled" else (lambda: random_strain(base, plan.strain, rng))
    got = accepted_copies(1, make)
    if not got:
        return None
    what = f"Gaussian displacements σ = {plan.rattle_a:g} Å" if family == "rattled" else \
        f"random symmetric strain σ = {plan.strain:g}"
    out = tag_configuration(got[0], family, base.info["pressure_gpa"],
                            f"{base.info['source']}; then {what} (seed {plan.seed})", parent=base.info["config_id"])
    return _frame(out, base.info["metal"], COPY_ROUNDS[family], base.info.get("template", ""))


def configurations(plan: DatasetPlan, store=None, calculator: str = "chgnet", existing: Sequence = ()) -> Iterator:
    """Every configuration of the plan, in campaign order: round 1 as it is relaxed, then rounds 2 to 4.

    ``existing``: frames already in the dataset; their round-1 structures are reused instead of relaxed again.
    A round-1 frame of ``existing`` whose DFT pressure is outside the domain (:mod:`screening.reference.domain`)
    gets no copies.
    """
    from screening.store import ResultStore

    store = store or ResultStore()
    known = {_base_key(a.info["family"], a.info["metal"], a.info.get("template", ""), a.info["pressure_gpa"]): _clean(a)
             for a in existing if int(a.info.get("round", 0)) == 1}
    copies = {_copy_key(a): _clean(a) for a in existing if int(a.info.get("round", 0)) > 1}
    # no copies of a cell whose label shows that the relaxation collapsed it (screening.reference.domain)
    collapsed = {a.info["config_id"] for a in existing if int(a.info.get("round", 0)) == 1 and not in_domain(a)}
    base = []
    for atoms in _base_configurations(plan, store, calculator, known):
        if atoms.info["config_id"] not in collapsed:
            base.append(atoms)
        yield atoms

    def rattled_and_strained(frames):
        for family in ("rattled", "strained"):
            for atoms in frames:
                if len(atoms) > 1 or family == "strained":
                    copy = copies.get((family, atoms.info["config_id"], None)) or _copies(atoms, plan, family)
                    if copy is not None:
                        yield copy

    # Solid H2 is the reservoir of every hull and reaction, and its 4-atom cells are cheap: its copies come first.
    h2 = [a for a in base if a.info["family"] == "h2"]
    others = [a for a in base if a.info["family"] != "h2"]
    yield from rattled_and_strained(h2)
    for atoms in others:  # EOS points of every relaxed cell (solid H2 is at its experimental volumes already)
        for made in _eos_copies(atoms, plan.eos_volume_factors):
            yield copies.get(_copy_key(made), made)  # the folder's copy, if it has one
    yield from rattled_and_strained(others)


def _copy_key(frame) -> tuple:
    """``(family, parent, volume factor or None)``: what makes a copy of a round-1 frame unique."""
    factor = frame.info.get("volume_factor")
    return frame.info["family"], frame.info.get("parent"), None if factor is None else round(float(factor), 6)


def _clean(frame):
    """A dataset frame as an unlabelled configuration (structure and the structural ``info`` keys only)."""
    out = frame.copy()
    out.calc = None
    keep = ("family", "pressure_gpa", "source", "parent", "h_per_metal", "config_id", "metal", "round", "template",
            "volume_factor")
    out.info = {k: frame.info[k] for k in keep if k in frame.info}
    return out


def load_dataset(out_dir: str | Path = "data/dft") -> list:
    """Every labelled frame of the dataset folder (``<out_dir>/*.extxyz``), file by file."""
    from screening.engine.labelling import read_extxyz

    frames = []
    for path in sorted(Path(out_dir).glob("*.extxyz")):
        frames.extend(read_extxyz(path))
    return frames


# --------------------------------------------------------------------------- export
def export(frames: Sequence, out_dir: str | Path, plan: DatasetPlan, settings: DFTSettings,
           label_calculator: str = "gpaw") -> dict:
    """Write labelled frames to ``<out_dir>/<metal>.extxyz`` (atomically), the DFT volumes of the EOS points to
    ``volumes.csv`` (:mod:`screening.reference.volumes`) and ``manifest.json``; return counts."""
    from screening.engine.labelling import write_extxyz
    from screening.provenance import atomic_write, sha256_file

    out_dir = Path(out_dir)
    by_metal: dict[str, list] = {}
    for a in frames:
        by_metal.setdefault(a.info["metal"], []).append(a)
    files = {}
    for metal, group in sorted(by_metal.items()):
        path = write_extxyz(sorted(group, key=lambda a: (a.info["round"], a.info["config_id"])), out_dir / f"{metal}.extxyz")
        files[path.name] = sha256_file(path)
    from screening.reference.volumes import dft_volumes

    volumes = dft_volumes(frames)
    if len(volumes):
        atomic_write(out_dir / "volumes.csv", lambda tmp: volumes.to_csv(tmp, index=False, float_format="%.6g"))
        files["volumes.csv"] = sha256_file(out_dir / "volumes.csv")
    counts = summarise(frames)
    manifest = {"dataset": DATASET_VERSION, "code_version": code_version(), "plan": plan.as_dict(),
                "label_calculator": label_calculator,
                "dft_settings": settings.as_dict() if label_calculator == "gpaw" else None, "unseen_metals": list(UNSEEN_METALS), "n_frames": len(frames),
                "counts": counts, "files_sha256": files, "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "regenerate": "make dft-data"}
    atomic_write(out_dir / "manifest.json", lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    return counts


def summarise(frames: Sequence) -> dict:
    """Counts by metal, by family and by pressure."""
    from collections import Counter

    return {"by_metal": dict(sorted(Counter(a.info["metal"] for a in frames).items())),
            "by_family": dict(sorted(Counter(a.info["family"] for a in frames).items())),
            "by_pressure_gpa": {f"{p:g}": n for p, n in sorted(Counter(float(a.info["pressure_gpa"]) for a in frames).items())}}


def run_campaign(plan: DatasetPlan | None = None, settings: DFTSettings = DEFAULT_DFT_SETTINGS, *,
                 out_dir: str | Path = "data/dft", store=None, relax_calculator: str = "chgnet",
                 label_calculator: str = "gpaw", scheduler: str | None = None,
                 n_workers: int | None = None, max_labels: int | None = None, export_every_s: float = 300.0,
                 progress: bool = True) -> dict:
    """Relax, label and export the dataset; resumable (labels and relaxations are in the result store).

    Labels are submitted as soon as their structure exists; a lower round always runs before a higher one.
    The dataset files are rewritten every ``export_every_s`` seconds and at the end, so an interrupted
    campaign leaves every finished label on disk.

    Args:
        relax_calculator: the calculator of the round-1 relaxations (stock CHGNet 0.3.0, pinned: the committed
            frames were made with it).
        label_calculator: the labelling calculator (``"gpaw"`` with ``settings``; any registry name for tests).
    """
    from screening.reference.campaign import label_stream
    from screening.store import ResultStore

    from screening.engine.labelling import seed_labels

    plan = plan or DatasetPlan()
    store = store or ResultStore()
    existing = load_dataset(out_dir) if Path(out_dir).is_dir() else []
    seeded = seed_labels(existing, store)
    if seeded:
        log.info("%d labels of %s put into the result store", seeded, out_dir)
    # frames of the folder stay in it even if the plan no longer names them
    labelled: dict[str, object] = {a.info["config_id"]: a for a in existing}
    last = [time.monotonic()]

    def on_label(atoms) -> None:
        if atoms.info["config_id"] in labelled:  # already in the folder, with the provenance it was made with
            return
        atoms.info["code_version"] = version_text
        labelled[atoms.info["config_id"]] = atoms
        if time.monotonic() - last[0] > export_every_s:
            export(list(labelled.values()), out_dir, plan, settings, label_calculator)
            last[0] = time.monotonic()

    version_text = code_version()
    # Frames of the folder are kept as they were labelled (their provenance says how): not labelled again, even
    # when the settings of their cell have changed since.
    in_folder = set(labelled)
    stream = (a for a in configurations(plan, store, relax_calculator, existing) if a.info["config_id"] not in in_folder)
    if max_labels is not None:
        import itertools

        stream = itertools.islice(stream, int(max_labels))
    calc_settings = settings.calculator_settings if label_calculator == "gpaw" else {}  # per cell (metal k-points)
    try:
        failures = label_stream(stream, label_calculator, calc_settings, store=store, scheduler=scheduler,
                                n_workers=n_workers, progress=progress, on_label=on_label,
                                priority=lambda a: -int(a.info["round"]))
    finally:  # also on Ctrl-C or a failure: every finished label reaches the folder
        counts = export(list(labelled.values()), out_dir, plan, settings, label_calculator)
    return {"counts": counts, "n_labelled": len(labelled), "failures": failures}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m screening.reference.dataset", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="data/dft", help="output folder of the extxyz files and manifest.json")
    ap.add_argument("--metals", default=None, help="comma-separated metals (default: the 12-metal plan)")
    ap.add_argument("--max-labels", type=int, default=None,
                    help="stop after this many configurations not yet in the output folder")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: CPU count)")
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    from screening.calculators import CalculatorError, require_gpaw

    try:
        plan = DatasetPlan(metals=tuple(m.strip() for m in args.metals.split(",") if m.strip())) if args.metals else DatasetPlan()
        require_gpaw(plan.metals)  # without GPAW or a metal's PAW dataset (U): an error before any work
    except (CandidateError, CalculatorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from screening.reference.campaign import campaign_exit_code

    return campaign_exit_code(lambda: run_campaign(plan, out_dir=args.out, scheduler=args.scheduler,
                                                   n_workers=args.workers, max_labels=args.max_labels,
                                                   progress=not args.quiet), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
