"""The synthesizability score: how a high-pressure synthesis proceeds, one term per physical step.

With excess H2 at pressure P, the H-richest phase on or near the convex hull at P is what forms
(``richness``, ``hull``, ``reaction``); among near-degenerate phases the precursor's metal sublattice
decides which one is reached (``precursor``); temperature decides whether the reaction runs
(``homologous``). ``margin`` (how far P lies above the minimum pressure) and the tier-1 PU ``prior``
are kept as weak terms. Every term maps one quantity to a plausibility in [0, 1] with a fixed
monotone transform and is its own column (``term_<name>``, raw input in the column of :data:`TERMS`,
and where the input can come from two tiers, a ``*_source`` column).

The score is the weighted mean over the terms that *were computed* for the candidate,

    S = sum_{i computed} w_i s_i / sum_{i computed} w_i,

so a missing term is not evidence: it does not pull S towards 0.5, it widens the uncertainty
``synth_score_sigma`` instead. A computed term that is favourable (s = 1: on or within
:data:`NEAR_HULL_EV` of the hull, exothermic hydrogenation, the H-richest near-hull phase) can only raise
S, so a candidate whose physics was computed and came out favourable never ranks below an otherwise
identical candidate without it.

Uncertainty: each computed term has ``sigma_s = |ds/dx| sigma_x`` from the stated uncertainty of its
input (:data:`INPUT_SIGMA`, or a per-row column); a missing term has the standard deviation of a uniform
[0, 1] variable, 1/sqrt(12). ``sigma_S = sqrt(sum_i (w_i sigma_i)^2) / sum_i w_i`` over all terms.

Terms (input column -> transform):

* ``hull``: ``e_above_hull_ev_per_atom`` (tier 2a) -> ``exp(-max(E - 0.025, 0) / 0.05 eV)``: 1 on or
  near the hull (within the universal-potential scale of errors), decaying above it.
* ``reaction``: ``dH_r_kj_per_mol_h2`` (tier 2a; lower hydride + H2 -> product) ->
  ``exp(-max(dH, 0) / 10 kJ/mol)``: 1 when the hydrogenation is exothermic.
* ``richness``: ``h_richness_distance`` = |x - x*(P)| in H/M -> ``exp(-d / 1.5)``. x*(P), the phase
  that forms with excess H2, is the H-richest candidate within :data:`NEAR_HULL_EV` of the tier-2a hull
  at P where tier 2a has run for the row, else the tier-1 excess-H model's ``x_max(P)``
  (``richness_source`` says which).
* ``margin``: ``pressure_margin_gpa`` = P - p_min -> ``logistic(margin / 20 GPa)``.
* ``homologous``: ``homologous_temperature`` = T_lab / T_m(P) of the hydride ->
  ``logistic((T_lab/T_m - 0.8) / 0.1)``; the seed study's mechanism needs the surface to melt
  transiently, i.e. the available heating (default 2000 K, laser-heated diamond-anvil cell) near T_m.
* ``precursor``: metal-sublattice compatibility of the recommended ambient precursor with the product
  templates (:func:`screening.window.template_product_compatibility`): 1 when they match within strain
  (topotactic), else the shell-fingerprint similarity; missing when either has no template.
* ``prior``: the tier-1 PU prior score, as is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from screening.errors import CandidateError

HULL_SCALE_EV = 0.05
#: Phases within this distance of the hull count as "near-degenerate" (on the hull for the score).
NEAR_HULL_EV = 0.025
REACTION_SCALE_KJ = 10.0
RICHNESS_SCALE = 1.5
MARGIN_SCALE_GPA = 20.0
HOMOLOGOUS_CENTRE, HOMOLOGOUS_WIDTH = 0.8, 0.1
DEFAULT_LAB_TEMPERATURE_K = 2000.0
MISSING_SIGMA = 1.0 / np.sqrt(12.0)

#: Input column of each term.
TERMS = {
    "hull": "e_above_hull_ev_per_atom",
    "reaction": "dH_r_kj_per_mol_h2",
    "richness": "h_richness_distance",
    "margin": "pressure_margin_gpa",
    "homologous": "homologous_temperature",
    "precursor": "precursor_compatibility",
    "prior": "prior_score",
}

#: Default uncertainty of each input, used where no per-row uncertainty column exists.
#: hull and reaction: scale of the universal-potential vs PBE differences measured in
#: benchmarks/compare_dft.py (README); richness: set per row (tier-1 model scatter or the template
#: grid); margin: set per row from the p_min source; homologous: 30% on T_m; precursor, prior: none.
INPUT_SIGMA = {"hull": 0.05, "reaction": 20.0, "richness": 1.5, "margin": 20.0, "homologous": 0.3, "precursor": 0.0,
               "prior": 0.0}
#: Uncertainty of x* from tier 2a: about half the spacing of the template H/M grid.
TIER2A_RICHNESS_SIGMA = 0.5

SCORE_COLUMNS = ("synth_score", "synth_score_sigma", "synth_rank", "synth_rank_in_metal", "synth_terms_present",
                 "score_weights")


@dataclass(frozen=True)
class ScoreWeights:
    """Non-negative weight of each term. The class defaults are the a-priori choice (every physical term
    1, the prior 0.25); :data:`DEFAULT_WEIGHTS`, the validated values, is what the tool uses."""

    hull: float = 1.0
    reaction: float = 1.0
    richness: float = 1.0
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
        return np.exp(-np.clip(x - NEAR_HULL_EV, 0.0, None) / HULL_SCALE_EV)
    if name == "reaction":
        return np.exp(-np.clip(x, 0.0, None) / REACTION_SCALE_KJ)
    if name == "richness":
        return np.exp(-np.abs(x) / RICHNESS_SCALE)
    if name == "margin":
        return _logistic(x / MARGIN_SCALE_GPA)
    if name == "homologous":
        return _logistic((x - HOMOLOGOUS_CENTRE) / HOMOLOGOUS_WIDTH)
    if name in ("precursor", "prior"):
        return np.clip(x, 0.0, 1.0)
    raise CandidateError(f"unknown score term {name!r}; valid: {', '.join(TERMS)}")


def term_slope(name: str, x) -> np.ndarray:
    """|d term / d x|, for propagating input uncertainties (the one-sided slope at a kink)."""
    x = np.asarray(x, dtype=float)
    if name in ("hull", "reaction", "richness"):
        scale = {"hull": HULL_SCALE_EV, "reaction": REACTION_SCALE_KJ, "richness": RICHNESS_SCALE}[name]
        return term_value(name, x) / scale
    scale = {"margin": MARGIN_SCALE_GPA, "homologous": HOMOLOGOUS_WIDTH}.get(name)
    if scale is None:
        return np.ones_like(x)
    s = term_value(name, x)
    return s * (1.0 - s) / scale


def richest_near_hull(frame: pd.DataFrame) -> pd.Series:
    """x*(P) from tier 2a for the rows that have a hull distance: the H-richest H/M of the same metal and
    pressure within :data:`NEAR_HULL_EV` of the hull (NaN where tier 2a has not run or nothing is near it)."""
    e = pd.to_numeric(frame["e_above_hull_ev_per_atom"], errors="coerce") if "e_above_hull_ev_per_atom" in frame else \
        pd.Series(np.nan, index=frame.index)
    computed = e.notna()
    out = pd.Series(np.nan, index=frame.index)
    if not computed.any():
        return out
    near = frame.loc[computed & (e <= NEAR_HULL_EV), ["metals", "pressure_gpa", "h_per_metal"]]
    best = near.groupby(["metals", "pressure_gpa"])["h_per_metal"].max()
    keys = pd.MultiIndex.from_frame(frame.loc[computed, ["metals", "pressure_gpa"]])
    out[computed] = best.reindex(keys).to_numpy()
    return out


def score_inputs(frame: pd.DataFrame, window: pd.DataFrame, lab_temperature_k: float = DEFAULT_LAB_TEMPERATURE_K,
                 window_model=None) -> pd.DataFrame:
    """The raw input of every term (columns of :data:`TERMS`), per-row input sigmas and ``richness_source``.

    ``window`` is :func:`screening.window.synthesis_window` of ``frame`` with ``window_model``.
    """
    from screening.window import default_excess_model, template_product_compatibility

    if not np.isfinite(lab_temperature_k) or lab_temperature_k <= 0:
        raise CandidateError(f"lab_temperature_k must be a positive temperature, got {lab_temperature_k!r}")
    model = window_model or default_excess_model()
    num = lambda c: pd.to_numeric(frame[c], errors="coerce") if c in frame.columns else pd.Series(np.nan, index=frame.index)  # noqa: E731
    x = frame["h_per_metal"].to_numpy(float)
    p = frame["pressure_gpa"].to_numpy(float)
    out = pd.DataFrame(index=frame.index)
    out["e_above_hull_ev_per_atom"] = num("e_above_hull_ev_per_atom")
    out["dH_r_kj_per_mol_h2"] = num("dH_r_kj_per_mol_h2")
    v = window["ambient_h_per_metal"].to_numpy(float)
    tier1_star = v + model.alpha * (np.clip(p, 0, None) / 100.0) ** model.beta
    tier2_star = richest_near_hull(frame).to_numpy(float)
    use2 = np.isfinite(tier2_star)
    out["h_richness_distance"] = np.abs(x - np.where(use2, tier2_star, tier1_star))
    out["richness_source"] = np.where(use2, f"tier-2a: H-richest phase within {NEAR_HULL_EV:g} eV/atom of the hull at P",
                                      np.where(np.isfinite(v), f"tier-1: x_max(P) of the {model.label()}", None))
    out["sigma_richness"] = np.where(use2, TIER2A_RICHNESS_SIGMA, model.rms_h_per_metal)
    out["pressure_margin_gpa"] = p - window["p_min_gpa"].to_numpy(float)
    out["homologous_temperature"] = lab_temperature_k / window["t_max_k"].to_numpy(float)
    cache: dict = {}
    compat = []
    for t, xi in zip(window["precursor_template"], x):
        if not isinstance(t, str):
            compat.append(np.nan)
            continue
        key = (t, float(xi))
        if key not in cache:
            cache[key] = template_product_compatibility(t, float(xi))
        compat.append(cache[key])
    out["precursor_compatibility"] = compat
    out["prior_score"] = num("prior_score")
    tier2_p = window["p_min_source"].astype(str).str.startswith("tier-2")
    tier2_t = window["t_window_source"].astype(str).str.startswith("tier-2")
    out["sigma_margin_gpa"] = np.where(tier2_p, 10.0, INPUT_SIGMA["margin"])
    tm_err = num("tm_metal_err_k")
    out["sigma_homologous"] = np.where(tier2_t & tm_err.notna(), out["homologous_temperature"] * tm_err / window["t_max_k"],
                                       INPUT_SIGMA["homologous"] * out["homologous_temperature"])
    return out


_SIGMA_COLUMNS = {"richness": "sigma_richness", "margin": "sigma_margin_gpa", "homologous": "sigma_homologous"}


def synthesizability_score(inputs: pd.DataFrame, weights: ScoreWeights | None = None) -> pd.DataFrame:
    """Terms, score and its uncertainty from :func:`score_inputs`.

    Returns:
        ``term_<name>`` for every term (NaN where its input is missing), ``synth_score``,
        ``synth_score_sigma``, ``synth_terms_present`` (e.g. ``"richness,homologous,prior"``).
    """
    out = pd.DataFrame(index=inputs.index)
    sigmas = {}
    for name, col in TERMS.items():
        xv = inputs[col].to_numpy(dtype=float)
        s = term_value(name, xv)
        out[f"term_{name}"] = s
        sig_col = _SIGMA_COLUMNS.get(name)
        sigma_x = np.asarray(inputs[sig_col], dtype=float) if sig_col in inputs else np.full(len(xv), INPUT_SIGMA[name])
        sigmas[name] = np.where(np.isfinite(s), np.minimum(term_slope(name, xv) * sigma_x, MISSING_SIGMA), MISSING_SIGMA)
    out["synth_score"] = combine_terms(out, weights)
    w = (weights or DEFAULT_WEIGHTS).as_dict()
    out["synth_score_sigma"] = np.sqrt(sum((w[n] * sigmas[n]) ** 2 for n in TERMS)) / sum(w.values())
    have = np.column_stack([np.isfinite(out[f"term_{n}"].to_numpy(float)) for n in TERMS])
    code = have.astype(np.int64) @ (1 << np.arange(len(TERMS)))
    names = {c: ",".join(n for i, n in enumerate(TERMS) if c >> i & 1) for c in np.unique(code)}
    out["synth_terms_present"] = [names[c] for c in code]
    return out


def combine_terms(terms: pd.DataFrame, weights: ScoreWeights | None = None) -> np.ndarray:
    """``sum_i w_i s_i / sum_i w_i`` over the computed ``term_<name>`` columns of each row (a missing term is
    left out, not counted as 0.5); 0.5 where no term with positive weight was computed."""
    w = (weights or DEFAULT_WEIGHTS).as_dict()
    num = np.zeros(len(terms))
    den = np.zeros(len(terms))
    for n in TERMS:
        col = f"term_{n}"
        if col not in terms or w[n] == 0:
            continue
        s = terms[col].to_numpy(dtype=float)
        ok = np.isfinite(s)
        num += np.where(ok, w[n] * s, 0.0)
        den += np.where(ok, w[n], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.5)


#: Default weights, chosen a priori (not on validation figures): the physical steps (hull, reaction,
#: richness) 1; margin 0 because richness already carries the tier-1 excess-H model (the same model would
#: count twice); homologous and precursor 0.5 (they decide among near-degenerate phases); the prior 0.25
#: (a weak, continuous term that also separates otherwise equal candidates). The nested leave-one-metal-out
#: of ``make validate`` reports its own selection as ``weights_selected_on_all_metals``; replace these by it
#: once it has been run on the full table.
DEFAULT_WEIGHTS = ScoreWeights(hull=1.0, reaction=1.0, richness=1.0, margin=0.0, homologous=0.5, precursor=0.5, prior=0.25)


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
    inputs = score_inputs(frame, window, lab_temperature_k, window_model)
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
