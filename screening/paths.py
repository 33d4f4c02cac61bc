"""File names derived from data (candidate ids, formulas): always safe, always inside their folder.

A ``candidate_id`` comes from a CSV a user may have edited or received; joined naively
into a path, ``../../x`` wrote trajectories outside ``--reports`` and read structures from
outside ``--structures``. Every per-candidate file name goes through :func:`safe_stem`
and every per-candidate path through :func:`file_in`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from screening.errors import CandidateError

_UNSAFE = re.compile(r"[^A-Za-z0-9_+=.,-]")


def safe_stem(name: object) -> str:
    """A file-name stem for ``name`` that cannot leave its folder.

    ``@`` becomes ``_at_`` (``LaH10@150GPa`` -> ``LaH10_at_150GPa``); path separators and
    every other character outside ``A-Za-z0-9_+=.,-`` become ``_``; ``..`` becomes ``_`` and
    leading dots are dropped, so the stem is never ``.``, ``..`` or a hidden file.

    Raises:
        CandidateError: nothing usable is left (e.g. an empty id).
    """
    text = _UNSAFE.sub("_", str(name).replace("@", "_at_"))
    while ".." in text:
        text = text.replace("..", "_")
    text = text.lstrip(".")
    if not text.strip("_"):
        raise CandidateError(f"{name!r} cannot be turned into a file name")
    return text[:200]


def file_in(directory: str | os.PathLike, name: object, *, prefix: str = "", suffix: str = "") -> Path:
    """``directory / (prefix + safe_stem(name) + suffix)``, verified to lie inside ``directory``.

    ``prefix`` and ``suffix`` are fixed by the caller (e.g. ``engine_`` and ``_hot_900K.extxyz``),
    not data; they must not contain path separators.

    Raises:
        CandidateError: the result would lie outside ``directory`` (a separator in prefix/suffix).
    """
    base = Path(directory)
    path = base / f"{prefix}{safe_stem(name)}{suffix}"
    if path.resolve().parent != base.resolve():
        raise CandidateError(f"file name {path.name!r} for {name!r} would leave {base}")
    return path
