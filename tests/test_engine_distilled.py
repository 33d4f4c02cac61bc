"""The distilled route (screening.engine.distilled) on EMT-labelled Pd–H cells: which cells and labels enter the
fit, the committed files, and the fit from them (no DFT, no CHGNet)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from test_engine_potential import _pdh_configs  # tests/ is on sys.path under pytest (rootdir mode)

from screening.engine import distilled
from screening.engine.labelling import write_extxyz
from screening.errors import CandidateError


def _pool(n: int = 16):
    pool = _pdh_configs(n, seed=5)
    for i, a in enumerate(pool):
        a.info.update(config_id=f"c{i}", family=("strain", "rattle")[i % 2], pressure_gpa=(0.0, 20.0, 40.0)[i % 3],
                      parent=f"p{i % 6}", label_source="teacher (fine-tuned on GPAW labels), not DFT",
                      label_provenance=json.dumps({"name": "emt"}))
    return pool


def _dft_copy(a, shift_ev: float = 0.0):
    from ase.calculators.singlepoint import SinglePointCalculator

    b = a.copy()
    b.info = {**a.info, "label_source": "gpaw gpaw 26.7.0 (DFT (PBE, PAW))",
              "label_provenance": json.dumps({"name": "gpaw", "kind": "DFT (PBE, PAW)"})}
    b.calc = SinglePointCalculator(b, energy=a.get_potential_energy() + shift_ev, forces=a.get_forces(),
                                   stress=a.get_stress())
    return b


def test_holdout_cells_leave_dft_labels_replace_the_teachers_and_the_domain_limits_pressure():
    pool = _pool()
    dft_train = [_dft_copy(pool[4], shift_ev=0.5)]
    dft_holdout = [_dft_copy(pool[5])]
    cells = distilled.distilled_set(pool, dft_train, dft_holdout, domain={})
    ids = [a.info["config_id"] for a in cells]
    assert "c5" not in ids and len(cells) == len(pool) - 1
    c4 = cells[ids.index("c4")]
    assert c4.get_potential_energy() == pytest.approx(pool[4].get_potential_energy() + 0.5)
    assert distilled._is_dft(c4) and not distilled._is_dft(cells[0])
    limited = distilled.distilled_set(pool, dft_train, dft_holdout)  # default domain: >= 20 GPa
    assert limited and all(a.info["pressure_gpa"] >= distilled.DISTILL_DOMAIN["min_pressure_gpa"] for a in limited)


@pytest.fixture()
def folder(tmp_path):
    pool = _pool()
    root = tmp_path / "engine"
    d = root / "Pd-H"
    d.mkdir(parents=True)
    holdout = [_dft_copy(a) for a in pool[-4:]]
    train = [_dft_copy(a) for a in pool[:3]]
    write_extxyz(train, d / "train_gpaw.extxyz")
    write_extxyz(holdout, d / "holdout_gpaw.extxyz")
    (d / "manifest.json").write_text(json.dumps({"files": {"train": "train_gpaw.extxyz",
                                                           "holdout": "holdout_gpaw.extxyz"}}))
    cells = distilled.distilled_set(pool, train, holdout, domain={})
    manifest = distilled.write_distilled(cells, d, teacher="emt", domain={}, dft_files={"train": "x"})
    return root, d, cells, manifest


def test_committed_labels_read_back_with_their_counts_and_a_changed_file_is_named(folder):
    root, d, cells, manifest = folder
    frames, read = distilled.committed_distilled("Pd", root)
    assert len(frames) == manifest["n"] == len(cells) == 12
    assert read["by_label"] == {"dft": 3, "teacher": 9} and read["regenerate"] == "make engine-distill METAL=Pd"
    assert [a.get_potential_energy() for a in frames] == pytest.approx([a.get_potential_energy() for a in cells])
    with open(d / distilled.LABELS_FILE, "a") as fh:
        fh.write("\n")
    with pytest.raises(CandidateError, match="make engine-distill"):
        distilled.committed_distilled("Pd", root)
    assert distilled.committed_distilled("Zr", root) is None
    with pytest.raises(CandidateError, match="make engine-distill METAL=Zr"):
        distilled.fit_distilled("Zr", root)


def test_fit_uses_the_cross_validated_settings_and_reports_the_holdout_against_dft(folder, tmp_path):
    root, d, cells, _ = folder
    settings, table = distilled.select_settings("Pd", root, candidates=["2b8-3b6x3-we1", "2b8-3b6x3-we100"],
                                                n_folds=3, cache=str(tmp_path / "c"), progress=False,
                                                h2_screen_ps=0.05, speed_reference="emt")
    rec = json.loads((d / distilled.SELECTION_FILE).read_text())
    assert rec["candidate"] == table.iloc[0]["candidate"] and rec["n_configs"] == len(cells)
    # every candidate ran the dense-H2 screen (EMT has no H2 molecule: nothing it taught stays molecular) and was timed
    assert table["h2_stable"].tolist() == [False, False] and rec["screen"]["n_eligible_candidates"] == 0
    timed = table["atom_steps_per_s"].notna()
    assert (table.loc[timed, "speedup"] > 0).all() and not table.loc[~timed, "fast"].any()
    assert table["score"].is_monotonic_increasing
    fitted = distilled.fit_distilled("Pd", root, cache=str(tmp_path / "c"))
    assert fitted.settings == settings
    errors = distilled.write_errors("Pd", root, cache=str(tmp_path / "c")).set_index(["set", "family"])
    assert errors.loc[("holdout_gpaw", "all"), "n_configs"] == 4
    assert errors.loc[("train_dft_labels", "all"), "n_configs"] == 3
    assert (d / distilled.ERRORS_FILE).is_file()
    # a fit to its own training cells follows them more closely than the cells it never saw
    assert errors.loc[("train", "all"), "forces_rmse_ev_per_a"] < errors.loc[("holdout_gpaw", "all"),
                                                                             "forces_rmse_ev_per_a"]


def test_the_engine_fits_from_the_committed_distilled_labels(folder, tmp_path, monkeypatch):
    from screening.engine.run import DISTILLED, EngineSettings, require_calculator, system_potential

    root, _, cells, _ = folder
    monkeypatch.setattr(distilled, "DEFAULT_LABELS_ROOT", root)
    require_calculator(DISTILLED)  # committed labels, not a calculator: nothing to build
    fitted = system_potential("Pd", EngineSettings(label_calculator=DISTILLED), cache=str(tmp_path / "c"))
    assert fitted.data_hash == distilled.fit_distilled("Pd", root, cache=str(tmp_path / "c")).data_hash
    assert fitted.n_configs == len(cells)


@pytest.fixture
def fake_screen(monkeypatch):
    """Four candidates for :func:`candidate_screen.screen_candidates`, with the fit, the MD and the timing replaced by
    their outcomes (all three are exercised for real above): ``(table, h2 outcomes by name)``."""
    import pandas as pd

    from screening.engine import candidate_screen, potential, stability
    from screening.md import speed

    names = ["broken", "accurate", "stable but slow", "stable and fast"]
    table = pd.DataFrame({"candidate": names, "score": [0.5, 1.0, 2.0, 3.0], "basis_size": [10] * 4,
                          "settings": names})
    monkeypatch.setattr(candidate_screen, "settings_from_json", lambda text: text)
    monkeypatch.setattr(potential, "fit_pod", lambda configs, elements, settings, **kw: SimpleNamespace(spec=settings))
    outcome = {"accurate": (0.76, None), "stable but slow": (0.95, None), "stable and fast": (0.92, None),
               "broken": (None, "LAMMPS lost atoms")}
    rates = {"chgnet": 10.0, "accurate": 9000.0, "stable but slow": 2000.0, "stable and fast": 5000.0,
             "broken": 9000.0}

    def fake_h2(spec, **kw):
        value, error = outcome[spec]
        return SimpleNamespace(value=value, error=error, passed=value is not None and value >= 0.9)

    monkeypatch.setattr(stability, "h2_stability", fake_h2)
    monkeypatch.setattr(speed, "atom_steps_per_s", lambda cell, spec, steps, dt: rates[spec])
    return table, outcome


def test_the_screen_prefers_a_molecular_and_fast_candidate_to_a_better_scoring_one(fake_screen):
    """The ordering rule of :func:`candidate_screen.screen_candidates`."""
    from screening.engine import candidate_screen

    table, outcome = fake_screen
    out = candidate_screen.screen_candidates(table, [], ("Pd", "H"), h2_ps=1.0)
    # the best-scoring candidate blew up in dense H2: it goes after every candidate that ran
    assert out["candidate"].tolist() == ["stable and fast", "accurate", "stable but slow", "broken"]
    assert out["speedup"].tolist() == pytest.approx([500.0, 900.0, 200.0, 900.0])
    assert out["eligible"].tolist() == [True, False, False, False] and out.loc[3, "h2_error"] == "LAMMPS lost atoms"
    # without the speed target the slow one is eligible and, scoring better, first
    out = candidate_screen.screen_candidates(table, [], ("Pd", "H"), h2_ps=1.0, min_speedup=None)
    assert out["candidate"].tolist()[:2] == ["stable but slow", "stable and fast"]
    # nothing eligible: the best score among the candidates that ran, not the broken one
    outcome.update({"stable but slow": (0.80, None), "stable and fast": (0.85, None)})
    out = candidate_screen.screen_candidates(table, [], ("Pd", "H"), h2_ps=1.0)
    assert not out["eligible"].any() and out["candidate"].tolist() == ["accurate", "stable but slow",
                                                                       "stable and fast", "broken"]
    with pytest.raises(CandidateError, match="h2_ps"):
        candidate_screen.screen_candidates(table, [], ("Pd", "H"), h2_ps=0)


def test_the_screen_puts_the_candidates_that_keep_their_teachers_reaction_first(fake_screen, monkeypatch):
    """With a teacher, a candidate whose tier-2a reaction has the other sign is not eligible and, among the
    ineligible ones that ran, goes after those that keep it; a reaction that could not be computed never agrees."""
    from screening.engine import candidate_screen, reaction_check

    table, outcome = fake_screen
    dh = {"teacher": -30.0, "accurate": 50.0, "stable but slow": -20.0, "stable and fast": float("nan"),
          "broken": -30.0}
    monkeypatch.setattr(reaction_check, "engine_reaction",
                        lambda calc, metal, **kw: {"dH_r_kj_per_mol_h2": dh[calc], "precursor": "PdH2",
                                                   "e_above_hull_ev_per_atom": 0.0, "onset_status": ""})
    out = candidate_screen.screen_candidates(table, [], ("Pd", "H"), h2_ps=1.0, teacher="teacher")
    assert out.set_index("candidate")["reaction_agrees"].to_dict() == {
        "broken": True, "accurate": False, "stable but slow": True, "stable and fast": False}
    # "stable and fast" is molecular and fast, but its reaction is unknown: nothing is eligible, and the candidate
    # that keeps the reaction goes before the better-scoring ones that do not; the broken one stays last
    assert not out["eligible"].any()
    assert out["candidate"].tolist() == ["stable but slow", "accurate", "stable and fast", "broken"]
    assert (out["teacher_dH_r_kj_per_mol_h2"] == -30.0).all()
    with pytest.raises(CandidateError, match="exactly 0"):
        reaction_check.reaction_agrees({"dH_r_kj_per_mol_h2": 1.0}, {"dH_r_kj_per_mol_h2": 0.0})


def test_a_candidate_that_blows_up_at_the_interface_goes_with_the_broken_ones(fake_screen, monkeypatch):
    """With ``interface``, a candidate whose interface probe fails ranks after every candidate whose runs finished,
    however good its score, and is not eligible."""
    from screening.engine import candidate_screen, probes

    table, _ = fake_screen
    seen = []

    def fake_explore(probe, spec, metal, **kw):
        seen.append((probe.kind, probe.temperature_k, metal))
        return [], {"error": "blow-up: temperature 3.8e+06 K" if spec == "stable and fast" else None}

    monkeypatch.setattr(probes, "explore", fake_explore)
    out = candidate_screen.screen_candidates(table, [], ("Pd", "H"), h2_ps=1.0, interface=True)
    assert set(seen) == {("interface", 1473.0, "Pd")} and len(seen) == 4
    assert out["candidate"].tolist() == ["accurate", "stable but slow", "broken", "stable and fast"]
    assert not out["eligible"].any() and out.loc[3, "interface_error"].startswith("blow-up")


def test_unknown_candidate_is_named(folder):
    root, *_ = folder
    with pytest.raises(CandidateError, match="unknown POD candidate"):
        distilled.select_settings("Pd", root, candidates=["5b"], progress=False)


CA_H = distilled.DEFAULT_LABELS_ROOT / "Ca-H"


@pytest.mark.skipif(not (CA_H / distilled.ERRORS_FILE).is_file(), reason="no committed Ca-H distilled fit yet")
def test_refit_from_the_committed_ca_h_distilled_labels_reproduces_their_reported_errors(tmp_path):
    import pandas as pd

    from screening.engine.fit_report import error_table

    reported = pd.read_csv(CA_H / distilled.ERRORS_FILE)
    frames, manifest = distilled.committed_distilled("Ca")
    assert reported["labels_sha256"].iloc[0] == manifest["sha256"], \
        "distilled labels changed since their fit report: run make engine-distill METAL=Ca and commit the result"
    if distilled.ACTIVE_FILE in distilled.label_files("Ca"):
        from screening.provenance import sha256_file

        assert reported["active_labels_sha256"].iloc[0] == sha256_file(CA_H / distilled.ACTIVE_FILE), \
            "active-learning frames changed since the fit report: run make engine-active METAL=Ca"
    fitted = distilled.fit_distilled("Ca", cache=str(tmp_path))
    assert fitted.data_hash[:24] == reported["potential_data_hash"].iloc[0]
    holdout = distilled.committed_holdout("Ca")
    new = error_table(fitted, {"holdout_gpaw": holdout}).set_index("family")
    old = reported[reported["set"] == "holdout_gpaw"].set_index("family")
    for col in ("energy_rmse_mev_per_atom", "forces_rmse_ev_per_a"):
        # a deterministic least-squares fit: the refit agrees to well within the reported error itself
        assert (new[col] - old.loc[new.index, col]).abs().max() <= 0.02 * old[col].abs().max() + 1e-6, col


def test_make_engine_distill_considers_the_committed_choice():
    """``make engine-distill`` (the default candidate list) can reproduce the committed POD choice: every default
    candidate is a known setting, and the recorded winner is among them."""
    from screening.engine.distilled import DISTILL_CANDIDATES, SELECTION_FILE, label_directory
    from screening.engine.pod_selection import ALL_POD_CANDIDATES

    assert set(DISTILL_CANDIDATES) <= set(ALL_POD_CANDIDATES)
    record = label_directory("Ca") / SELECTION_FILE
    if not record.is_file():
        pytest.skip("no committed Ca-H selection")
    assert json.loads(record.read_text())["candidate"] in DISTILL_CANDIDATES
