"""Tier 2a: pressure–enthalpy proxy from relaxations under pressure.

For a metal M the tier relaxes, at every pressure of a grid and with one calculator:
the elemental metal (fcc, bcc, hcp; lowest enthalpy kept), solid H2 and every
MH_x template of the library (the best template per x is kept). From these:

* ΔH_f(P): formation enthalpy from M + H2, eV/atom;
* hull distance at P from pymatgen ``PhaseDiagram`` built with enthalpies;
* ΔH_r(P) for MH_n + (x−n)/2 H2 → MH_x, n = the highest stoichiometry below x on the hull at P
  (n = 0 is the metal), per metal atom and per H2 absorbed (eV and kJ/mol H2);
* ΔV_r = dΔH_r/dP from the relaxed volumes (Å^3 per metal atom);
* the onset pressure P* where ΔH_r of that reaction turns negative with increasing pressure (EOS-interpolated).

Between grid points H(P) comes from a Vinet fit (pymatgen ``EOS("vinet")``) of each phase's E(V),
whose V(P) is integrated from the nearest grid points (dH/dP = V). Zero-point energy is not included; a universal potential is
labelled as such in every row.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from descriptors.eos import vinet_pressure, vinet_volume
from screening.calculators import DEFAULT_CALCULATOR, CalculatorInfo, check_elements, get_calculator
from screening.candidates import DEFAULT_PRESSURES_GPA, validate_pressures
from screening.errors import CandidateError
from screening.formulas import hydride_formula
from screening.proxies.onset import onset_from_points
from screening.relax import EV_PER_GPA_A3, RelaxSettings, cached_relaxation
from screening.store import ResultStore
from screening.structures import build_structure, h2_structure, metal_structures, templates_for
from screening.structures.builder import StructureError
from screening.structures.templates import primitive_size

EV_TO_KJ_PER_MOL = 96.48533212
BUILDER_VERSION = 1
DEFAULT_MAX_ATOMS = 20
ZPE_NOTE = "static-lattice enthalpies, no zero-point energy"
#: Largest RMS misfit (GPa) between the relaxation pressures and −dE/dV of a phase's Vinet fit for the fit
#: to be used between grid points.
MAX_EOS_RMS_GPA = 2.0


# --------------------------------------------------------------------------- phase curves
@dataclass
class PhaseCurve:
    """H(P) and V(P) of one phase, per formula unit (per metal atom; per H2 molecule for H2)."""

    name: str
    kind: str  # "metal", "h2" or "hydride"
    h_per_metal: float
    template: str
    pressures: np.ndarray
    enthalpies: np.ndarray
    volumes: np.ndarray
    converged: np.ndarray
    vinet: tuple | None = None
    fit_rms_gpa: float = math.nan

    def fit(self) -> "PhaseCurve":
        """Fit a Vinet E(V) (``pymatgen.analysis.eos.Vinet``) to the relaxed points, E = H − PV; needs four
        or more (four parameters). The fit is kept only if the pressures it implies, P = −dE/dV at the relaxed
        volumes, match the relaxation pressures to :data:`MAX_EOS_RMS_GPA` RMS; otherwise (too few points, no
        convergence, or a phase that changed along the grid, e.g. H2 collapsing) :meth:`enthalpy_at` uses the
        Hermite interpolation through the relaxed (P, H) points with slopes V."""
        from pymatgen.analysis.eos import EOS

        ok = np.isfinite(self.volumes) & np.isfinite(self.enthalpies)
        if ok.sum() < 4:
            return self
        v, p, h = self.volumes[ok], self.pressures[ok], self.enthalpies[ok]
        try:
            eos = EOS("vinet").fit(v, h - p * v * EV_PER_GPA_A3)
            params = (float(eos.v0), float(eos.b0_GPa), float(eos.b1))
        except Exception:  # pymatgen raises EOSError, scipy RuntimeError/ValueError on hopeless data
            return self
        if not (all(math.isfinite(x) for x in params) and params[0] > 0 and params[1] > 0):
            return self
        self.fit_rms_gpa = float(np.sqrt(np.mean((vinet_pressure(v, *params) - p) ** 2)))
        if self.fit_rms_gpa <= MAX_EOS_RMS_GPA:
            self.vinet = params
        return self

    def volume_at(self, p: float) -> float:
        """V(P): the relaxed value at grid points, the Vinet fit (or linear interpolation) between them."""
        ok = np.isfinite(self.volumes)
        hit = np.flatnonzero(ok & (np.abs(self.pressures - p) < 1e-9))
        if hit.size:
            return float(self.volumes[hit[0]])
        if self.vinet is not None:
            return float(vinet_volume(p, *self.vinet))
        return float(np.interp(p, self.pressures[ok], self.volumes[ok]))

    def _integral(self, lo: float, hi: float) -> float:
        """∫ V dP from lo to hi with the Vinet fit, eV per formula unit."""
        nodes, weights = np.polynomial.legendre.leggauss(16)
        x = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
        return float(0.5 * (hi - lo) * np.sum(weights * vinet_volume(x, *self.vinet)) * EV_PER_GPA_A3)

    def enthalpy_at(self, p: float) -> float:
        """H(P): the relaxed value at grid points; between two grid points a blend of
        H(P_i) + ∫ V dP and H(P_i+1) − ∫ V dP from the Vinet fit (dH/dP = V), weighted by distance,
        so H is continuous and exact at the grid. Without a fit: cubic Hermite through (P, H) with slopes V.
        Outside the grid: NaN (no extrapolation)."""
        ok = np.isfinite(self.enthalpies)
        if not ok.any():
            return math.nan
        ps, hs, vs = self.pressures[ok], self.enthalpies[ok], self.volumes[ok]
        hit = np.flatnonzero(np.abs(ps - p) < 1e-9)
        if hit.size:
            return float(hs[hit[0]])
        if ps.size < 2 or not (ps.min() < p < ps.max()):
            return math.nan
        if self.vinet is None:
            from scipy.interpolate import CubicHermiteSpline

            return float(CubicHermiteSpline(ps, hs, vs * EV_PER_GPA_A3)(p))
        i = int(np.searchsorted(ps, p)) - 1
        lo, hi = ps[i], ps[i + 1]
        w = (hi - p) / (hi - lo)
        return float(w * (hs[i] + self._integral(lo, p)) + (1 - w) * (hs[i + 1] - self._integral(p, hi)))


@dataclass
class SystemResult:
    """All phase curves of one metal–H system plus the raw relaxation rows."""

    metal: str
    calculator: CalculatorInfo
    settings: RelaxSettings
    pressures: tuple
    phases: dict = field(default_factory=dict)
    relaxations: pd.DataFrame | None = None
    #: relaxed structures (pymatgen dicts) by (phase name, pressure), for refinement and export
    structures: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- per-pressure tables
    def metal_ref(self, p: float) -> PhaseCurve:
        metals = [c for c in self.phases.values() if c.kind == "metal"]
        return min(metals, key=lambda c: _nan_to_inf(c.enthalpy_at(p)))

    def best_hydrides(self, p: float) -> dict[float, PhaseCurve]:
        """Lowest-enthalpy template per H/M at P."""
        best: dict[float, PhaseCurve] = {}
        for c in self.phases.values():
            if c.kind == "hydride" and math.isfinite(c.enthalpy_at(p)):
                if c.h_per_metal not in best or c.enthalpy_at(p) < best[c.h_per_metal].enthalpy_at(p):
                    best[c.h_per_metal] = c
        return best

    @staticmethod
    def _h(curve: PhaseCurve, p: float, enthalpies: dict | None) -> float:
        """H(P) per formula unit of a phase, or its value in ``enthalpies`` (phase name → eV/fu) when given."""
        return float(enthalpies[curve.name]) if enthalpies is not None else curve.enthalpy_at(p)

    def hull(self, p: float, enthalpies: dict | None = None) -> pd.DataFrame:
        """Formation enthalpy and hull distance of the best phase per H/M at P (pymatgen PhaseDiagram).

        ``enthalpies``: phase name → enthalpy per formula unit at P replacing the relaxation's (e.g. DFT single
        points at the relaxed geometries, :mod:`screening.proxies.refine`); the phases are still those chosen by
        the relaxations.
        """
        from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
        from pymatgen.core import Composition

        m = self.metal_ref(p)
        h2 = self.phases["H2"]
        h_m, h_h2 = self._h(m, p, enthalpies), self._h(h2, p, enthalpies)
        entries = [PDEntry(Composition({self.metal: 1}), h_m, name=m.name), PDEntry(Composition({"H": 2}), h_h2, name="H2")]
        best = self.best_hydrides(p)
        hyd = {x: PDEntry(Composition({self.metal: 1, "H": x}), self._h(c, p, enthalpies), name=c.name)
               for x, c in best.items()}
        pd_ = PhaseDiagram(entries + list(hyd.values()))
        rows = [{"h_per_metal": 0.0, "phase": m.name, "dH_f_ev_per_atom": 0.0, "e_above_hull_ev_per_atom": 0.0, "on_hull": True}]
        for x, e in sorted(hyd.items()):
            ehull = float(pd_.get_e_above_hull(e, allow_negative=True))
            rows.append({"h_per_metal": x, "phase": e.name, "dH_f_ev_per_atom": float(pd_.get_form_energy_per_atom(e)),
                         "e_above_hull_ev_per_atom": max(ehull, 0.0), "on_hull": ehull < 1e-6})
        return pd.DataFrame(rows).assign(pressure_gpa=p)

    @staticmethod
    def hull_precursor(hull: pd.DataFrame, x: float) -> float:
        """The highest H/M below x on the hull (0 = the metal), from a :meth:`hull` table."""
        lower = hull[(hull["h_per_metal"] < x - 1e-9) & hull["on_hull"]]
        return float(lower["h_per_metal"].max()) if not lower.empty else 0.0

    def reaction(self, x: float, p: float, precursor_x: float | None = None, enthalpies: dict | None = None) -> dict:
        """ΔH_r and ΔV_r of MH_n + (x−n)/2 H2 → MH_x at P; n from the hull at P unless given (``enthalpies``: as in
        :meth:`hull`)."""
        if precursor_x is None:
            precursor_x = self.hull_precursor(self.hull(p, enthalpies), x)
        prod = self.best_hydrides(p).get(x)
        if prod is None:
            return {}
        prec = self.metal_ref(p) if precursor_x == 0 else self.best_hydrides(p).get(precursor_x)
        if prec is None:  # the precursor has no relaxed phase at this pressure (e.g. none converged there)
            return {}
        h2 = self.phases["H2"]
        n_h2 = (x - precursor_x) / 2.0
        dh = self._h(prod, p, enthalpies) - self._h(prec, p, enthalpies) - n_h2 * self._h(h2, p, enthalpies)
        dv = prod.volume_at(p) - prec.volume_at(p) - n_h2 * h2.volume_at(p)
        return {"precursor_h_per_metal": precursor_x, "precursor_phase": prec.name, "product_phase": prod.name,
                "dH_r_ev_per_metal": dh, "dH_r_ev_per_h2": dh / n_h2, "dH_r_kj_per_mol_h2": dh / n_h2 * EV_TO_KJ_PER_MOL,
                "dV_r_a3_per_metal": dv}

    def onset(self, x: float, precursor_x: float, n_points: int = 121) -> tuple[float, str]:
        """Onset pressure of the fixed reaction (precursor_x → x): the lowest pressure at which ΔH_r crosses
        from positive (unfavourable) to negative (favourable) with increasing pressure.

        Returns ``(P*, "within range")``; ``(nan, "below range")`` when ΔH_r < 0 already at the lowest
        pressure of the grid; ``(nan, "above range")`` when it never turns negative; ``(nan, "unavailable")``
        without numbers. A crossing from negative to positive (the reaction turning unfavourable under
        pressure) is not an onset.
        """
        grid = np.linspace(min(self.pressures), max(self.pressures), n_points)
        dh = np.array([self.reaction(x, p, precursor_x).get("dH_r_ev_per_metal", math.nan) for p in grid])
        ok = np.isfinite(dh)
        if not ok.any():
            return math.nan, "unavailable"
        return onset_from_points(grid[ok], dh[ok])


def _nan_to_inf(v: float) -> float:
    return v if math.isfinite(v) else math.inf


# --------------------------------------------------------------------------- computing a system
def _phase_jobs(metal: str, templates, max_atoms: int):
    """(name, kind, x, template_name, factory(P)) for every structure of the system."""
    jobs = [(f"{metal}/{lat}", "metal", 0.0, lat, (lambda p, lat=lat: metal_structures(metal, p)[lat])) for lat in ("fcc", "bcc", "hcp")]
    jobs.append(("H2", "h2", math.inf, "mhcp", h2_structure))
    for t in templates:
        if primitive_size(t) > max_atoms:
            continue
        jobs.append((f"{metal}H{t.h_per_metal:g}/{t.name}", "hydride", t.h_per_metal, t.name,
                     (lambda p, t=t: build_structure(t, metal, p))))
    return jobs


#: The ``metal`` of the H2 relaxations' cache label: H2 does not depend on the metal, so one relaxation per
#: pressure serves every system.
SHARED_H2_METAL = "H"


def relaxation_label(phase: str, template: str, metal: str, kind: str = "") -> dict:
    """The starting-structure part of a tier-2a relaxation's cache key (also used by the DFT dataset, which
    reuses these relaxations)."""
    return {"phase": phase, "template": template, "metal": SHARED_H2_METAL if kind == "h2" else metal,
            "builder": BUILDER_VERSION}


def _display_name(job_name: str, kind: str, metal: str, x: float, template: str) -> str:
    """Phase name shown in tables and plots: the chemists' formula and the template (``Pd4H23/A15``).

    The job name (``PdH5.75/A15``) stays the cache key of the relaxation, so stored results remain valid."""
    return f"{hydride_formula(metal, x)}/{template}" if kind == "hydride" else job_name


def compute_system(
    metal: str,
    pressures_gpa: Sequence[float] = DEFAULT_PRESSURES_GPA,
    calculator=DEFAULT_CALCULATOR,
    templates: Iterable[str] | None = None,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    store: ResultStore | None = None,
    settings: RelaxSettings | None = None,
    progress: bool = True,
) -> SystemResult:
    """Relax every phase of the M–H system at every pressure (cached) and fit its EOS."""
    from screening.structures import load_templates

    pressures = sorted(set(validate_pressures(pressures_gpa)))
    if len(pressures) < 2:
        raise CandidateError(f"the pressure grid needs at least two pressures for H(P) and ΔV_r, got {pressures}")
    store = store or ResultStore()
    settings = settings or RelaxSettings()
    calc, info = get_calculator(calculator)
    check_elements(info, [metal, "H"])  # "No EMT potential for Ca" before any relaxation, not a NaN later
    chosen = templates_for(names=list(templates)) if templates is not None else list(load_templates().values())
    jobs = _phase_jobs(metal, chosen, max_atoms)
    rows = []
    bar = tqdm(total=len(jobs) * len(pressures), desc=f"relax {metal}-H ({info.name})", disable=not progress)
    for key, kind, x, tname, factory in jobs:
        name = _display_name(key, kind, metal, x, tname)
        for p in pressures:
            label = relaxation_label(key, tname, metal, kind)
            try:
                res, cached = cached_relaxation(store, label, lambda: factory(p), p, calc, info, settings)
            except StructureError as exc:
                res, cached = {"status": "rejected", "error": str(exc), "converged": False}, False
            rows.append(relaxation_row(name, kind, x, tname, p, res, cached))
            bar.update()
    bar.close()
    return system_from_relaxations(metal, info, settings, pressures, pd.DataFrame(rows))


def relaxation_row(name: str, kind: str, x: float, template: str, pressure_gpa: float, res: dict,
                   cached: bool) -> dict:
    """One row of a system's relaxations table from a stored relaxation result (per formula unit)."""
    n_fu = _formula_units(res, kind)
    return {"phase": name, "kind": kind, "h_per_metal": x, "template": template, "pressure_gpa": pressure_gpa,
            "status": res.get("status"), "converged": bool(res.get("converged")), "cached": cached,
            "steps": res.get("steps"), "seconds": res.get("seconds"),
            "enthalpy_ev_per_fu": res["enthalpy_ev"] / n_fu if "enthalpy_ev" in res else math.nan,
            "volume_a3_per_fu": res["volume_a3"] / n_fu if "volume_a3" in res else math.nan,
            "achieved_pressure_gpa": res.get("achieved_pressure_gpa", math.nan),
            "error": res.get("error", ""), "warnings": "; ".join(res.get("warnings", [])),
            "structure": res.get("structure")}


