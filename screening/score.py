"""The synthesizability score: a transparent weighted mean of per-term plausibilities.

Every term maps one physical quantity to a plausibility in [0, 1] with a fixed, monotone
transform, and is its own column (``term_<name>``, with the raw input in the column named in
:data:`TERMS`). The score is

    S = sum_i w_i s_i / sum_i w_i,

with non-negative weights :class:`ScoreWeights`. A term whose input has not been computed for a
candidate (tier 2 not run) enters as 0.5, "no information", so the weights keep their meaning
and the score stays comparable between candidates computed to different tiers. Because each
transform is monotone and the weights are non-negative, S is monotone in every input.

Uncertainty: each present term has ``sigma_s = |ds/dx| sigma_x`` from the stated uncertainty of
its input (:data:`INPUT_SIGMA`, or a per-row column where a tier reports one); a missing term has
the standard deviation of a uniform [0, 1] variable, 1/sqrt(12). They combine in quadrature:
``sigma_S = sqrt(sum_i (w_i sigma_i)^2) / sum_i w_i``.

Terms (input column -> transform):

* ``hull``: ``e_above_hull_ev_per_atom`` -> ``exp(-max(E, 0) / 0.05 eV)``; thermodynamic.
* ``reaction``: ``dH_r_kj_per_mol_h2`` (lower hydride + H2 -> product) -> ``logistic(-dH / 10 kJ/mol)``;
  thermodynamic.
* ``margin``: the pressure margin ``P - p_min`` (GPa) -> ``logistic(margin / 20 GPa)``; kinetic.
  Near the onset ΔH_r(P) ≈ ΔV_r (P - P*), so this is the margin by which the hydrogenation
  enthalpy is negative, divided by |ΔV_r|; in pressure units it exists at tier 1 too.
* ``homologous``: ``T_lab / T_m(P)`` of the product -> ``logistic((T_lab/T_m - 0.8) / 0.1)``;
  kinetic. The seed study's mechanism needs the surface to melt transiently, i.e. a synthesis
  temperature near T_m(P); ``T_lab`` is the heating that is available (default 2000 K,
  laser-heated diamond-anvil cell).
* ``precursor``: metal-sublattice compatibility of the precursor and the product templates
  (:mod:`screening.structures.sublattice`): 1 when they match within strain (topotactic), else the
  shell-fingerprint similarity (< 1).
* ``prior``: the tier-1 PU prior score, as is; a weak term by default.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from screening.errors import CandidateError

HULL_SCALE_EV = 0.05
REACTION_SCALE_KJ = 10.0
MARGIN_SCALE_GPA = 20.0
HOMOLOGOUS_CENTRE, HOMOLOGOUS_WIDTH = 0.8, 0.1
DEFAULT_LAB_TEMPERATURE_K = 2000.0
MISSING_SIGMA = 1.0 / np.sqrt(12.0)

#: Input column of each term.
TERMS = {
    "hull": "e_above_hull_ev_per_atom",
    "reaction": "dH_r_kj_per_mol_h2",
    "margin": "pressure_margin_gpa",
    "homologous": "homologous_temperature",
    "precursor": "precursor_compatibility",
    "prior": "prior_score",
}

#: Default uncertainty of each input, used where no per-row uncertainty column exists.
#: hull and reaction: scale of the universal-potential vs PBE differences measured in
#: benchmarks/compare_dft.py (README); margin: set per row from the p_min source;
#: homologous: 30% on T_m (Lindemann estimate); precursor, prior: none (fixed maps).
INPUT_SIGMA = {"hull": 0.05, "reaction": 20.0, "margin": 20.0, "homologous": 0.3, "precursor": 0.0, "prior": 0.0}

SCORE_COLUMNS = ("synth_score", "synth_score_sigma", "synth_rank", "synth_rank_in_metal", "synth_terms_present",
                 "score_weights")


@dataclass(frozen=True)
class ScoreWeights:
    """Non-negative weight of each term. The class defaults are the a-priori choice (every term 1, the
    prior 0.25); :data:`DEFAULT_WEIGHTS`, the validated values, is what the tool uses."""

    hull: float = 1.0
    reaction: float = 1.0
    margin: float = 1.0
    homologous: float = 1.0
    precursor: float = 1.0
    prior: float = 0.25

    def __post_init__(self) -> None:
        for f in fields(self):
            w = getattr(self, f.name)
            if not np.isfinite(w) or w < 0:
                raise CandidateError(f"score weight {f.name}={w!r} must be a finite number >= 0")
        if sum(getattr(self, f.name) for f in fields(self)) <= 0:
            raise CandidateError("at least one score weight must be positive")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def term_value(name: str, x) -> np.ndarray:
    """Plausibility in [0, 1] of term ``name`` for input values ``x`` (NaN stays NaN)."""
    x = np.asarray(x, dtype=float)
    if name == "hull":
        return np.exp(-np.clip(x, 0.0, None) / HULL_SCALE_EV)
    if name == "reaction":
        return _logistic(-x / REACTION_SCALE_KJ)
    if name == "margin":
        return _logistic(x / MARGIN_SCALE_GPA)
    if name == "homologous":
        return _logistic((x - HOMOLOGOUS_CENTRE) / HOMOLOGOUS_WIDTH)
    if name in ("precursor", "prior"):
        return np.clip(x, 0.0, 1.0)
    raise CandidateError(f"unknown score term {name!r}; valid: {', '.join(TERMS)}")


def term_slope(name: str, x) -> np.ndarray:
    """|d term / d x|, for propagating input uncertainties."""
    x = np.asarray(x, dtype=float)
    if name == "hull":
        return np.where(x > 0, term_value("hull", x) / HULL_SCALE_EV, 1.0 / HULL_SCALE_EV)
    scale = {"reaction": REACTION_SCALE_KJ, "margin": MARGIN_SCALE_GPA, "homologous": HOMOLOGOUS_WIDTH}.get(name)
    if scale is None:
        return np.ones_like(x)
    s = term_value(name, x)
    return s * (1.0 - s) / scale


@functools.lru_cache(maxsize=None)
def precursor_compatibility(precursor_h_per_metal: float, product_h_per_metal: float) -> float:
    """Best metal-sublattice compatibility between any template of the precursor's H/M and any of the
    product's (NaN when either has no template, or when the product is not richer in H)."""
    from screening.structures.sublattice import template_compatibility
    from screening.structures.templates import templates_for

    if product_h_per_metal <= precursor_h_per_metal:
        return float("nan")
    pre, prod = templates_for(precursor_h_per_metal), templates_for(product_h_per_metal)
    if not pre or not prod:
        return float("nan")
    best = 0.0
    for a in pre:
        for b in prod:
            c = template_compatibility(a.name, b.name)
            best = max(best, 1.0 if c["matched"] else c["similarity"])
    return best


