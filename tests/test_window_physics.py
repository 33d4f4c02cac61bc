"""Window from physics, ambient-hydride precursors, the physics-first score and the tier-2a harness (issue 12).

Fast: the enthalpy proxy runs with ASE's EMT on Pd-H (a cheap calculator EMT supports), not CHGNet.
"""

import numpy as np
import pandas as pd
import pytest

from screening.ambient import ambient_table
from screening.candidates import candidate_grid
from screening.score import TERMS, ScoreWeights, score_candidates
from screening.window import (
    T_CAP_K,
    TAMMANN,
    ExcessHydrogenModel,
    hydride_melting_k,
    lindemann_melting_k,
    synthesis_window,
)

PD_PRESSURES = [0.0, 10.0, 40.0]


@pytest.fixture(scope="module")
def pd_proxies(tmp_path_factory):
    """The real tier-2a proxy output for Pd-H (EMT, rocksalt + fluorite templates)."""
    from screening.proxies.enthalpy import enthalpy_proxy
    from screening.store import ResultStore

    store = ResultStore(tmp_path_factory.mktemp("emt-store") / "results.sqlite")
    cands = candidate_grid(["Pd"], [1.0, 2.0], PD_PRESSURES)
    proxies = enthalpy_proxy(cands, "emt", PD_PRESSURES, ["rocksalt", "fluorite"], store=store, progress=False)
    return cands, proxies


def test_real_emt_proxy_output_reaches_the_window(pd_proxies):
    """The real enthalpy_proxy output (EMT Pd-H) goes through the window: its status strings are the ones the
    window reads, and an onset beyond the grid ("above range": EMT never makes PdH favourable up to 40 GPa)
    becomes "not reachable" with p_min at the grid's end, never beyond it."""
    from screening.proxies.enthalpy import merge_into_ranking

    cands, proxies = pd_proxies
    assert set(proxies["onset_status"]) <= {"within range", "below range", "above range", "unavailable"}
    merged = merge_into_ranking(cands, proxies)
    w = synthesis_window(merged, ExcessHydrogenModel(alpha=3.0, beta=0.5))
    tier2 = merged["onset_status"].isin(["within range", "below range", "above range"]).to_numpy()
    assert tier2.all(), proxies["onset_status"].tolist()
    assert w.loc[tier2, "p_min_source"].str.startswith("tier-2a").all()
    assert (w["p_min_gpa"] <= max(PD_PRESSURES)).all()
    above = merged["onset_status"].eq("above range").to_numpy()
    assert w.loc[above, "p_min_status"].str.startswith("not reachable").all()
    within = merged["onset_status"].eq("within range").to_numpy()
    np.testing.assert_allclose(w.loc[within, "p_min_gpa"], merged.loc[within, "onset_pressure_gpa"].astype(float))


def _linear_system():
    """A Ca-H system of phases with linear H(P) = H0 + V P: CaH2 + H2 -> CaH4 has dH_r = 0.5 eV - 6 A^3 P,
    zero at P* = 0.5 / (6 A^3) = 13.35 GPa, inside the 0-40 GPa grid."""
    from screening.calculators import get_calculator
    from screening.proxies.enthalpy import PhaseCurve, SystemResult
    from screening.relax import EV_PER_GPA_A3, RelaxSettings

    ps = np.array([0.0, 10.0, 20.0, 40.0])

    def curve(name, kind, x, template, h0, v):
        return PhaseCurve(name, kind, x, template, ps, h0 + v * ps * EV_PER_GPA_A3, np.full(ps.size, v),
                          np.ones(ps.size, bool))

    system = SystemResult("Ca", get_calculator("emt")[1], RelaxSettings(), tuple(ps))
    for c in (curve("Ca/fcc", "metal", 0.0, "fcc", 0.0, 20.0), curve("H2", "h2", np.inf, "mhcp", 0.0, 10.0),
              curve("CaH2/fluorite", "hydride", 2.0, "fluorite", -1.0, 22.0),
              curve("CaH4/thcr2si2", "hydride", 4.0, "thcr2si2", -0.5, 26.0)):
        system.phases[c.name] = c
    return system, 0.5 / (6.0 * EV_PER_GPA_A3)


def test_tier2a_onset_within_range_reaches_the_window():
    """proxies_for_candidate (the function enthalpy_proxy calls per row) writes "within range"; the window
    takes that onset as p_min (the old code tested for "within" and silently fell back to tier 1)."""
    from screening.proxies.enthalpy import proxies_for_candidate

    system, p_star = _linear_system()
    row = proxies_for_candidate(system, 4.0, 20.0)
    assert row["onset_status"] == "within range" and row["precursor"] == "CaH2"
    assert row["onset_pressure_gpa"] == pytest.approx(p_star, abs=0.5)
    frame = candidate_grid(["Ca"], [4.0], [20.0]).assign(**{k: [v] for k, v in row.items()})
    w = synthesis_window(frame, ExcessHydrogenModel(alpha=3.0, beta=0.5))
    assert w.loc[0, "p_min_gpa"] == pytest.approx(row["onset_pressure_gpa"])
    assert w.loc[0, "p_min_source"].startswith("tier-2a") and w.loc[0, "p_min_status"] == "reachable"


