"""The fit-capacity measurement (screening.engine.fit_capacity) on EMT-labelled Pd–H cells: when the "DFT"
hold-out labels are the teacher's own, both hold-out rows must agree exactly."""

from __future__ import annotations

import pytest
from test_engine_potential import _pdh_configs  # tests/ is on sys.path under pytest (rootdir mode)

from screening.engine.fit_capacity import capacity_table
from screening.errors import CandidateError


def _pool():
    pool = _pdh_configs(14, seed=4)
    for i, a in enumerate(pool):
        a.info.update(config_id=f"c{i}", family=("strain", "rattle")[i % 2])
    return pool


def test_holdout_against_the_teacher_equals_holdout_against_identical_labels(tmp_path):
    pool = _pool()
    table = capacity_table(pool, pool[-4:], ("Pd", "H"), ["2b8-3b6x3-we1"], cache=str(tmp_path), progress=False)
    rows = table.set_index(["set", "family"])
    assert rows.loc[("train", "all"), "n_configs"] == 10 and rows.loc[("holdout", "all"), "n_configs"] == 4
    assert {("train", "strain"), ("train", "rattle")} <= set(rows.index)
    for col in ("energy_rmse_mev_per_atom", "forces_rmse_ev_per_a", "stress_rmse_gpa"):
        assert rows.loc[("holdout", "all"), col] == pytest.approx(rows.loc[("holdout_gpaw", "all"), col])
    assert set(table["candidate"]) == {"2b8-3b6x3-we1"}


def test_unknown_candidates_and_foreign_holdout_cells_are_named(tmp_path):
    pool = _pool()
    with pytest.raises(CandidateError, match="unknown POD candidate"):
        capacity_table(pool, pool[-2:], ("Pd", "H"), ["3b99"], cache=str(tmp_path), progress=False)
    stranger = _pdh_configs(1, seed=9)[0]
    stranger.info["config_id"] = "not-in-pool"
    with pytest.raises(CandidateError, match="not in the pool"):
        capacity_table(pool, [stranger], ("Pd", "H"), ["2b8-3b6x3-we1"], cache=str(tmp_path), progress=False)


def test_domain_limits_pressure_energy_window_and_forces():
    from screening.engine.fit_capacity import within_domain

    pool = _pool()[:6]
    for i, a in enumerate(pool):
        a.info["pressure_gpa"] = (0.0, 20.0, 40.0)[i % 3]
    assert within_domain(pool) == pool
    assert [a.info["pressure_gpa"] for a in within_domain(pool, min_pressure_gpa=20)] == [20.0, 40.0] * 2
    # the window is per H fraction: the lowest cell of each fraction always stays
    kept = within_domain(pool, energy_window_ev_per_atom=0.0)
    fractions = {round(a.get_chemical_symbols().count("H") / len(a), 6) for a in pool}
    assert len(kept) == len(fractions)
    fmax = sorted(abs(a.get_forces()).max() for a in pool)
    assert len(within_domain(pool, max_force_ev_per_a=fmax[2])) == 3
