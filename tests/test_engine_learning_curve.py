"""The learning curve of the engine's potential (screening.engine.learning_curve), on EMT-labelled Pd–H cells."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_engine_potential import _pdh_configs  # tests/ is on sys.path under pytest (rootdir mode)

from screening.engine import dft_labels
from screening.engine.learning_curve import CURVE_FILE, default_sizes, learning_curve, main
from screening.engine.potential import PodSettings, evaluate, fit_pod
from screening.errors import CandidateError


def test_sizes_halve_down_to_the_smallest():
    assert default_sizes(21) == [5, 10, 21]
    assert default_sizes(40) == [5, 10, 20, 40]
    assert default_sizes(3) == [3]
    with pytest.raises(CandidateError, match="needs training labels"):
        default_sizes(0)


def test_each_point_is_the_fit_to_the_labelling_order_prefix(tmp_path):
    train, holdout = _pdh_configs(12, seed=1), _pdh_configs(5, seed=2)
    ranks = [7, 3, 11, 0, 9, 1, 5, 10, 2, 8, 4, 6]  # labelling order differs from list order
    for a, r in zip(train, ranks):
        a.info["selection_rank"] = r
    curve = learning_curve(train, holdout, ("Pd", "H"), sizes=[4, 12], cache=str(tmp_path), progress=False)
    assert list(zip(curve["n_train"], curve["set"])) == [(4, "train"), (4, "holdout"), (12, "train"),
                                                         (12, "holdout")]
    assert list(curve["n_configs"]) == [4, 5, 12, 5]
    first4 = sorted((a for a in train if a.info["selection_rank"] < 4), key=lambda a: a.info["selection_rank"])
    direct = fit_pod(first4, ("Pd", "H"), PodSettings(), cache=str(tmp_path), progress=False)
    row = curve[(curve["n_train"] == 4) & (curve["set"] == "holdout")].iloc[0]
    assert row["potential_data_hash"] == direct.data_hash[:24]
    assert row["energy_rmse_mev_per_atom"] == pytest.approx(evaluate(direct, holdout)["energy_rmse_mev_per_atom"])
    for bad in ([4, 13], []):
        with pytest.raises(CandidateError, match="outside 1..12"):
            learning_curve(train, holdout, ("Pd", "H"), sizes=bad, cache=str(tmp_path), progress=False)
    with pytest.raises(CandidateError, match="hold-out"):
        learning_curve(train, [], ("Pd", "H"), cache=str(tmp_path), progress=False)


def test_command_writes_the_curve_beside_the_labels_and_names_a_missing_folder(tmp_path, monkeypatch, capsys):
    from screening.engine.labelling import write_extxyz

    folder = tmp_path / "Pd-H"
    folder.mkdir()
    write_extxyz(_pdh_configs(10, seed=1), folder / "train_gpaw.extxyz")
    write_extxyz(_pdh_configs(4, seed=2), folder / "holdout_gpaw.extxyz")
    (folder / "manifest.json").write_text(json.dumps({"files": {"train": "train_gpaw.extxyz",
                                                                "holdout": "holdout_gpaw.extxyz"}}))
    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["--metal", "Pd", "--out-dir", str(tmp_path)]) == 0
    table = pd.read_csv(folder / CURVE_FILE)
    assert sorted(set(table["n_train"])) == [5, 10] and set(table["set"]) == {"train", "holdout"}
    assert set(json.loads(table["labels_sha256"].iloc[0])) == {"train", "holdout"}
    assert main(["--metal", "Zr", "--out-dir", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err and dft_labels.folder("Zr", tmp_path).name == "Zr-H"
