"""Per-epoch checkpoints of a CHGNet fine-tune, so that an interrupted ``make finetune`` resumes.

A fine-tune on the project's dataset takes 1–2 hours on two cores; a session that stops in the middle used to lose
all of it (the Trainer wrote its checkpoints into a temporary folder). Here the Trainer writes them into
``<checkpoint_dir>/<run key>/`` instead, and :func:`write_manifest` records, after every epoch, which files it wrote
and their SHA-256. A later run with the same key (:func:`run_key`: the settings that change the result, the data
hash and the exact training and validation frames) finds the manifest, checks the hashes, loads the last epoch with
``torch.load(weights_only=True)`` (tensors and plain containers only: nothing is unpickled) and continues from the
next epoch with the optimizer, learning-rate schedule and history of the interrupted run.

A resumed run shuffles its batches from ``seed + first epoch``, so it is reproducible but not bit-identical to an
uninterrupted run with the same seed.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from screening.errors import CandidateError
from screening.provenance import sha256_file

MANIFEST = "manifest.json"
#: Settings that do not change what is trained (they are left out of the run key).
NOT_IN_KEY = ("num_threads",)


def run_key(settings: dict, data_hash: str | None, train_ids: Sequence[str], val_ids: Sequence[str]) -> str:
    """A 16-hex-digit key of one fine-tune: its settings (without :data:`NOT_IN_KEY`), data hash and frames."""
    payload = {"settings": {k: v for k, v in settings.items() if k not in NOT_IN_KEY}, "data_hash": data_hash,
               "train": sorted(map(str, train_ids)), "val": sorted(map(str, val_ids))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_manifest(run_dir: str | Path, key: str, epoch: int) -> Path:
    """Record the Trainer's checkpoint files of ``run_dir`` (``epoch*``, ``best*``) with their SHA-256 (atomic)."""
    from screening.provenance import atomic_write

    run_dir = Path(run_dir)
    files = {p.name: sha256_file(p) for p in sorted(run_dir.glob("*.pth.tar"))}
    last = [name for name in files if name.startswith(f"epoch{epoch}_")]
    if len(last) != 1:
        raise CandidateError(f"{run_dir}: expected one checkpoint of epoch {epoch}, found {sorted(files)}")
    text = json.dumps({"run_key": key, "last_epoch": int(epoch), "last_file": last[0], "files": files}, indent=1)
    return atomic_write(run_dir / MANIFEST, lambda tmp: Path(tmp).write_text(text + "\n"))


def read_verified(run_dir: str | Path, name: str) -> dict:
    """The checkpoint ``name`` of ``run_dir``, after checking its SHA-256 against the manifest; loaded with
    ``weights_only=True``. A file that is absent, unlisted or altered is a :class:`CandidateError`."""
    import torch

    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / MANIFEST).read_text())
    path = run_dir / name
    expected = manifest.get("files", {}).get(name)
    if expected is None or not path.is_file():
        raise CandidateError(f"{path}: checkpoint not listed in {run_dir / MANIFEST} or missing")
    if sha256_file(path) != expected:
        raise CandidateError(f"{path}: SHA-256 differs from {run_dir / MANIFEST}; refusing to load it")
    return torch.load(path, map_location="cpu", weights_only=True)


@dataclass
class ResumePoint:
    """The state of an interrupted fine-tune: the Trainer's last-epoch checkpoint and the epoch to start from."""

    state: dict[str, Any]
    next_epoch: int


def find_resume_point(run_dir: str | Path, key: str) -> ResumePoint | None:
    """The last finished epoch of run ``key`` in ``run_dir``, or None when there is none (or another run's)."""
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CandidateError(f"{path}: not readable JSON ({exc}); delete {run_dir} to start the fine-tune afresh")
    if manifest.get("run_key") != key:
        return None
    if not (run_dir / str(manifest.get("last_file"))).is_file():
        # killed while the Trainer replaced its epoch file: nothing to resume from
        warnings.warn(f"{run_dir}: the last checkpoint {manifest.get('last_file')} is gone; starting the fine-tune "
                      "afresh", stacklevel=2)
        return None
    state = read_verified(run_dir, manifest["last_file"])
    return ResumePoint(state=state, next_epoch=len(state["training_history"]["e"]["train"]))


def clear(run_dir: str | Path) -> None:
    """Remove the checkpoints and manifest of a run that is not resumed (a fresh run starts from an empty folder)."""
    for path in [*Path(run_dir).glob("*.pth.tar"), Path(run_dir) / MANIFEST]:
        path.unlink(missing_ok=True)


def restore(trainer, point: ResumePoint) -> None:
    """Put an interrupted run's model weights, optimizer, schedule and history into a freshly built ``trainer``."""
    state = point.state
    trainer.model.load_state_dict(state["model"]["state_dict"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.training_history = state["training_history"]
    trainer.starting_epoch = point.next_epoch
    trainer.best_model = trainer.model  # CHGNet's train() needs one even if no later epoch beats the earlier best


def checkpointing_trainer_class():
    """:class:`chgnet.trainer.Trainer` that also writes :data:`MANIFEST` after each epoch's checkpoint."""
    from chgnet.trainer import Trainer

    class CheckpointingTrainer(Trainer):
        """CHGNet's Trainer; ``run_key`` (set by the caller) goes into the manifest."""

        run_key: str = ""

        def save_checkpoint(self, epoch: int, mae_error: dict, save_dir: str) -> None:
            super().save_checkpoint(epoch, mae_error, save_dir)
            write_manifest(save_dir, self.run_key, epoch)

    return CheckpointingTrainer
