"""Tier 2b (melting) tests: physics on small Cu cells (EAM in LAMMPS, EMT in ASE), formulas, bad input.

Slow, full validation (Cu T_m with coexistence) lives in benchmarks/bench_melting.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from screening.calculators import CalculatorError
from screening.errors import CandidateError
from screening.md import Frame, Stage, open_session
from screening.md.analysis import D_MIN_A2_PER_PS, Recorder, crystallinity, shell_size
from screening.proxies.melting import (
    MeltingEstimate,
    luo_strachan_swift,
    luo_strachan_swift_error,
    melting_curve,
    melting_table,
    melting_temperature,
    merge_melting_columns,
    phase_at,
    pressure_range,
    ramp_events,
)
from screening.store import ResultStore

CU_EAM = "lammps:eam/alloy:Cu_mishin1.eam.alloy"


@pytest.fixture()
def store(tmp_path):
    return ResultStore(tmp_path / "melting.sqlite")


@pytest.fixture(scope="module")
def cu():
    return bulk("Cu", "fcc", a=3.615)


# --------------------------------------------------------------------------- physics (LAMMPS EAM)
def test_hot_cell_melts_and_cold_cell_stays_solid(cu, store):
    hot = phase_at(cu, 2500.0, 0.0, CU_EAM, n_atoms=108, max_ps=6.0, store=store)
    cold = phase_at(cu, 600.0, 0.0, CU_EAM, n_atoms=108, max_ps=6.0, store=store)
    assert hot.status == "ok" and cold.status == "ok"
    assert hot.phase == "liquid"
    assert hot.solid_fraction < 0.1
    assert hot.d_metal_a2_ps > 0.3  # liquid Cu near 2500 K: D ~ 1 Å^2/ps (1e-4 cm^2/s)
    assert cold.phase == "solid"
    assert cold.solid_fraction > 0.9
    assert abs(cold.d_metal_a2_ps) < D_MIN_A2_PER_PS
    assert hot.volume_per_atom_a3 > 1.05 * cold.volume_per_atom_a3  # thermal expansion + melting
    # early stopping: both phases were unambiguous before the 6 ps limit
    assert hot.simulated_ps < 6.0 and cold.simulated_ps < 6.0


def test_pressure_raises_superheating_limit(cu, store):
    """1900 K melts a small Cu cell at 0 GPa (T+ ~ 1.25 T_m ~ 1700 K) but not at 30 GPa (T_m ~ 2000 K)."""
    low = phase_at(cu, 1900.0, 0.0, CU_EAM, n_atoms=108, max_ps=8.0, store=store)
    high = phase_at(cu, 1900.0, 30.0, CU_EAM, n_atoms=108, max_ps=8.0, store=store)
    assert low.phase == "liquid"
    assert high.phase == "solid"
    assert high.volume_per_atom_a3 < low.volume_per_atom_a3


def test_hysteresis_method_brackets_cu(cu, store, tmp_path):
    png = tmp_path / "melting_Cu_0GPa.png"
    est = melting_temperature(cu, 0.0, CU_EAM, method="hysteresis", ramp_atoms=108, rate_k_per_ps=50.0,
                              t_range_k=(500.0, 2600.0), store=store, plot=png, progress=False)
    assert est.status in ("ok", "uncertain"), est.message
    assert 1450.0 < est.t_plus_k < 2200.0  # superheated above T_m ~ 1340 K
    signals = est.diagnostics["heating"]["signals"]
    assert sum(v is not None for v in signals.values()) >= 2  # more than one signal located melting
    assert est.t_minus_k is None or est.t_minus_k < est.t_plus_k
    assert 1050.0 < est.tm_metal_k < 1700.0 and est.tm_metal_err_k > 0
    assert est.h_diffusion_onset_k is None and est.superionic is None  # no hydrogen in Cu
    assert png.exists() and png.stat().st_size > 10_000
    again = melting_temperature(cu, 0.0, CU_EAM, method="hysteresis", ramp_atoms=108, rate_k_per_ps=50.0,
                                t_range_k=(500.0, 2600.0), store=store, progress=False)
    assert again.diagnostics["runs_computed"] == 0 and again.tm_metal_k == pytest.approx(est.tm_metal_k)
    # a cached estimate reports the MD time it took when computed, not the time it took to read it back
    assert est.diagnostics["compute_s"] > 0.0
    assert again.diagnostics["compute_s"] == pytest.approx(est.diagnostics["compute_s"], rel=0.2)
    assert again.diagnostics["wall_s"] < 0.5 * again.diagnostics["compute_s"]


def test_phase_runs_are_cached_per_condition(cu, store):
    first = phase_at(cu, 800.0, 0.0, CU_EAM, n_atoms=32, max_ps=3.0, min_ps=1.0, store=store)
    second = phase_at(cu, 800.0, 0.0, CU_EAM, n_atoms=32, max_ps=3.0, min_ps=1.0, store=store)
    other = phase_at(cu, 800.0, 5.0, CU_EAM, n_atoms=32, max_ps=3.0, min_ps=1.0, store=store)
    assert not first.cached and second.cached and not other.cached
    assert second.solid_fraction == pytest.approx(first.solid_fraction)
    assert store.count("melting.phase") == 2


# --------------------------------------------------------------------------- ASE back end (EMT)
def test_ase_backend_melts_hot_emt_cell(cu, store):
    hot = phase_at(cu, 3000.0, 0.0, "emt", n_atoms=32, max_ps=3.0, min_ps=1.0, store=store)
    assert hot.status == "ok"
    assert hot.solid_fraction < 0.2 and hot.d_metal_a2_ps > D_MIN_A2_PER_PS
    assert hot.calculator["name"] == "emt"


def test_both_backends_run_the_same_stage_api(cu):
    atoms = cu.repeat((2, 2, 2))
    for calc in (CU_EAM, "emt"):
        frames = []
        with open_session(atoms, calc, 2.0) as session:
            out = session.run(Stage("npt", 20, 300.0, pressure_gpa=0.0, sample_every=10, init_velocities_k=300.0),
                              lambda f: frames.append(f) or False)
        assert out.error is None and out.steps_done == 20
        assert len(frames) == 3 and frames[-1].time_ps == pytest.approx(0.04)
        assert 50.0 < frames[-1].temperature_k < 900.0
        assert frames[-1].positions.shape == (8, 3)


# --------------------------------------------------------------------------- blown-up runs
def test_absurd_timestep_is_a_failed_estimate_not_a_melting_point(cu, store):
    res = phase_at(cu, 1000.0, 0.0, CU_EAM, n_atoms=32, timestep_fs=30.0, max_ps=2.0, min_ps=1.0, store=store)
    assert res.phase == "failed" and res.status == "failed"
    assert "blow-up" in res.message or "LAMMPS error" in res.message
    est = melting_temperature(cu, 0.0, CU_EAM, method="hysteresis", ramp_atoms=32, timestep_fs=30.0, store=store,
                              progress=False)
    assert est.status == "failed" and est.tm_metal_k is None and est.tm_metal_err_k is None
    assert "failed" in est.message


def test_absurd_timestep_fails_in_ase_backend(cu, store):
    res = phase_at(cu, 1000.0, 0.0, "emt", n_atoms=32, timestep_fs=40.0, max_ps=2.0, store=store)
    assert res.phase == "failed" and "blow-up" in res.message


def _frame(positions, cell, temperature=300.0):
    return Frame(0, 0.0, 300.0, temperature, 0.0, float(abs(np.linalg.det(cell))), -1.0, 0.1, math.nan,
                 np.asarray(positions, dtype=float), np.asarray(cell, dtype=float))


def test_recorder_flags_collapse_nan_and_runaway_temperature():
    cell = np.eye(3) * 6.0
    rec = Recorder(("Cu", "Cu"), np.ones(2), 12, min_distance_a=1.2)
    assert not rec(_frame([[0, 0, 0], [2.5, 0, 0]], cell)) and rec.failure is None
    assert rec(_frame([[0, 0, 0], [0.3, 0, 0]], cell)) and "apart" in rec.failure
    rec = Recorder(("Cu", "Cu"), np.ones(2), 12, min_distance_a=1.2)
    assert rec(_frame([[0, 0, 0], [np.nan, 0, 0]], cell)) and "non-finite" in rec.failure
    rec = Recorder(("Cu", "Cu"), np.ones(2), 12, min_distance_a=1.2)
    assert rec(_frame([[0, 0, 0], [2.5, 0, 0]], cell, temperature=1e5)) and "temperature" in rec.failure


# --------------------------------------------------------------------------- formulas and signals
def test_luo_strachan_swift_hand_values():
    assert luo_strachan_swift(1600.0, 1000.0) == pytest.approx(2600.0 - 1264.9110640673518)
    assert luo_strachan_swift(1720.0, 1000.0) == pytest.approx(1408.5123, abs=1e-3)
    assert luo_strachan_swift(1500.0, 1500.0) == pytest.approx(1500.0)  # no hysteresis -> T_m = T+ = T-
    # error propagation equals the numerical derivative
    eps = 1e-3
    d_plus = (luo_strachan_swift(1600 + eps, 1000) - luo_strachan_swift(1600 - eps, 1000)) / (2 * eps)
    d_minus = (luo_strachan_swift(1600, 1000 + eps) - luo_strachan_swift(1600, 1000 - eps)) / (2 * eps)
    assert luo_strachan_swift_error(1600, 1000, 30, 40) == pytest.approx(math.hypot(30 * d_plus, 40 * d_minus))
    with pytest.raises(CandidateError, match="below the undercooling"):
        luo_strachan_swift(900.0, 1000.0)
    with pytest.raises(CandidateError, match="positive"):
        luo_strachan_swift(-5.0, 1000.0)


def _synthetic_ramp(t_melt: float, t_h_onset: float | None) -> dict:
    x = np.arange(300.0, 2200.0, 2.5)
    melted = x > t_melt
    series = {
        "target_t_k": x,
        "solid_fraction": np.where(melted, 0.02, 0.97),
        "d_metal": np.where(melted, 0.5, 0.0),
        "h_per_atom": -3.5 + 2.6e-4 * x + np.where(melted, 0.12, 0.0) + 1e-3 * np.sin(x),
    }
    if t_h_onset is not None:
        series["d_H"] = np.where(x > t_h_onset, 1.0, 0.0)
    return {"status": "ok", "stages": {"ramp": {k: list(v) for k, v in series.items()}}}


def test_ramp_events_agree_and_report_superionic_onset():
    ev = ramp_events(_synthetic_ramp(1500.0, 900.0), heating=True)
    assert ev["t_event_k"] == pytest.approx(1500.0, abs=10.0)
    assert ev["signals_agree"]
    assert all(v == pytest.approx(1500.0, abs=10.0) for v in ev["signals"].values())
    assert ev["h_onset_k"] == pytest.approx(900.0, abs=5.0)  # H diffuses while the metal is still solid
    assert "h_onset_k" not in ramp_events(_synthetic_ramp(1500.0, None), heating=True)


def _cut(record: dict, t_max: float, error: str) -> dict:
    """``record`` ending (failed) at the last frame below ``t_max``."""
    ramp = record["stages"]["ramp"]
    n = int(np.searchsorted(np.asarray(ramp["target_t_k"]), t_max))
    return {"status": "failed", "error": error, "stages": {"ramp": {k: v[:n] for k, v in ramp.items()}}}


@pytest.mark.parametrize("t_fail, melted", [(1900.0, True), (1400.0, False)])
def test_a_heating_ramp_that_fails_in_the_melt_keeps_its_t_plus(cu, monkeypatch, t_fail, melted):
    """A potential that blows up in the hot liquid, 400 K after the crystal melted, still gives T+ (uncertain, the
    failure named); one that blows up before the melting gives no T_m."""
    from screening.proxies import melting as tier

    heat = _cut(_synthetic_ramp(1500.0, None), t_fail, "ERROR: Lost atoms: original 192 current 184")
    x = np.arange(1800.0, 300.0, -2.5)  # cooling: the melt stays liquid (no T-)
    cool = {"status": "ok", "stages": {"ramp": {"target_t_k": list(x), "solid_fraction": [0.02] * len(x),
                                                "d_metal": [0.5] * len(x), "h_per_atom": list(-3.4 + 2.6e-4 * x)}}}
    monkeypatch.setattr(tier._Job, "run", lambda self, kind, cell, protocol, **kw: (heat if kind == "ramp-heat"
                                                                                  else cool, False))
    est = melting_temperature(cu, 0.0, "emt", method="hysteresis", ramp_atoms=32, store=False, progress=False)
    if melted:
        assert est.t_plus_k == pytest.approx(1500.0, abs=10.0)
        assert est.status == "uncertain" and est.tm_metal_k == pytest.approx(est.t_plus_k / tier.SUPERHEATING)
        assert "failed at 1898 K in the melt" in est.message and "Lost atoms" in est.message
    else:
        assert est.status == "failed" and est.tm_metal_k is None and "heating ramp failed" in est.message


def test_order_parameter_separates_crystals_from_disorder():
    rng = np.random.default_rng(0)
    for atoms, k in ((bulk("Cu", "fcc", a=3.6, cubic=True) * (3, 3, 3), 12),
                     (bulk("Fe", "bcc", a=2.87, cubic=True) * (4, 4, 4), 14)):
        cell = np.array(atoms.cell)
        assert shell_size(atoms.positions, cell) == k
        assert crystallinity(atoms.positions, cell, k)[0] == 1.0
        gas = rng.uniform(0, 1, (len(atoms), 3)) @ cell
        assert crystallinity(gas, cell, k)[0] < 0.1


# --------------------------------------------------------------------------- bad input
def test_empty_or_inverted_ranges_are_rejected(cu):
    with pytest.raises(CandidateError, match="inverted"):
        melting_temperature(cu, 0.0, CU_EAM, t_range_k=(2000.0, 1000.0), store=False)
    with pytest.raises(CandidateError, match="empty"):
        melting_temperature(cu, 0.0, CU_EAM, t_range_k=(1000.0, 1000.0), store=False)
    with pytest.raises(CandidateError, match="empty"):
        melting_curve(cu, [], CU_EAM, store=False)
    with pytest.raises(CandidateError, match="increasing"):
        melting_curve(cu, [100.0, 50.0], CU_EAM, store=False)
    with pytest.raises(CandidateError, match="inverted"):
        pressure_range(150.0, 50.0, 3)
    with pytest.raises(CandidateError, match="pressure_gpa"):
        melting_temperature(cu, float("nan"), CU_EAM, store=False)
    with pytest.raises(CandidateError, match="method"):
        melting_temperature(cu, 0.0, CU_EAM, method="guess", store=False)
    assert pressure_range(50.0, 150.0, 3) == [50.0, 100.0, 150.0]


class EnergyOnly(Calculator):
    implemented_properties = ["energy"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 0.0}


def test_calculators_that_cannot_run_md_are_rejected(cu):
    with pytest.raises(CalculatorError, match="forces"):
        melting_temperature(cu, 0.0, EnergyOnly(), store=False)
    with pytest.raises(CalculatorError, match="Valid names"):
        phase_at(cu, 1000.0, 0.0, "quantum-magic", store=False)
    with pytest.raises(CalculatorError, match="Al"):
        phase_at(bulk("Al", "fcc", a=4.05), 500.0, 0.0, CU_EAM, store=False)


def test_overlapping_or_empty_structures_are_rejected():
    overlapping = Atoms("Cu2", positions=[[0, 0, 0], [0.2, 0, 0]], cell=[6, 6, 6], pbc=True)
    with pytest.raises(CandidateError, match="overlapping"):
        melting_temperature(overlapping, 0.0, CU_EAM, store=False)
    with pytest.raises(CandidateError, match="empty"):
        phase_at(Atoms(cell=[5, 5, 5], pbc=True), 500.0, 0.0, CU_EAM, store=False)
    with pytest.raises(CandidateError, match="does not exist"):
        phase_at("/nonexistent/LaH10.cif", 500.0, 0.0, CU_EAM, store=False)


# --------------------------------------------------------------------------- ranking integration
def test_merge_into_ranking_dataframe():
    import pandas as pd

    ranking = pd.DataFrame({"candidate_id": ["CaH6@150GPa", "LaH10@150GPa"], "formula": ["CaH6", "LaH10"],
                            "pressure_gpa": [150, 150], "rank": [1, 2]})
    est = MeltingEstimate("LaH10", 150.0, "hysteresis", 2100.0, 150.0, 1400.0, True, 2600.0, 1500.0, "ok", "",
                          {"name": "chgnet", "version": "0.4.2"})
    merged = merge_melting_columns(ranking, melting_table([est], ["LaH10@150GPa"]))
    assert list(merged["candidate_id"]) == ["CaH6@150GPa", "LaH10@150GPa"]
    row = merged.set_index("candidate_id").loc["LaH10@150GPa"]
    assert row["tm_metal_k"] == 2100.0 and row["tm_metal_err_k"] == 150.0 and row["h_diffusion_onset_k"] == 1400.0
    assert row["melting_method"] == "hysteresis" and row["melting_calculator"].startswith("chgnet")
    assert math.isnan(merged.set_index("candidate_id").loc["CaH6@150GPa", "tm_metal_k"])


def test_cli_runs_top_rows_and_merges_columns(tmp_path, cu, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path / "cache"))
    from ase.io import write

    from screening.cli import main

    cif = tmp_path / "Cu.cif"
    write(cif, cu)
    ranking = tmp_path / "ranking.csv"
    pd.DataFrame({"candidate_id": ["Cu@0GPa", "LaYH12@150GPa"], "formula": ["Cu", "LaYH12"], "metals": ["Cu", "La,Y"],
                  "h_per_metal": [0.0, 6.0], "pressure_gpa": [0.0, 150.0], "rank": [1, 2]}).to_csv(ranking, index=False)
    out = tmp_path / "ranking_melting.csv"
    code = main(["melting", "--top", "2", "--ranking", str(ranking), "--structures", str(tmp_path), "--calculator", CU_EAM,
                 "--method", "hysteresis", "--ramp-atoms", "32", "--out", str(out), "--reports-dir", str(tmp_path),
                 "--no-progress"])
    assert code == 0
    table = pd.read_csv(out).set_index("candidate_id")
    assert 900.0 < table.loc["Cu@0GPa", "tm_metal_k"] < 1900.0
    assert table.loc["Cu@0GPa", "melting_method"] == "hysteresis"
    assert math.isnan(table.loc["LaYH12@150GPa", "tm_metal_k"])  # no structure: skipped, not invented
    assert (tmp_path / "melting_Cu_0GPa.png").exists()