def system_from_relaxations(metal: str, info: CalculatorInfo, settings: RelaxSettings, pressures: Sequence[float],
                            table: pd.DataFrame) -> SystemResult:
    """Phase curves (with their EOS fits) from a table of relaxations, one row per phase and pressure
    (the columns :func:`compute_system` writes)."""
    structures = {(r["phase"], float(r["pressure_gpa"])): r["structure"] for r in table.to_dict("records")
                  if isinstance(r.get("structure"), dict)}
    result = SystemResult(metal, info, settings, tuple(pressures), relaxations=table, structures=structures)
    for name, g in table.groupby("phase", sort=False):
        usable = g["status"].isin(["ok", "not_converged"]).to_numpy()
        first = g.iloc[0]
        result.phases[name] = PhaseCurve(
            name, first["kind"], float(first["h_per_metal"]), first["template"], g["pressure_gpa"].to_numpy(float),
            np.where(usable, g["enthalpy_ev_per_fu"], np.nan), np.where(usable, g["volume_a3_per_fu"], np.nan),
            g["converged"].to_numpy(bool),
        ).fit()
    for kind, what in (("h2", "H2 reference"), ("metal", f"{metal} metal reference")):
        curves = [c for c in result.phases.values() if c.kind == kind]
        if not any(np.isfinite(c.enthalpies).any() for c in curves):
            errors = table.loc[(table["kind"] == kind) & (table["error"] != ""), "error"].unique()
            raise CandidateError(f"every {what} relaxation failed with {info.label}"
                                 + (f": {'; '.join(map(str, errors[:3]))}" if len(errors) else ""))
    return result


