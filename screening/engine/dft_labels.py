"""The engine's DFT training labels for one M–H system, committed under ``data/engine/<M>-H/`` (``make engine-labels``).

The engine's potential is only as good as its teacher. Instead of CHGNet labels, this labels the engine's own
training pool (:func:`screening.engine.training_set.generate_configurations`: strained and rattled crystals at several
H contents, hot MD up to liquid-like cells, slabs, precursor/H2 cells and dense H2 fluid over 0–60 GPa) with GPAW,
in cells small enough (``max_atoms``) that one label takes minutes, and commits the labels:

* **Selection** (:func:`screening.engine.training_set.split_pool`): a hold-out set at the engine's pressure (40 GPa),
  spread over the families, labelled first; then the training set, spread evenly over the families (farthest-point
  sampling within each) and labelled round-robin over them (:func:`interleave_by_family`), so that whatever has been
  labelled when a session stops is already a diverse set.
* **Labels** on the campaign's Dask runner (:func:`screening.reference.campaign.label_stream`: both cores here, a
  cluster by address), each one stored in the result store as soon as it exists, with the DFT settings of
  :data:`ENGINE_DFT_SETTINGS` (the dataset's cutoff and smearing; the k-point density of the engine's label
  convergence test, :mod:`screening.reference.label_convergence`).
* **Export** every few minutes and at the end, also on Ctrl-C or SIGTERM: ``train_gpaw.extxyz``,
  ``holdout_<P>gpa_gpaw.extxyz`` and ``manifest.json`` (plan, DFT settings, teacher and its checkpoint, code version,
  counts, file hashes). Each frame carries its label provenance, so a fresh machine puts the committed labels back
  into its store (:func:`screening.engine.labelling.seed_labels`) and never computes them again.

:func:`committed_labels` reads the folder back; the engine fits its potential from it when asked for GPAW labels
(:func:`screening.engine.run.system_potential`), in minutes and without relabelling.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from screening.engine.folders import DEFAULT_OUT_DIR, folder
from screening.errors import CandidateError
from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS, DFTSettings

log = logging.getLogger(__name__)

#: k-point density of the engine's labels (Å⁻¹), chosen by the label convergence test of Ca–H hot, slab and
#: H2-fluid cells at 40 GPa (``make label-convergence``, ``data/dft/label_convergence_CaH_40GPa.csv``): against
#: k = 3, k = 2 gives 1.3 meV/atom in relative energies, 0.016 eV/Å in forces and 0.06 GPa; k = 1.5 gives 5.0
#: meV/atom (tolerances 3 meV/atom, 0.05 eV/Å, 1 GPa).
ENGINE_KPT_DENSITY = 2.0
ENGINE_DFT_SETTINGS = DEFAULT_DFT_SETTINGS.with_(kpt_density=ENGINE_KPT_DENSITY)
SETS = ("holdout", "train")
#: files made from the labels by ``make engine-fit`` (:mod:`~screening.engine.pod_selection`,
#: :mod:`~screening.engine.fit_report`, :mod:`~screening.engine.learning_curve`); an export that changes the labels
#: removes them, since they describe others
DERIVED_FILES = ("pod_settings.json", "pod_selection.csv", "fit_errors.csv", "learning_curve.csv")


@dataclass(frozen=True)
class LabelPlan:
    """What to label for one M–H system (every field is recorded in the manifest).

    Args:
        metal: the metal, e.g. ``"Ca"``.
        h_per_metal, pressures_gpa: the pool's H contents (0: the metal) and pressures (the potential's range).
        max_atoms: no cell is larger (a label stays within minutes).
        n_train, n_holdout: sizes of the training and hold-out sets; ``holdout_pressure_gpa``: the hold-out's pressure.
        min_per_family: training members per family chosen before farthest-point sampling over all of them (the
            default, 30 for the 7 families of a Ca–H pool, spreads all 200 evenly: plain FPS over the pool took
            half of them from the strained crystals and a third from the pure metal).
        teacher: calculator of the hot MD that makes the pool (not of the labels), and of the relaxations of the
            reaction phases.
        seed: every random choice of the pool.
        phase_pressures_gpa: pressures of the relaxed reaction phases added to the training set
            (:mod:`screening.engine.reaction_phases`: the metal, H2 and the best template of each H/M of the plan,
            as tier 2a relaxes them with ``teacher``, each with EOS copies at ``phase_volume_factors`` of its
            volume); empty: none. The pool has no relaxed cell, and the enthalpies of exactly these cells decide
            ΔH_r.
    """

    metal: str = "Ca"
    h_per_metal: tuple[float, ...] = (0.0, 2.0, 4.0, 6.0)
    pressures_gpa: tuple[float, ...] = (0.0, 20.0, 40.0, 60.0)
    max_atoms: int = 12
    n_train: int = 200
    n_holdout: int = 25
    holdout_pressure_gpa: float = 40.0
    min_per_family: int = 30
    teacher: str = "chgnet-hydride"
    seed: int = 0
    phase_pressures_gpa: tuple[float, ...] = (20.0, 40.0, 60.0)
    phase_volume_factors: tuple[float, ...] = (0.94, 1.06)

    def __post_init__(self) -> None:
        if self.n_train < 1 or self.n_holdout < 0:
            raise CandidateError(f"n_train must be >= 1 and n_holdout >= 0, got {self.n_train}, {self.n_holdout}")
        if self.holdout_pressure_gpa not in self.pressures_gpa:
            raise CandidateError(f"hold-out pressure {self.holdout_pressure_gpa:g} GPa is not one of the pool's "
                                 f"pressures {list(self.pressures_gpa)}")
        if len(set(self.phase_pressures_gpa)) == 1:
            raise CandidateError(f"the reaction phases need no pressure or at least two (tier 2a's H(P)), got "
                                 f"{list(self.phase_pressures_gpa)}")

    def spec(self):
        """The :class:`~screening.engine.training_set.TrainingSetSpec` of the pool (cells of at most ``max_atoms``)."""
        from screening.engine.training_set import TrainingSetSpec

        return TrainingSetSpec(metal=self.metal, h_per_metal=tuple(self.h_per_metal),
                               pressures_gpa=tuple(self.pressures_gpa), max_atoms=int(self.max_atoms),
                               md_min_atoms=min(8, int(self.max_atoms)), h2_fluid_atoms=min(12, int(self.max_atoms)),
                               seed=self.seed)

    def as_dict(self) -> dict:
        return asdict(self)


def file_names(plan: LabelPlan) -> dict[str, str]:
    """The extxyz file of each set."""
    return {"train": "train_gpaw.extxyz", "holdout": f"holdout_{plan.holdout_pressure_gpa:g}gpa_gpaw.extxyz"}


def interleave_by_family(pool: Sequence, indices: Sequence[int]) -> list[int]:
    """``indices`` reordered so that every prefix is diverse: round-robin over the families, each family's members
    in farthest-point order (:func:`~screening.engine.labelling.select_configurations`)."""
    from screening.engine.labelling import select_configurations

    groups: dict[str, list[int]] = {}
    for i in indices:
        groups.setdefault(str(pool[i].info.get("family")), []).append(i)
    ordered = []
    for members in groups.values():
        order = select_configurations([pool[i] for i in members], len(members))
        ordered.append([members[k] for k in order])
    out = []
    for rank in range(max((len(o) for o in ordered), default=0)):
        out.extend(o[rank] for o in ordered if rank < len(o))
    return out


#: labels estimated above this many electron · k-point · Å³ (:func:`~screening.reference.label_cost.label_cost`;
#: about 10 min of a core at the measured median of 2.9 ms each) wait until every cheaper label of both sets is done
COSTLY_LABEL = 2.0e5


def expensive_last(pool: Sequence, indices: Iterable[int], settings: DFTSettings | None = None,
                   max_cost: float = COSTLY_LABEL) -> list[int]:
    """``indices`` with the cells whose label would cost more than ``max_cost`` (electron · k-point · Å³) moved to
    the end, cheapest first; the others keep their order.

    Cells without hydrogen get the metals' k-point density (6 Å⁻¹ against 2 for the hydrides: a metal needs it,
    ``data/dft/convergence.csv``), and a strained, hot or rattled metal cell has little symmetry to reduce it: a
    strained Ca2 cell took 56 min of a core, a 0-GPa Ca2 cell 29 min, two hot Ca8 cells were still running after
    60 min, against about 1.5 min for a typical hydride cell. Labelled last, they no longer hold up the rest of a
    session's labels.
    ``settings``: the labels' DFT settings (default :data:`ENGINE_DFT_SETTINGS`).
    """
    from screening.reference.label_cost import label_cost

    settings = settings or ENGINE_DFT_SETTINGS
    cheap, costly = [], []
    for i in indices:
        cost = label_cost(pool[i], settings)
        (costly if cost > max_cost else cheap).append((cost, i))
    return [i for _, i in cheap] + [i for _, i in sorted(costly, key=lambda c: c[0])]


def phase_cells(plan: LabelPlan, *, store=None, progress: bool = True) -> list:
    """The plan's relaxed reaction phases and their EOS copies (:func:`~screening.engine.reaction_phases.
    reaction_phase_cells`), tagged as training cells ranked after the pool's ``n_train``."""
    from screening.engine.reaction_phases import reaction_phase_cells

    if not plan.phase_pressures_gpa:
        return []
    cells = reaction_phase_cells(plan.metal, plan.phase_pressures_gpa, plan.teacher,
                                 [x for x in plan.h_per_metal if x > 0], volume_factors=plan.phase_volume_factors,
                                 max_atoms=plan.max_atoms, with_metal=0.0 in plan.h_per_metal, store=store,
                                 progress=progress)
    for rank, a in enumerate(cells):
        a.info.update(engine_set="train", selection_rank=plan.n_train + rank)
    return cells


def selection(plan: LabelPlan, *, spec=None, store=None, progress: bool = True) -> list:
    """The configurations to label, in labelling order: the hold-out set, the relaxed reaction phases
    (:func:`phase_cells`: few, small, and the cells whose enthalpies decide ΔH_r), then the pool's training set
    in selection order (round-robin over the families, :func:`interleave_by_family`), and at the very end the
    costly cells of all of them, cheapest first (:func:`expensive_last`); each tagged with ``info["engine_set"]``
    and ``info["selection_rank"]`` (the phases rank after the pool's training cells, so the order of the training
    file, which the learning curve follows, is unchanged). ``spec``: the pool's
    :class:`~screening.engine.training_set.TrainingSetSpec` (default :meth:`LabelPlan.spec`)."""
    from screening.engine.training_set import generate_configurations, split_pool

    pool = generate_configurations(spec or plan.spec(), plan.teacher, store=store, progress=progress)
    pool = [a for a in pool if len(a) <= plan.max_atoms]
    train_idx, hold_idx = split_pool(pool, n_train=plan.n_train, n_holdout=plan.n_holdout,
                                     holdout_pressure_gpa=plan.holdout_pressure_gpa,
                                     holdout_max_atoms=plan.max_atoms, min_per_family=plan.min_per_family)
    out = []
    for name, indices in (("holdout", hold_idx), ("train", interleave_by_family(pool, train_idx))):
        for rank, i in enumerate(indices):
            a = pool[i].copy()
            a.info = {**pool[i].info, "engine_set": name, "selection_rank": rank}
            out.append(a)
    n_holdout = len(hold_idx)
    out = out[:n_holdout] + phase_cells(plan, store=store, progress=progress) + out[n_holdout:]
    return [out[k] for k in expensive_last(out, range(len(out)))]


def committed_systems(out_dir: str | Path | None = None) -> list[str]:
    """The metals that have a committed label folder (``<out_dir>/<M>-H/manifest.json``), sorted."""
    root = Path(DEFAULT_OUT_DIR if out_dir is None else out_dir)
    return sorted(p.parent.name[:-2] for p in root.glob("*-H/manifest.json"))


def committed_labels(metal: str, out_dir: str | Path | None = None) -> dict | None:
    """``{"train": [...], "holdout": [...], "manifest": {...}}`` of a committed folder (default
    :data:`DEFAULT_OUT_DIR`), or None if there is none."""
    from screening.engine.labelling import read_extxyz

    path = folder(metal, DEFAULT_OUT_DIR if out_dir is None else out_dir) / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise CandidateError(f"{path}: not readable JSON ({exc})")
    out = {"manifest": manifest}
    for name, fname in manifest.get("files", {}).items():
        out[name] = read_extxyz(path.parent / fname)
    for name in SETS:
        out.setdefault(name, [])
    return out


def training_labels(metal: str, out_dir: str | Path | None = None,
                    committed: dict | None = None) -> tuple[Path, dict]:
    """``(folder, committed labels)`` of ``metal`` (``committed``: already read by the caller).

    Raises:
        CandidateError: the folder holds no training labels (the message names ``make engine-labels``).
    """
    root = DEFAULT_OUT_DIR if out_dir is None else out_dir
    directory = folder(metal, root)
    committed = committed if committed is not None else committed_labels(metal, root)
    if not committed or not committed["train"]:
        raise CandidateError(f"{directory}: no committed training labels (run make engine-labels METAL={metal})")
    return directory, committed


def label_file_hashes(directory: str | Path, committed: dict) -> dict[str, str]:
    """SHA-256 of each label file of a committed folder, by set: the record of which labels a result came from."""
    from screening.provenance import sha256_file

    files = committed["manifest"].get("files", {})
    return {name: sha256_file(Path(directory) / f) for name, f in sorted(files.items())}


def export(frames: Sequence, plan: LabelPlan, settings: DFTSettings, out_dir: str | Path = DEFAULT_OUT_DIR, *,
           spec=None, failures: Sequence[dict] = (), label_calculator: str = "gpaw") -> dict:
    """Write the labelled frames of each set (selection order) and ``manifest.json``, atomically; return counts.

    A configuration labelled twice (the same cell under two ids, :func:`~screening.engine.config_ids.
    same_configuration`) is written once, the first of ``frames`` kept."""
    from screening.calculators import checkpoint_identity
    from screening.engine.config_ids import unique_configurations
    from screening.engine.labelling import write_extxyz
    from screening.provenance import atomic_write, sha256_file
    from screening.reference.dataset import code_version

    target = folder(plan.metal, out_dir)
    target.mkdir(parents=True, exist_ok=True)
    names = file_names(plan)
    before = {n: sha256_file(target / f) for n, f in names.items() if (target / f).is_file()}
    files, counts = {}, {}
    frames = unique_configurations(frames)
    for name in SETS:
        group = sorted((a for a in frames if a.info.get("engine_set") == name),
                       key=lambda a: (int(a.info.get("selection_rank", 10**9)), str(a.info["config_id"])))
        path = write_extxyz(group, target / names[name])
        files[name] = names[name]
        counts[name] = {"n": len(group), "by_family": dict(sorted(Counter(a.info["family"] for a in group).items())),
                        "by_pressure_gpa": {f"{p:g}": n for p, n in sorted(Counter(float(a.info["pressure_gpa"])
                                                                                     for a in group).items())},
                        "by_n_atoms": {str(k): v for k, v in sorted(Counter(len(a) for a in group).items())},
                        "sha256": sha256_file(path)}
    manifest = {"kind": "engine DFT training labels", "metal": plan.metal, "plan": plan.as_dict(),
                "pool_spec": (spec or plan.spec()).as_dict(),
                "label_calculator": label_calculator,
                "dft_settings": settings.as_dict() if label_calculator == "gpaw" else None,
                "teacher_checkpoint_sha256": checkpoint_identity(plan.teacher), "code_version": code_version(),
                "files": files, "counts": counts, "failures": list(failures),
                "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "regenerate": f"make engine-labels METAL={plan.metal}"}
    atomic_write(target / "manifest.json", lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    if before != {n: c["sha256"] for n, c in counts.items() if (target / names[n]).is_file()}:
        for stale in DERIVED_FILES:
            if (target / stale).is_file():
                (target / stale).unlink()
                log.info("removed %s: it was made from other labels (make engine-fit METAL=%s)", stale, plan.metal)
    return counts


def run_labels(plan: LabelPlan, settings: DFTSettings = ENGINE_DFT_SETTINGS, *, out_dir: str | Path = DEFAULT_OUT_DIR,
               label_calculator: str = "gpaw", spec=None, store=None, scheduler: str | None = None,
               n_workers: int | None = None, max_labels: int | None = None, export_every_s: float = 300.0,
               progress: bool = True) -> dict:
    """Label the plan's selection (resumable), exporting as labels arrive; return counts and failures.

    Frames already in the folder are put into the store and not labelled again, also where the regenerated pool
    gave their cell another id (another machine's MD: :func:`~screening.engine.config_ids.match_configurations`),
    and stay in the folder even if the selection no longer names them (e.g. after the teacher changed). For a folder
    other than :data:`DEFAULT_OUT_DIR`, the labels committed there with the same calculator and settings count as
    done too, and join the folder. ``label_calculator`` other than
    ``"gpaw"`` (with no settings) and ``spec`` (the pool's, default :meth:`LabelPlan.spec`) are for tests.
    """
    from screening.engine.labelling import seed_labels
    from screening.reference.campaign import label_into_folder
    from screening.reference.dataset import code_version
    from screening.store import ResultStore

    store = store or ResultStore()
    old = committed_labels(plan.metal, out_dir)
    wanted = settings.as_dict() if label_calculator == "gpaw" else None

    def same_kind(labels: dict) -> bool:  # one folder holds one calculator's labels at one set of settings
        return (labels["manifest"].get("label_calculator"), labels["manifest"].get("dft_settings")) == (
            label_calculator, wanted)

    if old and not same_kind(old):
        raise CandidateError(f"{folder(plan.metal, out_dir)} holds labels by {old['manifest'].get('label_calculator')} "
                             f"with settings {old['manifest'].get('dft_settings')}, not {label_calculator} with "
                             f"{wanted}; one folder holds one kind of label: choose another --out")
    existing = (old["holdout"] + old["train"]) if old else []  # a cell in both sets stays a hold-out cell
    if Path(out_dir).resolve() != Path(DEFAULT_OUT_DIR).resolve():
        # labels committed in the project's folder with the same settings are never recomputed for another folder:
        # they join it (e.g. a larger training set built beside the engine's files, which stay as they are)
        base = committed_labels(plan.metal)
        if base and same_kind(base):
            existing = existing + base["holdout"] + base["train"]
    if existing:
        log.info("%d committed labels of %s put into the result store", seed_labels(existing, store), plan.metal)
    # a committed label covers its cell even when the regenerated pool gave the cell another id (label_into_folder)
    return label_into_folder(
        selection(plan, spec=spec, store=store, progress=progress), existing,
        lambda frames, failures: export(frames, plan, settings, out_dir, spec=spec, failures=failures,
                                        label_calculator=label_calculator),
        label_calculator, settings.calculator_settings if label_calculator == "gpaw" else {}, version=code_version(),
        store=store, scheduler=scheduler, n_workers=n_workers, max_labels=max_labels, export_every_s=export_every_s,
        progress=progress)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise CandidateError(f"expected comma-separated numbers, got {text!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.engine.dft_labels --metal Ca [--n-train 200] ...`` (``make engine-labels``)."""
    d = LabelPlan()
    ap = argparse.ArgumentParser(prog="python -m screening.engine.dft_labels", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default=d.metal)
    ap.add_argument("--h-per-metal", default=",".join(f"{h:g}" for h in d.h_per_metal))
    ap.add_argument("--pressures", default=",".join(f"{p:g}" for p in d.pressures_gpa), help="GPa, comma-separated")
    ap.add_argument("--max-atoms", type=int, default=d.max_atoms)
    ap.add_argument("--n-train", type=int, default=d.n_train)
    ap.add_argument("--n-holdout", type=int, default=d.n_holdout)
    ap.add_argument("--teacher", default=d.teacher, help="calculator of the hot MD that makes the pool")
    ap.add_argument("--phase-pressures", default=",".join(f"{p:g}" for p in d.phase_pressures_gpa),
                    help="GPa, comma-separated: relaxed reaction phases with EOS copies ('' for none)")
    ap.add_argument("--out", default=str(DEFAULT_OUT_DIR))
    ap.add_argument("--max-labels", type=int, default=None, help="stop after this many new labels")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: CPU count)")
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    from screening.calculators import CalculatorError, require_gpaw

    try:
        plan = LabelPlan(metal=args.metal, h_per_metal=_floats(args.h_per_metal), pressures_gpa=_floats(args.pressures),
                         max_atoms=args.max_atoms, n_train=args.n_train, n_holdout=args.n_holdout,
                         teacher=args.teacher, phase_pressures_gpa=_floats(args.phase_pressures))
        plan.spec()  # bad metal or H/M: an error before any work
        require_gpaw((plan.metal, "H"))  # without GPAW or the metal's PAW dataset: an error before any work
    except (CandidateError, CalculatorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from screening.reference.campaign import campaign_exit_code

    return campaign_exit_code(lambda: run_labels(plan, out_dir=args.out, scheduler=args.scheduler,
                                                 n_workers=args.workers, max_labels=args.max_labels,
                                                 progress=not args.quiet), str(folder(plan.metal, args.out)))


if __name__ == "__main__":
    raise SystemExit(main())
