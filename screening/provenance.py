"""Provenance helpers: package versions, file hashes, cache location, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from typing import IO, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("superhydride-screening", "matminer", "pymatgen", "scikit-learn", "numpy", "pandas")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that determine the numbers in a report."""
    out = {}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not-installed"
    return out


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Directory for cached models: ``override``, ``$SCREENING_CACHE_DIR`` or ``~/.cache/superhydride-screening``."""
    path = Path(override or os.environ.get("SCREENING_CACHE_DIR") or Path.home() / ".cache" / "superhydride-screening")
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``, so an interrupted run never leaves a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (format from the suffix, PNG if none); returns the path."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))


@contextlib.contextmanager
def atomic_stream(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a hidden temporary file beside ``path`` for streaming writes; rename it onto ``path`` on success.

    A killed or failing writer leaves ``path`` as it was (no 0-byte or torn file), like :func:`atomic_write`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
