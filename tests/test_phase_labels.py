"""Reaction-phase labels (``make phase-labels``): export with provenance, resume without relabelling, bad input.

Fast: EMT (Pd–H) relaxes and labels; GPAW itself is not run here.
"""

from __future__ import annotations

import json

import pytest

from screening.engine.reaction_phases import EOS_FAMILY, RELAXED_FAMILY
from screening.errors import CandidateError
from screening.reference.phase_labels import PhasePlan, committed_frames, main, run_labels
from screening.store import ResultStore

PLAN = PhasePlan(metals=("Pd",), pressures_gpa=(0.0, 10.0), h_per_metal=(1.0,), with_metal=True, calculator="emt")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("phases")
    store = ResultStore(root / "results.sqlite")
    res = run_labels(PLAN, out_dir=root / "out", label_calculator="emt", store=store, n_workers=1, progress=False)
    return root, store, res


def test_every_phase_is_labelled_once_with_its_provenance(labelled):
    root, _, res = labelled
    frames = committed_frames(root / "out")
    assert res["failures"] == [] and len(frames) == res["n_labelled"] > 0
    relaxed = [a for a in frames if a.info["family"] == RELAXED_FAMILY]
    # H2 at both pressures among the relaxed phases, each relaxed cell with two EOS copies
    assert {(a.info["phase"].split("/")[0], a.info["pressure_gpa"]) for a in relaxed} >= {
        ("H2", 0.0), ("H2", 10.0)}
    assert len({a.info["pressure_gpa"] for a in relaxed}) == 2 and len(relaxed) >= 6
    assert sum(a.info["family"] == EOS_FAMILY for a in frames) == 2 * len(relaxed)
    assert len({a.info["config_id"] for a in frames}) == len(frames)
    for a in frames:
        assert a.info["metal"] == "Pd" and a.info["code_version"] and a.info["label_provenance"]
        assert a.get_forces().shape == (len(a), 3)
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    assert manifest["counts"]["Pd"]["n"] == len(frames) and [p["calculator"] for p in manifest["plans"]] == ["emt"]
    assert set(manifest["files_sha256"]) == {"Pd.extxyz"}


def test_a_rerun_labels_nothing_again_even_on_a_fresh_store(labelled):
    root, _, res = labelled
    before = (root / "out" / "Pd.extxyz").read_bytes()
    again = run_labels(PLAN, out_dir=root / "out", label_calculator="emt", store=ResultStore(root / "fresh.sqlite"),
                       n_workers=1, progress=False, max_labels=0)
    assert again["n_labelled"] == res["n_labelled"]  # every frame came from the committed file, none recomputed
    assert (root / "out" / "Pd.extxyz").read_bytes() == before


@pytest.mark.parametrize("argv, message", [
    (["--metals", "Sr"], "kept unseen"),
    (["--metals", "Qq"], "not a metal symbol: 'Qq'"),
    (["--metals", "La", "--pressures", "160"], "at least two pressures"),
    (["--metals", "La", "--pressures", "160,abc"], "--pressures"),
])
def test_bad_input_is_an_error_naming_it_and_exit_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
    assert not (tmp_path / "out").exists()


def test_the_plan_refuses_what_a_benchmark_keeps_unseen():
    with pytest.raises(CandidateError, match="Ce"):
        PhasePlan(metals=("La", "Ce"))


def test_metals_labelled_at_other_pressures_keep_their_own_plan(tmp_path):
    """A second call for other metals adds its plan; a new call for a metal replaces that metal's plan; an older
    manifest's single plan is read too. The manifest's regenerate line names one make call per plan."""
    from screening.reference.phase_labels import _make_command, _plans

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"plan": PhasePlan(metals=("La", "Y")).as_dict()}))
    plans = _plans(path, PhasePlan(metals=("Y", "Ba"), pressures_gpa=(50.0, 100.0)))
    assert [(p["metals"], p["pressures_gpa"]) for p in plans] == [(["La"], [120.0, 160.0, 190.0]),
                                                                    (("Y", "Ba"), (50.0, 100.0))]
    assert _make_command(plans[0]) == "make phase-labels METALS=La PRESSURES=120,160,190"
    assert _make_command({**plans[1], "h_per_metal": (2.0, 4.0)}).endswith("H_PER_METAL=2,4")
    # a metal of an earlier plan without any label in the folder (all failed) is not kept as labelled
    assert [p["metals"] for p in _plans(path, PhasePlan(metals=("Ba",)), present={"Y", "Ba"})] == [["Y"], ("Ba",)]


def test_a_committed_cell_rebuilt_with_another_id_is_not_labelled_again(labelled):
    """A relaxed cell rebuilt on a later run can differ by 1e-12 Å and get another config_id: the campaign loop
    recognises it as committed and labels nothing."""
    from screening.engine.config_ids import config_id
    from screening.reference.campaign import label_into_folder

    root, _, _ = labelled
    existing = committed_frames(root / "out")
    rebuilt = []
    for a in existing[:3]:
        b = a.copy()
        b.positions += 1e-9
        b.info["config_id"] = config_id(b) + "x"
        rebuilt.append(b)
    assert not {b.info["config_id"] for b in rebuilt} & {a.info["config_id"] for a in existing}
    writes = []
    res = label_into_folder(rebuilt, existing, lambda frames, failures: writes.append(len(frames)), "emt", {},
                            version="test", store=ResultStore(root / "fresh.sqlite"), n_workers=1, progress=False)
    assert res["n_labelled"] == len(existing) and writes == [len(existing)]
    # a cell 2e-3 Å away (the same phase's EOS copy at a neighbouring pressure can be that close) is another label
    moved = existing[0].copy()
    moved.set_cell(moved.cell[:] * (1 + 2e-3 / moved.cell.lengths().max()), scale_atoms=True)
    moved.info["config_id"] = config_id(moved)
    res = label_into_folder([moved], existing, lambda frames, failures: None, "emt", {}, version="test",
                            store=ResultStore(root / "fresh.sqlite"), n_workers=1, progress=False)
    assert res["n_labelled"] == len(existing) + 1


@pytest.mark.parametrize("command, argv", [
    ("screening.reference.phase_labels", ["--metals", "La,U"]),  # make phase-labels
    ("screening.engine.dft_labels", ["--metal", "U"]),  # make engine-labels
    ("screening.reference.dataset", ["--metals", "Ca,U"]),  # make dft-data
])
def test_a_metal_without_a_gpaw_dataset_is_refused_before_anything_runs(capsys, tmp_path, command, argv):
    """The gpaw-data wheel has no PBE dataset for U: every labelling command says so and exits 2 instead of failing
    every label."""
    import importlib

    pytest.importorskip("gpaw")
    from screening.calculators import gpaw_missing_setups

    assert gpaw_missing_setups(["La", "U", "H", "U"]) == ["U"]
    assert importlib.import_module(command).main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no PBE PAW dataset for ['U']" in err
    assert not (tmp_path / "out").exists()
