"""Content hashes and short ids of atomic configurations.

Shared by the training-set generator (:mod:`screening.engine.training_set`, which tags every
configuration with its id) and the labelling (:mod:`screening.engine.labelling`, which keys every
cached label by the hash), so neither module has to import the other.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def content_hash(atoms) -> str:
    """SHA-256 of a configuration's content (numbers, positions and cell to 1e-5 Å, pbc)."""
    payload = {
        "numbers": [int(z) for z in atoms.numbers],
        "positions": np.round(np.asarray(atoms.positions, dtype=float), 5).tolist(),
        "cell": np.round(np.asarray(atoms.cell, dtype=float), 5).tolist(),
        "pbc": [bool(x) for x in atoms.pbc],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":")).replace("-0.0,", "0.0,")
    return hashlib.sha256(text.encode()).hexdigest()


def config_id(atoms) -> str:
    """Stable short id of a configuration (``"c"`` + 16 hex digits of :func:`content_hash`)."""
    return "c" + content_hash(atoms)[:16]


__all__ = ["config_id", "content_hash"]
