"""Fine-tuned CHGNet, the registry's CHGNet variants and the potential benchmark (fast: EMT labels, tiny cells)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.units import GPa

from screening.calculators import (HYDRIDE_MODEL_DIR, CalculatorError, ExtrapolationWarning, default_calculator_name,
                                   get_calculator, hydride_model_files)
from screening.engine.training_set import config_id
from screening.errors import CandidateError
from screening.reference.finetune import FinetuneSettings, ase_stress_to_chgnet_kbar, finetune, save_finetuned


# --------------------------------------------------------------------------- a tiny, real (EMT-labelled) dataset
def _label(atoms, metal: str, family: str, pressure: float):
    atoms.calc = EMT()
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
    atoms.info.update(config_id=config_id(atoms), metal=metal, family=family, pressure_gpa=pressure,
                      label_source="emt (test labels)")
    return atoms


def tiny_frames() -> list:
    """Rattled, compressed rocksalt PdH (seen) and NiH (held out), pure Pd/Ni and H2 references; 2–4 atoms each,
    labelled by EMT (physically poor for H in metals, but a model compared with its own labels must be exact)."""
    frames = []
    for metal, n, a0 in (("Pd", 8, 4.10), ("Ni", 2, 3.80)):
        for k in range(n):
            pressure = (0.0, 60.0, 160.0)[k % 3]
            at = bulk(f"{metal}H", "rocksalt", a=a0 * (1.0 - 0.03 * (k % 3))) * (1, 1, 2)
            at.rattle(0.06, seed=k)
            frames.append(_label(at, metal, "rattled", pressure))
        for pressure in (0.0, 60.0):
            ref = bulk(metal, "fcc", a=a0 * 0.95 * (1.0 - 0.03 * (pressure > 0)))
            frames.append(_label(ref, metal, "metal_ref", pressure))
    for pressure, d in ((0.0, 0.74), (60.0, 0.72)):
        h2 = bulk("H", "sc", a=2.6 - 0.3 * (pressure > 0))
        h2 = h2 * (1, 1, 2)
        h2.positions[1] = h2.positions[0] + [0.0, 0.0, d]
        frames.append(_label(h2, "H", "h2", pressure))
    return frames


SETTINGS = FinetuneSettings(epochs=4, batch_size=4, learning_rate=3e-3, holdout_metals=("Ni",), holdout_fraction=0.0,
                            energy_loss_ratio=1.0, force_loss_ratio=1.0, stress_loss_ratio=0.1, num_threads=1)


def r2scan_frames() -> list:
    """The geometries of :func:`tiny_frames` relabelled by CHGNet's r2SCAN model (a real, different potential: the
    fine-tune of CHGNet 0.3.0 towards it has something to learn), through the engine's labelling code."""
    from screening.engine.labelling import label_configurations

    return label_configurations(tiny_frames(), "chgnet-r2scan", store=False, progress=False)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A CHGNet fine-tuned on the tiny Pd–H set (Ni held out), saved like ``make finetune`` saves it."""
    frames = r2scan_frames()
    result = finetune(frames, SETTINGS, data_hash="test")
    out = save_finetuned(result, tmp_path_factory.mktemp("chgnet_hydride"))
    return out, result, frames


# --------------------------------------------------------------------------- units
def test_stress_conversion_matches_hand_values_and_chgnets_own_dataset():
    """100 GPa hydrostatic compression is ASE stress −0.6241509 eV/Å³ and +1000 kbar in VASP's convention; a
    tensile yz shear of 0.01 eV/Å³ (1.6022 GPa) is −16.022 kbar. StructureData turns the kbar back into CHGNet's
    GPa, which CHGNetCalculator multiplies by ase.units.GPa: the round trip must give the ASE stress again."""
    from chgnet.data.dataset import StructureData
    from pymatgen.io.ase import AseAtomsAdaptor

    voigt = np.array([-100 * GPa, -100 * GPa, -100 * GPa, 0.01, 0.0, 0.0])
    assert voigt[0] == pytest.approx(-0.6241509, rel=1e-6)
    kbar = ase_stress_to_chgnet_kbar(voigt)
    assert np.diag(kbar) == pytest.approx([1000.0, 1000.0, 1000.0], rel=1e-9)
    assert kbar[1, 2] == kbar[2, 1] == pytest.approx(-16.0217662, rel=1e-6)
    assert kbar[0, 1] == kbar[0, 2] == 0.0

    atoms = bulk("Pd", "fcc", a=3.9)
    data = StructureData([AseAtomsAdaptor.get_structure(atoms)], [0.0], [np.zeros((1, 3))], stresses=[kbar], shuffle=False)
    _, targets = data[0]
    back = targets["s"].numpy() * GPa
    assert back[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]] == pytest.approx(voigt, abs=1e-7)
    with pytest.raises(CandidateError, match="Voigt-6 or 3x3"):
        ase_stress_to_chgnet_kbar([1.0, 2.0])


# --------------------------------------------------------------------------- registry
def test_registered_chgnet_models_load_offline_and_say_not_dft():
    atoms = bulk("Pd", "fcc", a=3.9)
    for name in ("chgnet", "chgnet-r2scan"):
        calc, info = get_calculator(name)
        a = atoms.copy()
        a.calc = calc
        assert np.isfinite(a.get_potential_energy())
        assert "not DFT" in info.kind and info.name == name
    assert get_calculator()[1].name == default_calculator_name() == "chgnet-hydride"
    if hydride_model_files()[0].is_file():
        calc, info = get_calculator("chgnet-hydride")
        assert "fine-tuned" in info.kind and "not DFT" in info.kind and info.settings["data_hash"]
    else:
        with pytest.raises(CalculatorError, match="make finetune"):
            get_calculator("chgnet-hydride")


def test_missing_or_altered_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CalculatorError, match="make finetune"):
        get_calculator(f"chgnet-hydride:{tmp_path}")
    ckpt, prov = hydride_model_files(tmp_path)
    ckpt.write_bytes(b"not a checkpoint")
    prov.write_text(json.dumps({"checkpoint_sha256": "0" * 64}))
    with pytest.raises(CalculatorError, match="SHA-256"):
        get_calculator(f"chgnet-hydride:{tmp_path}")
    assert HYDRIDE_MODEL_DIR.name == "chgnet_hydride"


def test_a_refitted_model_does_not_reuse_tier2a_summaries_of_the_old_one(tmp_path):
    """Tier-2a summaries are keyed by the registry name and, for a fine-tuned model, its checkpoint's SHA-256."""
    import pandas as pd

    from screening.calculators import checkpoint_identity
    from screening.provenance import sha256_file
    from screening.tier2a_table import Tier2aSettings, _store_inputs

    cands = pd.DataFrame({"h_per_metal": [2.0], "pressure_gpa": [50.0]})
    keys = []
    for name, content in (("old", b"checkpoint one"), ("new", b"checkpoint two")):
        ckpt, prov = hydride_model_files(tmp_path / name)
        ckpt.parent.mkdir()
        ckpt.write_bytes(content)
        prov.write_text(json.dumps({"checkpoint_sha256": sha256_file(ckpt)}))
        spec = f"chgnet-hydride:{tmp_path / name}"
        inputs = _store_inputs("Ca", cands, [50.0], Tier2aSettings(calculator=spec))
        assert inputs["calculator_checkpoint_sha256"] == checkpoint_identity(spec) == sha256_file(ckpt)
        keys.append(inputs)
    assert keys[0] != keys[1]
    assert checkpoint_identity("chgnet") is None
    assert "calculator_checkpoint_sha256" not in _store_inputs("Ca", cands, [50.0], Tier2aSettings(calculator="emt"))