def score_inputs(frame: pd.DataFrame, window: pd.DataFrame, lab_temperature_k: float = DEFAULT_LAB_TEMPERATURE_K
                 ) -> pd.DataFrame:
    """The raw input of every term (columns of :data:`TERMS`) plus per-row input sigmas.

    ``window`` is :func:`screening.window.synthesis_window` of ``frame``.
    """
    if not np.isfinite(lab_temperature_k) or lab_temperature_k <= 0:
        raise CandidateError(f"lab_temperature_k must be a positive temperature, got {lab_temperature_k!r}")
    num = lambda c: pd.to_numeric(frame[c], errors="coerce") if c in frame.columns else pd.Series(np.nan, index=frame.index)  # noqa: E731
    out = pd.DataFrame(index=frame.index)
    out["e_above_hull_ev_per_atom"] = num("e_above_hull_ev_per_atom")
    out["dH_r_kj_per_mol_h2"] = num("dH_r_kj_per_mol_h2")
    out["pressure_margin_gpa"] = frame["pressure_gpa"].astype(float) - window["p_min_gpa"]
    out["homologous_temperature"] = lab_temperature_k / window["t_max_k"]
    out["precursor_compatibility"] = [
        precursor_compatibility(float(v), float(x)) if np.isfinite(v) else np.nan
        for v, x in zip(window["ambient_h_per_metal"].astype(float), frame["h_per_metal"].astype(float))]
    out["prior_score"] = num("prior_score")
    tier2_p = window["p_min_source"].astype(str).str.startswith("tier-2")
    tier2_t = window["t_window_source"].astype(str).str.startswith("tier-2")
    out["sigma_margin_gpa"] = np.where(tier2_p, 10.0, INPUT_SIGMA["margin"])
    tm_err = num("tm_metal_err_k")
    out["sigma_homologous"] = np.where(tier2_t & tm_err.notna(), out["homologous_temperature"] * tm_err / window["t_max_k"],
                                       INPUT_SIGMA["homologous"] * out["homologous_temperature"])
    return out


