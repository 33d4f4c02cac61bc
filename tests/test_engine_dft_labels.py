"""The engine's committed training labels (``make engine-labels``): selection order, export, resume, bad input.

Fast: EMT (Pd–H) as teacher and labeller, tiny MD; GPAW itself is not run here.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from screening.engine.dft_labels import (COSTLY_LABEL, ENGINE_DFT_SETTINGS, LabelPlan, committed_labels, file_names,
                                         main, phase_cells, run_labels, selection)
from screening.engine.training_set import TrainingSetSpec
from screening.errors import CandidateError
from screening.reference.label_cost import label_cost
from screening.store import ResultStore

PLAN = LabelPlan(metal="Pd", h_per_metal=(0.0, 1.0), pressures_gpa=(0.0, 10.0), max_atoms=8, n_train=8, n_holdout=3,
                 holdout_pressure_gpa=10.0, min_per_family=1, teacher="emt", seed=3, phase_pressures_gpa=(0.0, 10.0))

#: the same plan without the relaxed reaction phases (tests of the pool's cells alone)
POOL_ONLY = replace(PLAN, phase_pressures_gpa=())


def _spec() -> TrainingSetSpec:
    return TrainingSetSpec(**{**PLAN.spec().as_dict(), "n_strain": 1, "strain_magnitudes": (0.03,), "n_rattle": 1,
                              "rattle_amplitudes_a": (0.1,), "md_temperatures_k": (1000.0,), "md_steps": 10,
                              "snapshot_every": 5, "slab_md_steps": 5})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ResultStore(tmp_path_factory.mktemp("labels") / "results.sqlite")


def test_selection_labels_the_holdout_first_then_a_diverse_training_prefix(store):
    chosen = selection(PLAN, spec=_spec(), store=store, progress=False)
    cost = [label_cost(a, ENGINE_DFT_SETTINGS) for a in chosen]
    costly = [c > COSTLY_LABEL for c in cost]
    n_cheap = costly.index(True) if any(costly) else len(chosen)
    assert all(costly[n_cheap:]) and cost[n_cheap:] == sorted(cost[n_cheap:])  # costly cells last, cheapest first
    cheap = chosen[:n_cheap]
    sets = [a.info["engine_set"] for a in cheap]
    n_hold = sets.count("holdout")
    assert sets == ["holdout"] * n_hold + ["train"] * (len(cheap) - n_hold)
    assert sum(a.info["engine_set"] == "holdout" for a in chosen) == PLAN.n_holdout
    assert all(a.info["pressure_gpa"] == 10.0 and len(a) <= PLAN.max_atoms
               for a in chosen if a.info["engine_set"] == "holdout")
    train = [a for a in chosen if a.info["engine_set"] == "train" and not a.info["family"].startswith("phase_")]
    assert sorted(a.info["selection_rank"] for a in train) == list(range(PLAN.n_train))
    train = [a for a in cheap if a.info["engine_set"] == "train" and not a.info["family"].startswith("phase_")]
    # round-robin over the families: the first members, one per family, already cover all of them
    n_families = len({a.info["family"] for a in train})
    assert n_families >= 3 and len({a.info["family"] for a in train[:n_families]}) == n_families
    assert len({a.info["config_id"] for a in chosen}) == len(chosen)


def test_the_relaxed_reaction_phases_follow_the_holdout_and_rank_after_the_pool(store):
    chosen = selection(PLAN, spec=_spec(), store=store, progress=False)
    cheap = [a for a in chosen if label_cost(a, ENGINE_DFT_SETTINGS) <= COSTLY_LABEL]
    first_pool = next(i for i, a in enumerate(cheap) if a.info["engine_set"] == "train"
                      and not a.info["family"].startswith("phase_"))
    assert all(a.info["engine_set"] == "holdout" or a.info["family"].startswith("phase_") for a in cheap[:first_pool])
    phases = [a for a in chosen if a.info["family"].startswith("phase_")]
    assert all(a.info["engine_set"] == "train" and a.info["selection_rank"] >= PLAN.n_train for a in phases)
    # every cheap phase cell comes after the hold-out and before the first cheap training cell of the pool
    assert max(i for i, a in enumerate(cheap) if a.info["engine_set"] == "holdout") < \
        min(i for i, a in enumerate(cheap) if a.info["family"].startswith("phase_"))
    assert max(i for i, a in enumerate(cheap) if a.info["family"].startswith("phase_")) < first_pool
    relaxed = [a for a in phases if a.info["family"] == "phase_relaxed"]
    # H2 and the metal at both pressures; PdH's best template too (H/M 1 is the plan's only hydride)
    assert {(a.info["phase"].split("/")[0] if "/" in a.info["phase"] else a.info["phase"], a.info["pressure_gpa"])
            for a in relaxed} >= {("H2", 0.0), ("H2", 10.0), ("PdH", 0.0), ("PdH", 10.0)}
    assert sum(a.info["phase"].startswith("Pd/") for a in relaxed) == 2
    for base in relaxed:  # each relaxed cell has one copy per volume factor, same lattice shape, scaled volume
        copies = [a for a in phases if a.info["family"] == "phase_eos" and a.info["parent"] == base.info["config_id"]]
        assert sorted(a.info["volume_factor"] for a in copies) == sorted(PLAN.phase_volume_factors)
        for a in copies:
            assert a.get_volume() == pytest.approx(a.info["volume_factor"] * base.get_volume(), rel=1e-9)
            assert (a.numbers == base.numbers).all()


def test_an_interrupted_campaign_keeps_its_labels_and_resumes_without_relabelling(tmp_path, store):
    first = run_labels(PLAN, label_calculator="emt", spec=_spec(), out_dir=tmp_path, store=store, max_labels=5,
                       n_workers=1, progress=False)
    assert first["n_labelled"] == 5
    done = committed_labels("Pd", tmp_path)
    order = [a.info["config_id"] for a in selection(PLAN, spec=_spec(), store=store, progress=False)]
    assert {a.info["config_id"] for a in done["holdout"] + done["train"]} == set(order[:5])  # in labelling order
    manifest = done["manifest"]
    assert manifest["plan"]["n_train"] == 8 and manifest["label_calculator"] == "emt"
    assert manifest["files"] == file_names(PLAN) and manifest["regenerate"] == "make engine-labels METAL=Pd"
    frame = done["train"][0]
    assert {"label_provenance", "label_source", "code_version", "family", "pressure_gpa"} <= set(frame.info)
    assert frame.get_forces().shape == (len(frame), 3) and frame.get_stress().shape == (6,)

    # files made from these labels by make engine-fit survive a rerun that adds nothing ...
    from screening.engine import fit_report, learning_curve, pod_selection
    from screening.engine.dft_labels import DERIVED_FILES

    assert set(DERIVED_FILES) == {pod_selection.SELECTION_FILE, pod_selection.TABLE_FILE, fit_report.REPORT_FILE,
                                  learning_curve.CURVE_FILE}
    for name in DERIVED_FILES:
        (tmp_path / "Pd-H" / name).write_text("made from the first 5 labels")
    run_labels(PLAN, label_calculator="emt", spec=_spec(), out_dir=tmp_path, store=store, max_labels=0,
               n_workers=1, progress=False)
    assert all((tmp_path / "Pd-H" / name).is_file() for name in DERIVED_FILES)

    # a fresh machine: an empty store, the committed folder only; the 5 labels are not computed again
    fresh = ResultStore(tmp_path / "fresh.sqlite")
    again = run_labels(PLAN, label_calculator="emt", spec=_spec(), out_dir=tmp_path, store=fresh, n_workers=1,
                       progress=False)
    from screening.engine.config_ids import unique_configurations

    phases = phase_cells(PLAN, store=fresh, progress=False)
    assert len(phases) == 18  # H2, metal and PdH at two pressures, each with two EOS copies
    assert again["n_labelled"] == PLAN.n_train + len(phases) + PLAN.n_holdout
    # EMT's PdH at 10 GPa is within 5e-3 Å of its 0-GPa cell scaled to 0.94 (and vice versa): written once
    n_phases = len(unique_configurations(phases))
    assert again["counts"]["train"]["n"] == PLAN.n_train + n_phases
    assert again["counts"]["holdout"]["n"] == PLAN.n_holdout
    kept = {a.info["config_id"]: a.get_potential_energy() for a in done["train"] + done["holdout"]}
    final = committed_labels("Pd", tmp_path)
    assert {a.info["config_id"]: a.get_potential_energy() for a in final["train"] + final["holdout"]
            if a.info["config_id"] in kept} == kept
    assert json.loads((tmp_path / "Pd-H" / "manifest.json").read_text())["counts"]["train"]["n"] == \
        PLAN.n_train + n_phases
    # ... and are removed once the labels have changed: they described other labels
    assert not any((tmp_path / "Pd-H" / name).exists() for name in DERIVED_FILES)
    # labels of another calculator or other settings never go into the same folder
    with pytest.raises(CandidateError, match="one folder holds one kind of label"):
        run_labels(PLAN, label_calculator="gpaw", spec=_spec(), out_dir=tmp_path, store=fresh, progress=False)


def test_a_committed_label_covers_its_cell_under_another_id_and_is_written_once(tmp_path, store):
    """Another machine's hot MD gives the same snapshot positions up to 1e-5 Å apart, hence another content hash."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from screening.engine.config_ids import config_id
    from screening.engine.labelling import write_extxyz

    run_labels(POOL_ONLY, label_calculator="emt", spec=_spec(), out_dir=tmp_path, store=store, max_labels=4, n_workers=1,
               progress=False)
    done = committed_labels("Pd", tmp_path)

    def elsewhere(a, shift=2e-5):
        b = a.copy()
        b.positions += shift
        b.calc = SinglePointCalculator(b, energy=a.get_potential_energy(), forces=a.get_forces(),
                                       stress=a.get_stress())
        b.info = {**a.info, "config_id": config_id(b)}
        return b

    names = file_names(POOL_ONLY)
    for name in ("train", "holdout"):
        moved = [elsewhere(a) for a in done[name]]
        assert all(m.info["config_id"] != a.info["config_id"] for m, a in zip(moved, done[name]))
        # ... and one of them twice, as a second campaign under yet another id would have written it
        extra = [elsewhere(moved[0], 3e-5)] if moved else []
        write_extxyz(moved + extra, tmp_path / "Pd-H" / names[name])
    before = {a.info["config_id"] for a in committed_labels("Pd", tmp_path)["train"]}
    again = run_labels(POOL_ONLY, label_calculator="emt", spec=_spec(), out_dir=tmp_path,
                       store=ResultStore(tmp_path / "fresh.sqlite"), n_workers=1, progress=False)
    final = committed_labels("Pd", tmp_path)
    assert again["counts"]["train"]["n"] == POOL_ONLY.n_train and again["counts"]["holdout"]["n"] == POOL_ONLY.n_holdout
    assert before & {a.info["config_id"] for a in final["train"]}  # the committed copies were kept, not relabelled


