"""Tier-2a physics for the metals of an experimental table (the validation's thermodynamic terms).

For every metal of a table (``data/experimental_hydrides.csv`` or any CSV with its columns) the
tier-2a enthalpy proxies (:func:`screening.proxies.enthalpy.enthalpy_proxy`) are computed for the
validation candidates (every grid H/M at each pressure where the metal was observed) with the
project's default calculator (:func:`screening.calculators.default_calculator_name`, whatever ``get_calculator()`` uses
when called without a name), and the per-candidate result of each metal is cached in the result
store as one ``tier2a_table`` record. Relaxations are cached individually as well, so an
interrupted campaign resumes where it stopped.

Cost knobs: the pressures (default: the pressures the table needs, :func:`table_pressures`), the
templates (default: all) and the largest primitive cell (``max_atoms``).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from screening.errors import CandidateError

STORE_KIND = "tier2a_table"
#: Committed results (``make tier2a`` writes them): a fresh machine validates without hours of relaxations.
COMMITTED_DIR = Path(__file__).resolve().parents[1] / "data" / "tier2a"
#: A pressure grid needs >= 3 points for the Vinet fits of the phases (H between grid points).
MIN_PRESSURES = 3


#: Largest primitive cell tier 2a relaxes for the validation: the committed ``data/tier2a`` tables were computed with
#: it, so the default reads them back. 20 would add the hcp clathrate (H/M = 9), ~5 min per relaxation on one core.
DEFAULT_TIER2A_MAX_ATOMS = 12


@dataclass(frozen=True)
class Tier2aSettings:
    """What bounds the cost of tier 2a for one metal.

    ``pressures``: relaxation grid in GPa (None: :func:`table_pressures` of the metal);
    ``templates``: template names (None: the whole library); ``max_atoms``: largest primitive cell;
    ``calculator``: registry name (None: the project default).

    ``max_atoms`` defaults to :data:`DEFAULT_TIER2A_MAX_ATOMS`, the setting of the committed ``data/tier2a`` tables.
    """

    pressures: tuple | None = None
    templates: tuple | None = None
    max_atoms: int = DEFAULT_TIER2A_MAX_ATOMS
    calculator: str | None = None

    def resolved_calculator(self) -> str:
        from screening.calculators import default_calculator_name

        return self.calculator or default_calculator_name()


def settings_from_text(pressures: str | None, templates: str | None, max_atoms: int, calculator: str | None = None,
                       flag_prefix: str = "--") -> Tier2aSettings:
    """:class:`Tier2aSettings` from command-line text (comma-separated pressures and template names), checked
    before anything runs; ``flag_prefix`` names the flags in the errors (``--`` or ``--tier2a-``)."""
    from screening.candidates import parse_list, validate_pressures
    from screening.structures.templates import templates_for

    grid = tuple(validate_pressures(parse_list(pressures, f"{flag_prefix}pressures"))) if pressures else None
    names = tuple(t.strip() for t in templates.split(",") if t.strip()) if templates else None
    if names:
        templates_for(names=list(names))  # unknown names are an error
    if max_atoms < 1:
        raise CandidateError(f"{flag_prefix}max-atoms must be >= 1, got {max_atoms}")
    return Tier2aSettings(grid, names, max_atoms, calculator)


def table_pressures(observed: Iterable[float], extra_grid: Sequence[float] | None = None) -> list[float]:
    """The pressures a metal's validation needs: every observed pressure, plus the nearest points of
    the default grid until there are :data:`MIN_PRESSURES` (an EOS fit needs three)."""
    from screening.candidates import DEFAULT_PRESSURES_GPA

    obs = sorted({float(p) for p in observed if np.isfinite(p)})
    if not obs:
        raise CandidateError("no observed pressure: tier 2a needs at least one")
    grid = [float(p) for p in (extra_grid or DEFAULT_PRESSURES_GPA) if float(p) not in obs]
    centre = float(np.mean(obs))
    while len(obs) < MIN_PRESSURES and grid:
        nearest = min(grid, key=lambda p: (abs(p - centre), p))
        grid.remove(nearest)
        obs = sorted(obs + [nearest])
    return obs


def _store_inputs(metal: str, candidates: pd.DataFrame, pressures: list[float], settings: Tier2aSettings) -> dict:
    from screening.calculators import checkpoint_identity
    from screening.relax import RelaxSettings

    spec = settings.resolved_calculator()
    inputs = {"metal": metal, "pressures_gpa": pressures, "templates": list(settings.templates or []) or "all",
              "max_atoms": int(settings.max_atoms), "calculator_spec": spec,
              "relax_settings": RelaxSettings().as_dict(),
              "candidates": sorted((float(h), float(p)) for h, p in zip(candidates["h_per_metal"], candidates["pressure_gpa"]))}
    checkpoint = checkpoint_identity(spec)  # a refitted model is another calculator
    return {**inputs, "calculator_checkpoint_sha256": checkpoint} if checkpoint else inputs


def tier2a_for_metal(metal: str, candidates: pd.DataFrame, settings: Tier2aSettings | None = None, *,
                     pressures: Sequence[float] | None = None, compute: bool = True, store=None,
                     progress: bool = True, committed_dir: str | Path | None = COMMITTED_DIR,
                     export_dir: str | Path | None = None) -> pd.DataFrame | None:
    """Tier-2a proxy columns for ``candidates`` of one metal, from the store, the committed results or computed.

    Returns None when nothing is stored or committed and ``compute`` is False. The frame has ``candidate_id``,
    the proxy columns and ``tier2a_seconds`` (wall time of the computation that produced it).
    ``committed_dir``: where committed results are read (``data/tier2a/<calculator>/<metal>.json``; None: not read);
    ``export_dir``: where a computed result is also written (``make tier2a`` passes ``data/tier2a``; None: not written).
    """
    from screening.proxies.enthalpy import enthalpy_proxy
    from screening.store import ResultStore

    settings = settings or Tier2aSettings()
    store = store or ResultStore()
    grid = sorted(set(float(p) for p in (pressures or settings.pressures or table_pressures(candidates["pressure_gpa"]))))
    inputs = _store_inputs(metal, candidates, grid, settings)
    cached = store.get(STORE_KIND, inputs)
    if cached is None and committed_dir is not None:
        cached = read_committed(committed_dir, inputs)
        if cached is not None:
            store.put(STORE_KIND, inputs, cached, "ok", cached.get("seconds"))
    if cached is not None:
        if export_dir is not None and not committed_path(export_dir, inputs).is_file():
            write_committed(export_dir, inputs, cached)
        return pd.DataFrame(cached["rows"])
    if not compute:
        return None
    start = time.perf_counter()
    proxies = enthalpy_proxy(candidates, settings.resolved_calculator(), grid,
                             list(settings.templates) if settings.templates else None, settings.max_atoms,
                             store=store, progress=progress)
    seconds = time.perf_counter() - start
    proxies["tier2a_seconds"] = seconds
    rows = json.loads(proxies.to_json(orient="records"))
    store.put(STORE_KIND, inputs, {"rows": rows, "seconds": seconds}, "ok", seconds)
    if export_dir is not None:
        write_committed(export_dir, inputs, {"rows": rows, "seconds": seconds})
    return proxies


def committed_path(directory: str | Path, inputs: dict) -> Path:
    """``<directory>/<calculator>/<metal>.json`` (names made file-safe)."""
    from screening.paths import file_in, safe_stem

    return file_in(Path(directory) / safe_stem(inputs["calculator_spec"]), inputs["metal"], suffix=".json")


def write_committed(directory: str | Path, inputs: dict, result: dict) -> Path:
    """Write one metal's tier-2a result with the inputs that produced it (JSON, atomic)."""
    from screening.provenance import atomic_write

    path = committed_path(directory, inputs)
    payload = {"kind": STORE_KIND, "inputs": inputs, "result": result,
               "note": "tier-2a proxies computed by screening.tier2a_table (make tier2a); calculator: "
                       f"{inputs['calculator_spec']} (see enthalpy_calculator in each row; not DFT unless it says so)"}
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=1, sort_keys=True, default=float)))
    return path