# --------------------------------------------------------------------------- fine-tune
def test_finetune_lowers_its_own_training_error(tiny_model):
    """From the element-reference refit to the end of training, the training objective (CHGNet's MSE loss with
    the test's 1 : 1 : 0.1 weights, over the whole training set) must drop by at least a fifth, and the stress
    error, which dominates it here (r2SCAN vs PBE stresses of compressed cells differ by GPa), with it.
    Measured with the default trainable layers at lr 3e-3: loss 0.58 -> 0.19, stress RMSE 2.38 -> 1.35 GPa (energy,
    nearly weightless in this loss, 14 -> 21 meV/atom; forces 0.126 -> 0.107 eV/Å)."""
    out, result, frames = tiny_model
    before, after = result.provenance["errors"]["before"]["train"], result.provenance["errors"]["after"]["train"]
    assert after["loss"] < 0.8 * before["loss"]
    assert after["stress_rmse_gpa"] < before["stress_rmse_gpa"]
    p = result.provenance
    assert p["split"] == {"train": 12, "val": 0, "unseen": 4}
    assert p["elements_seen"] == ["H", "Pd"] and p["metals_seen"] == ["Pd"]
    assert p["pressure_range_gpa"] == [0.0, 160.0]
    saved = json.loads((out / "provenance.json").read_text())
    assert saved["checkpoint_sha256"] and saved["data_hash"] == "test" and saved["settings"]["holdout_metals"] == ["Ni"]
    assert 1e5 < saved["checkpoint_bytes"] < 5e6


