"""Tier-2a EOS through pymatgen.analysis.eos: recovers a known Vinet, rejects poor fits (Hermite fallback)."""

import math

import numpy as np
import pytest

from descriptors.eos import vinet_volume
from screening.proxies.enthalpy import MAX_EOS_RMS_GPA, PhaseCurve
from screening.relax import EV_PER_GPA_A3

V0, K0, K0P = 20.0, 100.0, 4.5


def _curve(pressures, volumes_fn=lambda p: vinet_volume(p, V0, K0, K0P)) -> PhaseCurve:
    p = np.asarray(pressures, float)
    fine = np.linspace(0, p.max(), 4001)
    v_fine = np.asarray(volumes_fn(fine), float)
    h_fine = np.concatenate([[0.0], np.cumsum(0.5 * (v_fine[1:] + v_fine[:-1]) * np.diff(fine))]) * EV_PER_GPA_A3
    h = np.interp(p, fine, h_fine) - 5.0
    return PhaseCurve("X/test", "metal", 0.0, "test", p, h, np.asarray(volumes_fn(p), float), np.ones(p.size, bool))


def test_fit_recovers_the_vinet_parameters():
    c = _curve([0, 25, 50, 100, 150, 200, 300]).fit()
    assert c.vinet is not None and c.fit_rms_gpa < 0.5
    v0, k0, k0p = c.vinet
    assert v0 == pytest.approx(V0, rel=2e-3) and k0 == pytest.approx(K0, rel=3e-2) and k0p == pytest.approx(K0P, rel=3e-2)
    # between grid points: H continuous, dH/dP = V, and V(P) from the fit matches the true EOS
    for p in (12.5, 75.0, 250.0):
        slope = (c.enthalpy_at(p + 0.01) - c.enthalpy_at(p - 0.01)) / 0.02 / EV_PER_GPA_A3
        assert slope == pytest.approx(float(vinet_volume(p, V0, K0, K0P)), rel=5e-3)
        assert c.volume_at(p) == pytest.approx(float(vinet_volume(p, V0, K0, K0P)), rel=5e-3)


def test_collapsing_phase_is_rejected_and_hermite_used():
    # a 25 % volume collapse between 50 and 100 GPa (like CHGNet's H2): no single EOS fits
    collapse = lambda p: vinet_volume(p, V0, K0, K0P) * np.where(np.asarray(p) > 75.0, 0.75, 1.0)  # noqa: E731
    c = _curve([0, 25, 50, 100, 150, 200], collapse).fit()
    assert c.vinet is None and c.fit_rms_gpa > MAX_EOS_RMS_GPA
    assert math.isfinite(c.enthalpy_at(60.0))
    assert c.enthalpy_at(50.0) < c.enthalpy_at(60.0) < c.enthalpy_at(100.0)


def test_three_points_use_hermite():
    c = _curve([0, 50, 100]).fit()
    assert c.vinet is None and math.isnan(c.fit_rms_gpa)
    assert c.enthalpy_at(0.0) < c.enthalpy_at(25.0) < c.enthalpy_at(50.0)
