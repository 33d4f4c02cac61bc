"""Tier-2a plots: onset marker where ΔH_r turns negative with pressure, no invented curve between two points,
labels that do not overlap."""

import numpy as np
import pytest

from screening.calculators import CalculatorInfo
from screening.plots import _label_levels, hydrogenation_curves, plot_enthalpy_system, plot_hydrogenation
from screening.proxies.enthalpy import PhaseCurve, SystemResult
from screening.relax import EV_PER_GPA_A3, RelaxSettings


def _system(pressures, mh2_h0: float, mh2_v: float) -> SystemResult:
    """M, H2, MH (on the hull) and MH2; ΔH_r(MH + ½H2 → MH2) = (mh2_h0 + 0.5) + P (mh2_v − 25) / 160.2."""
    p = np.asarray(pressures, float)

    def linear(name, kind, x, h0, v):
        return PhaseCurve(name, kind, x, name.split("/")[-1], p, h0 + p * v * EV_PER_GPA_A3, np.full(p.size, float(v)),
                          np.ones(p.size, bool))

    s = SystemResult("Pd", CalculatorInfo("toy", "0", "hand-built"), RelaxSettings(), tuple(p))
    for c in (linear("Pd/fcc", "metal", 0.0, 0.0, 15.0), linear("H2", "h2", np.inf, 0.0, 10.0),
              linear("PdH/rocksalt", "hydride", 1.0, -1.5, 20.0),
              linear("PdH2/fluorite", "hydride", 2.0, mh2_h0, mh2_v)):
        s.phases[c.name] = c
    return s


def test_onset_marks_where_the_reaction_becomes_favourable():
    s = _system([0, 50, 100], -1.4, 22.0)  # ΔH_r = +0.1 eV - 3 Å^3 P: + -> - at 5.34 GPa
    (c,) = [c for c in hydrogenation_curves(s, {2.0: 1.0}) if c["x"] == 2.0]
    assert c["label"] == "PdH → PdH2"
    assert c["onset_status"] == "within range"
    assert c["onset"] == pytest.approx(0.1 / (3 * EV_PER_GPA_A3), abs=0.05)
    below = [s.reaction(2.0, p, 1.0)["dH_r_kj_per_mol_h2"] for p in (0.0, c["onset"] - 1)]
    above = [s.reaction(2.0, p, 1.0)["dH_r_kj_per_mol_h2"] for p in (c["onset"] + 1, 100.0)]
    assert min(below) > 0 > max(above)


def test_turning_unfavourable_is_not_an_onset():
    s = _system([0, 50, 100], -1.6, 28.0)  # ΔH_r = -0.1 eV + 3 Å^3 P: - -> + at 5.34 GPa
    (c,) = [c for c in hydrogenation_curves(s, {2.0: 1.0}) if c["x"] == 2.0]
    assert c["onset_status"] == "below range" and np.isnan(c["onset"])


def test_two_pressures_give_a_straight_segment_through_the_computed_points():
    s = _system([0, 100], -1.4, 22.0)
    s.phases["PdH2/fluorite"].volumes = np.array([22.0, 15.0])  # Hermite through two points would bend
    for c in hydrogenation_curves(s):
        assert list(c["pressures"]) == [0.0, 100.0] and c["style"] == "straight segments"
        assert np.allclose(c["dh"], c["grid_dh"])


def test_onset_labels_are_stacked_when_close():
    assert _label_levels([10.0, 12.0, 50.0, 11.0], 8.0) == [0, 2, 0, 1]
    assert _label_levels([], 5.0) == []


def test_plots_are_written(tmp_path):
    s = _system([0, 50, 100], -1.4, 22.0)
    assert plot_hydrogenation(s, tmp_path / "h.png").stat().st_size > 10_000
    assert plot_enthalpy_system(s, tmp_path / "e.png").stat().st_size > 10_000
