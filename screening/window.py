"""Predicted synthesis window of every candidate: minimum pressure, temperature range, precursor.

Each quantity comes from the best tier that has computed it, and its source is a column:

* **Minimum pressure** ``p_min_gpa``.
  - Tier 2a (``onset_pressure_gpa`` present): the onset of ΔH_r(P) < 0 from the hull precursor.
  - Otherwise the tier-1 *excess-hydrogen model* (:class:`ExcessHydrogenModel`): the
    H/M that experiments reach grows with pressure beyond the metal's ambient hydride,
    ``x_max(P) = v_M + alpha (P / 100 GPa)^beta``; ``p_min`` inverts it. ``v_M`` is the lowest
    positive ICSD oxidation state of the metal (pymatgen), a stand-in for the ambient-pressure
    hydride (CaH2, LaH2, YH3, UH3 ...). ``alpha`` and ``beta`` are two numbers fitted by least
    squares to an experimental table; the validation refits them leaving each metal out.
* **Temperature range** ``t_min_k`` – ``t_max_k``.
  - Upper end: T_m(P) of the product; tier 2b where computed, else a Lindemann estimate for
    the metal sublattice (:func:`lindemann_melting_k`).
  - Lower end: the H-diffusion onset from tier 2b where computed, else Tammann's rule
    (solid-state reactivity from about half the melting temperature), ``TAMMANN * T_m``.
  - The seed study's mechanism (transient surface melting, uptake, recrystallisation) needs
    temperatures close to T_m, so the upper half of the window is the recommended one.
* **Precursor**: the hull precursor from tier 2a where computed, else the ambient hydride MH_v
  (or the metal when x <= v).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from screening.errors import CandidateError

P_REF_GPA = 100.0
TAMMANN = 0.5
LINDEMANN_GAMMA0 = 1.5  # Grüneisen parameter at V0, gamma = gamma0 * V/V0 (q = 1)
AMBIENT_SOURCE = "lowest positive ICSD oxidation state (pymatgen) as the ambient hydride H/M"
WINDOW_COLUMNS = ("ambient_h_per_metal", "p_min_gpa", "p_min_source", "t_min_k", "t_max_k", "t_window_source",
                  "recommended_precursor", "precursor_source")


@functools.lru_cache(maxsize=None)
def ambient_h_per_metal(metal: str) -> float:
    """H/M of the metal's ambient-pressure hydride, from its lowest positive ICSD oxidation state."""
    from pymatgen.core import Element

    try:
        el = Element(metal)
    except ValueError:
        raise CandidateError(f"unknown element {metal!r}") from None
    states = [s for s in (el.icsd_oxidation_states or el.common_oxidation_states or ()) if s > 0]
    if not states:
        states = [s for s in el.common_oxidation_states if s > 0]
    return float(min(states)) if states else 1.0


@dataclass
class ExcessHydrogenModel:
    """``x_max(P) = v_M + alpha (P / P_REF)^beta``: the H-richest hydride made at pressure P.

    Fitted with :meth:`fit` to experimental rows (metal, h_per_metal, observed pressure).
    """

    alpha: float = 3.75  # the fit to all 38 rows of data/experimental_hydrides.csv (default_excess_model)
    beta: float = 0.37
    n_rows: int = 0
    metals: tuple[str, ...] = field(default_factory=tuple)
    source: str = "default"

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
        return cls(float(fit.x[0]), float(fit.x[1]), int(len(d)), tuple(sorted(d["metal"].unique())), source)

    def x_max(self, metal: str, pressure_gpa) -> np.ndarray:
        """H/M of the H-richest hydride expected at P."""
        p = np.clip(np.asarray(pressure_gpa, dtype=float), 0.0, None)
        return ambient_h_per_metal(metal) + self.alpha * (p / P_REF_GPA) ** self.beta

    def p_min(self, metal: str, h_per_metal) -> np.ndarray:
        """Minimum pressure (GPa) at which MH_x is expected; 0 at or below the ambient hydride."""
        excess = np.clip(np.asarray(h_per_metal, dtype=float) - ambient_h_per_metal(metal), 0.0, None)
        return P_REF_GPA * (excess / self.alpha) ** (1.0 / self.beta)

    def as_dict(self) -> dict:
        return asdict(self)


def default_excess_model(data_path=None) -> ExcessHydrogenModel:
    """The model fitted to every row of the experimental table (used for new candidates)."""
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