def test_unseen_element_warning_reaches_calculator_and_relaxation_rows(tiny_model):
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.relax import RelaxSettings, relax_at_pressure

    out, _, _ = tiny_model
    calc, info = get_calculator(f"chgnet-hydride:{out}")
    assert "chgnet-r2scan labels" in info.kind and "not DFT" in info.kind  # not GPAW here, and the kind says so
    nih = bulk("NiH", "rocksalt", a=3.7)
    nih.calc = calc
    with pytest.warns(ExtrapolationWarning, match="Ni"):
        nih.get_potential_energy()
    assert "Ni" in calc.results["warnings"][0]
    settings = RelaxSettings(max_steps=2)
    row = relax_at_pressure(AseAtomsAdaptor.get_structure(bulk("NiH", "rocksalt", a=3.6)), 10.0, calc, settings)
    assert "Ni" in row["warnings"][0] and "absent from its fine-tuning data" in row["warnings"][0]
    row = relax_at_pressure(AseAtomsAdaptor.get_structure(bulk("PdH", "rocksalt", a=4.0)), 10.0, calc, settings)
    assert "warnings" not in row


def test_finetune_rejects_absent_holdout_metal():
    with pytest.raises(CandidateError, match=r"held-out metal\(s\) \['Y'\]"):
        finetune(tiny_frames(), FinetuneSettings(epochs=0, holdout_metals=("Y",)))


# --------------------------------------------------------------------------- benchmark
def test_benchmark_of_the_labelling_model_against_its_own_labels_is_exact(tmp_path):
    """EMT against EMT labels: every error is zero and the tables, plot and sidecars are written."""
    from screening.reference.benchmark import benchmark_frames, write_benchmark

    frames = tiny_frames()
    # max_pressure_gpa=None: EMT puts the compressed H2 cell above the DFT domain (600 GPa); all frames count here
    summary, per_frame, prov = benchmark_frames(frames, ["emt"], holdout_metals=["Ni"], holdout_fraction=0.3,
                                                max_pressure_gpa=None)
    assert prov["split"]["unseen"] == 4 and prov["split"]["train"] + prov["split"]["seen"] == 12
    assert set(summary["pressure_bin"]) >= {"all", "0-50", "50-150", "150-300"}
    for col in ("energy_rmse_mev_per_atom", "forces_rmse_ev_per_a", "pressure_rmse_gpa", "formation_rmse_mev_per_atom"):
        assert np.nanmax(summary[col]) == pytest.approx(0.0, abs=1e-6)
    assert summary.loc[summary["pressure_bin"] == "all", "n_formation"].sum() == 8  # M–H frames at 0 or 60 GPa
    assert (summary["atom_steps_per_s"] > 0).all()
    written = write_benchmark(summary, per_frame, prov, tmp_path / "potential_benchmark.csv", tmp_path / "pb.png")
    assert all(p.is_file() for p in written)
    side = json.loads((tmp_path / "pb.json").read_text())
    assert side["calculator"]["models"]["emt"]["name"] == "emt" and side["caption"]


