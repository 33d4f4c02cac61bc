"""Synthesizability score, synthesis window, precursor compatibility and the validation harness."""

import numpy as np
import pandas as pd
import pytest

from screening.errors import CandidateError
from screening.score import TERMS, ScoreWeights, combine_terms, synthesizability_score, term_value
from screening.window import ExcessHydrogenModel, ambient_h_per_metal, lindemann_melting_k, synthesis_window

# Direction in which each input makes synthesis more plausible (+1: larger is better).
DIRECTION = {"hull": -1, "reaction": -1, "richness": -1, "margin": +1, "homologous": +1, "precursor": +1, "prior": +1}
SPAN = {"hull": (0.0, 0.5), "reaction": (-100.0, 100.0), "richness": (0.0, 8.0), "margin": (-200.0, 200.0),
        "homologous": (0.1, 3.0), "precursor": (0.0, 1.0), "prior": (0.0, 1.0)}


def _random_inputs(rng, n):
    return pd.DataFrame({col: rng.uniform(*SPAN[name], n) for name, col in TERMS.items()})


@pytest.mark.parametrize("term", list(TERMS))
def test_score_is_monotone_in_each_term(term):
    """Raising one input in its favourable direction never lowers the score (others fixed)."""
    rng = np.random.default_rng(1)
    base = _random_inputs(rng, 200)
    base.loc[rng.random(200) < 0.2, TERMS["hull"]] = np.nan  # some rows without tier-2 numbers
    lo, hi = SPAN[term]
    for weights in (ScoreWeights(), ScoreWeights(hull=2.0, prior=0.1, margin=0.3)):
        steps = np.linspace(lo, hi, 25)[:: DIRECTION[term]]
        previous = None
        for v in steps:
            s = synthesizability_score(base.assign(**{TERMS[term]: v}), weights)["synth_score"].to_numpy()
            if previous is not None:
                assert (s >= previous - 1e-12).all(), f"score fell when {term} became more favourable"
            previous = s
        first = synthesizability_score(base.assign(**{TERMS[term]: steps[0]}), weights)["synth_score"].to_numpy()
        assert (previous - first > 1e-3).all(), f"{term} has no effect on the score"


def test_lower_hull_distance_never_lowers_score():
    inputs = pd.DataFrame({col: [0.5] * 3 for col in TERMS.values()})
    inputs[TERMS["hull"]] = [0.0, 0.05, 0.2]
    s = synthesizability_score(inputs)["synth_score"].to_numpy()
    assert s[0] > s[1] > s[2]


def test_missing_term_is_left_out_not_counted_as_half():
    """A term that was never computed is no evidence: the score is the weighted mean of the other terms
    (not pulled towards 0.5) and its uncertainty is wider."""
    full = pd.DataFrame({TERMS["hull"]: [0.2], TERMS["reaction"]: [-50.0], TERMS["richness"]: [0.0],
                         TERMS["margin"]: [200.0], TERMS["homologous"]: [3.0], TERMS["precursor"]: [1.0],
                         TERMS["prior"]: [1.0]})
    missing = full.assign(**{TERMS["hull"]: np.nan})
    a, b = synthesizability_score(full, ScoreWeights()), synthesizability_score(missing, ScoreWeights())
    # Every other term is ~1; hull 0.2 eV/atom above the hull is ~0.03. Without hull the score stays ~1.
    assert a["synth_score"].iloc[0] < 0.9
    assert b["synth_score"].iloc[0] > 0.99
    assert b["synth_score_sigma"].iloc[0] > a["synth_score_sigma"].iloc[0]
    assert "hull" not in b["synth_terms_present"].iloc[0] and "hull" in a["synth_terms_present"].iloc[0]


def test_combine_terms_is_the_weighted_mean_over_computed_terms():
    terms = pd.DataFrame({f"term_{n}": [v] for n, v in zip(TERMS, (1.0, 0.0, 0.7, 0.5, 0.2, np.nan, 0.9))})
    w = ScoreWeights(hull=1, reaction=2, richness=1, margin=0, homologous=1, precursor=1, prior=1)
    expected = (1.0 * 1 + 0.0 * 2 + 0.7 * 1 + 0.2 * 1 + 0.9 * 1) / 6.0  # precursor missing: left out of both sums
    assert combine_terms(terms, w)[0] == pytest.approx(expected)


