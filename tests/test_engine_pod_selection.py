"""Choosing the POD settings by grouped cross-validation on the training labels (screening.engine.pod_selection).

EMT-labelled Pd–H cells stand in for GPAW labels; two small candidate bases keep it fast.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from test_engine_potential import _pdh_configs  # tests/ is on sys.path under pytest (rootdir mode)

import screening.engine.pod_selection as sel
from screening.engine.potential import PodSettings, evaluate, fit_pod
from screening.errors import CandidateError

SMALL = {"2b6": replace(PodSettings(), twobody=6, threebody=0, threebody_angular=0),
         "2b8-3b6x3": PodSettings()}


@pytest.fixture(scope="module")
def configs():
    out = _pdh_configs(24, seed=5)
    for i, a in enumerate(out):
        a.info["parent"] = f"template{i % 6}"  # four cells per parent, like strained/rattled copies
    return out


def test_folds_keep_near_copies_together(configs):
    splits = sel.folds(configs, n_folds=3)
    parents = [a.info["parent"] for a in configs]
    seen = []
    for train, test in splits:
        assert not {parents[i] for i in train} & {parents[i] for i in test}
        seen.extend(test)
    assert sorted(seen) == list(range(len(configs)))  # every cell is out-of-fold exactly once
    with pytest.raises(CandidateError, match="too few"):
        sel.folds(configs, n_folds=7)


@pytest.fixture(scope="module")
def pod_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pod")


def test_cross_validation_scores_out_of_fold_errors(configs, pod_cache):
    tmp_path = pod_cache
    table = sel.cross_validate(configs, ("Pd", "H"), SMALL, n_folds=3, cache=str(tmp_path), progress=False)
    assert list(table["candidate"]) == sorted(SMALL, key=lambda k: table.set_index("candidate").loc[k, "score"])
    for _, row in table.iterrows():
        expect = max(row["energy_rmse_mev_per_atom"] / 10.0, row["forces_rmse_ev_per_a"] / 0.3)
        assert row["score"] == pytest.approx(expect)
        # out-of-fold errors are not smaller than the in-sample errors of a fit to everything
        full = fit_pod(configs, ("Pd", "H"), SMALL[row["candidate"]], cache=tmp_path, progress=False)
        assert row["forces_rmse_ev_per_a"] >= full.metrics["train"]["forces_rmse_ev_per_a"]
    # EMT is many-body: the three-body basis fits Pd-H forces better than pairs alone
    by = table.set_index("candidate")
    assert by.loc["2b8-3b6x3", "forces_rmse_ev_per_a"] < by.loc["2b6", "forces_rmse_ev_per_a"]


def test_the_choice_is_recorded_for_exactly_those_labels(configs, tmp_path, monkeypatch):
    from screening.engine import dft_labels
    from screening.engine.labelling import write_extxyz

    folder = tmp_path / "Pd-H"
    folder.mkdir()
    write_extxyz(configs, folder / "train_gpaw.extxyz")
    (folder / "manifest.json").write_text(json.dumps({"files": {"train": "train_gpaw.extxyz"}}))
    monkeypatch.setattr(sel, "POD_CANDIDATES", SMALL)
    monkeypatch.setattr(dft_labels, "DEFAULT_OUT_DIR", tmp_path)
    settings, table = sel.select("Pd", n_folds=3, cache=str(tmp_path / "cache"), progress=False)
    assert settings == SMALL[table.iloc[0]["candidate"]]
    assert (folder / sel.TABLE_FILE).is_file()
    assert sel.chosen_settings(folder) == settings

    # the engine fits committed GPAW labels with the chosen settings
    from screening.engine.run import EngineSettings, system_potential

    fitted = system_potential("Pd", EngineSettings(label_calculator="gpaw"), cache=str(tmp_path / "cache"))
    assert fitted.settings == settings

    # a choice made on two label files holds for exactly those two, with those contents
    write_extxyz(configs[:2], folder / "extra.extxyz")
    sel.record_selection(folder, table, ["train_gpaw.extxyz", "extra.extxyz"], "test",
                         selection_file="two.json")
    assert sel.chosen_settings(folder, "two.json", ["extra.extxyz", "train_gpaw.extxyz"]) == settings
    assert sel.chosen_settings(folder, "two.json", ["train_gpaw.extxyz"]) is None
    write_extxyz(configs[:3], folder / "extra.extxyz")
    assert sel.chosen_settings(folder, "two.json") is None
    assert sel.recorded_settings(folder, "two.json") == settings

    # labels changed since the choice: the choice no longer applies
    write_extxyz(configs[:-1], folder / "train_gpaw.extxyz")
    assert sel.chosen_settings(folder) is None
    (folder / sel.SELECTION_FILE).write_text("{not json")
    with pytest.raises(CandidateError, match="pod_settings.json"):
        sel.chosen_settings(folder)
    with pytest.raises(CandidateError, match="unknown POD settings"):
        sel.settings_from_json(json.dumps({"twobody": 8, "fivebody": 2}))


def test_command_line_names_a_missing_folder(tmp_path, capsys):
    assert sel.main(["--metal", "Pd", "--out-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "make engine-labels METAL=Pd" in err


def test_candidates_grow_the_basis_and_the_energy_weight():
    sizes = {name: sel.basis_size(s) for name, s in sel.POD_CANDIDATES.items()}
    assert sizes["2b8-3b6x3-we1"] < sizes["2b10-3b8x4-we1"] < sizes["2b10-3b8x4-4b4x2-we1"]
    assert sel.POD_CANDIDATES["2b8-3b6x3-we1"] == PodSettings()  # the CHGNet-era default is among them
    assert np.unique([s.weight_energy for s in sel.POD_CANDIDATES.values()]).tolist() == [1.0, 10.0, 100.0]


def test_cutoff_candidates_differ_from_their_base_only_in_the_cutoff():
    from dataclasses import replace

    base = sel.ALL_POD_CANDIDATES["2b10-3b8x4-4b4x2-we10-pw100"]
    short = sel.ALL_POD_CANDIDATES["2b10-3b8x4-4b4x2-we10-pw100-rc4"]
    assert base.rcut == 4.5 and short.rcut == 4.0
    assert replace(short, rcut=base.rcut) == base
    assert all(f"{name}-rc4" in sel.ALL_POD_CANDIDATES for name in sel.POD_CANDIDATES)
    assert not any(name.endswith("-rc4") for name in sel.POD_CANDIDATES)  # make engine-fit's grid is unchanged