@pytest.mark.parametrize("status, from_tier2b", [("ok", True), ("uncertain", True), ("no-melting", False),
                                                 ("failed", False)])
def test_a_tier2b_melting_temperature_sets_the_window_when_it_is_a_measurement(status, from_tier2b):
    """An "uncertain" T_m (e.g. T+/1.25 of a melt that did not recrystallise) still sets the window, and the source
    says it is uncertain; a lower bound ("no-melting") or a failed run leaves the tier-1 Lindemann window."""
    frame = candidate_grid(["Ca"], [4.0], [40.0]).assign(tm_metal_k=2112.0, h_diffusion_onset_k=1200.0,
                                                         melting_status=status)
    tier1 = synthesis_window(frame.drop(columns=["tm_metal_k", "h_diffusion_onset_k", "melting_status"]))
    w = synthesis_window(frame)
    if from_tier2b:
        assert (w.loc[0, "t_min_k"], w.loc[0, "t_max_k"]) == (1200.0, 2112.0)
        assert w.loc[0, "t_window_source"].startswith("tier-2b")
        assert ("uncertain" in w.loc[0, "t_window_source"]) == (status == "uncertain")
    else:
        assert (w.loc[0, "t_min_k"], w.loc[0, "t_max_k"]) == (tier1.loc[0, "t_min_k"], tier1.loc[0, "t_max_k"])
        assert w.loc[0, "t_window_source"] == tier1.loc[0, "t_window_source"]
        assert w.loc[0, "t_max_k"] != 2112.0


def test_an_h_diffusion_onset_at_melting_is_not_a_lower_bound_of_the_window():
    """H that moves only once the metal sublattice melts (onset >= T_m, as in CaH2 on the engine's potential) gives
    no solid-state window from the onset: the lower end is Tammann's rule, and the source says why."""
    frame = candidate_grid(["Ca"], [2.0], [40.0, 60.0]).assign(tm_metal_k=[2336.0, 2664.0],
                                                               h_diffusion_onset_k=[2420.0, 2580.0],
                                                               melting_status="uncertain")
    w = synthesis_window(frame)
    assert list(w["t_max_k"]) == [2336.0, 2664.0]
    assert w.loc[0, "t_min_k"] == pytest.approx(TAMMANN * 2336.0)  # onset above T_m
    assert w.loc[1, "t_min_k"] == 2580.0  # onset below T_m: H moves in the solid
    assert (w["t_min_k"] < w["t_max_k"]).all()
    assert "melts" in w.loc[0, "t_window_source"] and "H-diffusion onset" in w.loc[1, "t_window_source"]


@pytest.fixture(scope="module")
def small_screen(cache):
    from screening.api import screen

    return screen(metals=["La", "Y", "Ca", "W", "Pt", "S", "Li"], pressures_gpa=[0.0, 50.0, 150.0], cache=cache,
                  progress=False)


def test_p_min_above_the_grid_is_flagged_not_reachable(small_screen):
    grid_max = small_screen["pressure_gpa"].max()
    above = small_screen["p_min_gpa"] > grid_max
    assert above.any(), "some H-rich candidate should need more than the grid's 150 GPa"
    assert small_screen.loc[above, "p_min_status"].str.startswith("not reachable").all()
    assert (small_screen["p_min_status"].str.startswith("not reachable") == above).all()


def test_p_min_is_bounded_by_the_experimental_envelope():
    """The tier-1 fallback never asks more pressure than the table shows for the same excess H/M."""
    model = ExcessHydrogenModel.fit(pd.DataFrame({"metal": ["Ca", "La", "Y", "Ba"], "h_per_metal": [6.0, 10.0, 6.0, 12.0],
                                                  "pressure_gpa": [175.0, 160.0, 166.0, 124.0]}))
    frame = pd.DataFrame({"metals": ["La"], "h_per_metal": [10.0], "pressure_gpa": [150.0]})
    w = synthesis_window(frame, model)
    # LaH10: excess 7 over LaH3; BaH12 reached excess 10 at 124 GPa.
    assert w.loc[0, "p_min_gpa"] <= 124.0 + 1e-9
    assert model.envelope_pressure([7.0])[0] == 124.0 and np.isinf(model.envelope_pressure([11.0])[0])