def test_bad_weights_are_named():
    with pytest.raises(CandidateError, match="prior=-1"):
        ScoreWeights(prior=-1.0)
    with pytest.raises(CandidateError, match="at least one"):
        ScoreWeights(0, 0, 0, 0, 0, 0, 0)
    with pytest.raises(CandidateError, match="unknown score term 'entropy'"):
        term_value("entropy", [1.0])


def test_term_transforms_have_physical_signs():
    assert term_value("reaction", [-50.0])[0] > 0.99 and term_value("reaction", [50.0])[0] < 0.01
    # On or within 25 meV/atom of the hull counts as on it; above, e-fold per 50 meV/atom.
    assert term_value("hull", [0.0])[0] == 1.0 and term_value("hull", [0.025])[0] == 1.0
    assert term_value("hull", [0.075])[0] == pytest.approx(np.exp(-1))
    assert term_value("reaction", [-5.0])[0] == 1.0 and term_value("reaction", [10.0])[0] == pytest.approx(np.exp(-1))
    assert term_value("richness", [0.0])[0] == 1.0 and term_value("richness", [3.0])[0] < term_value("richness", [1.0])[0]
    assert term_value("margin", [0.0])[0] == pytest.approx(0.5)


# --------------------------------------------------------------------------- window
def test_ambient_hydrides():
    """H/M of the H-richest ambient hydride from data/ambient_hydrides.csv; 0 where the metal has none."""
    assert {m: ambient_h_per_metal(m) for m in ("Ca", "Y", "U", "Na", "Ti", "La", "Pt", "Hg")} == \
        {"Ca": 2, "Y": 3, "U": 3, "Na": 1, "Ti": 2, "La": 3, "Pt": 0, "Hg": 0}
    with pytest.raises(CandidateError, match="'Xx'"):
        ambient_h_per_metal("Xx")


def test_excess_model_inverts_and_is_monotone():
    model = ExcessHydrogenModel(alpha=3.0, beta=0.5)
    x = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 10.0])
    p = model.p_min("Ca", x)
    assert p[0] == 0.0 and p[1] == 0.0  # at or below CaH2 no pressure is needed
    assert np.all(np.diff(p) >= 0) and p[-1] > p[-2]
    np.testing.assert_allclose(model.x_max("Ca", p[2:]), x[2:], rtol=1e-10)


def test_excess_model_fit_recovers_parameters():
    rng = np.random.default_rng(0)
    p = rng.uniform(10, 250, 30)
    metals = rng.choice(["Ca", "La", "Y", "Na"], 30)
    truth = ExcessHydrogenModel(alpha=2.5, beta=0.6)
    x = [truth.x_max(m, pi) for m, pi in zip(metals, p)]
    fit = ExcessHydrogenModel.fit(pd.DataFrame({"metal": metals, "h_per_metal": x, "pressure_gpa": p}))
    assert fit.alpha == pytest.approx(2.5, rel=1e-4) and fit.beta == pytest.approx(0.6, rel=1e-4)
    with pytest.raises(CandidateError, match="got 1"):
        ExcessHydrogenModel.fit(pd.DataFrame({"metal": ["Ca"], "h_per_metal": [4.0], "pressure_gpa": [30.0]}))


def test_lindemann_melting_rises_with_pressure():
    t = lindemann_melting_k("Ca", [0.0, 20.0, 50.0, 150.0])
    assert t[0] == pytest.approx(1115.0, rel=1e-6)  # the elemental melting point at 0 GPa
    assert np.all(np.diff(t) > 0)


def test_window_prefers_tier2_values():
    frame = pd.DataFrame({"metals": ["Ca", "Ca"], "h_per_metal": [4.0, 4.0], "pressure_gpa": [50.0, 50.0],
                          "onset_pressure_gpa": [np.nan, 33.0], "onset_status": [np.nan, "within range"],
                          "precursor": [np.nan, "CaH2"], "tm_metal_k": [np.nan, 1500.0],
                          "h_diffusion_onset_k": [np.nan, 900.0], "melting_status": [np.nan, "ok"]})
    w = synthesis_window(frame, ExcessHydrogenModel(alpha=3.0, beta=0.5))
    assert w.loc[0, "p_min_source"].startswith("tier-1") and w.loc[1, "p_min_source"].startswith("tier-2a")
    assert w.loc[1, "p_min_gpa"] == 33.0
    assert w.loc[0, "p_min_gpa"] == pytest.approx(100.0 * (2.0 / 3.0) ** 2)
    assert (w.loc[1, "t_min_k"], w.loc[1, "t_max_k"]) == (900.0, 1500.0)
    assert w.loc[0, "t_min_k"] < w.loc[0, "t_max_k"]
    assert list(w["recommended_precursor"]) == ["CaH2", "CaH2"]
    with pytest.raises(CandidateError, match="pressure_gpa"):
        synthesis_window(frame.drop(columns="pressure_gpa"))


