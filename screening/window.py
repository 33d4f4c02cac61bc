"""Predicted synthesis window of every candidate: minimum pressure, temperature range, precursor.

Each quantity comes from the best tier that has computed it, and its source is a column:

* **Minimum pressure** ``p_min_gpa`` and ``p_min_status``.
  - Tier 2a (``onset_pressure_gpa`` with ``onset_status`` ``"within range"``): the onset of
    ΔH_r(P) < 0 from the hull precursor. ``"below range"`` gives the lowest tier-2a pressure as an
    upper bound, ``"above range"`` says "not reachable" up to the highest tier-2a pressure.
  - Otherwise the tier-1 *excess-hydrogen model* (:class:`ExcessHydrogenModel`): the H/M that
    experiments reach grows with pressure beyond the metal's H-richest ambient hydride
    (``data/ambient_hydrides.csv``; 0 for a metal without one),
    ``x_max(P) = v_M + alpha (P / 100 GPa)^beta``; ``p_min`` inverts it. ``alpha`` and ``beta`` are
    fitted by least squares to an experimental table; the validation refits them leaving each metal
    out. The fallback is bounded by what supports it: never above the lowest pressure at which an
    experiment of the fitted table reached the same excess H/M (:meth:`ExcessHydrogenModel.envelope_pressure`);
    ``p_min_status`` says ``"not reachable"`` when
    ``p_min`` exceeds the highest pressure of the candidate grid, and ``"extrapolated"`` when the
    excess H/M lies beyond the largest one of the fitted table.
* **Temperature range** ``t_min_k`` – ``t_max_k``.
  - Upper end: T_m(P) of the *hydride*; tier 2b where computed, else :func:`hydride_melting_k`, a
    Lindemann estimate for the metal sublattice at the metal–metal spacing of the hydride (its
    ideal-mixing volume per metal, H included), never above the bare metal's own Lindemann T_m(P)
    and never above :data:`T_CAP_K`.
  - Lower end: the H-diffusion onset from tier 2b where computed and below T_m (an onset at T_m is the melt, and
    Tammann's rule below applies); else room temperature when the
    precursor's metal sublattice matches the product's (topotactic uptake needs only H diffusion,
    which runs at room temperature in metal hydrides; never above Tammann's bound), and Tammann's
    rule ``TAMMANN * T_m`` when the metal sublattice must be rebuilt (metal-atom diffusion).
* **Precursor** ``recommended_precursor``: only hydrides that exist at ambient pressure
  (:mod:`screening.ambient`) below the product's H/M, the one whose metal sublattice best matches
  the product's templates (ties: the H-richest); the element itself when the metal has none.
  The tier-2a hull precursor (a high-pressure phase) stays in the ``precursor`` column of tier 2a.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from screening.ambient import SOURCE as AMBIENT_SOURCE
from screening.ambient import ambient_h_per_metal, ambient_hydrides
from screening.errors import CandidateError

P_REF_GPA = 100.0
TAMMANN = 0.5
ROOM_TEMPERATURE_K = 300.0
#: Tier-2b melting statuses whose T_m sets the temperature window: "ok", and "uncertain" (a T_m with its error, e.g. the
#: T+/1.25 of a melt that did not recrystallise: still a measurement on the hydride, unlike the tier-1 Lindemann
#: estimate for the metal). "no-melting" (a lower bound), "failed" and "over-budget" leave the tier-1 window.
TIER2B_WINDOW_STATUSES = ("ok", "uncertain")
LINDEMANN_GAMMA0 = 1.5  # Grüneisen parameter at V0, gamma = gamma0 * V/V0 (q = 1)
#: Upper limit of the window: the top of the laser heating used in hydride syntheses (the reported
#: synthesis temperatures of data/experimental_hydrides.csv span 700-2800 K); a window above it
#: cannot be realised in a diamond-anvil cell, whatever the estimate of T_m.
T_CAP_K = 3000.0
WINDOW_COLUMNS = ("ambient_h_per_metal", "p_min_gpa", "p_min_status", "p_min_source", "t_min_k", "t_max_k",
                  "t_window_source", "recommended_precursor", "precursor_template", "precursor_source")


@dataclass
class ExcessHydrogenModel:
    """``x_max(P) = v_M + alpha (P / P_REF)^beta``: the H-richest hydride made at pressure P.

    Fitted with :meth:`fit` to experimental rows (metal, h_per_metal, observed pressure). ``max_excess``
    and ``max_pressure_gpa`` are the largest excess H/M and pressure of the fitted rows (the range that
    supports the model); ``rms_h_per_metal`` is the RMS residual of x (the model's own scatter).
    """

    alpha: float = 3.0
    beta: float = 0.5
    n_rows: int = 0
    metals: tuple[str, ...] = field(default_factory=tuple)
    source: str = "default"
    max_excess: float = float("inf")
    max_pressure_gpa: float = float("inf")
    rms_h_per_metal: float = 1.5
    #: (excess H/M, pressure GPa) of every fitted row: the experimental envelope bounding p_min.
    observed: tuple = ()

    @classmethod
    def fit(cls, table: pd.DataFrame, source: str = "") -> "ExcessHydrogenModel":
        """Least-squares fit of alpha, beta to a table with ``metal``, ``h_per_metal``, ``pressure_gpa``."""
        d = table.dropna(subset=["pressure_gpa", "h_per_metal"])
        d = d[d["pressure_gpa"] > 0]
        if len(d) < 3:
            raise CandidateError(f"the excess-hydrogen model needs >= 3 rows with a pressure, got {len(d)}")
        p = d["pressure_gpa"].to_numpy(float) / P_REF_GPA
        excess = d["h_per_metal"].to_numpy(float) - np.array([ambient_h_per_metal(m) for m in d["metal"]])
        fit = least_squares(lambda c: c[0] * p ** c[1] - excess, x0=[3.0, 0.5], bounds=([0.01, 0.05], [50.0, 5.0]))
        rms = float(np.sqrt(np.mean(fit.fun ** 2)))
        return cls(float(fit.x[0]), float(fit.x[1]), int(len(d)), tuple(sorted(d["metal"].unique())), source,
                   float(excess.max()), float(d["pressure_gpa"].max()), rms,
                   tuple((float(e), float(pp)) for e, pp in zip(excess, d["pressure_gpa"])))

    def envelope_pressure(self, excess) -> np.ndarray:
        """The lowest pressure at which any fitted experiment reached at least this excess H/M (inf if none):
        an upper bound on p_min that the experimental table itself supports."""
        e = np.asarray(excess, dtype=float)
        if not self.observed:
            return np.full(e.shape, np.inf)
        obs = np.array(self.observed, dtype=float)
        order = np.argsort(-obs[:, 0])
        ex, pp = obs[order, 0], np.minimum.accumulate(obs[order, 1])
        # For each e: min pressure over rows with excess >= e (ex is descending).
        k = np.searchsorted(-ex, -e, side="right") - 1
        return np.where(k >= 0, pp[np.clip(k, 0, None)], np.inf)

    def x_max(self, metal: str, pressure_gpa) -> np.ndarray:
        """H/M of the H-richest hydride expected at P."""
        p = np.clip(np.asarray(pressure_gpa, dtype=float), 0.0, None)
        return ambient_h_per_metal(metal) + self.alpha * (p / P_REF_GPA) ** self.beta

    def p_min(self, metal: str, h_per_metal) -> np.ndarray:
        """Minimum pressure (GPa) at which MH_x is expected; 0 at or below the ambient hydride."""
        excess = np.clip(np.asarray(h_per_metal, dtype=float) - ambient_h_per_metal(metal), 0.0, None)
        return P_REF_GPA * (excess / self.alpha) ** (1.0 / self.beta)

    def label(self) -> str:
        return f"tier-1 excess-H model (alpha={self.alpha:.3g}, beta={self.beta:.3g}; {self.source})"

    def as_dict(self) -> dict:
        return asdict(self)


def default_excess_model(data_path=None) -> ExcessHydrogenModel:
    """The model fitted to every row of the experimental table (used for new candidates; memoised per table)."""
    return _fitted_excess_model(None if data_path is None else str(data_path))


@functools.lru_cache(maxsize=8)
def _fitted_excess_model(data_path: str | None) -> ExcessHydrogenModel:
    from screening.experimental import load_experimental

    return ExcessHydrogenModel.fit(experimental_points(load_experimental(data_path)),
                                   source="fit to data/experimental_hydrides.csv (all metals)")


def experimental_points(table: pd.DataFrame) -> pd.DataFrame:
    """(row, metal, h_per_metal, pressure_gpa, pressure_source) of every row with an observed pressure.

    ``row`` is the row's position in ``table``.
    """
    from screening.experimental import observed_pressure

    obs = observed_pressure(table)
    out = pd.DataFrame({"row": np.arange(len(table)), "metal": table["metal"].to_numpy(), "h_per_metal": table["h_per_metal"].to_numpy(float),
                        "pressure_gpa": obs["observed_pressure_gpa"].to_numpy(float),
                        "pressure_source": obs["pressure_source"].to_numpy()})
    return out.dropna(subset=["pressure_gpa"]).reset_index(drop=True)


@functools.lru_cache(maxsize=None)
def _metal_constants(metal: str) -> tuple[float, float, float]:
    """(T_m0 K, V0 Å^3, K0 GPa) of the element (pymatgen / the tier-1 element table)."""
    from pymatgen.core import Element

    from descriptors.elements import element_table

    t0 = Element(metal).melting_point
    if t0 is None:
        raise CandidateError(f"no melting point for {metal!r} in pymatgen")
    row = element_table((metal,)).loc[metal]
    return float(t0), float(row["molar_volume_A3"]), float(row["bulk_modulus_gpa"])


def _lindemann(t0, ratio):
    """``T_m0 r^(2/3) exp(2 gamma0 (1 - r))`` for the volume ratio r = V/V0 of the melting sublattice."""
    ratio = np.asarray(ratio, dtype=float)
    return np.asarray(t0, dtype=float) * ratio ** (2.0 / 3.0) * np.exp(2.0 * LINDEMANN_GAMMA0 * (1.0 - ratio))


def _metal_volume(metals, pressure_gpa) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T_m0, V0, V(P)) per row, from the tier-1 Vinet EOS of each row's metal."""
    from descriptors.eos import reference_constants, vinet_volume

    consts = np.array([_metal_constants(m) for m in metals]).reshape(-1, 3)
    v = vinet_volume(np.asarray(pressure_gpa, dtype=float), consts[:, 1], consts[:, 2], reference_constants()["metal_vinet_k0p"])
    return consts[:, 0], consts[:, 1], np.asarray(v, dtype=float)


def lindemann_melting_k(metal: str, pressure_gpa) -> np.ndarray:
    """Lindemann-law melting temperature of the bare metal at P (K).

    ``T_m(P) = T_m0 (V/V0)^(2/3) exp(2 gamma0 (1 - V/V0))`` with gamma = gamma0 V/V0, the
    elemental melting point ``T_m0`` (pymatgen) and V/V0 from the tier-1 Vinet EOS of the metal.
    """
    p = np.atleast_1d(np.asarray(pressure_gpa, dtype=float))
    t0, v0, v = _metal_volume([metal] * p.size, p)
    out = _lindemann(t0, v / v0)
    return out if np.ndim(pressure_gpa) else out[0]


def hydride_melting_k(metals, h_per_metal, pressure_gpa) -> np.ndarray:
    """Tier-1 estimate of the hydride's melting temperature at P (K), vectorised over rows.

    Lindemann's law applied to the metal sublattice at the metal–metal spacing it has in the
    hydride: ``r = V_hyd(P) / V0``, with ``V_hyd(P) = V_M(P) + x v_H(P)`` the ideal-mixing volume per
    metal of the tier-1 descriptors (interstitial H 2.9 Å^3, or half the solid-H2 volume when that is
    smaller). Hydrogen holds the metal atoms apart, so the hydride melts lower than the compressed
    bare metal. Bounds: r is clipped to <= 1 (the law is not extrapolated to an expanded lattice, so the
    estimate is never below the metal's ambient T_m0), and the result never exceeds the bare metal's
    T_m(P) nor :data:`T_CAP_K`.
    """
    from descriptors.eos import h2_volume_per_molecule, reference_constants

    p = np.asarray(pressure_gpa, dtype=float)
    x = np.asarray(h_per_metal, dtype=float)
    # The EOS solves run once per distinct (metal, P) and P, not once per row.
    keys = pd.MultiIndex.from_arrays([np.asarray(metals, dtype=object), p])
    uniq, inverse = np.unique(keys.codes[0].astype(np.int64) * (len(keys.levels[1]) + 1) + keys.codes[1], return_inverse=True)
    first = np.unique(inverse, return_index=True)[1]
    t0, v0, v_metal = (a[inverse] for a in _metal_volume(list(np.asarray(metals, dtype=object)[first]), p[first]))
    pu, pinv = np.unique(p, return_inverse=True)
    v_h = np.minimum(reference_constants()["interstitial_h_volume"], 0.5 * h2_volume_per_molecule(pu))[pinv]
    ratio = np.minimum((v_metal + x * v_h) / v0, 1.0)
    return np.minimum(np.minimum(_lindemann(t0, ratio), _lindemann(t0, v_metal / v0)), T_CAP_K)


def hydride_formula(metal: str, h_per_metal: float) -> str:
    """``"CaH2"``, ``"NaH"``, ``"La4H23"``, ``"H2S"``: :func:`screening.formulas.hydride_formula`."""
    from screening.formulas import hydride_formula as formula

    return formula(metal, h_per_metal)


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index, dtype=object)


