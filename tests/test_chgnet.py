"""The CHGNet check in the fast suite: solid H2 at 50 GPa against the Loubeyre et al. (2020) EOS."""

import json
from pathlib import Path

import pytest

from descriptors.eos import h2_volume_per_molecule
from screening.calculators import get_calculator
from screening.relax import EV_PER_GPA_A3

FIXTURE = Path(__file__).parent / "data" / "h2_chgnet_relaxed_50gpa.json"


def test_chgnet_h2_at_50_gpa_matches_experimental_volume():
    """A full CHGNet relaxation of dense H2 takes minutes here, so the test starts from the cell CHGNet relaxed at
    50 GPa (benchmarks/validate_enthalpy.py; converged) and checks, in one evaluation:

    * that it is still a CHGNet equilibrium at 50 GPa (±3 GPa, the relaxation's stress tolerance), which fails if the
      installed CHGNet changes;
    * that its volume is within 10 % of the experimental 6.36 Å^3/H2: the measured error is +4.9 %, 10 % is twice that.
      (At 100 and 150 GPa CHGNet is off by +12.7 % (cell not converged) and −9.9 %: see the README.)
    """
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    data = json.loads(FIXTURE.read_text())
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(data["structure"]))
    atoms.calc, info = get_calculator("chgnet")
    pressure = -atoms.get_stress(voigt=True)[:3].mean() / EV_PER_GPA_A3
    assert pressure == pytest.approx(50.0, abs=3.0)
    v_per_h2 = atoms.get_volume() / (len(atoms) / 2)
    assert v_per_h2 == pytest.approx(float(h2_volume_per_molecule(50.0)), rel=0.10)
    assert "not DFT" in info.kind