def test_every_recommended_precursor_exists_at_ambient_pressure(small_screen):
    table = ambient_table()
    known = set(table["formula"])
    for metal, prec in zip(small_screen["metals"], small_screen["recommended_precursor"]):
        assert prec == metal or prec in known, f"{prec} for {metal} is not an ambient hydride"
        if prec != metal:
            assert table.loc[table["formula"] == prec, "metal"].iloc[0] == metal
    # No ambient hydride of Pt or W: the element itself; La: LaH2 or LaH3 (sources in the table).
    assert set(small_screen.loc[small_screen["metals"] == "Pt", "recommended_precursor"]) == {"Pt"}
    assert set(small_screen.loc[small_screen["metals"] == "La", "recommended_precursor"]) <= {"La", "LaH2", "LaH3"}


def test_ambient_table_has_a_source_on_every_row():
    table = ambient_table()
    assert table["reference"].astype(str).str.len().min() > 10
    assert (table["doi"].notna() | table["url"].notna()).all()
    assert not table.duplicated(["formula"]).any()


def test_temperatures_are_physical(small_screen):
    t_min, t_max = small_screen["t_min_k"], small_screen["t_max_k"]
    single = ~small_screen["metals"].str.contains(",")
    assert (t_max[single] <= T_CAP_K).all() and (t_min[single] > 0).all() and (t_min[single] <= t_max[single]).all()
    # The hydride melts no higher than the compressed bare metal, and H lowers it at high pressure.
    p = np.array([150.0, 150.0])
    tm_h = hydride_melting_k(["La", "La"], [3.0, 10.0], p)
    assert tm_h[1] <= tm_h[0] <= lindemann_melting_k("La", 150.0)


def test_sublattice_table_matches_a_fresh_computation():
    """The committed data/template_compatibility.csv is what compare_sublattices computes (spot check)."""
    from screening.structures.sublattice import _stored_compatibility, _template_sublattices, compare_sublattices
    from screening.structures.templates import load_templates

    stored = _stored_compatibility()
    names = list(load_templates())
    assert set(stored) == {(a, b) for a in names for b in names}
    subs = _template_sublattices()
    for a, b in [("cotunnite", "sodalite"), ("cotunnite", "a15_clathrate"), ("fluorite", "fcc_clathrate")]:
        fresh = compare_sublattices(subs[a], subs[b])
        assert stored[(a, b)]["matched"] == fresh["matched"]
        assert stored[(a, b)]["similarity"] == pytest.approx(fresh["similarity"], abs=1e-5)


# --------------------------------------------------------------------------- score
def _twins(rng, favourable: bool):
    """A Ca grid at one pressure with tier-2a numbers on every row; plus an uncomputed twin of row 0."""
    xs = [2.0, 4.0, 6.0]
    frame = candidate_grid(["Ca"], xs, [150.0])
    frame["prior_score"] = rng.uniform(0, 1, len(frame))
    frame["e_above_hull_ev_per_atom"] = [0.1, 0.05, 0.0] if favourable else [0.0, 0.0, 0.3]
    frame["dH_r_kj_per_mol_h2"] = [-5.0, -3.0, -20.0] if favourable else [-5.0, -3.0, 30.0]
    twin = frame.iloc[[2]].copy()
    twin["candidate_id"] = "twin"
    twin[["e_above_hull_ev_per_atom", "dH_r_kj_per_mol_h2"]] = np.nan
    return pd.concat([frame, twin], ignore_index=True)


@pytest.mark.parametrize("seed", range(5))
def test_favourable_physics_never_ranks_below_its_uncomputed_twin(seed):
    """CaH6 on the hull, exothermic and the H-richest near-hull phase vs the same candidate without tier 2a."""
    rng = np.random.default_rng(seed)
    frame = _twins(rng, favourable=True)
    for weights in (ScoreWeights(), ScoreWeights(hull=2, richness=0.5, prior=1.0), ScoreWeights(precursor=0, prior=2)):
        out = score_candidates(frame, weights, window_model=ExcessHydrogenModel(alpha=1.0, beta=1.0)).set_index("candidate_id")
        computed = out.loc[frame["candidate_id"].iloc[2]]
        assert computed["synth_score"] >= out.loc["twin", "synth_score"] - 1e-12
        assert computed["synth_rank"] < out.loc["twin", "synth_rank"]
        assert "hull" in computed["synth_terms_present"] and "hull" not in out.loc["twin", "synth_terms_present"]


def test_unfavourable_physics_lowers_the_score():
    frame = _twins(np.random.default_rng(0), favourable=False)
    out = score_candidates(frame, ScoreWeights(), window_model=ExcessHydrogenModel(alpha=1.0, beta=1.0)).set_index("candidate_id")
    assert out.loc[frame["candidate_id"].iloc[2], "synth_score"] < out.loc["twin", "synth_score"]


