"""The pressure domain of the DFT data: collapsed cells are left out of the fit and get no copies."""

import numpy as np
import pytest


def _with_pressure(atoms, p_gpa: float):
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.units import GPa

    b = atoms.copy()
    b.info = dict(atoms.info)
    b.calc = SinglePointCalculator(b, energy=0.0, forces=np.zeros((len(b), 3)),
                                   stress=np.array([-p_gpa, -p_gpa, -p_gpa, 0, 0, 0]) * GPa)
    return b


def test_dft_pressure_and_domain_read_the_label():
    from ase.build import bulk

    from screening.reference.domain import DOMAIN_MAX_PRESSURE_GPA, dft_pressure_gpa, domain_frames, in_domain

    a = bulk("Sr", "fcc", a=3.0)
    a.info["config_id"] = "c1"
    low, high = _with_pressure(a, 150.0), _with_pressure(a, 146163.0)
    high.info["config_id"] = "c2"
    assert dft_pressure_gpa(low) == pytest.approx(150.0)
    assert in_domain(low) and not in_domain(high)
    assert in_domain(_with_pressure(a, DOMAIN_MAX_PRESSURE_GPA))  # the bound itself is in
    assert in_domain(a)  # no label, nothing to judge
    kept, left = domain_frames([low, high])
    assert kept == [low] and left == ["c2"]
    assert domain_frames([low, high], None)[0] == [low, high]


def test_a_collapsed_round_one_cell_gets_no_copies(tmp_path):
    from screening.reference.dataset import DatasetPlan, configurations, run_campaign
    from screening.store import ResultStore

    plan = DatasetPlan(metals=("Pd",), templates=("rocksalt",), pressures_gpa=(0.0,), h2_pressures_gpa=(10.0,),
                       metal_lattices=("fcc",), max_atoms=4)
    store = ResultStore(tmp_path / "s.sqlite")
    run_campaign(plan, out_dir=tmp_path / "dft", store=store, relax_calculator="emt", label_calculator="emt",
                 n_workers=1, progress=False)
    from screening.reference.dataset import load_dataset

    frames = load_dataset(tmp_path / "dft")
    base = [a for a in frames if a.info["round"] == 1 and a.info["family"] != "h2"]
    assert len(base) >= 2
    collapsed = base[0].info["config_id"]
    existing = [_with_pressure(a, 5000.0) if a.info["config_id"] == collapsed else a for a in frames]
    made = list(configurations(plan, store, "emt", existing))
    parents = [a.info.get("parent") for a in made if a.info["round"] > 1]
    assert collapsed not in parents
    assert base[1].info["config_id"] in parents  # the other cells keep theirs
    assert collapsed in {a.info["config_id"] for a in made}  # the collapsed frame itself stays in the dataset


def test_solid_h2_copies_come_before_the_eos_round(tmp_path):
    """H2 enters every hull: its rattled and strained copies are labelled before any EOS point."""
    from screening.reference.dataset import DatasetPlan, configurations, load_dataset, run_campaign
    from screening.store import ResultStore

    plan = DatasetPlan(metals=("Pd",), templates=("rocksalt",), pressures_gpa=(0.0,), h2_pressures_gpa=(10.0,),
                       metal_lattices=("fcc",), max_atoms=4)
    store = ResultStore(tmp_path / "s.sqlite")
    run_campaign(plan, out_dir=tmp_path / "dft", store=store, relax_calculator="emt", label_calculator="emt",
                 n_workers=1, progress=False, max_labels=3)  # round 1 only: H2, PdH rocksalt, fcc Pd
    made = list(configurations(plan, store, "emt", load_dataset(tmp_path / "dft")))
    order = [(a.info["family"], a.info["metal"]) for a in made if a.info["round"] > 1]
    h2_copies = [i for i, (family, metal) in enumerate(order) if metal == "H"]
    first_eos = next(i for i, (family, _) in enumerate(order) if family == "eos")
    assert sorted(f for f, m in order if m == "H") == ["rattled", "strained"]
    assert max(h2_copies) < first_eos