# --------------------------------------------------------------------------- precursor compatibility
def test_cah6_is_topotactic_from_cah2_and_cah575_is_not():
    """The 2026 follow-up of the seed study: CaH6 forms from CaH2 because the Ca sublattices match
    (martensite-like), CaH5.75 needs a reconstructive rearrangement."""
    from screening.structures.sublattice import template_compatibility

    assert template_compatibility("cotunnite", "sodalite")["matched"]
    assert not template_compatibility("cotunnite", "a15_clathrate")["matched"]
    assert template_compatibility("cotunnite", "cotunnite")["similarity"] == pytest.approx(1.0)
    # fcc metal sublattices: fluorite (MH2) -> fcc clathrate (MH10) keeps the sublattice
    assert template_compatibility("fluorite", "fcc_clathrate")["matched"]


# --------------------------------------------------------------------------- validation harness
def test_lomo_splits_never_share_a_metal():
    from screening.experimental import load_experimental
    from screening.validation import lomo_splits
    from screening.window import experimental_points

    points = experimental_points(load_experimental())
    seen = set()
    for train, test, metal in lomo_splits(points["metal"].tolist()):
        assert set(points["metal"].iloc[test]) == {metal}
        assert metal not in set(points["metal"].iloc[train])
        assert len(train) + len(test) == len(points)
        seen.add(metal)
    assert seen == set(points["metal"])


def test_fold_prior_is_trained_without_the_held_out_metals():
    from screening.prior import training_mask

    frame = pd.DataFrame({"metals": ["Ca", "La", "Y", "Ca", "La"]})
    mask = training_mask(frame, frozenset({"Ca", "Y"}))
    assert list(frame.loc[mask, "metals"]) == ["La", "La"]


def test_validation_accepts_another_table(tmp_path):
    """The harness runs on any CSV with the experimental columns and writes its three outputs."""
    from screening.experimental import load_experimental
    from screening.prior import PriorConfig
    from screening.validation import validate, write_validation

    table = load_experimental()
    small = table[table["metal"].isin(["Ca", "La", "Y", "Na"])]
    path = tmp_path / "other.csv"
    small.to_csv(path, index=False)
    result, summary = validate(path, prior_config=PriorConfig(n_estimators=20), nested=False, progress=False)
    assert set(result["metal"]) == {"Ca", "La", "Y", "Na"}
    assert -1.0 <= summary["spearman_pmin_vs_synthesis_pressure"] <= 1.0
    assert 0.0 <= summary["top3_rate"] <= 1.0
    assert (result["rank_at_reported_pressure"].dropna() >= 1).all()
    paths = write_validation(result, summary, tmp_path / "out")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    bad = tmp_path / "bad.csv"
    small.drop(columns="reference").to_csv(bad, index=False)
    with pytest.raises(CandidateError, match="reference"):
        validate(bad, nested=False, progress=False)


def test_validation_of_too_few_metals_fails_before_any_tier2a_work(tmp_path, monkeypatch):
    """A table with one metal is refused before tier 2a is looked up or computed (minutes per metal)."""
    import screening.tier2a_table as t2a
    from screening.experimental import load_experimental
    from screening.prior import PriorConfig
    from screening.validation import validate

    def must_not_run(*args, **kwargs):
        raise AssertionError("tier 2a was started for a table the harness refuses")

    monkeypatch.setattr(t2a, "tier2a_for_candidates", must_not_run)
    path = tmp_path / "one_metal.csv"
    load_experimental().query("metal == 'Ca'").to_csv(path, index=False)
    with pytest.raises(CandidateError, match=r">= 3 metals.*Ca"):
        validate(path, prior_config=PriorConfig(n_estimators=5), nested=False, progress=False, compute_tier2a=True)
