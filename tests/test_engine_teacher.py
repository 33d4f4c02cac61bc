"""The engine's system-specific teacher (screening.engine.teacher): chgnet-hydride fine-tuned further on committed
labels. A tiny real fine-tune (CHGNet r2SCAN labels of small Pd–H cells), no DFT."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_reference_finetune import r2scan_frames  # tests/ is on sys.path under pytest (rootdir mode)

from screening.calculators import get_calculator, load_finetuned_chgnet
from screening.engine.labelling import write_extxyz
from screening.engine.teacher import TEACHER_SETTINGS, build_teacher, main, teacher_dir, teacher_spec
from screening.errors import CandidateError
from screening.provenance import sha256_file
from screening.reference.finetune import load_base_model


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    frames = [a for a in r2scan_frames() if "Ni" not in a.get_chemical_symbols()]
    folder = root / "Pd-H"
    folder.mkdir()
    write_extxyz(frames[:-3], folder / "train_gpaw.extxyz")
    write_extxyz(frames[-3:], folder / "holdout_gpaw.extxyz")
    (folder / "manifest.json").write_text(json.dumps({"files": {"train": "train_gpaw.extxyz",
                                                                "holdout": "holdout_gpaw.extxyz"}}))
    return root


def test_the_base_is_a_copy_of_the_registered_model():
    registered, prov = load_finetuned_chgnet()
    model, base = load_base_model("chgnet-hydride")
    assert model is not registered and base["version"] == "0.3.0"
    assert prov["checkpoint_sha256"][:12] in base["description"]
    with pytest.raises(Exception):  # noqa: B017 - a wheel name the chgnet package does not ship
        load_base_model("9.9.9")


def test_teacher_is_trained_on_the_committed_labels_and_measured_on_their_holdout(labels, tmp_path):
    registered = next(load_finetuned_chgnet()[0].parameters()).detach().clone()
    settings = TEACHER_SETTINGS.__class__(**{**TEACHER_SETTINGS.as_dict(), "epochs": 3, "batch_size": 4,
                                             "energy_loss_ratio": 1.0, "stress_loss_ratio": 0.1, "num_threads": 1})
    result = build_teacher("Pd", settings, labels_dir=labels, out_root=tmp_path)
    p = result.provenance
    before, after = p["errors"]["before"]["train"], p["errors"]["after"]["train"]
    assert after["loss"] < before["loss"]  # it learned its training labels
    assert p["errors"]["engine_holdout"]["n_configs"] == 3 and p["split"]["train"] == before["n_configs"]
    assert "chgnet-hydride" in p["base_model"] and p["system"] == "Pd-H"
    assert p["label_files_sha256"]["train"] == sha256_file(labels / "Pd-H" / "train_gpaw.extxyz")
    assert p["regenerate"] == "make engine-teacher METAL=Pd"
    # the registry's own hydride model was not trained in place
    assert np.array_equal(next(load_finetuned_chgnet()[0].parameters()).detach(), registered)
    calc, info = get_calculator(teacher_spec("Pd", tmp_path))
    assert "not DFT" in info.kind and (teacher_dir("Pd", tmp_path) / "provenance.json").is_file()


def test_missing_labels_are_named(tmp_path, capsys):
    with pytest.raises(CandidateError, match="make engine-labels METAL=Zr"):
        build_teacher("Zr", labels_dir=tmp_path, out_root=tmp_path)
    assert main(["--metal", "Zr", "--labels-dir", str(tmp_path), "--out-root", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
