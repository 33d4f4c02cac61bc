"""Tier 2a: sign conventions on a hand-built hull, real relaxations with EMT, kill-and-resume."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from screening.calculators import CalculatorError, CalculatorInfo, get_calculator
from screening.proxies.enthalpy import EV_TO_KJ_PER_MOL, PhaseCurve, SystemResult, compute_system, enthalpy_proxy
from screening.relax import EV_PER_GPA_A3, RelaxSettings
from screening.store import ResultStore

P = np.array([0.0, 50.0, 100.0])


def _linear(name, kind, x, h0, v):
    """A phase with constant volume: H(P) = H0 + P V exactly."""
    return PhaseCurve(name, kind, x, name, P, h0 + P * v * EV_PER_GPA_A3, np.full(3, float(v)), np.ones(3, bool))


@pytest.fixture()
def toy():
    # Per metal atom (per H2 for H2). At 0 GPa: MH at -0.25 eV/atom and MH2 at -0.1333 eV/atom;
    # the MH–H2 tie line passes -0.1667 eV/atom at MH2, so MH2 lies 0.0333 eV/atom above the hull.
    s = SystemResult("M", CalculatorInfo("toy", "0", "hand-built"), RelaxSettings(), tuple(P))
    for c in (_linear("M", "metal", 0.0, 0.0, 15.0), _linear("H2", "h2", np.inf, 0.0, 10.0),
              _linear("MH", "hydride", 1.0, -0.5, 20.0), _linear("MH2", "hydride", 2.0, -0.4, 22.0)):
        s.phases[c.name] = c
    return s


def test_toy_hull_distances(toy):
    hull = toy.hull(0.0).set_index("h_per_metal")
    assert hull.at[1.0, "dH_f_ev_per_atom"] == pytest.approx(-0.25)
    assert hull.at[1.0, "e_above_hull_ev_per_atom"] == pytest.approx(0.0, abs=1e-9)
    assert hull.at[2.0, "dH_f_ev_per_atom"] == pytest.approx(-0.4 / 3)
    assert hull.at[2.0, "e_above_hull_ev_per_atom"] == pytest.approx(-0.4 / 3 + 0.25 - (1 / 6) / 0.5 * 0.25, abs=1e-9)
    assert not hull.at[2.0, "on_hull"] and hull.at[1.0, "on_hull"]


def test_toy_reaction_signs_and_onset(toy):
    rx = toy.reaction(2.0, 0.0)
    assert rx["precursor_h_per_metal"] == 1.0  # nearest lower stoichiometry on the hull
    assert rx["dH_r_ev_per_metal"] == pytest.approx(0.1)  # -0.4 - (-0.5) - 0.5 * 0: uphill at 0 GPa
    assert rx["dH_r_kj_per_mol_h2"] == pytest.approx(0.2 * EV_TO_KJ_PER_MOL)
    assert rx["dV_r_a3_per_metal"] == pytest.approx(22 - 20 - 0.5 * 10)  # -3 Å^3: pressure drives hydrogenation
    assert toy.reaction(2.0, 50.0, 1.0)["dH_r_ev_per_metal"] < rx["dH_r_ev_per_metal"]
    onset, status = toy.onset(2.0, 1.0)
    assert status == "within range"
    assert onset == pytest.approx(0.1 / (3 * EV_PER_GPA_A3), abs=0.01)  # 5.34 GPa
    # MH from the metal is downhill everywhere: onset below the range.
    assert toy.onset(1.0, 0.0) == (pytest.approx(np.nan, nan_ok=True), "below range")


@pytest.fixture(scope="module")
def pd_system(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("store") / "r.sqlite")
    return compute_system("Pd", [0, 10, 20, 40], "emt", templates=["rocksalt", "fluorite"], store=store, progress=False), store


def test_emt_relaxations_give_monotonic_enthalpy(pd_system):
    system, _ = pd_system
    table = system.relaxations
    assert (table["status"] == "ok").all(), table[["phase", "pressure_gpa", "status", "error"]]
    # EMT has no molecular hydrogen (its H2 collapses above 0 GPa), so H2 is left out here;
    # the H2 reference is checked against experiment with CHGNet in benchmarks/validate_enthalpy.py.
    for name, g in table[table["kind"] != "h2"].groupby("phase"):
        g = g.sort_values("pressure_gpa")
        assert np.all(np.diff(g["enthalpy_ev_per_fu"]) > 0), f"H(P) of {name} must rise (dH/dP = V > 0)"
        assert np.all(np.diff(g["volume_a3_per_fu"]) < 0), f"V(P) of {name} must fall"
        assert np.allclose(g["achieved_pressure_gpa"], g["pressure_gpa"], atol=1.5)


def test_eos_interpolation_is_consistent_with_grid(pd_system):
    system, _ = pd_system
    fcc = system.phases["Pd/fcc"]
    assert fcc.vinet is not None and fcc.fit_rms_gpa < 1.0
    # Between grid points H must lie between its neighbours and dH/dP must equal V.
    h10, h20 = fcc.enthalpy_at(10), fcc.enthalpy_at(20)
    h15 = fcc.enthalpy_at(15)
    assert h10 < h15 < h20
    for p in (12.0, 15.0, 18.0):  # continuous, and dH/dP = V to within the fit's inconsistency (< 2 %)
        slope = (fcc.enthalpy_at(p + 0.01) - fcc.enthalpy_at(p - 0.01)) / 0.02 / EV_PER_GPA_A3
        assert slope == pytest.approx(fcc.volume_at(p), rel=2e-2)
    assert fcc.enthalpy_at(10 + 1e-7) == pytest.approx(h10, abs=1e-6)
    assert np.isnan(fcc.enthalpy_at(60.0))  # no extrapolation beyond the grid


def test_rerun_comes_from_cache(pd_system):
    system, store = pd_system
    again = compute_system("Pd", [0, 10, 20, 40], "emt", templates=["rocksalt", "fluorite"], store=store, progress=False)
    assert again.relaxations["cached"].all()
    assert np.allclose(again.relaxations["enthalpy_ev_per_fu"], system.relaxations["enthalpy_ev_per_fu"])


def test_enthalpy_proxy_columns_and_provenance(pd_system):
    import pandas as pd

    _, store = pd_system
    cands = pd.DataFrame({"candidate_id": ["PdH@20GPa", "PdH7@20GPa"], "metals": ["Pd", "Pd"],
                          "h_per_metal": [1.0, 7.0], "pressure_gpa": [20.0, 20.0]})
    out = enthalpy_proxy(cands, "emt", [0, 10, 20, 40], templates=["rocksalt", "fluorite"], store=store, progress=False).set_index("candidate_id")
    assert out.at["PdH@20GPa", "enthalpy_status"] == "ok"
    assert out.at["PdH@20GPa", "precursor"] == "Pd"
    assert "emt" in out.at["PdH@20GPa", "enthalpy_calculator"] and "test-only" in out.at["PdH@20GPa", "enthalpy_calculator"]
    assert "zero-point" in out.at["PdH@20GPa", "enthalpy_settings"]
    assert out.at["PdH7@20GPa", "enthalpy_status"].startswith("no template")


def test_calculator_registry_errors():
    with pytest.raises(CalculatorError, match=r"unknown calculator 'vasp'.*chgnet"):
        get_calculator("vasp")
    with pytest.raises(CalculatorError, match="cannot parse LAMMPS"):
        get_calculator("lammps:eam/alloy")
    with pytest.raises(CalculatorError, match="not found"):
        get_calculator("lammps:eam/alloy:NoSuch.eam.alloy")


def test_lammps_eam_calculator_matches_cohesive_energy():
    from ase.build import bulk

    calc, info = get_calculator("lammps:eam/alloy:Cu_mishin1.eam.alloy")
    atoms = bulk("Cu", "fcc", a=3.615)
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(-3.54, abs=0.01)  # Mishin et al. 2001 E_coh
    assert info.settings["elements"] == ["Cu"]


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    warnings.filterwarnings("ignore")
    from screening.proxies.enthalpy import compute_system
    from screening.store import ResultStore
    compute_system("Pd", [0, 5, 10, 15, 20, 30, 40], "emt", templates=["rocksalt", "fluorite", "bif3"],
                   store=ResultStore(sys.argv[1]), progress=False)
    """
)


