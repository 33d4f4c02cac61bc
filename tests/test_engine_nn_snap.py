"""The ML-IAP network on SNAP descriptors (screening.engine.nn_snap) on EMT-labelled Pd-H cells: the descriptor
gradients LAMMPS gives, the training, and the model file that pair_style mliap runs."""

from __future__ import annotations

import numpy as np
import pytest

from screening.calculators import CalculatorError, parse_lammps_spec
from screening.engine import nn_snap
from screening.engine.snap import SnapSettings
from screening.errors import CandidateError
from test_engine_potential import _pdh_configs

ELEMENTS = ["Pd", "H"]
SETTINGS = nn_snap.NNSnapSettings(snap=SnapSettings(twojmax=4, rcut=4.5), hidden=(8, 8), epochs=25,
                                  batch_cells=4, val_fraction=0.25)


@pytest.fixture(scope="module")
def cells():
    configs = _pdh_configs(16, seed=3)
    return configs, [nn_snap.cell_descriptors(a, ELEMENTS, SETTINGS.snap) for a in configs]


@pytest.fixture(scope="module")
def trained(cells, tmp_path_factory):
    configs, desc = cells
    model, info = nn_snap.train(desc, len(ELEMENTS), SETTINGS, progress=False)
    path = nn_snap.write_potential(tmp_path_factory.mktemp("nnsnap"), model, SETTINGS, ELEMENTS)
    return model, info, path


def test_descriptor_gradients_are_the_derivative_of_the_descriptors(cells):
    """-dB_i/dR_k from compute snap (dgradflag) against a central difference of B_i from compute snap, on a
    strained (triclinic) cell, in ASE's frame."""
    configs, desc = cells
    a, d = configs[0], desc[0]
    k, h = 1, 1e-5
    plus, minus = a.copy(), a.copy()
    plus.calc = minus.calc = a.calc
    plus.positions[k, 0] += h
    minus.positions[k, 0] -= h
    db = (nn_snap.cell_descriptors(plus, ELEMENTS, SETTINGS.snap).b
          - nn_snap.cell_descriptors(minus, ELEMENTS, SETTINGS.snap).b) / (2 * h)  # (n, nd): dB_i/dx_k
    grad = np.zeros_like(db)
    for i, kk, g in zip(d.pair_i, d.pair_k, d.grad):
        if kk == k:
            grad[i] += -g[0]
    assert np.allclose(grad, db, atol=1e-6 * max(1.0, np.abs(db).max()))


def test_training_lowers_the_error_and_keeps_the_best_epoch(trained):
    _, info, _ = trained
    history = info["history"]
    assert history[-1]["val_force_ev_a"] < history[0]["val_force_ev_a"]
    assert info["best"]["score"] == min(r["score"] for r in history)


def test_lammps_runs_the_network(cells, trained):
    """pair_style mliap model nn with the written files gives the network's energies and forces."""
    configs, desc = cells
    model, _, path = trained
    e, f = model(nn_snap._Batch(desc[:4]))
    ran = nn_snap.predict(nn_snap.spec_of(path, ELEMENTS), configs[:4])
    assert np.allclose(e.detach().numpy(), [a.get_potential_energy() for a in ran], atol=1e-8)
    assert np.allclose(f.detach().numpy(), np.concatenate([a.get_forces() for a in ran]), atol=1e-8)
    header = path.read_text().splitlines()[:2]
    n_desc = desc[0].b.shape[1]
    assert header[0].split() == ["2", str((n_desc + 1) * 8 + 9 * 8 + 9)]
    assert header[1].split()[:3] == ["NET", str(n_desc), "3"]


def test_bad_input(tmp_path, cells):
    with pytest.raises(CandidateError, match="activation"):
        nn_snap.NNSnapSettings(activation="softplus")
    with pytest.raises(CandidateError, match="quadratic"):
        nn_snap.NNSnapSettings(snap=SnapSettings(quadratic=True))
    model_file = tmp_path / "x.mliap.model"
    model_file.write_text("1 1\n")
    with pytest.raises(CalculatorError, match="x.mliap.descriptor"):
        parse_lammps_spec(f"lammps:mliap:{model_file}:Pd,H")
    configs, _ = cells
    with pytest.raises(CandidateError, match="outside"):
        nn_snap.cell_descriptors(configs[0], ["Pd"], SETTINGS.snap)


def test_chem_forces_of_this_lammps_are_refused(cells, tmp_path):
    """With the explicit multi-element bispectrum, LAMMPS 22 Jul 2025's pair_style mliap returns forces that are not
    the gradient of its own energy; the fit's LAMMPS check catches it instead of shipping the potential."""
    configs, _ = cells
    settings = nn_snap.NNSnapSettings(snap=SnapSettings(twojmax=4, rcut=4.5, chem=True), hidden=(4,), epochs=2,
                                      batch_cells=8, val_fraction=0.25)
    with pytest.raises(CandidateError, match="not the gradient"):
        nn_snap.fit_nn_snap(configs[:8], ELEMENTS, settings, tmp_path, progress=False)


def test_command_line_bad_input(tmp_path, capsys):
    assert nn_snap.main(["--metal", "Ca", "--hidden", "32,x", "--out", str(tmp_path)]) == 2
    assert "error: --hidden must be comma-separated integers, got '32,x'" in capsys.readouterr().err
    assert nn_snap.main(["--metal", "Sr", "--out", str(tmp_path)]) == 2  # nothing committed for Sr-H
    assert "make engine-distill METAL=Sr" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
