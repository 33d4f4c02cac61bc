"""The distilled route of the engine: the system's own teacher labels the whole labelling pool, committed as data.

GPAW labels of one M–H system are few (tens per hour on two cores) and a POD fit to a few dozen of them interpolates
badly. The distilled route spends them differently: they fine-tune a CHGNet teacher for the system
(:mod:`screening.engine.teacher`, ``make engine-teacher``), and the teacher labels every cell of the engine's
labelling pool (:func:`screening.engine.fit_capacity.teacher_pool`, the pool of
:func:`screening.engine.dft_labels.selection`: strained, rattled, hot-MD, slab and H2-fluid cells over 0–60 GPa) in
minutes. The POD fit then learns from hundreds of cells instead of dozens:

* the training cells: the pool without the committed GPAW hold-out cells, inside the fitting domain
  (:data:`DISTILL_DOMAIN`: pressure at least 20 GPa, the engine's interface pressure ± 20 GPa); a cell that has a
  committed GPAW label keeps that label, every other cell gets the teacher's (``info["label_source"]`` says which);
* the POD basis and energy weight: grouped cross-validation on those cells (:func:`~screening.engine.pod_selection.
  cross_validate` over :data:`DISTILL_CANDIDATES`), never on the hold-out set;
* the reported accuracy: the fit against the committed **GPAW** hold-out labels, which neither the teacher nor the
  fit saw.

``python -m screening.engine.distilled --metal Ca`` (``make engine-distill METAL=Ca``, after ``make engine-teacher``)
writes, next to the DFT labels in ``data/engine/<M>-H/``: ``distilled_train.extxyz`` (every frame with its label
provenance), ``distilled_manifest.json`` (teacher, its checkpoint hash and hold-out errors, domain, counts, the DFT
label files it was made with, code version), ``distilled_pod_selection.csv``, ``distilled_pod_settings.json`` and
``distilled_fit_errors.csv``. ``make engine LABELS=distilled`` fits the engine's potential from these files
(:func:`fit_distilled`), in minutes, without the teacher.

The labels are those of a fine-tuned universal potential (CHGNet), not DFT, and are labelled so in every frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from screening.errors import CandidateError

from screening.engine.dft_labels import DEFAULT_OUT_DIR as DEFAULT_LABELS_ROOT
from screening.engine.folders import folder

_REPO = Path(__file__).resolve().parents[2]
LABELS_FILE = "distilled_train.extxyz"
MANIFEST_FILE = "distilled_manifest.json"
SELECTION_TABLE = "distilled_pod_selection.csv"
SELECTION_FILE = "distilled_pod_settings.json"
ERRORS_FILE = "distilled_fit_errors.csv"
#: frames added by active learning (:mod:`screening.engine.active_learning`), teacher-labelled like the rest
ACTIVE_FILE = "distilled_active.extxyz"
#: the log of the active-learning rounds (and the SHA-256 of :data:`ACTIVE_FILE`)
ACTIVE_LOG = "distilled_active.json"
#: the fitting domain (keywords of :func:`~screening.engine.fit_capacity.within_domain`): the engine's interface
#: runs are at 40 GPa; with the pool's 0-GPa cells (expanded metal, molecular H2, ambient slabs) in the fit, POD
#: followed the teacher to 36 meV/atom on the training cells, without them to 24 (``make engine-capacity``)
DISTILL_DOMAIN = {"min_pressure_gpa": 20.0}
#: pressures (GPa) of the teacher-relaxed phases added to the pool (:func:`teacher_phase_cells`): the domain's
PHASE_PRESSURES_GPA = (20.0, 40.0, 60.0)
#: largest primitive cell of those phases (teacher labels cost seconds; the hydrogen-rich clathrates need ~20)
PHASE_MAX_ATOMS = 20
#: length (ps) of the dense-H2 run each CV candidate must keep molecular to be chosen (:func:`select_settings`)
H2_SCREEN_PS = 5.0
#: POD candidates cross-validated on the distilled cells: the three-body basis and the two four-body bases at the
#: energy weights that matter (the two-body-and-small-three-body basis cannot follow even the teacher:
#: engine-capacity; energy weight 1 was the worst four-body candidate by far, 566 meV/atom in this CV); and the
#: four-body basis with the reaction-phase cells weighted (``-pw``): unweighted, every fit put I4/mmm CaH4
#: 60-70 meV/atom above its hull at 40 GPa, where the teacher has it on the hull; and the two four-body weight-10
#: candidates at the 4.0 Å cutoff (``-rc4``: POD's MD cost falls with the neighbours inside the cutoff; the
#: phase-weighted one was chosen on 2026-11-28 from five of these)
DISTILL_CANDIDATES = ("2b10-3b8x4-we10", "2b10-3b8x4-4b4x2-we1", "2b10-3b8x4-4b4x2-we10", "2b10-3b8x4-4b4x2-we100",
                      "2b12-3b10x6-4b6x3-we10", "2b12-3b10x6-4b6x3-we100", "2b10-3b8x4-4b4x2-we10-pw100",
                      "2b10-3b8x4-4b4x2-we10-pw1000", "2b10-3b8x4-4b4x2-we10-rc4", "2b10-3b8x4-4b4x2-we10-pw100-rc4")


def distilled_set(pool: Sequence, dft_train: Sequence, dft_holdout: Sequence, domain: dict | None = None) -> list:
    """The training cells of the distilled fit: ``pool`` (teacher-labelled) minus the hold-out cells, each cell
    with a DFT label in ``dft_train`` taking that label instead, and the DFT cells the pool does not hold added,
    all limited to ``domain`` (default :data:`DISTILL_DOMAIN`; ``{}`` for none). Cells are matched as
    configurations (:func:`~screening.engine.config_ids.match_configurations`), not by id: a pool regenerated on
    another machine can give a committed cell another id."""
    from screening.engine.config_ids import match_configurations
    from screening.engine.fit_capacity import within_domain

    held = set(match_configurations(dft_holdout, pool)) - {None}
    at = match_configurations(dft_train, pool)
    dft = {i: a for a, i in zip(dft_train, at) if i is not None}
    cells = [dft.get(i, a) for i, a in enumerate(pool) if i not in held]
    cells += [a for a, i in zip(dft_train, at) if i is None]
    return within_domain(cells, **(DISTILL_DOMAIN if domain is None else domain))


def teacher_phase_cells(metal: str, teacher: str, *, store=None, progress: bool = True) -> list:
    """Every phase tier 2a relaxes for ``metal`` (each metal structure, H2, every template of every H/M, not only
    the winners), relaxed with ``teacher`` at :data:`PHASE_PRESSURES_GPA`, with their EOS copies, labelled by
    ``teacher`` (:func:`~screening.engine.reaction_phases.reaction_phase_cells` with ``every_phase``).

    The committed GPAW phase cells cover the winners of the labelling plan's relaxations; a fit that has seen no
    cell of a losing template can make it win (a POD fit without these cells put CaH3/bif3 195 meV/atom below the
    teacher at 40 GPa, on the hull, above which CaH4 then sat)."""
    from screening.engine.labelling import label_configurations
    from screening.engine.reaction_phases import reaction_phase_cells

    cells = reaction_phase_cells(metal, PHASE_PRESSURES_GPA, teacher, None, max_atoms=PHASE_MAX_ATOMS,
                                 every_phase=True, store=store, progress=progress)
    labelled, failures = label_configurations(cells, teacher, store=store, progress=progress, return_failures=True)
    if failures:
        raise CandidateError(f"{len(failures)} phase cells failed with {teacher}: {failures[:3]}")
    return labelled


def _root(out_dir: str | Path | None) -> Path:
    return Path(DEFAULT_LABELS_ROOT if out_dir is None else out_dir)


def label_directory(metal: str, out_dir: str | Path | None = None) -> Path:
    """``data/engine/<M>-H`` (or under ``out_dir``): where the system's labels and derived engine data live
    (:func:`screening.engine.folders.folder` under this module's :data:`DEFAULT_LABELS_ROOT`)."""
    return folder(metal, _root(out_dir))


def distilled_frames(metal: str, out_dir: str | Path | None = None) -> list:
    """Every frame the distilled fit of ``metal`` reads (pool and active-learning frames), checked against their
    manifest and log (:func:`_require`)."""
    return _require(metal, out_dir)[0]


def _is_dft(atoms) -> bool:
    """Whether a frame's label is GPAW's (its calculator provenance names it; the teacher's own description
    mentions the GPAW labels it was trained on, so the text of ``label_source`` is not enough)."""
    try:
        return json.loads(atoms.info.get("label_provenance") or "{}").get("name") == "gpaw"
    except (TypeError, ValueError):
        return False


def write_distilled(frames: Sequence, directory: str | Path, *, teacher: str, domain: dict, dft_files: dict,
                    teacher_errors: dict | None = None) -> dict:
    """Write :data:`LABELS_FILE` and :data:`MANIFEST_FILE` into ``directory`` atomically; returns the manifest."""
    from screening.calculators import checkpoint_identity
    from screening.engine.labelling import write_extxyz
    from screening.provenance import atomic_write, sha256_file
    from screening.reference.dataset import code_version

    directory = Path(directory)
    path = write_extxyz(frames, directory / LABELS_FILE)
    metal = next((s for a in frames for s in a.get_chemical_symbols() if s != "H"), None)
    manifest = {
        "kind": "engine distilled labels (fine-tuned universal potential, not DFT, plus the committed DFT labels)",
        "metal": metal, "teacher": teacher.replace(f"{_REPO}/", ""),
        "teacher_checkpoint_sha256": checkpoint_identity(teacher),
        "teacher_holdout_errors": teacher_errors, "domain": domain, "dft_label_files_sha256": dft_files,
        "file": LABELS_FILE, "sha256": sha256_file(path), "n": len(frames),
        "by_label": dict(Counter("dft" if _is_dft(a) else "teacher" for a in frames)),
        "by_family": dict(sorted(Counter(str(a.info.get("family")) for a in frames).items())),
        "by_pressure_gpa": {f"{p:g}": n for p, n in sorted(Counter(float(a.info["pressure_gpa"]) for a in frames).items())},
        "code_version": code_version(), "updated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "regenerate": f"make engine-distill METAL={metal}"}
    atomic_write(directory / MANIFEST_FILE, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    return manifest


def committed_distilled(metal: str, out_dir: str | Path | None = None) -> tuple[list, dict] | None:
    """``(frames, manifest)`` of the committed distilled labels of ``metal``, or None if there are none.

    Raises:
        CandidateError: the label file does not match the SHA-256 its manifest records.
    """
    from screening.engine.labelling import read_extxyz
    from screening.provenance import sha256_file

    directory = label_directory(metal, out_dir)
    path = directory / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        labels = directory / manifest["file"]
    except (ValueError, KeyError) as exc:
        raise CandidateError(f"{path}: not a distilled-label manifest ({exc})") from None
    if not labels.is_file() or sha256_file(labels) != manifest.get("sha256"):
        raise CandidateError(f"{labels}: missing or not the file {path.name} describes "
                             f"(rebuild with make engine-distill METAL={metal})")
    return read_extxyz(labels), manifest


def build_distilled(metal: str, teacher: str | None = None, *, domain: dict | None = None,
                    out_dir: str | Path | None = None, store=None, progress: bool = True) -> dict:
    """Label the pool of ``metal`` with ``teacher`` (default: the system's teacher, ``make engine-teacher``) and
    write the distilled labels; returns the manifest."""
    from screening.engine.dft_labels import label_file_hashes, training_labels
    from screening.engine.fit_capacity import teacher_pool
    from screening.engine.teacher import teacher_dir, teacher_spec

    directory, committed = training_labels(metal, _root(out_dir))
    if teacher is None:
        if not (teacher_dir(metal) / "provenance.json").is_file():
            raise CandidateError(f"{teacher_dir(metal)}: no teacher of {metal}-H (run make engine-teacher METAL={metal})")
        teacher = teacher_spec(metal)
    domain = DISTILL_DOMAIN if domain is None else domain
    pool = teacher_pool(metal, teacher, store=store, progress=progress)
    pool += teacher_phase_cells(metal, teacher, store=store, progress=progress)
    frames = distilled_set(pool, committed["train"], committed["holdout"], domain)
    teacher_errors = _teacher_holdout_errors(teacher)
    manifest = write_distilled(frames, directory, teacher=teacher, domain=domain,
                               dft_files=label_file_hashes(directory, committed), teacher_errors=teacher_errors)
    relabel_active(metal, teacher, out_dir=out_dir, store=store, progress=progress)
    return manifest


def relabel_active(metal: str, teacher: str, *, out_dir: str | Path | None = None, store=None,
                   progress: bool = False) -> int:
    """Label the active-learning frames of ``metal`` again with ``teacher`` (after the teacher changed), keeping their
    provenance, and record the new file's SHA-256 in its log; returns the number of frames."""
    from screening.engine.labelling import label_configurations, write_extxyz
    from screening.provenance import atomic_write, sha256_file

    frames = active_frames(metal, out_dir)
    if not frames:
        return 0
    labelled = label_configurations(frames, teacher, store=store, progress=progress)
    if len(labelled) != len(frames):
        raise CandidateError(f"{len(frames) - len(labelled)} active-learning frames failed with {teacher}")
    directory = label_directory(metal, out_dir)
    path = write_extxyz(labelled, directory / ACTIVE_FILE)
    log = json.loads((directory / ACTIVE_LOG).read_text())
    log.update(sha256=sha256_file(path), relabelled_by=teacher.replace(f"{_REPO}/", ""))
    atomic_write(directory / ACTIVE_LOG, lambda tmp: Path(tmp).write_text(json.dumps(log, indent=1) + "\n"))
    return len(labelled)


def _teacher_holdout_errors(teacher: str) -> dict | None:
    from screening.calculators import hydride_spec_dir, is_hydride_spec, read_finetune_provenance

    if not is_hydride_spec(teacher):
        return None
    return read_finetune_provenance(hydride_spec_dir(teacher)).get("errors", {}).get("engine_holdout")


def select_settings(metal: str, out_dir: str | Path | None = None, *, candidates: Sequence[str] = DISTILL_CANDIDATES,
                    n_folds: int = 5, cache: str | None = None, progress: bool = True,
                    h2_screen_ps: float | None = H2_SCREEN_PS, speed_reference: str = "chgnet"):
    """Cross-validate ``candidates`` on the committed distilled labels (grouped by parent structure) and record the
    winner in :data:`SELECTION_FILE`; returns ``(settings, table)``. The hold-out set is not read.

    With ``h2_screen_ps`` (default :data:`H2_SCREEN_PS`; None or 0: off) the winner is the best-scoring *eligible*
    candidate: its dense H2 stays molecular and it runs at least the speed target faster than ``speed_reference`` on
    the same cell (:func:`~screening.engine.candidate_screen.screen_candidates`); if none is eligible, the best by score among
    those whose dense-H2 run finished (:func:`~screening.engine.candidate_screen.rank_screened`), and the record says so."""
    from screening.engine.candidate_screen import screen_candidates
    from screening.engine.pod_selection import ALL_POD_CANDIDATES, cross_validate, record_selection

    frames, manifest = _require(metal, out_dir)
    unknown = [c for c in candidates if c not in ALL_POD_CANDIDATES]
    if unknown:
        raise CandidateError(f"unknown POD candidate(s) {unknown}; valid: {', '.join(ALL_POD_CANDIDATES)}")
    table = cross_validate(frames, (metal, "H"), {c: ALL_POD_CANDIDATES[c] for c in candidates}, n_folds=n_folds,
                           cache=cache, progress=progress)
    if h2_screen_ps:
        table = screen_candidates(table, frames, (metal, "H"), h2_ps=h2_screen_ps, reference=speed_reference,
                                 teacher=_teacher_spec(manifest), interface=True, cache=cache, progress=progress)
    files = label_files(metal, out_dir)
    settings = record_selection(label_directory(metal, out_dir), table, files,
                                f"computed by screening.engine.distilled on {' + '.join(files)}",
                                table_file=SELECTION_TABLE, selection_file=SELECTION_FILE)
    return settings, table


def _teacher_spec(manifest: dict) -> str:
    """The registry spec of the teacher a distilled manifest names (checkpoint paths kept relative to the repository
    are made absolute again)."""
    from screening.calculators import is_hydride_spec

    teacher = str(manifest["teacher"])
    if is_hydride_spec(teacher) and ":" in teacher:
        name, path = teacher.split(":", 1)
        if not Path(path).is_absolute() and (_REPO / path).exists():
            return f"{name}:{_REPO / path}"
    return teacher


def label_files(metal: str, out_dir: str | Path | None = None) -> list[str]:
    """The distilled label files of ``metal`` a fit reads: :data:`LABELS_FILE` and, once active learning has added
    frames, :data:`ACTIVE_FILE`."""
    return [LABELS_FILE] + ([ACTIVE_FILE] if (label_directory(metal, out_dir) / ACTIVE_FILE).is_file() else [])


def _require(metal: str, out_dir: str | Path | None) -> tuple[list, dict]:
    """The distilled frames of ``metal`` (the pool's and the active-learning ones) and the manifest.

    Raises:
        CandidateError: no distilled labels, or an active-learning file its log does not describe.
    """
    found = committed_distilled(metal, out_dir)
    if found is None or not found[0]:
        raise CandidateError(f"no distilled labels of {metal}-H (run make engine-distill METAL={metal})")
    frames, manifest = found
    if ACTIVE_FILE in label_files(metal, out_dir):
        from screening.provenance import sha256_file

        path, log = label_directory(metal, out_dir) / ACTIVE_FILE, label_directory(metal, out_dir) / ACTIVE_LOG
        try:
            recorded = json.loads(log.read_text()).get("sha256")
        except (OSError, ValueError) as exc:
            raise CandidateError(f"{log}: missing or unreadable ({exc}); it describes {path.name}") from None
        if sha256_file(path) != recorded:
            raise CandidateError(f"{path}: not the file {log.name} describes (rebuild with make engine-active "
                                 f"METAL={metal})")
        frames = frames + active_frames(metal, out_dir)
    return frames, manifest


def active_frames(metal: str, out_dir: str | Path | None = None) -> list:
    """The active-learning frames of ``metal`` (:data:`ACTIVE_FILE`; empty if none), unchecked (see :func:`_require`)."""
    from screening.engine.labelling import read_extxyz

    path = label_directory(metal, out_dir) / ACTIVE_FILE
    return read_extxyz(path) if path.is_file() else []


def chosen_or_recorded_settings(metal: str, out_dir: str | Path | None = None):
    """The POD settings of the distilled fit: those cross-validated on exactly the current label files; else, with a
    warning, the last recorded choice (active learning adds frames between selections); else the defaults."""
    import warnings

    from screening.engine.pod_selection import chosen_settings, recorded_settings
    from screening.engine.potential import PodSettings

    directory = label_directory(metal, out_dir)
    chosen = chosen_settings(directory, SELECTION_FILE, labels_files=label_files(metal, out_dir))
    if chosen is not None:
        return chosen
    recorded = recorded_settings(directory, SELECTION_FILE)
    if recorded is not None:
        warnings.warn(f"{directory / SELECTION_FILE} was chosen on other labels; using its settings (re-select with "
                      f"make engine-distill METAL={metal} SKIP_LABELS=1)", stacklevel=2)
        return recorded
    return PodSettings()


def committed_holdout(metal: str, out_dir: str | Path | None = None) -> list:
    """The committed GPAW hold-out labels of ``metal`` (empty if there are none): what the distilled fit is
    measured against."""
    from screening.engine.dft_labels import committed_labels

    return (committed_labels(metal, _root(out_dir)) or {"holdout": []})["holdout"]


def fit_distilled(metal: str, out_dir: str | Path | None = None, *, cache: str | None = None,
                  progress: bool = False):
    """The engine's POD potential fitted to the committed distilled labels with their cross-validated settings
    (:data:`SELECTION_FILE`, if it was chosen on exactly these labels), its hold-out errors against the committed
    GPAW hold-out labels."""
    frames, _ = _require(metal, out_dir)
    return _fit(frames, metal, out_dir, committed_holdout(metal, out_dir), cache, progress)


def _fit(frames: Sequence, metal: str, out_dir: str | Path | None, holdout: Sequence, cache: str | None,
         progress: bool):
    from screening.engine.potential import fit_pod

    settings = chosen_or_recorded_settings(metal, out_dir)
    return fit_pod(frames, (metal, "H"), settings, holdout=list(holdout) or None, cache=cache, progress=progress)


def write_errors(metal: str, out_dir: str | Path | None = None, *, cache: str | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """Fit (:func:`fit_distilled`) and write :data:`ERRORS_FILE`: errors by set and family, the training set against
    its own (mostly teacher) labels and by label source, the hold-out against GPAW."""
    from dataclasses import asdict

    from screening.engine.fit_report import error_table
    from screening.provenance import atomic_write

    frames, manifest = _require(metal, out_dir)
    holdout = committed_holdout(metal, out_dir)
    fitted = _fit(frames, metal, out_dir, holdout, cache, progress)
    sets = {"train": frames, "train_dft_labels": [a for a in frames if _is_dft(a)], "holdout_gpaw": holdout}
    table = error_table(fitted, sets)
    table = table[(table["set"] == "train") | (table["set"] == "holdout_gpaw") | (table["family"] == "all")]
    table["potential_data_hash"] = fitted.data_hash[:24]
    table["pod_settings"] = json.dumps(asdict(fitted.settings), sort_keys=True)
    table["teacher"] = manifest["teacher"]
    table["labels_sha256"] = manifest["sha256"]
    if ACTIVE_FILE in label_files(metal, out_dir):
        from screening.provenance import sha256_file

        table["active_labels_sha256"] = sha256_file(label_directory(metal, out_dir) / ACTIVE_FILE)
    table["lammps_version"] = fitted.lammps_version
    table["source"] = (f"computed by screening.engine.distilled: POD (LAMMPS fitpod) fitted to "
                       f"{' + '.join(label_files(metal, out_dir))} "
                       f"(teacher {manifest['teacher']}: a fine-tuned universal potential, not DFT; the cells with "
                       f"committed GPAW labels keep them); holdout_gpaw: against the committed GPAW hold-out labels")
    atomic_write(label_directory(metal, out_dir) / ERRORS_FILE,
                 lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g"))
    return table.reset_index(drop=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m screening.engine.distilled --metal Ca [--teacher SPEC] [--skip-labels]``."""
    ap = argparse.ArgumentParser(prog="python -m screening.engine.distilled", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--teacher", default=None, help="registry name of the teacher (default: the system's, "
                                                     "models/chgnet_hydride_<m> from make engine-teacher)")
    ap.add_argument("--min-pressure", type=float, default=DISTILL_DOMAIN["min_pressure_gpa"], help="GPa")
    ap.add_argument("--candidates", default=",".join(DISTILL_CANDIDATES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--skip-labels", action="store_true", help="keep the committed distilled labels; only refit")
    ap.add_argument("--h2-screen-ps", type=float, default=H2_SCREEN_PS,
                    help="dense-H2 run (ps) a candidate must keep molecular to be chosen; 0: choose by CV alone")
    args = ap.parse_args(argv)
    if args.h2_screen_ps < 0:
        print(f"error: --h2-screen-ps must be >= 0, got {args.h2_screen_ps}", file=sys.stderr)
        return 2
    from screening.engine.fit_report import print_errors
    from screening.engine.pod_selection import print_table

    try:
        if not args.skip_labels:
            manifest = build_distilled(args.metal, args.teacher, domain={"min_pressure_gpa": args.min_pressure})
            print(f"{manifest['n']} distilled labels ({manifest['by_label']}) by {manifest['teacher']}")
        _, table = select_settings(args.metal, candidates=[c.strip() for c in args.candidates.split(",") if c.strip()],
                                   n_folds=args.folds, h2_screen_ps=args.h2_screen_ps)
        print_table(table)
        errors = write_errors(args.metal, progress=True)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_errors(errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
