"""Stability checks of an engine potential (screening.engine.stability): the criteria on hand-built cases, and a
short bulk run with EMT (Pd–H) through the same MD sessions the engine uses."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

import screening.engine.stability as st
from screening.errors import CandidateError


def test_paired_fraction_separates_molecules_from_atoms():
    # 8 molecules (0.74 A bonds) on a 3-A lattice: all paired; the same sites without partners: none
    sites = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)], float) * 3.0
    cell = np.eye(3) * 6.0
    molecules = np.concatenate([sites, sites + [0.74, 0, 0]])
    assert st.paired_fraction(molecules, cell) == 1.0
    assert st.paired_fraction(sites, cell) == 0.0
    # a third atom 0.9 A from one molecule's atom: that atom now has two neighbours (not paired); the newcomer
    # has one, its partner still one
    crowded = np.concatenate([molecules, [[0.74 + 0.9, 0, 0]]])
    assert st.paired_fraction(crowded, cell) == pytest.approx(16 / 17)


def test_lindemann_ratio_of_gaussian_vibrations():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(3)
    d_nn = 3.6 / np.sqrt(2)
    rng = np.random.default_rng(0)
    sigma = 0.1  # per Cartesian component: rms displacement sqrt(3) sigma
    frames = atoms.positions + rng.normal(0, sigma, (400, len(atoms), 3)) + np.linspace(0, 5, 400)[:, None, None]
    ratio = st.lindemann_ratio(frames, np.asarray(atoms.cell))
    assert ratio == pytest.approx(np.sqrt(3) * sigma / d_nn, rel=0.03)  # the common drift does not count
    with pytest.raises(CandidateError):
        st.lindemann_ratio(frames[:1], np.asarray(atoms.cell))


def test_bulk_run_reports_a_crystal_and_a_superheated_melt():
    """EMT Cu (melting point near 1300 K in EMT) through the same MD session: crystalline at 300 K, not at 4000 K."""
    cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    kw = dict(atoms=cu, pressure_gpa=0.0, time_ps=1.0, timestep_fs=2.0, frame_every_ps=0.05, progress=False)
    cold = st.bulk_stability("emt", temperature_k=300.0, **kw)
    assert cold.error is None and cold.passed, cold.row()
    assert cold.value >= st.MIN_SOLID_FRACTION and 0 < cold.series["lindemann_second_half"] < st.LINDEMANN_SOLID
    hot = st.bulk_stability("emt", temperature_k=4000.0, **kw)
    assert not hot.passed, hot.row()
    assert hot.error or hot.value < st.MIN_SOLID_FRACTION or hot.series["lindemann_second_half"] >= st.LINDEMANN_SOLID


def test_command_line_rejects_a_bad_duration(capsys):
    assert st.main(["--potential", "emt", "--bulk-ps", "-1"]) == 2
    assert "error: --bulk-ps" in capsys.readouterr().err
    assert st.main(["--potential", "emt", "--checks", "bulk,melt"]) == 2
    assert "error: --checks 'bulk,melt'" in capsys.readouterr().err
