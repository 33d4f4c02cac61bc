"""Where an engine system's committed data live: ``data/engine/<M>-H`` (labels, fits, melting table).

A module of its own, importing nothing of the package, so that readers of the committed data (the melting table
of :func:`screening.screen`) do not pull in the labelling and fitting code.
"""

from __future__ import annotations

from pathlib import Path

#: the root of the engine's committed data
DEFAULT_OUT_DIR = Path(__file__).resolve().parents[2] / "data" / "engine"


def folder(metal: str, out_dir: str | Path = DEFAULT_OUT_DIR) -> Path:
    """``<out_dir>/<metal>-H``."""
    return Path(out_dir) / f"{metal}-H"


def label_directory(metal: str, out_dir: str | Path | None = None) -> Path:
    """``data/engine/<M>-H`` (or ``<out_dir>/<M>-H``): where the system's labels and derived engine data live."""
    return folder(metal, DEFAULT_OUT_DIR if out_dir is None else out_dir)
