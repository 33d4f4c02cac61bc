"""Selecting and labelling training configurations.

* :func:`select_configurations`: farthest-point sampling (FPS) in a cheap structural descriptor
  (:func:`structural_descriptors`: Gaussian-smeared M–M, M–H and H–H pair-distance histograms per
  atom, the H fraction and the volume per atom), so that a labelling budget is spent on distinct
  configurations rather than on near-duplicates of consecutive MD frames.
* :func:`committee_disagreement`: spread of the energy per atom and forces over several
  calculators (an ensemble of fitted potentials), for uncertainty-based selection.
* :func:`label_configurations`: single-point energy, forces and stress with a registry calculator;
  every label is a :class:`~screening.store.ResultStore` entry (kind ``engine.label``) keyed by the
  configuration's content hash and the calculator provenance, so an interrupted labelling resumes
  and an expensive (DFT) label is never recomputed. Failures are stored and reported, not dropped.
* :func:`write_extxyz` / :func:`read_extxyz`: labelled sets as ASE extended XYZ.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.calculators import DEFAULT_CALCULATOR
from screening.engine.config_ids import config_id, content_hash
from screening.errors import CandidateError

log = logging.getLogger(__name__)

PAIR_GRID_A = np.arange(0.5, 5.0001, 0.1)
PAIR_SMEAR_A = 0.1
PAIR_CUTOFF_A = 5.3
SELECTION_METHODS = ("fps", "random")


# --------------------------------------------------------------------------- descriptors and selection
def structural_descriptors(configs: Sequence) -> np.ndarray:
    """Per-configuration descriptor rows (see module docstring), shape ``(n, 3 * len(PAIR_GRID_A) + 2)``.

    Pair histograms count, per atom, neighbours j of i at distance r (Gaussian of width 0.1 Å on a
    0.5–5 Å grid), split into M–M, M–H and H–H (H–M counted with M–H). All metals count as M.
    """
    from ase.neighborlist import neighbor_list

    rows = []
    for atoms in configs:
        n = len(atoms)
        is_h = np.array([s == "H" for s in atoms.get_chemical_symbols()])
        i, j, d = neighbor_list("ijd", atoms, PAIR_CUTOFF_A)
        kind = is_h[i].astype(int) + is_h[j].astype(int)  # 0 M-M, 1 M-H, 2 H-H
        g = np.exp(-0.5 * ((d[:, None] - PAIR_GRID_A[None, :]) / PAIR_SMEAR_A) ** 2)
        hist = [g[kind == k].sum(axis=0) / n for k in range(3)]
        vol = abs(atoms.get_volume()) / n if atoms.pbc.all() else 0.0
        rows.append(np.concatenate(hist + [np.array([is_h.mean(), vol])]))
    return np.array(rows, dtype=float).reshape(len(rows), -1)


def _scaled(x: np.ndarray) -> np.ndarray:
    """Histogram blocks divided by their block standard deviation, scalars z-scored (weight 1 each)."""
    nb = len(PAIR_GRID_A)
    out = x.copy()
    for k in range(3):
        blk = out[:, k * nb:(k + 1) * nb]
        s = float(blk.std())
        out[:, k * nb:(k + 1) * nb] = blk / (s if s > 1e-12 else 1.0) / math.sqrt(nb)
    for c in (3 * nb, 3 * nb + 1):
        s = float(out[:, c].std())
        out[:, c] = (out[:, c] - out[:, c].mean()) / (s if s > 1e-12 else 1.0)
    return out


def farthest_point_order(x: np.ndarray, n: int, already: Sequence[int] = ()) -> list[int]:
    """Greedy farthest-point sampling of ``n`` rows of ``x`` (Euclidean).

    The first point (when ``already`` is empty) is the row farthest from the mean, ties broken by
    the lowest index, so the order is deterministic. ``already`` are indices treated as selected.
    """
    m = len(x)
    if m == 0 or n <= 0:
        return []
    if len(already):
        dmin = np.full(m, np.inf)
        for k in already:  # one row at a time: memory O(m), not O(m * len(already))
            dmin = np.minimum(dmin, np.linalg.norm(x - x[k], axis=1))
        chosen: list[int] = []
    else:
        first = int(np.argmax(np.linalg.norm(x - x.mean(axis=0), axis=1)))
        chosen = [first]
        dmin = np.linalg.norm(x - x[first], axis=1)
    taken = set(already) | set(chosen)
    while len(chosen) < n and len(taken) < m:
        d = dmin.copy()
        d[list(taken)] = -1.0
        k = int(np.argmax(d))
        chosen.append(k)
        taken.add(k)
        dmin = np.minimum(dmin, np.linalg.norm(x - x[k], axis=1))
    return chosen


def select_configurations(configs: Sequence, n: int, method: str = "fps", *, seed: int = 0,
                          already_selected: Sequence[int] = ()) -> list[int]:
    """Indices of ``n`` configurations to label, in selection order.

    Args:
        configs: ASE Atoms.
        n: how many (capped at the number available).
        method: ``"fps"`` (farthest-point sampling in :func:`structural_descriptors`) or ``"random"``.
        seed: seed of ``"random"`` (FPS is deterministic and does not use it).
        already_selected: indices already labelled; FPS extends that set (they are not returned).
    """
    if method not in SELECTION_METHODS:
        raise CandidateError(f"unknown selection method {method!r}; valid: {', '.join(SELECTION_METHODS)}")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise CandidateError(f"n must be a non-negative integer, got {n!r}")
    bad = [i for i in already_selected if not 0 <= i < len(configs)]
    if bad:
        raise CandidateError(f"already_selected indices {bad} are out of range for {len(configs)} configurations")
    avail = len(configs) - len(set(already_selected))
    n = min(int(n), avail)
    if method == "random":
        rest = np.array(sorted(set(range(len(configs))) - set(already_selected)), dtype=int)
        return [int(i) for i in np.random.default_rng(seed).permutation(rest)[:n]]
    return farthest_point_order(_scaled(structural_descriptors(configs)), n, list(already_selected))


def select_stratified(configs: Sequence, n: int, key: str = "family") -> list[int]:
    """``n`` indices spread evenly over the groups ``configs[i].info[key]``, FPS within each group.

    Quotas are ``n // n_groups`` per group (groups too small give their surplus to the others, the
    remainder goes to the largest groups); the result is sorted. Used for hold-out sets, where plain
    FPS would take mostly the most distorted family.
    """
    groups: dict[Any, list[int]] = {}
    for i, a in enumerate(configs):
        groups.setdefault(a.info.get(key), []).append(i)
    n = min(int(n), len(configs))
    quota = {g: 0 for g in groups}
    left = n
    while left > 0:
        open_groups = [g for g in sorted(groups, key=lambda g: (-len(groups[g]), str(g))) if quota[g] < len(groups[g])]
        share = max(1, left // len(open_groups))
        for g in open_groups:
            take = min(share, len(groups[g]) - quota[g], left)
            quota[g] += take
            left -= take
            if left == 0:
                break
    out: list[int] = []
    for g, members in groups.items():
        if quota[g]:
            out.extend(members[k] for k in select_configurations([configs[i] for i in members], quota[g]))
    return sorted(out)


def committee_disagreement(configs: Sequence, potentials: Sequence[Any]) -> np.ndarray:
    """Spread of a committee's predictions per configuration.

    Args:
        configs: ASE Atoms.
        potentials: at least two ASE calculators or registry names (e.g. an ensemble of fitted potentials).

    Returns:
        Array ``(n_configs, 2)``: column 0 the standard deviation over the committee of the energy
        per atom (eV/atom); column 1 the largest per-atom force deviation
        ``max_i sqrt(mean_k |F_ik - <F_i>|^2)`` (eV/Å), the usual active-learning criterion.
    """
    from screening.calculators import get_calculator

    if len(potentials) < 2:
        raise CandidateError(f"a committee needs at least 2 potentials, got {len(potentials)}")
    calcs = [get_calculator(p)[0] for p in potentials]
    out = np.zeros((len(configs), 2))
    for c, atoms in enumerate(configs):
        energies, forces = [], []
        for calc in calcs:
            a = atoms.copy()
            a.calc = calc
            energies.append(a.get_potential_energy() / len(a))
            forces.append(np.asarray(a.get_forces(), dtype=float))
        f = np.array(forces)
        out[c, 0] = float(np.std(energies))
        out[c, 1] = float(np.sqrt(((f - f.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0)).max())
    return out


# --------------------------------------------------------------------------- labelling
def _label_one(atoms, calc) -> dict:
    a = atoms.copy()
    a.calc = calc
    start = time.perf_counter()
    try:
        energy = float(a.get_potential_energy())
        forces = np.asarray(a.get_forces(), dtype=float)
        try:
            stress = np.asarray(a.get_stress(voigt=True), dtype=float).tolist()
        except Exception:  # a calculator without stress still gives a usable label
            stress = None
    except Exception as exc:  # SCF not converged, graph error, ...: a reported failure
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start}
    if not (math.isfinite(energy) and np.isfinite(forces).all()):
        return {"status": "failed", "error": "non-finite energy or forces", "seconds": time.perf_counter() - start}
    return {"status": "ok", "energy": energy, "forces": forces.tolist(), "stress": stress,
            "seconds": time.perf_counter() - start}


def label_configurations(configs: Sequence, calculator: Any = DEFAULT_CALCULATOR, *, store=None,
                         calculator_settings: dict | None = None, progress: bool = True,
                         return_failures: bool = False, retry_failed: bool = False, only_cached: bool = False):
    """Single-point energy, forces and stress of every configuration (cached per configuration).

    Args:
        configs: ASE Atoms (their ``info`` is kept).
        calculator: registry name (``"chgnet"``, ``"gpaw"``, ``"emt"``, ``"lammps:..."``) or ASE calculator.
        store: ResultStore (default: the project cache; False: no caching).
        calculator_settings: keyword settings for :func:`~screening.calculators.get_calculator`
            (e.g. ``{"ecut_ev": 400, "kpt_density": 3}`` for GPAW); part of the cache key.
        return_failures: also return the failures ``[{"index", "config_id", "error"}]``.
        retry_failed: recompute configurations whose stored label is a failure.
        only_cached: return only what the store already holds (nothing is computed; configurations
            without a stored label are left out, not reported as failures).

    Returns:
        Labelled copies (SinglePointCalculator with energy/forces[/stress]; ``info["label_source"]``,
        ``info["label_settings"]`` (JSON) and ``info["label_provenance"]`` (JSON)), failures skipped
        and logged; with ``return_failures``, ``(labelled, failures)``.

    Raises:
        CalculatorError: unknown calculator, or its package is missing (``gpaw``: run ``make setup-dft``).
    """
    from ase.calculators.singlepoint import SinglePointCalculator
    from tqdm.auto import tqdm

    from screening.calculators import get_calculator

    settings = dict(calculator_settings or {})
    calc, info = get_calculator(calculator, **dict(settings))
    fresh_per_config = isinstance(calculator, str) and calculator == "gpaw"
    if store is None:
        from screening.store import ResultStore

        store = ResultStore()
    prov = info.as_dict()
    labelled, failures = [], []
    for idx, atoms in enumerate(tqdm(configs, desc=f"labels ({info.name})", disable=not progress)):
        inputs = label_inputs(atoms, prov)

        def compute(atoms=atoms):
            nonlocal calc
            if fresh_per_config:
                calc = get_calculator(calculator, **dict(settings))[0]
            return _label_one(atoms, calc)

        if store is False:
            result = compute()
        else:
            result = store.get("engine.label", inputs)
            if result is None and only_cached:
                continue
            if result is None or (retry_failed and result.get("status") != "ok"):
                start = time.perf_counter()
                result = compute()
                store.put("engine.label", inputs, result, result["status"], time.perf_counter() - start)
        cid = atoms.info.get("config_id") or config_id(atoms)
        if result.get("status") != "ok":
            failures.append({"index": idx, "config_id": cid, "error": result.get("error")})
            log.warning("label failed for %s (%s): %s", cid, info.name, result.get("error"))
            continue
        a = atoms.copy()
        a.info = dict(atoms.info)
        a.info["config_id"] = cid
        results = {"energy": result["energy"], "forces": np.array(result["forces"])}
        if result.get("stress") is not None:
            results["stress"] = np.array(result["stress"])
        a.calc = SinglePointCalculator(a, **results)
        a.info["label_source"] = info.label
        a.info["label_seconds"] = float(result.get("seconds") or 0.0)
        a.info["label_settings"] = json.dumps(prov["settings"], sort_keys=True, default=str)
        a.info["label_provenance"] = json.dumps(prov, sort_keys=True, default=str)
        labelled.append(a)
    if failures:
        log.warning("%d of %d configurations failed to label with %s", len(failures), len(configs), info.label)
    return (labelled, failures) if return_failures else labelled


def label_inputs(atoms, provenance: dict) -> dict:
    """Cache inputs of one label: the configuration's content hash, its symbols and the calculator provenance."""
    return {"config": content_hash(atoms), "symbols": atoms.get_chemical_symbols(), "calculator": provenance}