def test_benchmark_alignment_recovers_per_element_zero_shifts():
    """Reference energies shifted by constants per element (as GPAW vs VASP zeros): the alignment fitted on the
    training frames (Pd, H) and on the pure-Ni frames (Ni, never trained on) removes them exactly; formation
    enthalpies do not depend on the shifts at all; the pure-Ni calibration frames leave the energy statistics."""
    from screening.reference.benchmark import benchmark_frames

    shifts = {"Pd": -1.3, "H": 0.7, "Ni": 2.1}
    frames = tiny_frames()
    shifted = []
    for a in frames:
        b = a.copy()
        b.info = dict(a.info)
        r = a.calc.results
        b.calc = SinglePointCalculator(b, energy=r["energy"] + sum(shifts[s] for s in a.get_chemical_symbols()),
                                       forces=r["forces"], stress=r["stress"])
        shifted.append(b)
    summary, per_frame, prov = benchmark_frames(shifted, ["emt"], holdout_metals=["Ni"], holdout_fraction=0.0,
                                                max_pressure_gpa=None)
    off = prov["element_offsets_ev_per_atom"]["emt"]
    assert off == pytest.approx(shifts, abs=1e-6)
    assert np.nanmax(np.abs(per_frame["energy_error_mev_per_atom"])) < 1e-3
    assert np.nanmax(np.abs(per_frame["formation_error_mev_per_atom"])) < 1e-6
    unseen = per_frame[per_frame["split"] == "unseen"]
    assert unseen["energy_error_mev_per_atom"].isna().sum() == 2  # the two pure-Ni calibration frames


def test_volume_benchmark_matches_an_independent_eos_fit(tmp_path):
    """EMT-relaxed fcc Pd at 0 GPa against the volume of ASE's EOS fit to EMT energies (within 0.5 %)."""
    from ase.eos import EquationOfState
    from ase.io import write

    from screening.reference.benchmark import volume_benchmark

    vols, energies = [], []
    for s in np.linspace(0.97, 1.03, 7):
        a = bulk("Pd", "fcc", a=3.94 * s)
        a.calc = EMT()
        vols.append(a.get_volume())
        energies.append(a.get_potential_energy())
    v0 = EquationOfState(vols, energies).fit()[0]
    write(tmp_path / "pd.cif", bulk("Pd", "fcc", a=4.0))
    (tmp_path / "dft.csv").write_text(f"phase,pressure_gpa,dft_volume_a3_per_atom,structure,source\n"
                                      f"Pd-fcc,0,{v0},pd.cif,EMT EOS fit (test)\n")
    table = volume_benchmark(tmp_path / "dft.csv", ["emt"])
    assert abs(table.loc[0, "volume_error_pct"]) < 0.5
    (tmp_path / "bad.csv").write_text("phase,pressure_gpa\nPd,0\n")
    with pytest.raises(CandidateError, match="dft_volume_a3_per_atom"):
        volume_benchmark(tmp_path / "bad.csv", ["emt"])


def test_command_lines_report_bad_input_with_exit_code_2(tmp_path, capsys):
    from screening.reference import benchmark, finetune as ft

    assert ft.main(["--data", str(tmp_path)]) == 2
    assert benchmark.main(["--data", str(tmp_path), "--models", "emt"]) == 2
    err = capsys.readouterr().err
    assert err.count("error: no *.extxyz files") == 2


def test_split_keeps_copies_with_their_parent_and_holds_out_whole_metals():
    from screening.reference.finetune import split_frames

    frames = []
    for metal in ("Ca", "La", "Sr"):
        for k in range(12):
            parent = Atoms(f"{metal}H2", positions=[[0, 0, 0], [1, 1, 1], [2, 2, 2]], cell=[3, 3, 3], pbc=True)
            parent.info.update(config_id=f"{metal}{k}", parent=f"{metal}{k}")
            frames.append(parent)
            for fam in ("eos", "rattled"):
                copy = parent.copy()
                copy.info = {"config_id": f"{metal}{k}-{fam}", "parent": f"{metal}{k}"}
                frames.append(copy)
    split = split_frames(frames, ["Sr"], 0.3)
    assert {frames[i].get_chemical_symbols()[0] for i in split["unseen"]} == {"Sr"}
    assert len(split["unseen"]) == 36
    group = {name: {frames[i].info["parent"] for i in idx} for name, idx in split.items()}
    assert group["val"] and not group["val"] & group["train"]  # no copy of a validation cell is trained on


