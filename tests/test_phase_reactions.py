"""Reaction enthalpies of labelled reaction phases (screening.reference.phase_reactions), against hand values."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from screening.reference.phase_reactions import KJ_PER_MOL_PER_EV, error_summary, main, phase_reactions
from screening.relax import EV_PER_GPA_A3

P = 100.0


def _frame(formula: str, energy: float, volume: float, phase: str, factor: float = 1.0, metal: str = "Pd") -> Atoms:
    side = volume ** (1 / 3)
    n = len(Atoms(formula))
    a = Atoms(formula, positions=np.random.default_rng(0).random((n, 3)) * side, cell=[side] * 3, pbc=True)
    a.calc = SinglePointCalculator(a, energy=energy, forces=np.zeros((n, 3)), stress=np.zeros(6))
    a.info.update(metal=metal, pressure_gpa=P, phase=phase, volume_factor=factor)
    return a


def test_hydrogenation_enthalpies_and_the_phase_in_excess_h2_match_hand_values():
    pv = P * EV_PER_GPA_A3
    frames = [_frame("H2", -6.0, 5.0, "H2"),  # H(H2) = -6 + 5 pv
              _frame("PdH", -10.0, 20.0, "PdH/a"), _frame("PdH4", -22.0, 30.0, "PdH4/b"),
              _frame("PdH2", -13.0, 24.0, "PdH2/c", metal="Pt")]  # no H2 at this metal's label: shared by pressure
    t = phase_reactions(frames, EMT()).set_index("phase")
    g1 = -10.0 + 20.0 * pv - 0.5 * (-6.0 + 5.0 * pv)
    g4 = -22.0 + 30.0 * pv - 2.0 * (-6.0 + 5.0 * pv)
    assert t.loc["PdH/a", "g_dft_point_ev_per_metal"] == pytest.approx(g1)
    assert t.loc["PdH4/b", "dH_r_dft_point_kj_per_mol_h2"] == pytest.approx((g4 - g1) / 1.5 * KJ_PER_MOL_PER_EV)
    assert np.isnan(t.loc["PdH/a", "dH_r_dft_point_kj_per_mol_h2"])  # the reference phase itself
    assert bool(t.loc["PdH4/b", "with_excess_h2_dft_point"]) == (g4 < g1)
    assert not bool(t.loc["PdH/a", "with_excess_h2_dft_point"]) == (g4 < g1)
    assert t.loc["PdH2/c", "metal"] == "Pt" and bool(t.loc["PdH2/c", "with_excess_h2_dft_point"])  # alone at Pt
    assert np.isnan(t.loc["PdH/a", "g_dft_scan_ev_per_metal"])  # one volume: no scan
    assert not t["with_excess_h2_dft_scan"].any()  # no phase is chosen among incomplete data
    assert np.isfinite(t["g_model_ev_per_metal"]).all()


def test_a_volume_scan_finds_the_minimum_of_a_parabola():
    """E(V) = e0 + k (V - v0)^2 through three EOS points: min over V of E + P V is e0 + P v0 - P^2 / (4 k)."""
    pv = P * EV_PER_GPA_A3
    frames = []
    for formula, phase, e0, v0, k in (("PdH", "PdH/a", -10.0, 20.0, 1.0), ("H2", "H2", -6.0, 5.0, 10.0)):
        assert v0 * 0.94 < v0 - pv / (2 * k) < v0 * 1.06  # the minimum lies inside the sampled range
        for f in (0.94, 1.0, 1.06):
            frames.append(_frame(formula, e0 + k * (v0 * f - v0) ** 2, v0 * f, phase, factor=f))
    t = phase_reactions(frames, EMT()).set_index("phase")

    def h_min(e0, v0, k):
        return e0 + pv * v0 - pv ** 2 / (4 * k)

    expected = h_min(-10.0, 20.0, 1.0) - 0.5 * h_min(-6.0, 5.0, 10.0)
    assert t.loc["PdH/a", "g_dft_scan_ev_per_metal"] == pytest.approx(expected, abs=1e-4)
    assert t.loc["PdH/a", "g_dft_point_ev_per_metal"] > expected  # the cell is not at its DFT equilibrium at P


def test_the_error_summary_is_the_rms_over_reactions():
    import pandas as pd

    t = pd.DataFrame({"metal": ["A", "A", "B", "B"], "dH_r_model_kj_per_mol_h2": [3.0, -1.0, 2.0, np.nan],
                      "dH_r_dft_scan_kj_per_mol_h2": [0.0, 3.0, 0.0, 1.0], "dH_r_dft_point_kj_per_mol_h2": [1.0, 3.0, 0.0, 1.0]})
    s = error_summary(t)
    assert s.loc["A", "n"] == 2 and s.loc["A", "model_rms"] == pytest.approx(np.sqrt((9 + 16) / 2))
    assert s.loc["A", "model_mean"] == pytest.approx(-0.5) and s.loc["B", "n"] == 1
    assert s.loc["all", "n"] == 3 and s.loc["all", "dft_point_rms"] == pytest.approx(np.sqrt(1 / 3))


def test_an_empty_label_folder_is_an_error_naming_it(tmp_path, capsys):
    assert main(["--labels", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(tmp_path) in err and not (tmp_path / "x.csv").exists()


def test_the_parity_figure_is_written(tmp_path):
    import pandas as pd

    from screening.reference.phase_reactions import plot_parity

    t = pd.DataFrame({"metal": ["A", "A", "B"], "pressure_gpa": [50.0, 100.0, 50.0],
                      "dH_r_model_kj_per_mol_h2": [-10.0, 5.0, np.nan], "dH_r_dft_scan_kj_per_mol_h2": [-20.0, 1.0, 3.0]})
    path = plot_parity(t, tmp_path / "sub" / "parity.png", "toy model")
    assert path.is_file() and path.stat().st_size > 1000