def seed_labels(frames: Sequence, store) -> int:
    """Put labelled frames (e.g. read from a committed extxyz file) into the store, so they are not recomputed.

    A frame counts only with its ``label_provenance`` (the calculator provenance that produced it, JSON) and its
    energy and forces; a frame whose configuration is already stored is left alone. Returns how many were added.
    """
    added = 0
    for a in frames:
        prov = a.info.get("label_provenance")
        if not prov or a.calc is None:
            continue
        inputs = label_inputs(a, json.loads(prov) if isinstance(prov, str) else prov)
        if store.get("engine.label", inputs) is not None:
            continue
        try:
            stress = np.asarray(a.get_stress(voigt=True), dtype=float).tolist()
        except Exception:  # a label without stress
            stress = None
        result = {"status": "ok", "energy": float(a.get_potential_energy()), "forces": a.get_forces().tolist(),
                  "stress": stress, "seconds": float(a.info.get("label_seconds", 0.0))}
        store.put("engine.label", inputs, result, "ok", result["seconds"])
        added += 1
    return added


# --------------------------------------------------------------------------- files
def write_extxyz(configs: Sequence, path: str | Path) -> Path:
    """Write configurations (labels and ``info``) to an extended-XYZ file atomically."""
    from ase.io import write

    from screening.provenance import atomic_write

    def _write(tmp: str) -> None:
        write(tmp, list(configs), format="extxyz")

    return atomic_write(path, _write)


def read_extxyz(path: str | Path) -> list:
    """Read every configuration of an extended-XYZ file (labels become SinglePointCalculators)."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise CandidateError(f"extxyz file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        return []
    return list(read(path, index=":", format="extxyz"))


__all__ = ["committee_disagreement", "farthest_point_order", "label_configurations", "label_inputs", "read_extxyz",
           "seed_labels", "select_configurations", "select_stratified", "structural_descriptors", "write_extxyz"]