def _formula_units(res: dict, kind: str) -> float:
    """Formula units in a relaxed cell: metal atoms (hydrides, metals) or H2 molecules."""
    if "structure" not in res:
        return 1.0
    species = [s["species"][0]["element"] for s in res["structure"]["sites"]]
    n_h = sum(1 for s in species if s == "H")
    return n_h / 2.0 if kind == "h2" else float(len(species) - n_h)


# --------------------------------------------------------------------------- candidate API
PROXY_COLUMNS = (
    "enthalpy_phase", "dH_f_ev_per_atom", "e_above_hull_ev_per_atom", "precursor", "dH_r_ev_per_metal",
    "dH_r_kj_per_mol_h2", "dV_r_a3_per_metal", "onset_pressure_gpa", "onset_status", "enthalpy_converged",
    "enthalpy_status", "enthalpy_calculator", "enthalpy_settings",
)


def proxies_for_candidate(system: SystemResult, h_per_metal: float, pressure_gpa: float) -> dict:
    """The proxy columns of one candidate (MH_x at P) from a computed system."""
    base = {"enthalpy_calculator": system.calculator.label,
            "enthalpy_settings": json.dumps({**system.settings.as_dict(), **system.calculator.settings,
                                             "pressures_gpa": list(system.pressures), "note": ZPE_NOTE})}
    if h_per_metal not in {c.h_per_metal for c in system.phases.values() if c.kind == "hydride"}:
        return {**base, "enthalpy_status": f"no template with H/M = {h_per_metal:g}"}
    # A reference that failed at this pressure (e.g. the potential collapsed the metal) leaves no hull at P.
    for ref, what in ((system.metal_ref(pressure_gpa), f"{system.metal} metal"), (system.phases["H2"], "H2")):
        if not math.isfinite(ref.enthalpy_at(pressure_gpa)):
            return {**base, "enthalpy_status": f"no {what} reference at {pressure_gpa:g} GPa (its relaxations failed "
                                               f"with {system.calculator.label})"}
    table = system.hull(pressure_gpa)
    hull = table.set_index("h_per_metal")
    if h_per_metal not in hull.index:
        return {**base, "enthalpy_status": "all relaxations failed"}
    rx = system.reaction(h_per_metal, pressure_gpa, system.hull_precursor(table, h_per_metal))
    onset, status = system.onset(h_per_metal, rx["precursor_h_per_metal"])
    used = [rx["product_phase"], rx["precursor_phase"], "H2"]
    converged = all(bool(system.phases[n].converged[np.argmin(np.abs(system.phases[n].pressures - pressure_gpa))]) for n in used)
    n = rx["precursor_h_per_metal"]
    return {
        **base,
        "enthalpy_phase": rx["product_phase"],
        "dH_f_ev_per_atom": float(hull.at[h_per_metal, "dH_f_ev_per_atom"]),
        "e_above_hull_ev_per_atom": float(hull.at[h_per_metal, "e_above_hull_ev_per_atom"]),
        "precursor": hydride_formula(system.metal, n),
        "dH_r_ev_per_metal": rx["dH_r_ev_per_metal"],
        "dH_r_kj_per_mol_h2": rx["dH_r_kj_per_mol_h2"],
        "dV_r_a3_per_metal": rx["dV_r_a3_per_metal"],
        "onset_pressure_gpa": onset,
        "onset_status": status,
        "enthalpy_converged": converged,
        "enthalpy_status": "ok",
    }


