"""Provenance helpers: package versions, file hashes, cache location, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
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


#: Name of the environment variable that overrides the cache location.
CACHE_ENV = "SCREENING_CACHE_DIR"
#: Fallback cache when the package is installed outside a checkout of this repository.
USER_CACHE = Path.home() / ".cache" / "superhydride-screening"


def checkout_root() -> Path | None:
    """The repository checkout this package is imported from (a ``pyproject.toml`` naming this
    project next to the ``screening`` folder), or ``None`` for an installed wheel."""
    root = Path(__file__).resolve().parents[1]
    project = root / "pyproject.toml"
    try:
        if project.is_file() and 'name = "superhydride-screening"' in project.read_text():
            return root
    except OSError:
        pass
    return None


def default_cache_dir() -> Path:
    """Where models and the result database go unless told otherwise (one rule for make, CLI and API):

    1. ``$SCREENING_CACHE_DIR`` when set and not empty;
    2. ``<checkout>/.cache`` when the package is imported from a checkout of the repository (the
       editable install of ``make install``), whatever the working directory, which is what ``make`` uses;
    3. ``~/.cache/superhydride-screening`` otherwise (an installed wheel).
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    return root / ".cache" if root is not None else USER_CACHE


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache directory, created if needed: ``override`` when given, else :func:`default_cache_dir`."""
    path = Path(override).expanduser() if override else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_version() -> str:
    """Version of this package (installed metadata, else ``screening.__version__``)."""
    try:
        return version("superhydride-screening")
    except PackageNotFoundError:
        import screening

        return getattr(screening, "__version__", "unknown")


def git_state(repo: str | os.PathLike | None = None) -> str:
    """``<commit>`` plus ``(uncommitted changes ...)`` when tracked files differ; ``not available`` without git
    or outside a checkout (``repo`` defaults to :func:`checkout_root`).

    Read-only: ``--no-optional-locks`` keeps ``git status`` from rewriting the index.
    """
    repo = repo if repo is not None else checkout_root()
    if repo is None:
        return "not available"
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(repo), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not available"
    return f"{commit} (uncommitted changes in tracked files)" if dirty else commit


def version_text() -> str:
    """What ``python -m screening --version`` prints: package version and git commit."""
    return f"superhydride-screening {package_version()} (git commit: {git_state()})"


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
