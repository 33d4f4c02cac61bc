"""The tier-3 funnel: ``run_engine(ranking, top=k)`` on ``dask.distributed``.

For the top ``k`` single-metal candidates of a ranking:

1. one fast potential per chemical system M–H (:func:`system_potential`): the training pool of
   :mod:`~screening.engine.training_set`, labels by the reference calculator
   (:mod:`~screening.engine.labelling`), a POD fit (:mod:`~screening.engine.potential`);
2. one interface MD task per candidate and temperature (:func:`interface_job`): the precursor slab
   in dense H2 at the candidate's pressure and the engine temperature, optionally also a
   low-temperature control (:mod:`~screening.engine.interface`, :mod:`~screening.engine.simulate`);
   :func:`summarise` turns a candidate's runs into the ranking columns.

Every step is cached (labels and MD snapshots in the ResultStore, the potential under
``cache_dir()/potentials``, interface runs in the ResultStore), so a task is idempotent: a lost
worker, or a killed run, loses only the work it had in flight.

Scheduler: an existing cluster when an address is given (argument ``scheduler``, environment
variable ``SCREENING_DASK_SCHEDULER``), else a ``LocalCluster`` of single-threaded worker
processes sized to the machine (``n_workers`` or the CPU count).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from screening.calculators import DEFAULT_CALCULATOR
from screening.cluster import check_scheduler_reachable, close_client, get_client, scheduler_address, single_thread
from screening.errors import CandidateError
from screening.paths import file_in
from screening.structures.templates import precursor_template

#: ``label_calculator`` of a fit to the committed distilled labels (``make engine-distill``)
DISTILLED = "distilled"

ENGINE_COLUMNS = (
    "engine_status", "engine_message", "engine_precursor", "engine_temperature_k", "engine_h_per_metal_initial",
    "engine_h_per_metal_final", "engine_uptake_rate_per_ps", "engine_uptake_rate_err_per_ps",
    "engine_liquid_fraction_surface", "engine_product_phase", "engine_control_temperature_k",
    "engine_control_uptake_rate_per_ps", "engine_warnings", "engine_calculator", "engine_potential_errors",
    "engine_settings", "engine_trajectory", "engine_wall_s",
    "engine_liquid_fraction_core", "engine_liquid_fraction_by_depth", "engine_product_target",
    "engine_product_matches_target", "engine_core_phase", "engine_core_h_per_metal", "engine_control_core_phase",
)


@dataclass(frozen=True)
class EngineSettings:
    """Settings of the engine (every field is part of the cache key of the runs it affects).

    Args:
        temperature_k: MD temperature; None: 0.9 x the window's upper end (T_m(P) estimate), clipped
            to [600, 2500] K, i.e. close to melting as the seed mechanism needs.
        control_temperature_k: also run a control at this temperature (None: no control).
        time_ps, timestep_fs: production length and MD step.
        checkpoint_ps: run the production in segments of this length, checkpointed beside the result store, so an
            interrupted run resumes from its last segment (the segment length is part of the protocol; see
            :func:`~screening.engine.simulate.simulate_interface`). None: one stage, no checkpoints.
        n_slab_atoms_target: size of the precursor slab.
        teacher: calculator for hot MD in the training pool; ``label_calculator`` for the labels
            (default: the teacher; ``"gpaw"`` for DFT labels after ``make setup-dft``; ``"distilled"`` for the
            committed distilled labels of ``make engine-distill``).
        training_pressures_gpa: pressures of the training pool (the potential's valid range).
        n_train: configurations to label for the fit.
        seed: every random choice.
    """

    temperature_k: float | None = None
    control_temperature_k: float | None = None
    time_ps: float = 10.0
    timestep_fs: float = 0.5
    checkpoint_ps: float | None = None
    n_slab_atoms_target: int = 150
    teacher: str = DEFAULT_CALCULATOR
    label_calculator: str | None = None
    training_pressures_gpa: tuple[float, ...] = (0.0, 20.0, 40.0, 60.0)
    n_train: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("time_ps", "timestep_fs"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise CandidateError(f"engine setting {name}={v!r} must be > 0")
        if self.checkpoint_ps is not None and (not np.isfinite(self.checkpoint_ps) or self.checkpoint_ps <= 0):
            raise CandidateError(f"engine setting checkpoint_ps={self.checkpoint_ps!r} must be > 0 (or None)")
        for name in ("temperature_k", "control_temperature_k"):
            v = getattr(self, name)
            if v is not None and (not np.isfinite(v) or v <= 0):
                raise CandidateError(f"engine setting {name}={v!r} must be a positive temperature")
        if self.n_slab_atoms_target < 8 or self.n_train < 5:
            raise CandidateError(f"engine needs n_slab_atoms_target >= 8 and n_train >= 5, got "
                                 f"{self.n_slab_atoms_target}, {self.n_train}")

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- checks
def require_calculator(name: str | None) -> None:
    """Fail early, with the registry's message, if a named reference calculator cannot be built
    (``"gpaw"`` without ``make setup-dft`` names that target)."""
    if name is None or not isinstance(name, str):
        return
    if name == DISTILLED:  # committed labels, no calculator; a missing file is named when the fit reads it
        return
    if name == "gpaw":
        import importlib.util

        from screening.calculators import CalculatorError

        if importlib.util.find_spec("gpaw") is None:
            raise CalculatorError("reference calculator 'gpaw' is not installed; run 'make setup-dft' first "
                                  "(or label with the universal potential: label_calculator='chgnet')")
        return
    from screening.calculators import get_calculator

    get_calculator(name)


def precursor_of(row: dict) -> tuple[float, str]:
    """(H/M, template name) of the candidate's precursor: tier-2a hull precursor when known, else the window's."""
    from pymatgen.core import Composition

    metal = str(row["metals"])
    formula = row.get("precursor")
    if not isinstance(formula, str) or not formula or formula == "nan":
        formula = row.get("recommended_precursor")
    if not isinstance(formula, str) or not formula:
        from screening.window import ambient_h_per_metal, hydride_formula

        formula = hydride_formula(metal, ambient_h_per_metal(metal))
    comp = Composition(formula)
    n_metal = comp[metal]
    x = float(comp["H"] / n_metal) if n_metal else 0.0
    return x, precursor_template(metal, x)


def default_temperature(row: dict) -> float:
    """0.9 T_max of the synthesis window, clipped to [600, 2500] K."""
    t_max = float(row.get("t_max_k", np.nan))
    if not np.isfinite(t_max):
        from screening.window import lindemann_melting_k

        t_max = float(lindemann_melting_k(str(row["metals"]), float(row["pressure_gpa"])))
    return float(np.clip(0.9 * t_max, 600.0, 2500.0))


# --------------------------------------------------------------------------- tasks
def training_h_per_metal(metal: str, candidates_h: Sequence[float] = ()) -> tuple[float, ...]:
    """H/M of the training pool: the metal, its ambient hydride (the precursor), 4 and 6, and the
    candidates' own H/M, each where a template exists."""
    from screening.structures.templates import templates_for
    from screening.window import ambient_h_per_metal

    wanted = {ambient_h_per_metal(metal), 4.0, 6.0, *map(float, candidates_h)}
    return (0.0, *sorted(x for x in wanted if x > 0 and templates_for(x)))


def system_potential(metal: str, settings: EngineSettings, *, candidates_h: Sequence[float] = (),
                     cache: str | None = None, progress: bool = False):
    """Training data, labels and the POD fit for M–H (all cached); returns a FittedPotential.

    With ``label_calculator="gpaw"`` and committed DFT labels of the metal (``data/engine/<M>-H``, ``make
    engine-labels``), the fit uses those labels and their hold-out set as they are: no pool, no relabelling; and
    the POD settings chosen for them by cross-validation (``make engine-fit``), if that choice was made for
    exactly these labels (:func:`screening.engine.fit_report.fit_committed`). With ``label_calculator="distilled"``:
    the committed distilled labels (``make engine-distill``, :func:`screening.engine.distilled.fit_distilled`).
    """
    from screening.engine.labelling import read_extxyz
    from screening.engine.potential import fit_pod

    if settings.label_calculator == DISTILLED:
        from screening.engine.distilled import fit_distilled

        single_thread()
        return fit_distilled(metal, cache=cache, progress=progress)
    if settings.label_calculator == "gpaw":
        from screening.engine.dft_labels import committed_labels
        from screening.engine.fit_report import fit_committed

        committed = committed_labels(metal)
        if committed and committed["train"]:
            single_thread()
            return fit_committed(metal, cache=cache, progress=progress, committed=committed)[0]
    from screening.engine.training_set import TrainingSetSpec, build_training_data
    from screening.store import ResultStore

    single_thread()
    store = ResultStore(Path(cache) / "results.sqlite") if cache else ResultStore()
    from screening.window import ambient_h_per_metal

    slab = precursor_template(metal, ambient_h_per_metal(metal))
    spec = TrainingSetSpec(metal=metal, h_per_metal=training_h_per_metal(metal, candidates_h),
                           pressures_gpa=tuple(settings.training_pressures_gpa), slab_templates=(slab,), seed=settings.seed)
    out_dir = training_dir(metal, cache)
    summary = _finished_training_data(out_dir, spec, settings)
    if summary is None:
        summary = build_training_data(metal, spec, settings.teacher, out_dir, n_train=settings.n_train,
                                      holdout_pressure_gpa=holdout_pressure(settings),
                                      label_calculator=settings.label_calculator, store=store, progress=progress)
    files = summary["files"]
    train = read_extxyz(files["train"])
    holdout = read_extxyz(files["holdout_labelled"]) if files.get("holdout_labelled") else None
    return fit_pod(train, (metal, "H"), holdout=holdout, cache=cache, progress=progress)


def _finished_training_data(out_dir: Path, spec, settings: EngineSettings) -> dict | None:
    """The ``summary.json`` of a finished training-data build with the same spec, teacher, labels and size.

    The written extxyz files are the cache of that step (its MD runs and labels are also in the
    ResultStore, but the files are what the fit reads, and they keep the exact set that was labelled).
    """
    path = out_dir / "summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except ValueError:
        return None
    same = (json.dumps(summary.get("spec"), sort_keys=True) == json.dumps(json.loads(json.dumps(spec.as_dict())), sort_keys=True)
            and summary.get("teacher") == str(settings.teacher)
            and summary.get("label_calculator") == str(settings.label_calculator or settings.teacher)
            and summary.get("train", {}).get("n", -1) <= settings.n_train
            and f"holdout_{holdout_pressure(settings):g}gpa" in str(summary.get("files", {}).get("holdout", "")))
    files_ok = all(Path(f).is_file() for f in summary.get("files", {}).values())
    return summary if same and files_ok else None


def training_dir(metal: str, cache: str | None = None) -> Path:
    """Where the training pool, labels and hold-out of M–H are written."""
    return (Path(cache) if cache else _cache()) / "engine" / f"{metal}-H"


def holdout_pressure(settings: EngineSettings) -> float:
    """Pressure of the held-out configurations: the middle training pressure (40 GPa for 0, 20, 40, 60)."""
    p = sorted(settings.training_pressures_gpa)
    return float(p[len(p) // 2])


def _runs_of(row: dict, settings: EngineSettings) -> list[tuple[str, float]]:
    """The MD runs of one candidate: ``("hot", T)`` and, if asked for, ``("control", T_control)``."""
    runs = [("hot", settings.temperature_k or default_temperature(row))]
    if settings.control_temperature_k is not None:
        runs.append(("control", float(settings.control_temperature_k)))
    return runs


def interface_job(row: dict, kind: str, temperature_k: float, calculator: Any, settings: EngineSettings, *,
                  out_dir: str, cache: str | None = None, progress: bool = False) -> dict:
    """One interface MD run of one candidate (cached in the ResultStore); returns its result dict."""
    from screening.engine.interface import build_interface
    from screening.engine.local_phase import final_core_phase, precursor_crystal
    from screening.engine.simulate import simulate_interface
    from screening.store import ResultStore

    single_thread()
    store = ResultStore(Path(cache) / "results.sqlite") if cache else ResultStore()
    metal, pressure = str(row["metals"]), float(row["pressure_gpa"])
    x_pre, template = precursor_of(row)
    atoms, info = build_interface(metal, x_pre, pressure, template=template,
                                  n_slab_atoms_target=settings.n_slab_atoms_target, seed=settings.seed)
    traj = file_in(out_dir, row["candidate_id"], prefix="engine_", suffix=f"_{kind}_{temperature_k:g}K.extxyz")
    result = simulate_interface(atoms, info, calculator, pressure, temperature_k, time_ps=settings.time_ps,
                                timestep_fs=settings.timestep_fs, seed=settings.seed, trajectory=traj,
                                checkpoint_ps=settings.checkpoint_ps,
                                progress=progress, store=store)
    out = result.as_dict()
    if out.get("status") != "ok":
        core = {"phase": "", "note": f"run {out.get('status')}"}
    elif not Path(traj).is_file():
        core = {"phase": "", "note": f"no trajectory at {traj}"}
    else:
        core = final_core_phase(traj, precursor_crystal(metal, x_pre, pressure, template))
    return {**out, "precursor": f"{info.precursor_formula} ({template})", "core_phase": core}


def summarise(row: dict, runs: dict[str, dict], potential_info: dict, settings: EngineSettings) -> dict:
    """The :data:`ENGINE_COLUMNS` of one candidate from its ``{"hot": ..., "control": ...}`` run dicts."""
    from screening.engine.simulate import InterfaceResult

    hot = InterfaceResult.from_dict(runs["hot"])
    control = InterfaceResult.from_dict(runs["control"]) if "control" in runs else None
    warnings = candidate_warnings(row, potential_info.get("training_range"))
    surf = hot.series("liquid_fraction_surface")
    surf = surf[np.isfinite(surf)]
    depth = depth_summary(hot)
    target, matches = product_target(row, hot)
    return {
        "candidate_id": row["candidate_id"],
        "_metal": str(row["metals"]),
        "engine_status": hot.status,
        "engine_message": hot.message,
        "engine_precursor": runs["hot"].get("precursor", ""),
        "engine_temperature_k": hot.target_temperature_k,
        "engine_h_per_metal_initial": hot.h_per_metal_initial,
        "engine_h_per_metal_final": hot.h_per_metal_final,
        "engine_uptake_rate_per_ps": hot.uptake_rate_per_ps,
        "engine_uptake_rate_err_per_ps": hot.uptake_rate_err_per_ps,
        "engine_liquid_fraction_surface": float(surf.mean()) if surf.size else float("nan"),
        "engine_product_phase": hot.product_phase,
        "engine_control_temperature_k": control.target_temperature_k if control else float("nan"),
        "engine_control_uptake_rate_per_ps": control.uptake_rate_per_ps if control else float("nan"),
        "engine_warnings": "; ".join(warnings),
        "engine_calculator": json.dumps(potential_info.get("calculator", {})),
        "engine_potential_errors": json.dumps(potential_info.get("metrics", {})),
        "engine_settings": json.dumps(settings.as_dict()),
        "engine_trajectory": hot.trajectory or "",
        "engine_wall_s": hot.wall_s + (control.wall_s if control else 0.0),
        "engine_liquid_fraction_core": depth["core"],
        "engine_liquid_fraction_by_depth": json.dumps(depth["profile"]),
        "engine_product_target": target,
        "engine_product_matches_target": matches,
        "engine_core_phase": runs["hot"].get("core_phase", {}).get("phase", ""),
        "engine_core_h_per_metal": float(runs["hot"].get("core_phase", {}).get("h_per_metal_core", float("nan"))),
        "engine_control_core_phase": runs.get("control", {}).get("core_phase", {}).get("phase", ""),
        "_results": runs,
    }


def depth_summary(result) -> dict:
    """Liquid-like fraction per depth bin over the second half of the production stage of one run.

    ``{"core": fraction of the deepest bin, "profile": {"depth_bins_a", "liquid_fraction", "frames"}}``
    (NaN core and an empty profile when the run recorded no depth profile).
    """
    from screening.engine.depth import mean_profile

    m = result.depth_map() if result.liquid_fraction_by_depth else np.zeros((0, 0))
    prod = np.array([lab == "production" for lab in result.stage], dtype=bool)[:len(m)]
    if not len(m) or not prod.any():
        return {"core": float("nan"), "profile": {}}
    mean = mean_profile(m[prod], last_fraction=0.5)
    return {"core": float(mean[-1]),
            "profile": {"depth_bins_a": list(result.depth_bins_a), "liquid_fraction": [float(x) for x in mean],
                        "frames": "second half of production"}}


def product_target(row: dict, result) -> tuple[str, bool]:
    """(template of the candidate's own H/M, whether it is the best match of the run's final metal sublattice)."""
    try:
        target = precursor_template(str(row["metals"]), float(row["h_per_metal"]))
    except CandidateError:  # no template for this H/M: nothing to compare with
        return "", False
    final = (result.product_matches or {}).get("final", {})
    from screening.engine.simulate import is_best_match

    return target, bool(result.status == "ok" and is_best_match(final, target))


# --------------------------------------------------------------------------- funnel
def _cache() -> Path:
    from screening.provenance import cache_dir

    return cache_dir()


def top_candidates(ranking: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` best single-metal candidates (by ``synth_rank``, else ``rank``)."""
    if not isinstance(top, (int, np.integer)) or top < 1:
        raise CandidateError(f"top must be a positive integer, got {top!r}")
    missing = [c for c in ("candidate_id", "metals", "h_per_metal", "pressure_gpa") if c not in ranking.columns]
    if missing:
        raise CandidateError(f"ranking lacks column(s) {missing}")
    order = "synth_rank" if "synth_rank" in ranking.columns else ("rank" if "rank" in ranking.columns else None)
    pool = ranking[~ranking["metals"].astype(str).str.contains(",")]
    if order:
        pool = pool.sort_values(order, kind="stable")
    return pool.head(top)


def _potential_info(fitted, calculator_spec: Any) -> dict:
    """Calculator provenance, fit metrics and training range of the engine's potential.

    The training range of a ``lammps:pod:<dir>:...`` spec comes from that directory's
    ``provenance.json`` (through the calculator registry), so a spec and the object it names get
    the same warnings (:func:`candidate_warnings`).
    """
    from screening.calculators import get_calculator

    if fitted is None:
        info = get_calculator(calculator_spec)[1].as_dict()
        return {"calculator": info, "metrics": {}, "training_range": info.get("settings", {}).get("training_range")}
    info = {"name": fitted.spec, "kind": f"POD potential fitted to {', '.join(sorted(set(fitted.label_sources)))} labels",
            "data_hash": fitted.data_hash, "settings": asdict(fitted.settings), "training_range": fitted.training_range}
    return {"calculator": info, "metrics": fitted.metrics, "training_range": fitted.training_range}


def fitted_pod_dir(spec: Any) -> Path | None:
    """The directory of a ``lammps:pod:<dir>:...`` spec when it is a fitted potential (has ``provenance.json``)."""
    if not (isinstance(spec, str) and spec.strip().startswith("lammps:pod:")):
        return None
    from screening.calculators import parse_lammps_spec

    d = parse_lammps_spec(spec.strip()).potential_file.parent
    return d if (d / "provenance.json").is_file() else None


def candidate_warnings(row: dict, training_range: dict | None) -> list[str]:
    """Out-of-range warnings of one candidate: its pressure, and the H/M of its precursor and of its target."""
    from screening.engine.potential import range_warnings

    pressure = float(row["pressure_gpa"])
    out = range_warnings(training_range, pressure_gpa=pressure)
    hs = [precursor_of(row)[0], float(row["h_per_metal"])]
    for h in dict.fromkeys(hs):
        out += [f"{w} ({'precursor' if h == hs[0] else 'target'})" for w in range_warnings(training_range, h_per_metal=h)]
    return out


def run_engine(ranking: pd.DataFrame, top: int = 3, *, settings: EngineSettings | None = None,
               potential: Any = None, scheduler: str | None = None, n_workers: int | None = None,
               distributed: bool = True, out_dir: str | Path = "reports", cache: str | Path | None = None,
               progress: bool = True) -> pd.DataFrame:
    """Run the engine on the top ``top`` candidates of ``ranking`` and merge its columns into it.

    Args:
        ranking: a ranking (``screening.screen`` output, possibly with tier-2 columns).
        top: how many candidates (single-metal ones, best ``synth_rank`` first).
        settings: :class:`EngineSettings`.
        potential: ``None`` (train one POD potential per chemical system, cached), a
            :class:`~screening.engine.potential.FittedPotential`, its directory or its
            ``lammps:pod:<dir>:...`` spec (all three get the fit's metrics and its out-of-range
            warnings), or any other calculator spec of the registry (``"lammps:..."``, ``"chgnet"``,
            ``"emt"``), used as is.
        scheduler: address of an existing dask scheduler (default ``$SCREENING_DASK_SCHEDULER``), checked
            (:func:`scheduler_address`, :func:`check_scheduler_reachable`) before anything else.
        n_workers: size of the LocalCluster when no scheduler is given.
        distributed: False runs serially in this process (same results; for debugging).
        out_dir: where trajectories and ``engine_<M>-H_uptake.png`` go.
        cache: cache root (default ``$SCREENING_CACHE_DIR``).

    Returns:
        ``ranking`` with :data:`ENGINE_COLUMNS` (NaN where the engine did not run);
        ``attrs["engine_results"]`` holds the full :class:`InterfaceResult` dicts.

    Raises:
        CandidateError: bad ``top``/settings, a bad or unreachable scheduler, or a potential not trained for a
            candidate's elements.
        CalculatorError: a reference calculator that is not installed (names ``make setup-dft``).
    """
    from screening.tables import merge_columns
    from screening.engine.potential import FittedPotential, check_composition, load_potential

    settings = settings or EngineSettings()
    if distributed:  # a bad or unreachable scheduler fails here, in seconds, before any model is loaded
        address = scheduler_address(scheduler)
        if address:
            check_scheduler_reachable(address)
    chosen = top_candidates(ranking, top)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = str(cache) if cache is not None else str(_cache())
    metals = sorted(chosen["metals"].astype(str).unique())
    fitted: dict[str, Any] = {}
    if isinstance(potential, (str, Path)) and Path(str(potential)).is_dir():
        potential = load_potential(potential)
    elif fitted_pod_dir(potential) is not None:  # a fitted potential's spec: the same checks as the object
        potential = load_potential(fitted_pod_dir(potential))
    if isinstance(potential, FittedPotential):
        for metal in metals:
            check_composition(potential, f"{metal}H")
        fitted = {m: potential for m in metals}
    elif potential is None:
        require_calculator(settings.teacher)
        require_calculator(settings.label_calculator)
    rows = [r.to_dict() for _, r in chosen.iterrows()]

    cand_h = {m: tuple(chosen.loc[chosen["metals"].astype(str) == m, "h_per_metal"].astype(float)) for m in metals}

    def potential_for(metal):
        return fitted.get(metal) if fitted else system_potential(metal, settings, candidates_h=cand_h[metal], cache=cache,
                                                                 progress=progress)

    if distributed:
        results = _run_distributed(rows, metals, potential, fitted, settings, out_dir, cache, scheduler,
                                   n_workers, progress, cand_h)
    else:
        results = []
        pots = {m: (potential_for(m) if potential is None or fitted else None) for m in metals}
        for row in rows:
            fp = pots[str(row["metals"])]
            spec = fp.spec if fp is not None else potential
            runs = {kind: interface_job(row, kind, t, spec, settings, out_dir=str(out_dir), cache=cache,
                                        progress=progress) for kind, t in _runs_of(row, settings)}
            results.append(summarise(row, runs, _potential_info(fp, spec), settings))
    table = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in results])
    merged = merge_columns(ranking, table, ENGINE_COLUMNS)
    merged.attrs["engine_results"] = {r["candidate_id"]: r["_results"] for r in results}
    _plot_systems(results, out_dir)
    return merged


def _run_distributed(rows, metals, potential, fitted, settings, out_dir, cache, scheduler, n_workers,
                     progress, cand_h):
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    client = get_client(scheduler, n_workers)
    try:
        pot_futures = {}
        if potential is None:
            for m in metals:
                pot_futures[m] = client.submit(system_potential, m, settings, candidates_h=cand_h[m], cache=cache,
                                               pure=False)
        pots = {m: f.result() for m, f in pot_futures.items()}
        pots.update(fitted)
        futures = {}
        for i, row in enumerate(rows):
            fp = pots.get(str(row["metals"]))
            spec = fp.spec if fp is not None else potential
            for kind, t in _runs_of(row, settings):
                futures[client.submit(interface_job, row, kind, t, spec, settings, out_dir=str(out_dir), cache=cache,
                                      pure=False)] = (i, kind)
        runs: dict[int, dict] = {}
        for fut in tqdm(as_completed(list(futures)), total=len(futures), desc="engine MD runs", disable=not progress):
            i, kind = futures[fut]
            runs.setdefault(i, {})[kind] = fut.result()
        out = []
        for i, row in enumerate(rows):
            fp = pots.get(str(row["metals"]))
            spec = fp.spec if fp is not None else potential
            out.append(summarise(row, runs[i], _potential_info(fp, spec), settings))
        return out
    finally:
        close_client(client, scheduler)


def _plot_systems(results: list[dict], out_dir: Path) -> None:
    from screening.engine.simulate import InterfaceResult, plot_uptake

    by_metal: dict[str, dict] = {}
    for r in results:
        metal = r["_metal"]
        for kind, d in r["_results"].items():
            res = InterfaceResult.from_dict(d)
            by_metal.setdefault(metal, {})[f"{r['candidate_id']} {kind} {res.target_temperature_k:g} K"] = res
    from screening.figure_provenance import write_plot_provenance

    calculators = {r["_metal"]: json.loads(r["engine_calculator"]) for r in results}
    from screening.engine.depth import plot_interface_result

    for metal, runs in by_metal.items():
        for label, res in runs.items():
            if not res.liquid_fraction_by_depth:
                continue
            name = label.replace("@", "_at_").replace(" ", "_")
            png = plot_interface_result(res, file_in(out_dir, name, prefix="engine_", suffix="_depth.png"))
            write_plot_provenance(png, calculators.get(metal, {}), {**res.settings, "run": label},
                                  f"Tier 3: liquid-like fraction of the metal by depth below the slab surface over time, "
                                  f"H/M in the slab, and the cell at the start, middle and end of {label}.")
        png = plot_uptake(runs, file_in(out_dir, metal, prefix="engine_", suffix="-H_uptake.png"))
        first = next(iter(runs.values()))
        write_plot_provenance(png, calculators.get(metal, {}), {**first.settings, "runs": list(runs)},
                              f"Tier 3: H/M in the precursor slab and liquid-like metal fraction over time for the "
                              f"{metal}-H interface runs ({', '.join(runs)}).")