def lindemann_melting_k(metal: str, pressure_gpa) -> np.ndarray:
    """Lindemann-law melting temperature of the metal sublattice at P (K).

    ``T_m(P) = T_m0 (V/V0)^(2/3) exp(2 gamma0 (1 - V/V0))`` with gamma = gamma0 V/V0, the
    elemental melting point ``T_m0`` (pymatgen) and V/V0 from the tier-1 Vinet EOS of the metal.
    An order-of-magnitude estimate for the window when tier 2b has not run.
    """
    from pymatgen.core import Element

    from descriptors.elements import element_table
    from descriptors.eos import reference_constants, vinet_volume

    t0 = Element(metal).melting_point
    if t0 is None:
        raise CandidateError(f"no melting point for {metal!r} in pymatgen")
    row = element_table((metal,)).loc[metal]
    p = np.asarray(pressure_gpa, dtype=float)
    v = vinet_volume(p, row["molar_volume_A3"], row["bulk_modulus_gpa"], reference_constants()["metal_vinet_k0p"])
    ratio = np.asarray(v, dtype=float) / float(row["molar_volume_A3"])
    return float(t0) * ratio ** (2.0 / 3.0) * np.exp(2.0 * LINDEMANN_GAMMA0 * (1.0 - ratio))


def hydride_formula(metal: str, h_per_metal: float) -> str:
    """``"CaH2"``, ``"NaH"``, ``"La4H23"``, ``"H2S"``: :func:`screening.formulas.hydride_formula`."""
    from screening.formulas import hydride_formula as formula

    return formula(metal, h_per_metal)


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index, dtype=object)


def synthesis_window(frame: pd.DataFrame, model: ExcessHydrogenModel | None = None) -> pd.DataFrame:
    """The window columns (:data:`WINDOW_COLUMNS`) for every single-metal row of ``frame``.

    ``frame`` needs ``metals``, ``h_per_metal``, ``pressure_gpa``; tier-2 columns
    (``onset_pressure_gpa``, ``onset_status``, ``precursor``, ``tm_metal_k``,
    ``h_diffusion_onset_k``, ``melting_status``) are used where present and not NaN.
    """
    missing = [c for c in ("metals", "h_per_metal", "pressure_gpa") if c not in frame.columns]
    if missing:
        raise CandidateError(f"synthesis_window needs column(s) {missing}")
    model = model or default_excess_model()
    out = pd.DataFrame(index=frame.index, columns=list(WINDOW_COLUMNS), dtype=object)
    onset, onset_status = _col(frame, "onset_pressure_gpa"), _col(frame, "onset_status")
    tm2, hd2, mstat = _col(frame, "tm_metal_k"), _col(frame, "h_diffusion_onset_k"), _col(frame, "melting_status")
    prec2 = _col(frame, "precursor")
    for metal, idx in frame.groupby("metals", sort=False).groups.items():
        if "," in str(metal):
            out.loc[idx, "p_min_source"] = "mixed-metal candidates: not estimated"
            continue
        x = frame.loc[idx, "h_per_metal"].to_numpy(float)
        p = frame.loc[idx, "pressure_gpa"].to_numpy(float)
        v = ambient_h_per_metal(metal)
        out.loc[idx, "ambient_h_per_metal"] = v
        pmin = model.p_min(metal, x)
        out.loc[idx, "p_min_gpa"] = pmin
        out.loc[idx, "p_min_source"] = f"tier-1 excess-H model (alpha={model.alpha:.3g}, beta={model.beta:.3g}; {model.source})"
        tm = lindemann_melting_k(metal, p)
        out.loc[idx, "t_max_k"] = tm
        out.loc[idx, "t_min_k"] = TAMMANN * tm
        out.loc[idx, "t_window_source"] = (f"tier-1 Lindemann T_m of the metal sublattice (gamma0={LINDEMANN_GAMMA0}); "
                                           f"lower end Tammann {TAMMANN:g} T_m")
        out.loc[idx, "recommended_precursor"] = [metal if xi <= v else hydride_formula(metal, v) for xi in x]
        out.loc[idx, "precursor_source"] = f"tier-1: ambient hydride ({AMBIENT_SOURCE})"
    # Tier-2 values replace the tier-1 estimates where they exist.
    has_onset = pd.to_numeric(onset, errors="coerce").notna() & (onset_status.astype(str) == "within")
    out.loc[has_onset, "p_min_gpa"] = pd.to_numeric(onset[has_onset])
    out.loc[has_onset, "p_min_source"] = "tier-2a onset of dH_r(P) < 0 (see enthalpy_calculator)"
    has_prec = prec2.notna() & (prec2.astype(str) != "") & (prec2.astype(str) != "nan")
    out.loc[has_prec, "recommended_precursor"] = prec2[has_prec]
    out.loc[has_prec, "precursor_source"] = "tier-2a hull precursor (see enthalpy_calculator)"
    has_tm = pd.to_numeric(tm2, errors="coerce").notna() & (mstat.astype(str) == "ok")
    out.loc[has_tm, "t_max_k"] = pd.to_numeric(tm2[has_tm])
    hd = pd.to_numeric(hd2, errors="coerce")
    out.loc[has_tm, "t_min_k"] = np.where(hd[has_tm].notna(), hd[has_tm], TAMMANN * pd.to_numeric(tm2[has_tm]))
    out.loc[has_tm, "t_window_source"] = "tier-2b T_m(P) and H-diffusion onset (see melting_calculator)"
    for c in ("ambient_h_per_metal", "p_min_gpa", "t_min_k", "t_max_k"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out