def test_killed_run_loses_only_the_calculation_in_flight(tmp_path):
    db = tmp_path / "r.sqlite"
    ResultStore(db)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(db)], cwd=os.getcwd())
    store = ResultStore(db)
    deadline = time.time() + 120
    while store.count("relax") < 6 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = store.count("relax")
    assert 6 <= done_before < 49, "the kill must land mid-run"  # 7 phases x 7 pressures in all
    assert store.integrity_ok()
    system = compute_system("Pd", [0, 5, 10, 15, 20, 30, 40], "emt", templates=["rocksalt", "fluorite", "bif3"],
                            store=store, progress=False)
    table = system.relaxations
    assert len(table) == 7 * 7  # fcc, bcc, hcp Pd + H2 + three templates
    assert int(table["cached"].sum()) == done_before  # everything finished before the kill was reused
    assert store.count("relax") == 49


def test_refinement_with_the_relaxing_calculator_reproduces_the_proxy_and_reports_its_pressure(tmp_path):
    """Refining with the same calculator that relaxed must change nothing (a check of the bookkeeping:
    formula units, P·V, the hull and reaction rebuilt from the single points); the pressure of each cell is the
    relaxation's target within the relaxation's tolerance."""
    import pandas as pd

    from screening.proxies.enthalpy import enthalpy_proxy
    from screening.store import ResultStore

    cands = pd.DataFrame({"candidate_id": ["PdH1@10", "PdH1@30"], "metals": ["Pd", "Pd"], "h_per_metal": [1.0, 1.0],
                          "pressure_gpa": [10.0, 30.0]})
    out = enthalpy_proxy(cands, "emt", pressures_gpa=[10, 30], templates=["rocksalt", "fluorite"],
                         store=ResultStore(tmp_path / "s.sqlite"), progress=False, refine="emt")
    assert (out["refine_status"] == "ok").all(), out["refine_status"].tolist()
    assert out["dH_r_kj_per_mol_h2_dft"].to_numpy() == pytest.approx(out["dH_r_kj_per_mol_h2"].to_numpy(), abs=1e-6)
    assert out["dH_r_refine_diff_kj_per_mol_h2"].abs().max() < 1e-6
    assert out["e_above_hull_ev_per_atom_dft"].to_numpy() == pytest.approx(out["e_above_hull_ev_per_atom"].to_numpy(), abs=1e-9)
    assert out["refine_pressure_gpa_dft"].to_numpy() == pytest.approx([10.0, 30.0], abs=1.0)
    assert out["refine_calculator"].str.contains("emt").all()
    # the onset from the reference's enthalpies at the refined pressures (10 and 30 GPa) is the relaxation's
    # onset_from_points over the same two pressures
    from screening.proxies.onset import onset_from_points

    expected = onset_from_points([10.0, 30.0], out["dH_r_ev_per_metal"].to_numpy())
    assert (out["onset_status_dft"] == expected[1]).all()
    assert out["onset_pressure_gpa_dft"].to_numpy() == pytest.approx([expected[0]] * 2, nan_ok=True)
    one = enthalpy_proxy(cands.iloc[:1], "emt", pressures_gpa=[10, 30], templates=["rocksalt", "fluorite"],
                         store=ResultStore(tmp_path / "s.sqlite"), progress=False, refine="emt")
    assert one["onset_status_dft"].iloc[0].startswith("unavailable: refined at 1 pressure")