def read_committed(directory: str | Path, inputs: dict) -> dict | None:
    """A committed result for exactly these inputs, or None (absent, other inputs, or unreadable: warned)."""
    path = committed_path(directory, inputs)
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        warnings.warn(f"{path}: not readable JSON ({exc}); computing tier 2a instead", stacklevel=2)
        return None
    # Same inputs after a JSON round trip (floats, lists): anything else is another calculation.
    if payload.get("kind") != STORE_KIND or payload.get("inputs") != json.loads(json.dumps(inputs, default=float)):
        return None
    result = payload.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
        warnings.warn(f"{path}: no result rows; computing tier 2a instead", stacklevel=2)
        return None
    return result


def tier2a_for_candidates(candidates: dict[str, pd.DataFrame], settings: Tier2aSettings | None = None, *,
                          compute: bool = True, store=None, progress: bool = True,
                          committed_dir: str | Path | None = COMMITTED_DIR,
                          export_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """:func:`tier2a_for_metal` for every metal of ``{metal: candidates}``, with a progress bar over metals.

    Metals without a stored result are computed when ``compute`` is True and skipped otherwise; a metal whose
    system cannot be computed (e.g. every metal-reference relaxation failed) is skipped with a warning.
    """
    out = {}
    bar = tqdm(sorted(candidates), desc="tier 2a per metal", disable=not progress)
    for metal in bar:
        bar.set_postfix_str(metal)
        try:
            got = tier2a_for_metal(metal, candidates[metal], settings, compute=compute, store=store, progress=progress,
                                   committed_dir=committed_dir, export_dir=export_dir)
        except CandidateError as exc:  # e.g. every metal relaxation failed: this metal has no tier 2a, the rest do
            warnings.warn(f"tier 2a for {metal}: {exc}", stacklevel=2)
            continue
        if got is not None:
            out[metal] = got
    return out


def merge_tier2a(candidates: pd.DataFrame, proxies: pd.DataFrame | None) -> pd.DataFrame:
    """Candidates with the tier-2a columns joined by ``candidate_id`` (unchanged when ``proxies`` is None)."""
    if proxies is None:
        return candidates
    from screening.proxies.enthalpy import merge_into_ranking

    return merge_into_ranking(candidates, proxies)


def settings_dict(settings: Tier2aSettings) -> dict:
    """JSON-able settings with the resolved calculator (for summaries)."""
    return {**asdict(settings), "calculator": settings.resolved_calculator()}


def validation_candidates(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{metal: candidate grid}``: every default-grid H/M at each pressure where the metal was observed
    (the candidates the validation ranks), for the supported metals of an experimental table."""
    from screening.candidates import DEFAULT_H_PER_METAL, candidate_grid
    from screening.elements import FAMILY_OF
    from screening.window import experimental_points

    points = experimental_points(table)
    points = points[points["metal"].isin(list(FAMILY_OF))]
    return {metal: candidate_grid([metal], DEFAULT_H_PER_METAL, sorted(group["pressure_gpa"].unique()))
            for metal, group in points.groupby("metal")}


def main(argv: list[str] | None = None) -> int:
    """``python -m screening.tier2a_table [--data CSV] [--metals La,Y] [--pressures ...] [--templates ...]
    [--max-atoms N] [--calculator NAME]``: compute (or find cached) tier 2a for every metal of the table."""
    import argparse
    import sys

    from screening.calculators import default_calculator_name
    from screening.experimental import load_experimental

    ap = argparse.ArgumentParser(prog="python -m screening.tier2a_table",
                                 description="tier-2a physics for the metals of an experimental table (cached, resumable)")
    ap.add_argument("--data", help="experimental CSV (default data/experimental_hydrides.csv)")
    ap.add_argument("--metals", help="only these metals, comma-separated (default: all of the table)")
    ap.add_argument("--pressures", help="relaxation pressures in GPa (default: the pressures each metal was observed at)")
    ap.add_argument("--templates", help="template names, comma-separated (default: all)")
    ap.add_argument("--max-atoms", type=int, default=DEFAULT_TIER2A_MAX_ATOMS,
                    help=f"largest primitive cell to relax (default {DEFAULT_TIER2A_MAX_ATOMS}, as the committed tables)")
    ap.add_argument("--calculator", help=f"registry name (default: the project default, now {default_calculator_name()!r})")
    ap.add_argument("--export", default=str(COMMITTED_DIR),
                    help=f"folder for the results as JSON, read back on a machine without the cache (default {COMMITTED_DIR}; "
                         "'' to skip)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        cands = validation_candidates(load_experimental(args.data))
        if args.metals:
            wanted = [m.strip() for m in args.metals.split(",") if m.strip()]
            unknown = [m for m in wanted if m not in cands]
            if unknown:
                raise CandidateError(f"metal(s) {unknown} have no observed pressure in the table; known: {sorted(cands)}")
            cands = {m: cands[m] for m in wanted}
        settings = settings_from_text(args.pressures, args.templates, args.max_atoms, args.calculator)
        t0 = time.perf_counter()
        done = tier2a_for_candidates(cands, settings, compute=True, progress=not args.quiet,
                                     export_dir=args.export or None)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for metal, rows in done.items():
        sec = rows["tier2a_seconds"].iloc[0] if "tier2a_seconds" in rows else float("nan")
        print(f"{metal}: {len(rows)} candidates, computed in {sec:.0f} s (0 s if it came from the store this run: "
              f"total {time.perf_counter() - t0:.0f} s)")
    print(f"settings: {json.dumps(settings_dict(settings))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