def test_keep_best_val_energy_returns_the_trainers_best_epoch():
    import numpy as np

    from screening.reference.finetune import predict_frames

    frames = r2scan_frames()
    settings = FinetuneSettings(**{**SETTINGS.as_dict(), "epochs": 3, "holdout_fraction": 0.3, "keep": "best_val_energy"})
    result = finetune(frames, settings)
    history = result.provenance["training_history_mae"]["e"]["val"]
    assert result.provenance["selected_epoch"] == int(np.argmin(history))
    assert result.provenance["split"]["val"] > 0
    # the returned model is that epoch's: its energy MAE on the val frames is the Trainer's minimum
    val = [frames[i] for i in result.split["val"]]
    pred = predict_frames(result.model, val)
    mae = np.mean([abs(p.get_potential_energy() - r.get_potential_energy()) / len(r) for p, r in zip(pred, val)])
    assert mae == pytest.approx(min(history), rel=0.02, abs=2e-4)
    with pytest.raises(CandidateError, match="keep"):
        FinetuneSettings(keep="best")


def test_finetune_leaves_out_frames_above_the_pressure_domain():
    from dataclasses import replace

    frames = tiny_frames()
    collapsed = frames[0].copy()
    collapsed.info = dict(frames[0].info, config_id="collapsed")
    p = 5000.0 * GPa  # a cell CHGNet collapsed: correct DFT of a structure far above the screening grid
    collapsed.calc = SinglePointCalculator(collapsed, energy=frames[0].get_potential_energy() + 100.0,
                                           forces=frames[0].get_forces(), stress=np.array([-p, -p, -p, 0, 0, 0]))
    result = finetune(frames + [collapsed], replace(SETTINGS, epochs=1))
    dom = result.provenance["out_of_domain"]
    assert "collapsed" in dom["config_ids"] and dom["max_pressure_gpa"] == 600.0
    pressure = {a.info["config_id"]: -np.mean(a.get_stress()[:3]) / GPa for a in frames + [collapsed]}
    assert sorted(dom["config_ids"]) == sorted(k for k, v in pressure.items() if v > 600.0)  # EMT's H2 is one too
    assert sum(result.provenance["split"].values()) == len(frames) + 1 - dom["n_frames"]


