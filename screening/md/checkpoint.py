"""Checkpoints of a long MD run: the state between two segments, so that an interrupted run resumes.

A checkpoint is one ``.npz`` file (no pickles: ``numpy.load(..., allow_pickle=False)``) holding the MD state
(numbers, positions, velocities in ASE units, cell, the session clock), the caller's own arrays and a JSON
document of the caller's own bookkeeping, plus an optional extxyz file of the frames kept so far. The frames are
written first, the ``.npz`` (atomically) after them; the ``.npz`` names how many frames belong to it and how many
bytes of the frames file hold them, so a run killed between the two writes still reads a consistent pair.

The frames file grows by appending: a checkpoint writes only the frames beyond the previous checkpoint's (after
cutting the file back to the bytes that checkpoint names, which removes a half-written tail of a killed run), not
the whole trajectory again (25 MB at 40 ps of a 478-atom interface).

The caller decides what a segment is. :func:`screening.engine.simulate.simulate_interface` opens a new MD session
from the saved state at every segment boundary, interrupted or not, so a resumed run is the same run.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from screening.errors import CandidateError

FORMAT = "screening-md-checkpoint-v1"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    ``state``: ASE Atoms with velocities (open the next session with ``keep_velocities=True``); ``time_ps``: the
    session clock at the checkpoint; ``meta``: the caller's JSON document; ``arrays``: the caller's arrays;
    ``frames``: the kept frames (empty if none were saved).
    """

    state: object
    time_ps: float
    meta: dict
    arrays: dict = field(default_factory=dict)
    frames: list = field(default_factory=list)


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """``(<path>.npz, <path>.frames.extxyz)``."""
    path = Path(path)
    return path.with_name(path.name + ".npz"), path.with_name(path.name + ".frames.extxyz")


def save_checkpoint(path: str | Path, state, time_ps: float, meta: dict, arrays: dict | None = None,
                    frames: list | None = None) -> Path:
    """Write a checkpoint (see the module docstring); returns the ``.npz`` path.

    Args:
        path: the checkpoint's stem (``.npz`` and ``.frames.extxyz`` are appended).
        state: ASE Atoms with velocities (:meth:`screening.md.base.MDSession.get_state`).
        time_ps: the session clock.
        meta: JSON-serialisable bookkeeping of the caller.
        arrays: float or int arrays of the caller (names must not start with ``_``).
        frames: ASE Atoms to keep with the checkpoint: the frames so far, the earlier ones as the previous
            checkpoint of ``path`` had them (only the ones beyond it are written; fewer frames than it had rewrite
            the file).
    """
    npz, traj = checkpoint_paths(path)
    npz.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(arrays or {})
    bad = [k for k in arrays if k.startswith("_")]
    if bad:
        raise CandidateError(f"checkpoint array names must not start with '_': {bad}")
    n_frames = len(frames) if frames else 0
    frames_bytes = _write_frames(traj, list(frames or []), _previous_frames(npz, traj)) if n_frames else 0
    doc = {"format": FORMAT, "time_ps": float(time_ps), "n_frames": n_frames, "frames_bytes": frames_bytes,
           "meta": meta}
    payload = {"_numbers": state.numbers, "_positions": state.positions, "_velocities": state.get_velocities(),
               "_cell": np.array(state.cell), "_doc": np.array(json.dumps(doc)),
               **{k: np.asarray(v) for k, v in arrays.items()}}

    def dump(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)

    from screening.provenance import atomic_write

    return atomic_write(npz, dump)


def _previous_frames(npz: Path, traj: Path) -> tuple[int, int]:
    """``(frames, bytes)`` of the frames file that the checkpoint at ``npz`` names; ``(0, 0)`` when there is none,
    it is unreadable or older than the byte count, or the file is shorter than it says."""
    try:
        with np.load(npz, allow_pickle=False) as data:
            doc = json.loads(str(data["_doc"]))
        n, size = int(doc.get("n_frames", 0)), int(doc.get("frames_bytes", 0))
    except (OSError, ValueError, KeyError, TypeError):
        return 0, 0
    if n <= 0 or size <= 0 or not traj.is_file() or traj.stat().st_size < size:
        return 0, 0
    return n, size


def _write_frames(traj: Path, frames: list, previous: tuple[int, int]) -> int:
    """Write ``frames`` to ``traj``: append those beyond ``previous`` (frames, bytes) after cutting the file back to
    its bytes, or write the file anew (atomically) when there is nothing to continue. Returns the file's size."""
    import os

    from ase.io import write

    from screening.provenance import atomic_write

    n_old, size = previous
    if 0 < n_old <= len(frames):
        with open(traj, "r+", encoding="utf-8") as fh:
            fh.truncate(size)  # a killed run's half-written tail goes
            fh.seek(size)
            write(fh, frames[n_old:], format="extxyz")
            fh.flush()
            os.fsync(fh.fileno())
    else:
        atomic_write(traj, lambda tmp: write(tmp, frames, format="extxyz"))
    return traj.stat().st_size


def load_checkpoint(path: str | Path) -> Checkpoint | None:
    """The checkpoint at ``path`` (the stem given to :func:`save_checkpoint`), or None if there is none.

    Raises:
        CandidateError: the file exists but is not a readable checkpoint of this format (it is left in place:
            delete it to start the run afresh).
    """
    from ase import Atoms

    npz, traj = checkpoint_paths(path)
    if not npz.is_file():
        return None
    try:
        with np.load(npz, allow_pickle=False) as data:
            doc = json.loads(str(data["_doc"]))
            if doc.get("format") != FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT!r}")
            state = Atoms(numbers=data["_numbers"], positions=data["_positions"], cell=data["_cell"], pbc=True)
            state.set_velocities(data["_velocities"])
            arrays = {k: data[k] for k in data.files if not k.startswith("_")}
    except (OSError, ValueError, KeyError) as exc:
        raise CandidateError(f"{npz} is not a readable MD checkpoint ({type(exc).__name__}: {exc}); delete it "
                             "to restart the run from the beginning") from None
    frames = []
    if doc["n_frames"]:
        from ase.io import read

        if not traj.is_file():
            raise CandidateError(f"{npz} names {doc['n_frames']} kept frames but {traj} is missing; delete "
                                 "the checkpoint to restart the run from the beginning")
        if doc.get("frames_bytes"):  # only the part this checkpoint wrote (a later, killed append may follow)
            with open(traj, "rb") as fh:
                text = fh.read(int(doc["frames_bytes"])).decode("utf-8")
            frames = read(io.StringIO(text), index=":", format="extxyz")[: doc["n_frames"]]
        else:
            frames = read(traj, index=":")[: doc["n_frames"]]
        if len(frames) < doc["n_frames"]:
            raise CandidateError(f"{traj} holds {len(frames)} frames, its checkpoint {doc['n_frames']}; "
                                 "delete the checkpoint to restart the run from the beginning")
    return Checkpoint(state=state, time_ps=float(doc["time_ps"]), meta=doc["meta"], arrays=arrays, frames=frames)


def clear_checkpoint(path: str | Path) -> None:
    """Remove a checkpoint (after its run finished and its result is stored)."""
    for p in checkpoint_paths(path):
        p.unlink(missing_ok=True)


__all__ = ["Checkpoint", "checkpoint_paths", "clear_checkpoint", "load_checkpoint", "save_checkpoint"]
