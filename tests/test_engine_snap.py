"""SNAP fits (screening.engine.snap) on EMT-labelled Pd-H cells: the descriptors LAMMPS gives, the least squares,
and the potential run by ``pair_style snap`` through the registry."""

from __future__ import annotations

import numpy as np
import pytest

from screening.engine import snap
from screening.engine.potential import predict
from screening.errors import CandidateError
from test_engine_potential import _pdh_configs

ELEMENTS = ["Pd", "H"]


@pytest.fixture(scope="module")
def data():
    return _pdh_configs(24, seed=1), _pdh_configs(8, seed=2)


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    train, holdout = data
    return snap.fit_snap(train, ELEMENTS, snap.SnapSettings(twojmax=6), holdout=holdout,
                         cache=tmp_path_factory.mktemp("snapcache"), progress=False)


@pytest.mark.parametrize("h_radius_scale", [1.0, 0.7])
def test_linear_model_is_what_lammps_runs(data, fitted, h_radius_scale, tmp_path):
    """The fitted coefficients in pair_style snap give the energies and forces of the linear model on the design
    rows, on strained (triclinic) cells: descriptors, their frame, the radii and the coefficient file agree."""
    train, holdout = data
    if h_radius_scale != 1.0:
        fitted = snap.fit_snap(train, ELEMENTS, snap.SnapSettings(twojmax=4, h_radius_scale=h_radius_scale),
                               cache=tmp_path, progress=False)
        assert f"H {2.25 * h_radius_scale:g} 0.5" in (fitted.directory / snap.COEFF_FILE).read_text()
    x = snap.solve(snap.design_matrices(train, ELEMENTS, fitted.settings), fitted.settings)
    designs = snap.design_matrices(holdout, ELEMENTS, fitted.settings)
    e, f = snap.predict_linear(designs, x)
    ran = predict(fitted, holdout)
    assert np.allclose(e, [a.get_potential_energy() for a in ran], atol=1e-8)
    for fi, a in zip(f, ran):
        assert np.allclose(fi, a.get_forces().ravel(), atol=1e-8)


def test_fit_follows_a_smooth_potential(fitted):
    """EMT is smooth and many-body: a 2J = 6 SNAP follows it to a small fraction of the label spread, also on
    cells it did not see."""
    tr, ho = fitted.metrics["train"], fitted.metrics["holdout"]
    assert tr["energy_rmse_mev_per_atom"] < 0.05 * tr["energy_std_mev_per_atom"]
    assert ho["energy_rmse_mev_per_atom"] < 0.05 * ho["energy_std_mev_per_atom"]
    assert tr["forces_rmse_ev_per_a"] < 0.1 * tr["forces_std_ev_per_a"]
    assert ho["forces_rmse_ev_per_a"] < 0.1 * ho["forces_std_ev_per_a"]
    assert ho["n_configs"] == 8


def test_energy_weight_pulls_the_fit_to_the_energies(data, tmp_path):
    """A larger energy weight trades force error for energy error (the objective is what the settings say)."""
    train, _ = data
    lo = snap.fit_snap(train, ELEMENTS, snap.SnapSettings(twojmax=4, energy_weight=0.1), cache=tmp_path,
                       progress=False).metrics["train"]
    hi = snap.fit_snap(train, ELEMENTS, snap.SnapSettings(twojmax=4, energy_weight=1000.0), cache=tmp_path,
                       progress=False).metrics["train"]
    assert hi["energy_rmse_mev_per_atom"] < lo["energy_rmse_mev_per_atom"]
    assert hi["forces_rmse_ev_per_a"] >= lo["forces_rmse_ev_per_a"]


def test_cache_and_provenance(data, fitted):
    train, holdout = data
    again = snap.fit_snap(train, ELEMENTS, fitted.settings, holdout=holdout, cache=fitted.directory.parent.parent,
                          progress=False)
    assert again.directory == fitted.directory
    assert again.settings == fitted.settings
    assert fitted.spec.startswith("lammps:snap:") and fitted.spec.endswith(":Pd,H")
    assert (fitted.directory / snap.PARAM_FILE).read_text().startswith("rcutfac 1.0")


def test_cross_validation_uses_grouped_folds(data):
    train, _ = data
    for i, a in enumerate(train):
        a.info["parent"] = f"p{i % 6}"
    candidates = {"a": snap.SnapSettings(twojmax=2), "b": snap.SnapSettings(twojmax=6)}
    kept: dict = {}
    table = snap.cross_validate(train, ELEMENTS, candidates, n_folds=3, progress=False, designs_out=kept)
    assert list(table.columns[:3]) == ["candidate", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a"]
    assert table["score"].is_monotonic_increasing and set(table["candidate"]) == {"a", "b"}
    assert (table["n_folds"] == 3).all()
    # the winner's design matrices are handed back, equal to a fresh computation
    best = table.iloc[0]["candidate"]
    assert list(kept) == [best]
    fresh = snap.design_matrices(train, ELEMENTS, candidates[best], False)
    assert len(kept[best]) == len(fresh)
    assert all(np.array_equal(k.energy_row, f.energy_row) and np.array_equal(k.force_rows, f.force_rows)
               for k, f in zip(kept[best], fresh))


def test_bad_input(data, tmp_path):
    train, _ = data
    with pytest.raises(CandidateError, match="twojmax"):
        snap.SnapSettings(twojmax=-2)
    with pytest.raises(CandidateError, match="h_radius_scale"):
        snap.SnapSettings(h_radius_scale=1.5)
    with pytest.raises(CandidateError, match="family weights"):
        snap.SnapSettings(family_weights=(("slab", -1.0, 1.0),))
    with pytest.raises(CandidateError, match="outside"):
        snap.fit_snap(train, ["Pd"], cache=tmp_path, progress=False)
    with pytest.raises(CandidateError, match="unknown SNAP candidates"):
        snap.compare("Ca", tmp_path, candidates=["snap-99"])


def test_command_line_without_labels_is_an_error(capsys):
    assert snap.main(["--metal", "Sc"]) == 2  # no Sc-H labels are committed
    assert capsys.readouterr().err.startswith("error: no distilled labels of Sc-H")