def test_same_configuration_tolerates_machine_noise_and_periodic_images_but_not_a_rattle():
    from ase.build import bulk

    from screening.engine.config_ids import match_configurations, same_configuration, unique_configurations

    a = bulk("Pd", "fcc", a=3.9, cubic=True)
    b = a.copy()
    b.positions[0] += 1e-5
    wrapped = a.copy()
    wrapped.positions[1] += a.cell[0]  # the same atom, one lattice vector away
    rattled = a.copy()
    rattled.rattle(0.05, seed=1)
    strained = a.copy()
    strained.set_cell(a.cell * 1.02, scale_atoms=True)
    assert same_configuration(a, b) and same_configuration(a, wrapped)
    assert not same_configuration(a, rattled) and not same_configuration(a, strained)
    assert match_configurations([b, rattled], [strained, a]) == [1, None]
    assert len(unique_configurations([a, b, wrapped, rattled])) == 2


def test_bad_plan_values_are_named():
    with pytest.raises(CandidateError, match="hold-out pressure 30"):
        LabelPlan(pressures_gpa=(0.0, 20.0), holdout_pressure_gpa=30.0)
    with pytest.raises(CandidateError, match="n_train"):
        LabelPlan(n_train=0)
    with pytest.raises(CandidateError, match=r"at least two.*\[40.0\]"):
        LabelPlan(phase_pressures_gpa=(40.0,))


