"""One coherent CLI: subcommands, shared flag names, help on every flag, --version, exit 2 on bad flags;
make help lists every target."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from screening.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_flag_has_help_and_names_are_shared():
    parser = build_parser()
    subs = _subparsers(parser)
    assert {"screen", "proxies", "melting", "engine", "score", "report", "validate", "export-structures"} <= set(subs)
    for name, sub in subs.items():
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help.strip(), f"{name} {action.option_strings} has no help text"
        visible = {o for a in sub._actions if a.help != argparse.SUPPRESS for o in a.option_strings}
        assert not visible & {"--no-progress", "--reports-dir", "--out-dir"}, (name, visible)
    for name in ("screen", "proxies", "melting", "engine", "validate"):
        assert "--quiet" in {o for a in subs[name]._actions for o in a.option_strings}, name
    for name in ("proxies", "melting", "engine", "report", "validate"):
        assert "--reports" in {o for a in subs[name]._actions for o in a.option_strings}, name


def test_version_prints_package_version_and_commit(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    from importlib.metadata import version

    assert version("superhydride-screening") in out
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    if head:
        assert head in out


@pytest.mark.parametrize("argv", [
    ["screen", "--top", "0"], ["proxies", "--top", "0"], ["melting", "--top", "0"], ["engine", "--top", "0"],
    ["screen", "--metals", ""], ["screen", "--pressures", ""], ["screen", "--pressures", " , "],
    ["screen", "--h-per-metal", ""], ["screen", "--formulas", ""], ["proxies", "--pressures", ""],
])
def test_bad_flags_exit_2_with_error(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path / "cache"))
    assert main([*argv, *(["--ranking", str(tmp_path / "none.csv")] if argv[0] != "screen" else [])]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and argv[1] in err, err
    assert not (tmp_path / "none.csv").exists()


def test_argparse_errors_also_start_with_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["screen", "--top", "x"])
    assert exc.value.code == 2
    assert re.search(r"^error: .*--top", capsys.readouterr().err, re.M)


def test_old_module_entry_points_say_where_the_command_went(capsys):
    """``python -m screening.proxies.melting`` and ``python -m screening.report`` now point to the subcommands
    (they cannot delegate to the CLI without an import circle: the CLI imports both modules)."""
    from screening.proxies.melting import main as melting_main
    from screening.report import main as report_main

    assert melting_main(["--top", "1"]) == 2 and "python -m screening melting" in capsys.readouterr().err
    assert report_main([]) == 2 and "python -m screening report" in capsys.readouterr().err


def test_cache_location_is_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "r.csv").write_text("candidate_id,formula,pressure_gpa,rank\nLaH10@150GPa,LaH10,150,1\n")
    main(["melting", "--ranking", str(tmp_path / "r.csv"), "--top", "1", "--out", str(tmp_path / "o.csv"),
          "--reports", str(tmp_path), "--quiet"])
    assert f"cache: {tmp_path / 'cache'}" in capsys.readouterr().out


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split())


def test_make_help_lists_every_target_and_uses_the_subcommands():
    out = subprocess.run(["make", "-s", "-C", str(REPO), "help"], capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^make ([\w-]+)", out, re.M))
    assert _make_targets() <= listed, _make_targets() - listed
    bench = out[out.index("make bench "):].split("\nmake ")[0]
    for tier in ("tier-1", "tier-2a", "tier-2b", "tier-3"):
        assert tier in bench, bench
    text = (REPO / "Makefile").read_text()
    assert "-m screening melting" in text and "-m screening report" in text
    assert "screening.proxies.melting" not in text and "screening.report " not in text and "--out-dir" not in text


def test_python_m_screening_help_runs():
    res = subprocess.run([sys.executable, "-m", "screening", "melting", "--help"], capture_output=True, text=True,
                         cwd=REPO)
    assert res.returncode == 0 and "--quiet" in res.stdout and "--reports" in res.stdout