@functools.lru_cache(maxsize=None)
def template_product_compatibility(precursor_template: str, product_h_per_metal: float) -> float:
    """Best metal-sublattice compatibility of a precursor template with any template of the product's H/M:
    1 when matched within strain (topotactic), else the shell-fingerprint similarity; NaN without a
    product template."""
    from screening.structures.sublattice import template_compatibility
    from screening.structures.templates import templates_for

    best = float("nan")
    for t in templates_for(product_h_per_metal):
        c = template_compatibility(precursor_template, t.name)
        value = 1.0 if c["matched"] else float(c["similarity"])
        best = value if not np.isfinite(best) else max(best, value)
    return best


@functools.lru_cache(maxsize=None)
def choose_precursor(metal: str, h_per_metal: float) -> tuple[str, str | None, float, str]:
    """``(precursor, its template, compatibility with the product, source)`` for MH_x.

    Candidates are the ambient hydrides of the metal with H/M below x; the one whose metal sublattice
    best matches the product's templates wins (ties and unknown structures: the H-richest). Without
    one, the element itself.
    """
    options = [(f, xi, t) for f, xi, t in ambient_hydrides(metal) if xi < h_per_metal - 1e-9]
    if not options:
        return metal, None, float("nan"), f"elemental metal: no ambient hydride of {metal} below H/M {h_per_metal:g} in {AMBIENT_SOURCE}"
    scored = [(template_product_compatibility(t, h_per_metal) if t else float("nan"), xi, f, t) for f, xi, t in options]
    compat, _, formula, template = max(scored, key=lambda s: (s[0] if np.isfinite(s[0]) else -1.0, s[1]))
    how = "best metal-sublattice match to the product's templates" if np.isfinite(compat) else "H-richest (no template to compare)"
    return formula, template, compat, f"ambient hydride from {AMBIENT_SOURCE} ({how})"


