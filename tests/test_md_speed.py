"""MD speed (atom-steps/s): a run that fails is an error, not a fast run."""

from __future__ import annotations

import pytest
from ase.build import bulk

from screening.errors import CandidateError
from screening.md.speed import atom_steps_per_s

CU = "lammps:eam/alloy:Cu_mishin1.eam.alloy"


def test_a_run_that_loses_atoms_is_not_a_speed():
    cu = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(3)
    assert atom_steps_per_s(cu, CU, 50, 1.0) > 0
    cu.positions[1] = cu.positions[0] + [0.4, 0.0, 0.0]  # two Cu 0.4 A apart: LAMMPS loses atoms at once
    with pytest.raises(CandidateError, match="stopped after 0 of 200 steps"):
        atom_steps_per_s(cu, CU, 200, 5.0)
    with pytest.raises(CandidateError, match="steps must be"):
        atom_steps_per_s(cu, CU, 0, 1.0)