def test_refinement_of_named_phases_labels_only_those(tmp_path):
    from screening.proxies.enthalpy import compute_system
    from screening.proxies.refine import refine_enthalpies
    from screening.store import ResultStore

    store = ResultStore(tmp_path / "s.sqlite")
    system = compute_system("Pd", [10, 30], "emt", templates=["rocksalt"], store=store, progress=False)
    hydride = system.best_hydrides(10)[1.0].name
    refined = refine_enthalpies(system, [10], "emt", names=["H2", hydride], store=store, n_workers=1, progress=False)
    assert sorted(refined) == sorted([("H2", 10), (hydride, 10)])  # not the metal reference


def test_a_failed_metal_reference_at_one_pressure_is_a_status_not_a_crash():
    """The potential collapsed the metal at 100 and 150 GPa: candidates there get a status naming the missing
    reference (no hull can be built), instead of NaNs reaching pymatgen's PhaseDiagram."""
    import pandas as pd

    from screening.proxies.enthalpy import proxies_for_candidate, relaxation_row, system_from_relaxations

    def ok(e0, v, p):
        return {"status": "ok", "converged": True, "enthalpy_ev": e0 + p * EV_PER_GPA_A3 * v, "volume_a3": v}

    failed = {"status": "failed", "converged": False, "error": "collapsed at step 10: shortest M-M distance"}
    rows = []
    for p in (50.0, 100.0, 150.0):
        rows.append(relaxation_row("Pd/fcc", "metal", 0.0, "fcc", p, ok(-5.0, 12.0 - 0.02 * p, p) if p == 50 else failed, False))
        rows.append(relaxation_row("H2", "h2", float("inf"), "mhcp", p, ok(-6.5, 8.0 - 0.02 * p, p), False))
        rows.append(relaxation_row("PdH2/fluorite", "hydride", 2.0, "fluorite", p, ok(-12.0, 18.0 - 0.03 * p, p), False))
    info = CalculatorInfo("fake", "0", "test values", {})
    system = system_from_relaxations("Pd", info, RelaxSettings(), (50.0, 100.0, 150.0), pd.DataFrame(rows))
    row = proxies_for_candidate(system, 2.0, 100.0)
    assert row["enthalpy_status"].startswith("no Pd metal reference at 100 GPa"), row
    assert "e_above_hull_ev_per_atom" not in row


def test_a_precursor_missing_at_one_pressure_leaves_that_pressure_out_of_the_onset(toy):
    """A precursor whose relaxation failed at one pressure has no ΔH_r there; the onset uses the others (it used to
    raise KeyError and stop a whole tier-2a table)."""
    mh = toy.phases["MH"]
    toy.phases["MH"] = PhaseCurve(mh.name, mh.kind, mh.h_per_metal, mh.name, P,
                                  np.where(P < 100.0, mh.enthalpies, np.nan), mh.volumes, P < 100.0)
    assert toy.reaction(2.0, 100.0, 1.0) == {}
    onset, status = toy.onset(2.0, 1.0)
    assert status == "within range" and onset == pytest.approx(0.1 / (3 * EV_PER_GPA_A3), abs=0.01)