def enthalpy_proxy(
    candidates: pd.DataFrame,
    calculator=DEFAULT_CALCULATOR,
    pressures_gpa: Sequence[float] | None = None,
    templates: Iterable[str] | None = None,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    store: ResultStore | None = None,
    settings: RelaxSettings | None = None,
    progress: bool = True,
    systems_out: dict | None = None,
    refine: str | None = None,
    refine_settings=None,
) -> pd.DataFrame:
    """Tier-2a proxies for every candidate row (one metal system computed once for all its rows).

    Args:
        candidates: frame with ``candidate_id``, ``metals``, ``h_per_metal``, ``pressure_gpa``
            (e.g. the output of :func:`screening.screen`). Mixed-metal rows get a status, not numbers.
        calculator: registry name or ASE calculator (default CHGNet: a universal potential, not DFT).
        pressures_gpa: relaxation grid; default the candidates' pressures plus the default grid.
        templates: template names (default: the whole library, cells up to ``max_atoms``).
        store: result cache (default ``$SCREENING_CACHE_DIR/results.sqlite``).
        systems_out: if given, filled with ``{metal: SystemResult}`` (for plots).
        refine: ``"gpaw"``: DFT single points of every phase entering the hull and ΔH_r at each candidate's
            pressure (:mod:`screening.proxies.refine`; after ``make setup-dft``), reported beside the relaxation's
            numbers in the :data:`~screening.proxies.refine.REFINE_COLUMNS`. Meant for a short list.
        refine_settings: :class:`~screening.reference.dft_settings.DFTSettings` of the refinement (default: the
            converged ones).

    Returns:
        ``candidate_id`` and the :data:`PROXY_COLUMNS` (plus the refine columns with ``refine``).
    """
    missing = [c for c in ("candidate_id", "metals", "h_per_metal", "pressure_gpa") if c not in candidates.columns]
    if missing:
        raise CandidateError(f"candidates lack column(s) {missing}")
    grid = sorted(set(validate_pressures(list(pressures_gpa) if pressures_gpa is not None else DEFAULT_PRESSURES_GPA))
                  | set(validate_pressures(candidates["pressure_gpa"].tolist())))
    store = store or ResultStore()
    rows = []
    for metals, group in candidates.groupby("metals", sort=False):
        if "," in str(metals):
            rows += [{"candidate_id": cid, "enthalpy_status": "mixed-metal candidates are not supported by tier 2a yet"}
                     for cid in group["candidate_id"]]
            continue
        system = compute_system(str(metals), grid, calculator, templates, max_atoms, store, settings, progress)
        if systems_out is not None:
            systems_out[str(metals)] = system
        refined = {}
        if refine:
            from screening.proxies.refine import refine_enthalpies

            refined = refine_enthalpies(system, sorted(set(group["pressure_gpa"].astype(float))), refine,
                                        refine_settings, store=store, progress=progress)
        for _, r in group.iterrows():
            x, p = float(r["h_per_metal"]), float(r["pressure_gpa"])
            row = {"candidate_id": r["candidate_id"], **proxies_for_candidate(system, x, p)}
            if refine and row.get("enthalpy_status") == "ok":
                from screening.proxies.refine import refined_columns

                row.update(refined_columns(system, refined, x, p))
            rows.append(row)
    out = pd.DataFrame(rows)
    columns = list(PROXY_COLUMNS)
    if refine:
        from screening.proxies.refine import REFINE_COLUMNS

        columns += list(REFINE_COLUMNS)
    for col in columns:
        if col not in out.columns:
            out[col] = np.nan
    return out[["candidate_id", *columns]]


def merge_into_ranking(ranking: pd.DataFrame, proxies: pd.DataFrame) -> pd.DataFrame:
    """Left-join the tier-2a columns (and the refine columns, if any) onto a ranking by ``candidate_id``
    (earlier ones are replaced)."""
    from screening.tables import merge_columns
    from screening.proxies.refine import REFINE_COLUMNS

    return merge_columns(ranking, proxies, [c for c in (*PROXY_COLUMNS, *REFINE_COLUMNS) if c in proxies.columns])