def test_richness_prefers_the_h_richest_near_hull_phase():
    frame = _twins(np.random.default_rng(0), favourable=True).iloc[:3]
    out = score_candidates(frame, ScoreWeights(), window_model=ExcessHydrogenModel(alpha=1.0, beta=1.0))
    by_x = out.set_index("h_per_metal")
    assert by_x.loc[6.0, "h_richness_distance"] == 0.0 and by_x.loc[4.0, "h_richness_distance"] == 2.0
    assert by_x["richness_source"].str.startswith("tier-2a").all()
    assert set(TERMS) <= {c.removeprefix("term_") for c in out.columns if c.startswith("term_")}


# --------------------------------------------------------------------------- tier-2a harness
def test_tier2a_harness_computes_caches_and_feeds_validation(tmp_path, monkeypatch):
    """validate(compute_tier2a=True) on a CSV of metals EMT knows computes their tier 2a once, stores it,
    and scores with it; a second lookup (compute=False) finds it."""
    from screening.experimental import load_experimental
    from screening.prior import PriorConfig
    from screening.store import ResultStore
    from screening.tier2a_table import Tier2aSettings, tier2a_for_metal, validation_candidates
    from screening.validation import validate

    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path / "cache"))
    base = load_experimental().iloc[:1]
    rows = []
    for metal, x, p in [("Pd", 1.0, 10.0), ("Pd", 2.0, 40.0), ("Ni", 1.0, 20.0), ("Cu", 1.0, 20.0), ("Pt", 1.0, 40.0)]:
        r = base.iloc[0].copy()
        r["formula"], r["metal"], r["h_per_metal"], r["synthesis_pressure_gpa"] = f"{metal}H{x:g}", metal, x, p
        r["reference"] = "synthetic row for the harness test (not data)"
        rows.append(r)
    path = tmp_path / "emt_metals.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    settings = Tier2aSettings(templates=("rocksalt", "fluorite"), calculator="emt")
    result, summary = validate(path, prior_config=PriorConfig(n_estimators=20), nested=False, progress=False,
                               compute_tier2a=True, tier2a=settings)
    assert summary["tier2a_metals"] == ["Cu", "Ni", "Pd", "Pt"]
    assert summary["tier2a_calculator"].lower().startswith("emt")
    assert result["tier2a"].any()
    cands = validation_candidates(pd.read_csv(path))
    again = tier2a_for_metal("Pd", cands["Pd"], settings, compute=False, store=ResultStore())
    assert again is not None and len(again) == len(cands["Pd"])
    assert tier2a_for_metal("Pd", cands["Pd"], Tier2aSettings(templates=("rocksalt",), calculator="emt"), compute=False,
                            store=ResultStore()) is None

    # Committed results: exported once, read back by a machine whose store is empty; other inputs are not used.
    committed = tmp_path / "committed"
    tier2a_for_metal("Pd", cands["Pd"], settings, compute=False, store=ResultStore(), export_dir=committed)
    files = list(committed.rglob("*.json"))
    assert [f.name for f in files] == ["Pd.json"] and files[0].parent.name == "emt"
    fresh = ResultStore(tmp_path / "fresh.sqlite")
    back = tier2a_for_metal("Pd", cands["Pd"], settings, compute=False, store=fresh, committed_dir=committed)
    pd.testing.assert_frame_equal(back, again)
    assert fresh.count("tier2a_table") == 1
    other = Tier2aSettings(templates=("rocksalt",), calculator="emt")
    assert tier2a_for_metal("Pd", cands["Pd"], other, compute=False, store=ResultStore(tmp_path / "f2.sqlite"),
                            committed_dir=committed) is None
    files[0].write_text("{not json")
    with pytest.warns(UserWarning, match="not readable JSON"):
        assert tier2a_for_metal("Pd", cands["Pd"], settings, compute=False, store=ResultStore(tmp_path / "f3.sqlite"),
                                committed_dir=committed) is None


def test_tier2a_command_rejects_bad_input(capsys):
    from screening.tier2a_table import main

    assert main(["--metals", "Xx", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert main(["--templates", "nonsense", "--metals", "Ca", "--quiet"]) == 2


def test_tier2a_default_calculator_is_the_registry_default():
    """The tier-2a table names the calculator the registry builds by default (a real name, not 'None')."""
    from screening.calculators import KNOWN, default_calculator_name
    from screening.tier2a_table import Tier2aSettings

    spec = Tier2aSettings().resolved_calculator()
    assert spec == default_calculator_name()
    assert any(spec == k.split("[")[0] for k in KNOWN), (spec, KNOWN)