def test_command_line_bad_input_is_exit_2(capsys):
    assert main(["--metal", "Ca", "--pressures", "0,x"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["--metal", "Xx"]) == 2
    assert "Xx" in capsys.readouterr().err


def test_sigterm_stops_a_campaign_like_ctrl_c_and_its_finally_runs(capsys):
    import os
    import signal

    from screening.reference.campaign import run_interruptible

    exported = []

    def campaign():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            return "not reached"
        finally:
            exported.append(True)

    before = signal.getsignal(signal.SIGTERM)
    assert run_interruptible(campaign, "data/engine/Ca-H") is None
    assert exported == [True] and "finished labels are in data/engine/Ca-H" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before
    assert run_interruptible(lambda: 7, "x") == 7


def test_engine_fits_from_committed_labels_without_a_pool(tmp_path, store, monkeypatch):
    """``label_calculator="gpaw"`` with a committed folder: the POD fit uses exactly its frames (here EMT labels
    standing in for GPAW ones), and nothing else is generated or labelled."""
    from screening.engine import dft_labels, training_set
    from screening.engine.run import EngineSettings, system_potential

    run_labels(PLAN, label_calculator="emt", spec=_spec(), out_dir=tmp_path, store=store, n_workers=1, progress=False)
    monkeypatch.setattr(dft_labels, "DEFAULT_OUT_DIR", tmp_path)

    def no_pool(*_a, **_k):
        raise AssertionError("the pool must not be generated when committed labels exist")

    monkeypatch.setattr(training_set, "generate_configurations", no_pool)
    fitted = system_potential("Pd", EngineSettings(label_calculator="gpaw"), cache=str(tmp_path / "cache"))
    assert fitted.n_configs == len(committed_labels("Pd", tmp_path)["train"]) > PLAN.n_train  # the pool's + phases
    assert fitted.label_sources and all("emt" in s.lower() for s in fitted.label_sources)


def test_costly_cells_are_labelled_last_cheapest_first():
    """A rattled metal cell (metal k-point density, no symmetry left) costs far more than a symmetric hydride or
    the one-atom reference; cells above the limit move to the end, cheapest first, the others keep their order."""
    from ase.build import bulk

    from screening.engine.dft_labels import ENGINE_DFT_SETTINGS, expensive_last
    from screening.reference.label_cost import label_cost

    ca = bulk("Ca", "fcc", a=4.6)
    ca8 = bulk("Ca", "fcc", a=4.6, cubic=True).repeat((2, 1, 1))
    ca8.rattle(0.1, seed=1)
    strained = ca.copy()
    strained.set_cell(ca.cell[:] @ [[1.03, 0.01, 0], [0, 0.98, 0.02], [0, 0, 1.01]], scale_atoms=True)
    cah2 = bulk("CaH2", "fluorite", a=4.9)  # the fluorite prototype, hydride k-point density
    pool = [ca, ca8, cah2, strained, cah2.repeat((1, 1, 2))]
    cost = [label_cost(a, ENGINE_DFT_SETTINGS) for a in pool]
    assert cost[1] > 10 * cost[2] and cost[1] > 5 * cost[0]  # no symmetry, 6 Å⁻¹, 8 metal atoms
    assert cost[3] > 2 * cost[0]  # the strain breaks the cubic point group
    limit = (max(cost[0], cost[2], cost[4]) + min(cost[1], cost[3])) / 2
    costly = sorted((1, 3), key=lambda i: cost[i])
    assert expensive_last(pool, [1, 4, 3, 0, 2], max_cost=limit) == [4, 0, 2] + costly
    assert expensive_last(pool, [3, 1], max_cost=limit) == costly


def test_a_bad_eos_volume_factor_is_named_before_any_relaxation():
    from screening.engine.reaction_phases import reaction_phase_cells

    for bad in (1.0, 2.0):
        with pytest.raises(CandidateError, match=f"volume factor {bad}"):
            reaction_phase_cells("Pd", [0.0, 10.0], "emt", volume_factors=(0.94, bad))


def test_every_phase_adds_the_relaxed_templates_that_lose(store):
    """``every_phase``: the relaxed cell of every phase tier 2a compares (each metal structure, every template of an
    H/M), a superset of the winners that DFT refinement labels; a fit that never saw the losers can make one win."""
    from screening.engine.reaction_phases import EOS_FAMILY, RELAXED_FAMILY, reaction_phase_cells

    def relaxed(cells):
        return {(a.info["phase"], a.info["pressure_gpa"]) for a in cells if a.info["family"] == RELAXED_FAMILY}

    winners = reaction_phase_cells("Pd", [0.0, 10.0], "emt", None, store=store, progress=False)
    every = reaction_phase_cells("Pd", [0.0, 10.0], "emt", None, every_phase=True, store=store, progress=False)
    assert relaxed(winners) < relaxed(every)
    for p in (0.0, 10.0):
        names = [n for n, q in relaxed(every) if q == p]
        assert sum(n.startswith("Pd/") for n in names) >= 2  # the metal structures that lost are there too
        per_x = [n.split("/")[0] for n in names if "H" in n.split("/")[0] and n != "H2"]
        assert len(per_x) > len(set(per_x))  # some H/M with more than one template
    # each relaxed cell keeps its EOS copies
    assert sum(a.info["family"] == EOS_FAMILY for a in every) == 2 * len(relaxed(every))


def test_labels_committed_in_the_project_folder_are_not_recomputed_for_another_folder(tmp_path, store, monkeypatch):
    """A larger training set built into another folder (e.g. beside the engine's files) takes the labels committed
    in the project's folder as done: on a fresh machine it computes none of them again, and its folder holds them."""
    import screening.engine.dft_labels as dft_labels

    base, other = tmp_path / "base", tmp_path / "other"
    run_labels(POOL_ONLY, label_calculator="emt", spec=_spec(), out_dir=base, store=store, max_labels=4, n_workers=1,
               progress=False)
    monkeypatch.setattr(dft_labels, "DEFAULT_OUT_DIR", base)
    fresh = ResultStore(tmp_path / "fresh.sqlite")
    again = run_labels(POOL_ONLY, label_calculator="emt", spec=_spec(), out_dir=other, store=fresh, max_labels=0,
                       n_workers=1, progress=False)
    assert again["n_labelled"] == 4  # all four from the project's folder: max_labels=0 lets it compute none

    def ids(labels):
        return {a.info["config_id"] for a in labels["holdout"] + labels["train"]}

    assert len(ids(committed_labels("Pd", base))) == 4
    assert ids(committed_labels("Pd", other)) == ids(committed_labels("Pd", base))
