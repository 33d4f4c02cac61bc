"""Provenance sidecars of figures: ``<figure>.json`` beside every PNG the project writes.

Each sidecar says what produced the numbers in the figure (calculator and settings), what it shows (a caption) and
the SHA-256 of the PNG it describes, so the HTML report (:mod:`screening.report`) can caption every figure and flag
a stale sidecar.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from screening.errors import CandidateError
from screening.provenance import atomic_write, sha256_file

def sidecar_paths(png_path: str | Path) -> tuple[Path, Path]:
    """The two accepted sidecar names of a figure: ``<stem>.json`` (written) and ``<name>.png.json``."""
    p = Path(png_path)
    return p.with_suffix(".json"), p.with_name(p.name + ".json")


def write_plot_provenance(png_path: str | Path, calculator_info: dict | Any, settings: dict, caption: str) -> Path:
    """Write the provenance sidecar ``<stem>.json`` of a figure, read by :func:`build_report`.

    Args:
        png_path: the figure (should exist: its SHA-256 is recorded so a stale sidecar is detected).
        calculator_info: what produced the numbers, e.g. ``CalculatorInfo.as_dict()`` (an object with
            ``as_dict()`` is accepted too).
        settings: the settings of the run (JSON-serialisable; non-JSON values are written with ``str``).
        caption: one or two sentences saying what the figure shows.

    Returns:
        The path of the sidecar.

    Raises:
        CandidateError: ``png_path`` is not a ``.png`` or ``caption`` is empty.
    """
    png = Path(png_path)
    if png.suffix.lower() != ".png":
        raise CandidateError(f"write_plot_provenance expects a .png figure, got {str(png_path)!r}")
    if not str(caption).strip():
        raise CandidateError(f"write_plot_provenance needs a caption for {png.name!r}")
    if hasattr(calculator_info, "as_dict"):
        calculator_info = calculator_info.as_dict()
    payload = {
        "figure": png.name,
        "calculator": calculator_info,
        "settings": settings,
        "caption": str(caption),
        "png_sha256": sha256_file(png) if png.is_file() else None,
        "written_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(payload, indent=2, sort_keys=False, default=str)
    return atomic_write(sidecar_paths(png)[0], lambda tmp: Path(tmp).write_text(text + "\n"))


def read_plot_provenance(png_path: str | Path) -> dict | None:
    """The sidecar of a figure as a dict, or ``None`` (absent, unreadable, or not a provenance object)."""
    for path in sidecar_paths(png_path):
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and any(k in data for k in ("calculator", "settings", "caption")):
            data["_path"] = path.name
            return data
    return None



__all__ = ["read_plot_provenance", "sidecar_paths", "write_plot_provenance"]
