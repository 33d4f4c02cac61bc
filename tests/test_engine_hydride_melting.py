"""Hydride melting with the engine's potential (screening.engine.hydride_melting): ids, structures, the committed
table and its merge into a ranking (the MD itself is the melting tier's, tested there)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screening.engine import hydride_melting as hm
from screening.engine import melting_table as mt
from screening.errors import CandidateError


def test_ids_match_the_ranking_and_the_structures_are_the_engines_templates():
    import screening

    grid = screening.candidate_grid(metals=["Ca"], h_per_metal=[2.0, 4.0], pressures_gpa=[40.0])
    assert set(grid["candidate_id"]) == {hm.candidate_id("Ca", 2.0, 40.0), hm.candidate_id("Ca", 4.0, 40.0)}
    s, name = hm.hydride_structure("Ca", 4.0, 40.0)
    assert s.composition.reduced_formula == "CaH4" and s.get_space_group_info()[0] == "I4/mmm"
    assert hm.hydride_structure("Ca", 2.0, 20.0)[1] == "cotunnite"


def test_merge_replaces_only_the_rows_the_table_covers():
    ranking = pd.DataFrame({"candidate_id": ["CaH4@40GPa", "YH6@150GPa"], "metals": ["Ca", "Y"],
                            "tm_metal_k": [np.nan, 2100.0], "melting_status": [np.nan, "ok"]})
    table = pd.DataFrame({"candidate_id": ["CaH4@40GPa", "CaH2@40GPa"], "tm_metal_k": [1900.0, 2500.0],
                          "tm_metal_err_k": [120.0, 150.0], "melting_status": ["ok", "ok"],
                          "melting_method": ["hysteresis"] * 2, "melting_calculator": ["lammps POD"] * 2})
    out = mt.merge_into_ranking(ranking, table)
    assert list(out["candidate_id"]) == list(ranking["candidate_id"])
    assert out.loc[0, "tm_metal_k"] == 1900.0 and out.loc[0, "tm_metal_err_k"] == 120.0
    assert out.loc[1, "tm_metal_k"] == 2100.0 and out.loc[1, "melting_status"] == "ok"
    assert np.isnan(out.loc[1, "tm_metal_err_k"])
    with pytest.raises(CandidateError, match="candidate_id"):
        mt.merge_into_ranking(ranking.drop(columns="candidate_id"), table)


def test_a_table_without_its_columns_is_named_and_bad_cli_input_exits_2(tmp_path, capsys):
    d = tmp_path / "Ca-H"
    d.mkdir()
    assert mt.committed_melting("Ca", tmp_path) is None
    (d / mt.MELTING_FILE).write_text("a,b\n1,2\n")
    with pytest.raises(CandidateError, match="melting.csv: not a melting table"):
        mt.committed_melting("Ca", tmp_path)
    assert hm.main(["--pressures", "40,abc"]) == 2
    assert "error:" in capsys.readouterr().err
    assert hm.main(["--pressures", "-5"]) == 2


def test_a_hydrogen_pair_is_not_a_blow_up_in_a_template_without_one():
    from ase.build import bulk

    from screening.md import to_atoms
    from screening.md.runner import H_PAIR_FLOOR_A, blowup_distance

    s, _ = hm.hydride_structure("Ca", 4.0, 40.0)  # I4/mmm CaH4 template: shortest H-H 1.5 A, no H2 unit
    atoms = to_atoms(s)
    assert blowup_distance(atoms) == H_PAIR_FLOOR_A < 0.68  # a 0.68-A H-H bond formed in hot CaH4 is physical
    cu = bulk("Cu", "fcc", a=3.6)
    assert blowup_distance(cu) == pytest.approx(0.5 * 3.6 / 2 ** 0.5)  # no hydrogen: half the shortest distance


def test_a_run_replaces_its_own_rows_and_keeps_the_others(tmp_path):
    (tmp_path / "Ca-H").mkdir()

    def rows(ids, tm, pot):
        return pd.DataFrame({"candidate_id": ids, "h_per_metal": [float(i[3]) for i in ids],
                             "pressure_gpa": [float(i.split("@")[1][:-3]) for i in ids], "tm_metal_k": tm,
                             "melting_status": ["ok"] * len(ids), "potential": [pot] * len(ids)})

    hm.write_table(rows(["CaH2@40GPa", "CaH4@40GPa"], [2000.0, 2500.0], "POD a"), "Ca", tmp_path)
    hm.write_table(rows(["CaH2@20GPa", "CaH4@40GPa"], [1800.0, 2600.0], "POD b"), "Ca", tmp_path)
    t = mt.committed_melting("Ca", tmp_path)
    assert t["candidate_id"].tolist() == ["CaH2@20GPa", "CaH2@40GPa", "CaH4@40GPa"]
    assert t["tm_metal_k"].tolist() == [1800.0, 2000.0, 2600.0]
    assert t["potential"].tolist() == ["POD b", "POD a", "POD b"]



def test_committed_tables_fill_the_rows_without_a_melting_temperature(tmp_path):
    (tmp_path / "Ca-H").mkdir()
    hm.write_table(pd.DataFrame({"candidate_id": ["CaH4@40GPa", "CaH2@40GPa"], "h_per_metal": [4.0, 2.0],
                                 "pressure_gpa": [40.0, 40.0], "tm_metal_k": [1864.0, 2336.0],
                                 "melting_status": ["ok", "ok"], "melting_calculator": ["lammps POD"] * 2}),
                   "Ca", tmp_path)
    frame = pd.DataFrame({"candidate_id": ["CaH4@40GPa", "CaH2@40GPa", "CaH6@40GPa", "YH6@150GPa"],
                          "metals": ["Ca", "Ca", "Ca", "Y"], "tm_metal_k": [np.nan, 2000.0, np.nan, np.nan]})
    out = mt.with_committed_melting(frame, tmp_path)
    assert out["candidate_id"].tolist() == frame["candidate_id"].tolist()
    assert out.loc[0, "tm_metal_k"] == 1864.0 and out.loc[0, "melting_calculator"] == "lammps POD"
    assert out.loc[1, "tm_metal_k"] == 2000.0  # a T_m of its own is kept
    assert np.isnan(out.loc[2, "tm_metal_k"]) and np.isnan(out.loc[3, "tm_metal_k"])  # not in any table
    assert mt.with_committed_melting(frame.drop(columns="metals"), tmp_path) is not None



def test_a_screen_puts_the_committed_melting_temperature_into_its_window(tmp_path):
    """``screening.screen`` reads the committed Ca-H table: CaH4 at 40 GPa gets its tier-2b T_m and window, with the
    potential named; a metal without a table keeps the tier-1 estimate."""
    import screening

    committed = mt.committed_melting("Ca").set_index("candidate_id")
    df = screening.screen(metals=["Ca", "Sr"], h_per_metal=[4.0], pressures_gpa=[40.0], cache=tmp_path,
                          progress=False).set_index("candidate_id")
    ca = df.loc["CaH4@40GPa"]
    assert ca["tm_metal_k"] == committed.loc["CaH4@40GPa", "tm_metal_k"]
    assert ca["melting_calculator"] == committed.loc["CaH4@40GPa", "melting_calculator"]
    assert ca["t_max_k"] == ca["tm_metal_k"] and str(ca["t_window_source"]).startswith("tier-2")
    assert np.isnan(df.loc["SrH4@40GPa", "tm_metal_k"])
    assert not str(df.loc["SrH4@40GPa", "t_window_source"]).startswith("tier-2")
