"""A system-specific teacher: the project's hydride CHGNet fine-tuned further on one M–H system's DFT labels.

The distilled route of the engine: GPAW labels are few (about 20–70 per hour on two cores), a POD fit has hundreds
of coefficients, and a potential fitted to a few dozen DFT cells interpolates them and extrapolates badly
(``data/engine/<M>-H/learning_curve.csv``). A CHGNet model has seen far more chemistry; fine-tuned on the
committed DFT training labels of the system (``data/engine/<M>-H/train_gpaw.extxyz``), it becomes a cheap teacher
whose labels the engine's POD fit can use by the thousand. Its errors against GPAW are measured on the committed
hold-out set, which plays no part in training or in choosing the epoch (:data:`TEACHER_SETTINGS` keeps the last
epoch; their values were fixed before any hold-out figure was seen).

``python -m screening.engine.teacher --metal Ca`` (``make engine-teacher METAL=Ca``) writes
``models/chgnet_hydride_<m>/`` (checkpoint and provenance, with the hold-out errors), which the registry loads as
``chgnet-hydride:models/chgnet_hydride_<m>``: a fine-tuned universal potential, labelled so, never DFT.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from screening.calculators import CalculatorError
from screening.errors import CandidateError
from screening.reference.finetune import FinetuneSettings, error_line

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
#: the fine-tune of the teacher: the repository's hydride model as the base, every committed training label of the
#: system trained on (no validation split: too few labels), the last epoch kept, all pressures (the engine's labels
#: stop at 60 GPa)
TEACHER_SETTINGS = FinetuneSettings(epochs=30, learning_rate=3e-3, base_model="chgnet-hydride", holdout_metals=(),
                                    holdout_fraction=0.0, keep="last", max_pressure_gpa=None)


def teacher_dir(metal: str, root: str | Path | None = None) -> Path:
    """``models/chgnet_hydride_<m>`` (lower-case metal)."""
    return Path(MODELS_DIR if root is None else root) / f"chgnet_hydride_{metal.lower()}"


def teacher_spec(metal: str, root: str | Path | None = None) -> str:
    """The registry name of the teacher of ``metal``: ``chgnet-hydride:<its folder>``."""
    return f"chgnet-hydride:{teacher_dir(metal, root)}"


def build_teacher(metal: str, settings: FinetuneSettings = TEACHER_SETTINGS, *, labels_dir: str | Path | None = None,
                  out_root: str | Path | None = None, checkpoint_dir: str | Path | None = None,
                  progress: bool = False):
    """Fine-tune ``settings.base_model`` on the committed training labels of ``metal``, measure it on the committed
    hold-out labels and save it; returns the :class:`~screening.reference.finetune.FinetuneResult` (its
    provenance holds ``errors["engine_holdout"]`` and the label files' hashes)."""
    from screening.engine.dft_labels import label_file_hashes, training_labels
    from screening.reference.finetune import finetune, predict_frames, save_finetuned, set_errors

    directory, committed = training_labels(metal, labels_dir)
    files = committed["manifest"]["files"]
    hashes = label_file_hashes(directory, committed)
    frames = [_with_metal(a, metal) for a in committed["train"]]
    result = finetune(frames, settings, data_hash=hashes["train"], progress=progress, checkpoint_dir=checkpoint_dir)
    holdout = committed["holdout"]
    if holdout:
        result.provenance["errors"]["engine_holdout"] = set_errors(predict_frames(result.model, holdout), holdout)
    result.provenance.update({"model": "chgnet-hydride", "system": f"{metal}-H", "label_files": files,
                              "label_files_sha256": hashes, "regenerate": f"make engine-teacher METAL={metal}"})
    save_finetuned(result, teacher_dir(metal, out_root))
    return result


def _with_metal(atoms, metal: str):
    atoms.info.setdefault("metal", metal)
    return atoms


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m screening.engine.teacher --metal Ca [--epochs N]``."""
    from screening.provenance import cache_dir

    ap = argparse.ArgumentParser(prog="python -m screening.engine.teacher", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--epochs", type=int, default=TEACHER_SETTINGS.epochs)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--labels-dir", default=None, help="root of the committed labels (default data/engine)")
    ap.add_argument("--out-root", default=None, help="where the model folder goes (default models/)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    checkpoints = cache_dir() / "finetune"
    try:
        settings = replace(TEACHER_SETTINGS, epochs=args.epochs, num_threads=args.threads)
        result = build_teacher(args.metal, settings, labels_dir=args.labels_dir, out_root=args.out_root,
                               checkpoint_dir=checkpoints, progress=args.progress)
    except (CandidateError, CalculatorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shutil.rmtree(checkpoints / result.provenance["run_key"], ignore_errors=True)  # saved: nothing to resume
    errors = result.provenance["errors"]
    print(f"wrote {teacher_dir(args.metal, args.out_root)} ({teacher_spec(args.metal, args.out_root)})")
    for when, name in (("before", "train"), ("after", "train"), ("engine_holdout", None)):
        e = errors[when] if name is None else errors[when].get(name, {})
        if e.get("n_configs"):
            print(error_line(f"{when:14s} {name or 'hold-out':8s}", e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