def _tier2a_grid(settings) -> tuple[float, float]:
    """(lowest, highest) relaxation pressure recorded in a tier-2a ``enthalpy_settings`` JSON cell."""
    try:
        ps = json.loads(settings)["pressures_gpa"]
        return float(min(ps)), float(max(ps))
    except (TypeError, ValueError, KeyError):
        return float("nan"), float("nan")


def synthesis_window(frame: pd.DataFrame, model: ExcessHydrogenModel | None = None) -> pd.DataFrame:
    """The window columns (:data:`WINDOW_COLUMNS`) for every single-metal row of ``frame`` (vectorised).

    ``frame`` needs ``metals``, ``h_per_metal``, ``pressure_gpa``; tier-2 columns
    (``onset_pressure_gpa``, ``onset_status``, ``enthalpy_settings``, ``tm_metal_k``,
    ``h_diffusion_onset_k``, ``melting_status``) are used where present and not NaN.
    """
    missing = [c for c in ("metals", "h_per_metal", "pressure_gpa") if c not in frame.columns]
    if missing:
        raise CandidateError(f"synthesis_window needs column(s) {missing}")
    model = model or default_excess_model()
    metals = frame["metals"].astype(str).to_numpy()
    x = frame["h_per_metal"].to_numpy(float)
    p = frame["pressure_gpa"].to_numpy(float)
    n = len(frame)
    single = np.array(["," not in m for m in metals], dtype=bool)
    grid_max = float(np.nanmax(p)) if n else 0.0
    out = {c: np.full(n, np.nan, dtype=object) for c in WINDOW_COLUMNS}
    out["p_min_source"][~single] = "mixed-metal candidates: not estimated"
    idx = np.flatnonzero(single)
    if idx.size:
        m, xs, ps = metals[idx], x[idx], p[idx]
        v_of = {mm: ambient_h_per_metal(mm) for mm in set(m)}
        v = np.array([v_of[mm] for mm in m])
        excess = xs - v
        raw = np.where(excess > 0, P_REF_GPA * (np.clip(excess, 0, None) / model.alpha) ** (1.0 / model.beta), 0.0)
        envelope = model.envelope_pressure(excess)
        pmin = np.minimum(raw, envelope)
        status = np.where(pmin > grid_max, f"not reachable within the grid (p_min > {grid_max:g} GPa)",
                          np.where(excess > model.max_excess + 1e-9,
                                   f"extrapolated: excess H/M beyond the {model.max_excess:.3g} of the fitted table",
                                   np.where(envelope < raw, "reachable (bounded by the experimental envelope)", "reachable")))
        tmax = hydride_melting_k(m, xs, ps)
        chosen = [choose_precursor(mm, float(xi)) for mm, xi in zip(m, xs)]
        compat = np.array([c[2] for c in chosen], dtype=float)
        topotactic = compat >= 1.0
        out["ambient_h_per_metal"][idx] = v
        out["p_min_gpa"][idx] = pmin
        out["p_min_status"][idx] = status
        out["p_min_source"][idx] = model.label()
        out["t_max_k"][idx] = tmax
        out["t_min_k"][idx] = np.where(topotactic, np.minimum(ROOM_TEMPERATURE_K, TAMMANN * tmax), TAMMANN * tmax)
        out["t_window_source"][idx] = np.where(
            topotactic, "tier-1 Lindemann T_m of the hydride (metal sublattice at the hydride's spacing); lower end room "
                        "temperature (topotactic: precursor metal sublattice matches, H diffusion only)",
            f"tier-1 Lindemann T_m of the hydride (metal sublattice at the hydride's spacing); lower end Tammann {TAMMANN:g} "
            "T_m (metal sublattice rebuilt)")
        out["recommended_precursor"][idx] = [c[0] for c in chosen]
        out["precursor_template"][idx] = [c[1] for c in chosen]
        out["precursor_source"][idx] = [c[3] for c in chosen]
    out = pd.DataFrame(out, index=frame.index)
    # Tier 2a replaces the tier-1 minimum pressure where it has an answer.
    onset = pd.to_numeric(_col(frame, "onset_pressure_gpa"), errors="coerce")
    ostat = _col(frame, "onset_status").astype(str)
    settings = _col(frame, "enthalpy_settings")
    lo_hi = np.full((n, 2), np.nan)
    has_settings = settings.notna().to_numpy()
    lo_hi[has_settings] = np.array([_tier2a_grid(s) for s in settings[has_settings]]).reshape(-1, 2)
    src = "tier-2a onset of dH_r(P) < 0 (see enthalpy_calculator)"
    within = (onset.notna() & (ostat == "within range")).to_numpy()
    out.loc[within, "p_min_gpa"] = onset[within]
    out.loc[within, "p_min_status"] = "reachable"
    below = ((ostat == "below range").to_numpy() & np.isfinite(lo_hi[:, 0]))
    out.loc[below, "p_min_gpa"] = lo_hi[below, 0]
    out.loc[below, "p_min_status"] = "reachable (tier-2a: dH_r < 0 over the whole grid; p_min is an upper bound)"
    above = ((ostat == "above range").to_numpy() & np.isfinite(lo_hi[:, 1]))
    out.loc[above, "p_min_gpa"] = lo_hi[above, 1]
    out.loc[above, "p_min_status"] = [f"not reachable (tier-2a: dH_r > 0 up to {h:g} GPa)" for h in lo_hi[above, 1]]
    out.loc[within | below | above, "p_min_source"] = src
    # Tier 2b replaces the temperature estimates where it has run.
    tm2 = pd.to_numeric(_col(frame, "tm_metal_k"), errors="coerce")
    hd = pd.to_numeric(_col(frame, "h_diffusion_onset_k"), errors="coerce")
    mstat = _col(frame, "melting_status").astype(str)
    has_tm = (tm2.notna() & mstat.isin(TIER2B_WINDOW_STATUSES)).to_numpy()
    # an H-diffusion onset at or above T_m is the melt itself, not H moving through the solid: the metal sublattice
    # must then be rebuilt, and the lower end is Tammann's, as without an onset
    solid_onset = (hd.notna() & (hd < tm2)).to_numpy()
    out.loc[has_tm, "t_max_k"] = tm2[has_tm]
    out.loc[has_tm, "t_min_k"] = np.where(solid_onset[has_tm], hd[has_tm], TAMMANN * tm2[has_tm])
    lower = np.where(solid_onset, "H-diffusion onset",
                     np.where(hd.notna(), "Tammann's rule (H diffuses only as the metal sublattice melts)",
                              "Tammann's rule (no H-diffusion onset)"))
    out.loc[has_tm, "t_window_source"] = [
        f"tier-2b T_m(P) and {lo} (see melting_calculator)"
        + ("" if st == "ok" else f"; T_m {st}: see tm_metal_err_k and melting_message")
        for lo, st in zip(lower[has_tm], mstat[has_tm])]
    for c in ("ambient_h_per_metal", "p_min_gpa", "t_min_k", "t_max_k"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out