def synthesizability_score(inputs: pd.DataFrame, weights: ScoreWeights | None = None) -> pd.DataFrame:
    """Terms, score and its uncertainty from :func:`score_inputs`.

    Returns:
        ``term_<name>`` for every term (NaN where its input is missing), ``synth_score``,
        ``synth_score_sigma``, ``synth_terms_present`` (e.g. ``"margin,homologous,prior"``).
    """
    out = pd.DataFrame(index=inputs.index)
    sigmas = {}
    for name, col in TERMS.items():
        x = inputs[col].to_numpy(dtype=float)
        s = term_value(name, x)
        out[f"term_{name}"] = s
        sigma_x = {"margin": inputs.get("sigma_margin_gpa"), "homologous": inputs.get("sigma_homologous")}.get(name)
        sigma_x = np.full(len(x), INPUT_SIGMA[name]) if sigma_x is None else np.asarray(sigma_x, dtype=float)
        sigmas[name] = np.where(np.isfinite(s), np.minimum(term_slope(name, x) * sigma_x, MISSING_SIGMA), MISSING_SIGMA)
    out["synth_score"] = combine_terms(out, weights)
    w = (weights or DEFAULT_WEIGHTS).as_dict()
    out["synth_score_sigma"] = np.sqrt(sum((w[n] * sigmas[n]) ** 2 for n in TERMS)) / sum(w.values())
    have = np.column_stack([np.isfinite(out[f"term_{n}"].to_numpy(float)) for n in TERMS])
    out["synth_terms_present"] = [",".join(n for n, h in zip(TERMS, row) if h) for row in have]
    return out


def combine_terms(terms: pd.DataFrame, weights: ScoreWeights | None = None) -> np.ndarray:
    """``sum_i w_i s_i / sum_i w_i`` over the ``term_<name>`` columns, a missing term counting 0.5."""
    w = (weights or DEFAULT_WEIGHTS).as_dict()
    acc = sum(w[n] * np.nan_to_num(terms[f"term_{n}"].to_numpy(dtype=float), nan=0.5) for n in TERMS)
    return acc / sum(w.values())


#: Defaults chosen by the leave-one-metal-out validation (``make validate`` prints them as
#: ``weights_selected_on_all_metals``; README): the grid point with the best top-3 rate over every metal's
#: held-out scores. hull and reaction were not tunable there (no tier-2 results for the experimental
#: table) and stay at 1. margin, homologous and prior got weight 0 because, on that table, they do not
#: tell which H/M is made at a given pressure; set them (e.g. ``ScoreWeights(margin=1)``) to rank across pressure.
DEFAULT_WEIGHTS = ScoreWeights(hull=1.0, reaction=1.0, margin=0.0, homologous=0.0, precursor=0.5, prior=0.0)


def score_candidates(frame: pd.DataFrame, weights: ScoreWeights | None = None, *, window_model=None,
                     lab_temperature_k: float = DEFAULT_LAB_TEMPERATURE_K) -> pd.DataFrame:
    """Add window, term and score columns to a ranking and sort it by ``synth_rank``.

    Args:
        frame: a ranking (from :func:`screening.screen`, optionally with tier-2 columns merged).
        weights: term weights (default :data:`DEFAULT_WEIGHTS`).
        window_model: :class:`screening.window.ExcessHydrogenModel` (default: fitted to the whole
            experimental table).
        lab_temperature_k: the heating available, for the homologous-temperature term.
    """
    from screening.window import synthesis_window

    weights = weights or DEFAULT_WEIGHTS
    window = synthesis_window(frame, window_model)
    inputs = score_inputs(frame, window, lab_temperature_k)
    scored = synthesizability_score(inputs, weights)
    drop = [c for c in (*window.columns, *inputs.columns, *scored.columns, *SCORE_COLUMNS) if c in frame.columns
            and c not in TERMS.values()]
    out = frame.drop(columns=drop)
    new_inputs = inputs[[c for c in inputs.columns if c not in out.columns]]
    out = pd.concat([out, window, new_inputs, scored], axis=1)
    out["synth_rank"] = out["synth_score"].rank(ascending=False, method="first").astype(int)
    out["synth_rank_in_metal"] = out.groupby("metals")["synth_score"].rank(ascending=False, method="first").astype(int)
    out["score_weights"] = ",".join(f"{k}={v:g}" for k, v in weights.as_dict().items())
    out["lab_temperature_k"] = lab_temperature_k
    return out.sort_values("synth_rank").reset_index(drop=True)