def test_an_interrupted_finetune_resumes_from_its_last_epoch(tmp_path, monkeypatch):
    """Killed after epoch 1 of 3, the same fine-tune continues at epoch 2 with the first two epochs' history, from a
    hash-checked checkpoint; an altered checkpoint is refused, not loaded."""
    from dataclasses import replace

    from screening.reference import finetune_checkpoints as ckpt

    frames = r2scan_frames()
    settings = replace(SETTINGS, epochs=3, holdout_fraction=0.3)
    original = ckpt.write_manifest

    def interrupt_after_epoch_1(run_dir, key, epoch):
        path = original(run_dir, key, epoch)
        if epoch == 1:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(ckpt, "write_manifest", interrupt_after_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        finetune(frames, settings, data_hash="test", checkpoint_dir=tmp_path)
    monkeypatch.setattr(ckpt, "write_manifest", original)
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    done = json.loads((run_dir / ckpt.MANIFEST).read_text())
    assert done["last_epoch"] == 1
    interrupted = ckpt.read_verified(run_dir, done["last_file"])["training_history"]["e"]["train"]

    resumed = finetune(frames, settings, data_hash="test", checkpoint_dir=tmp_path)
    history = resumed.provenance["training_history_mae"]["e"]["train"]
    assert resumed.provenance["resumed_at_epoch"] == 2 and len(history) == 3
    assert history[:2] == interrupted
    # a different run (other settings) does not pick these checkpoints up
    assert ckpt.find_resume_point(run_dir, "another-run") is None
    # an altered checkpoint is refused before it is loaded
    last = json.loads((run_dir / ckpt.MANIFEST).read_text())["last_file"]
    with open(run_dir / last, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(CandidateError, match="SHA-256"):
        ckpt.find_resume_point(run_dir, resumed.provenance["run_key"])


def test_dataset_sources_combine_a_folder_and_engine_label_files(tmp_path):
    """A folder and engine-style files (no ``metal`` key, same file name in two systems) load together: the metal
    comes from the composition, each file keeps its own key, and a missing source is an error naming it."""
    from screening.engine.labelling import write_extxyz
    from screening.reference.finetune import dataset_files, dataset_hash, file_keys, load_frames

    frames = tiny_frames()
    write_extxyz([a for a in frames if a.info["metal"] == "Pd"], tmp_path / "dft" / "Pd.extxyz")
    engine = []
    for metal in ("Pd", "Ni"):
        sub = [a.copy() for a in frames if a.info["metal"] == metal][:2]
        for a, src in zip(sub, [f for f in frames if f.info["metal"] == metal][:2]):
            a.calc = SinglePointCalculator(a, **src.calc.results)
            del a.info["metal"]
        engine.append(write_extxyz(sub, tmp_path / "engine" / f"{metal}-H" / "train_gpaw.extxyz"))
    files = dataset_files(tmp_path / "dft", f"{engine[0]},{engine[1]}")
    assert file_keys(files) == ["Pd.extxyz", "Pd-H/train_gpaw.extxyz", "Ni-H/train_gpaw.extxyz"]
    loaded = load_frames(files)
    assert [a.info["metal"] for a in loaded[-4:]] == ["Pd", "Pd", "Ni", "Ni"]
    assert {a.info["source_file"] for a in loaded[-2:]} == {"Ni-H/train_gpaw.extxyz"}
    assert dataset_hash(files) != dataset_hash(files[:2])
    with pytest.raises(CandidateError, match="nowhere"):
        dataset_files(tmp_path / "nowhere")


def test_engine_holdout_errors_read_only_the_holdout_files(tiny_model, tmp_path):
    """The engine hold-outs a fine-tune is measured on are the ``holdout_*gpaw`` files only (never the training
    files it may have been trained on), and their errors are the model's errors on those frames."""
    from screening.engine.labelling import write_extxyz
    from screening.reference.finetune import engine_holdout_errors, predict_frames, set_errors

    _, result, frames = tiny_model
    held = [a for a in frames if a.info["metal"] == "Ni"][:3]
    write_extxyz(held, tmp_path / "Ni-H" / "holdout_40gpa_gpaw.extxyz")
    write_extxyz(frames[:2], tmp_path / "Ni-H" / "train_gpaw.extxyz")
    (tmp_path / "Ni-H" / "manifest.json").write_text(json.dumps(
        {"files": {"train": "train_gpaw.extxyz", "holdout": "holdout_40gpa_gpaw.extxyz"}}))
    errors = engine_holdout_errors(result.model, tmp_path)
    assert list(errors) == ["engine_holdout_Ni-H"]
    expected = set_errors(predict_frames(result.model, held), held)
    assert errors["engine_holdout_Ni-H"]["n_configs"] == 3
    assert errors["engine_holdout_Ni-H"]["energy_rmse_mev_per_atom"] == pytest.approx(expected["energy_rmse_mev_per_atom"])


def test_engine_labels_add_to_the_default_dataset_not_replace_it():
    """``make finetune-engine`` passes no ``--data``: its files are ``data/dft`` *plus* the engine's training labels
    (a regression: the engine files alone once replaced the default folder)."""
    from screening.reference.finetune import DEFAULT_DATA_DIR, training_files

    default = training_files()
    assert default == sorted(Path(DEFAULT_DATA_DIR).glob("*.extxyz")) and len(default) >= 12
    with_engine = training_files(with_engine_labels=True)
    assert with_engine[:len(default)] == default
    assert [f.parent.name for f in with_engine[len(default):]] == ["Ca-H"]
    assert all(f.name == "train_gpaw.extxyz" for f in with_engine[len(default):])


def test_an_oversampled_family_enters_each_epoch_n_times_and_is_fitted_closer(capsys):
    """``oversample=(("h2", 8),)`` puts each training H2 frame into every epoch 8 times: the frames per epoch say so,
    and after the same epochs the model is closer to its labels on those frames than without the weight."""
    from dataclasses import replace

    from screening.reference import finetune as ft

    frames = r2scan_frames()
    plain = finetune(frames, replace(SETTINGS, epochs=3))
    weighted = finetune(frames, replace(SETTINGS, epochs=3, oversample=(("h2", 8),)))
    h2 = [frames[i] for i in plain.split["train"] if frames[i].info["family"] == "h2"]
    assert len(h2) == 2
    assert plain.provenance["n_train_frames_per_epoch"] == len(plain.split["train"])
    assert weighted.provenance["n_train_frames_per_epoch"] == len(plain.split["train"]) + 7 * len(h2)
    assert weighted.provenance["settings"]["oversample"] == (("h2", 8),)

    def h2_energy_error(model):
        pred = ft.predict_frames(model, h2)
        return np.sqrt(np.mean([((p.get_potential_energy() - r.get_potential_energy()) / len(r)) ** 2
                                for p, r in zip(pred, h2)]))

    assert h2_energy_error(weighted.model) < h2_energy_error(plain.model)
    with pytest.raises(CandidateError, match="oversample"):
        FinetuneSettings(oversample=(("h2", 0),))
    # one metal's frames of a family can be weighted apart from the family's other frames
    per_metal = FinetuneSettings(oversample=(("phase_relaxed", 4), ("phase_relaxed@La", 1)))
    la, ca = (Atoms("H2", info={"family": "phase_relaxed", "metal": m}) for m in ("La", "Ca"))
    assert (per_metal.repeats(la), per_metal.repeats(ca), per_metal.repeats(Atoms("H"))) == (1, 4, 1)
    assert ft.main(["--oversample", "h2"]) == 2
    assert "error: --oversample wants family=n, got 'h2'" in capsys.readouterr().err


@pytest.mark.parametrize("attr, metal, target, data_file", [
    ("HYDRIDE_ENGINE_MODEL_DIR", "Ca", "make finetune-engine", "train_gpaw.extxyz"),  # + the engine's Ca-H labels
    ("HYDRIDE_PHASES_MODEL_DIR", "La", "make finetune-phases", "dft_phases"),  # + the La-H/Y-H phase labels
    ("HYDRIDE_ALL_PHASES_MODEL_DIR", "Ca", "make finetune-all-phases", "dft_phases"),  # + every system's phases
])
def test_shipped_comparison_finetunes_load_offline_and_name_their_make_target(tmp_path, attr, metal, target,
                                                                               data_file):
    """Each shipped comparison model loads as a fine-tuned, not-DFT model trained on its own extra labels; a missing
    copy of it names its own make target."""
    import screening.calculators as calculators

    directory = getattr(calculators, attr)
    calc, info = get_calculator(f"chgnet-hydride:{directory}")
    a = bulk(metal, "fcc", a=5.0 if metal == "Ca" else 4.5)
    a.calc = calc
    assert np.isfinite(a.get_potential_energy())
    assert "fine-tuned" in info.kind and "not DFT" in info.kind
    prov = json.loads((directory / "provenance.json").read_text())
    assert any(data_file in f for f in prov["data_files"])
    if attr == "HYDRIDE_ENGINE_MODEL_DIR":
        assert prov["errors"]["engine_holdout_Ca-H"]["n_configs"] > 0
    with pytest.raises(CalculatorError, match=target):
        get_calculator(f"chgnet-hydride:{tmp_path / directory.name}")


def test_make_finetune_phases_reads_the_data_of_the_shipped_comparison_model():
    """``make finetune-phases`` names its label files one by one, so that more metals in ``data/dft_phases`` do not
    change what it trains on: its ``--data`` arguments hash to the shipped model's data hash."""
    import re
    import shlex
    from pathlib import Path

    from screening.calculators import HYDRIDE_PHASES_MODEL_DIR
    from screening.reference.finetune import dataset_hash, training_files

    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    recipe = re.search(r"^finetune-phases:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1).replace("\\\n", " ")
    words = shlex.split(recipe)
    data = [root / words[i + 1] for i, w in enumerate(words) if w == "--data"]
    assert "--with-engine-labels" in words and len(data) >= 2
    shipped = json.loads((HYDRIDE_PHASES_MODEL_DIR / "provenance.json").read_text())
    assert dataset_hash(training_files(data, with_engine_labels=True)) == shipped["data_hash"]
