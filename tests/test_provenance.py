"""One cache location for make, the CLI and the API."""

import re
from pathlib import Path

from screening import provenance
from screening.provenance import cache_dir, checkout_root, default_cache_dir

REPO = Path(__file__).resolve().parents[1]


def test_env_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()
    assert cache_dir(tmp_path / "o") == tmp_path / "o"


def test_checkout_uses_the_same_folder_as_make(monkeypatch, tmp_path):
    """Without the variable the CLI/API cache is <checkout>/.cache, which is what the Makefile exports."""
    monkeypatch.delenv("SCREENING_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # the working directory does not matter
    assert checkout_root() == REPO
    assert default_cache_dir() == REPO / ".cache"
    make = (REPO / "Makefile").read_text()
    assert re.search(r"SCREENING_CACHE_DIR \?= \$\(CURDIR\)/\.cache", make)


def test_installed_wheel_falls_back_to_user_cache(monkeypatch):
    monkeypatch.delenv("SCREENING_CACHE_DIR", raising=False)
    monkeypatch.setattr(provenance, "checkout_root", lambda: None)
    assert default_cache_dir() == Path.home() / ".cache" / "superhydride-screening"


def test_result_store_and_prior_default_to_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path))
    from screening.store import ResultStore

    assert ResultStore().path == tmp_path / "results.sqlite"
