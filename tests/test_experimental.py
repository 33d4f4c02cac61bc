import pandas as pd
import pytest

from screening import CandidateError, DEFAULT_H_PER_METAL, DEFAULT_PRESSURES_GPA
from screening.experimental import default_path, load_experimental, located_positives, observed_pressure


def test_table_is_the_shared_copy_with_sources():
    table = load_experimental()
    assert len(table) >= 40
    assert table["reference"].notna().all()
    assert (table["doi"].notna() | table["note"].notna()).all()


def test_observed_pressure_preference_order():
    table = pd.DataFrame(
        {
            "synthesis_pressure_gpa": [150.0, None, None, None],
            "p_min_gpa": [None, 50.0, None, None],
            "p_max_gpa": [None, 180.0, 237.0, None],
            "tc_pressure_gpa": [None, None, None, 166.0],
        }
    )
    obs = observed_pressure(table)
    assert obs["observed_pressure_gpa"].tolist() == [150.0, 115.0, 237.0, 166.0]
    assert obs["pressure_source"].tolist() == ["synthesis_pressure_gpa", "p_range_midpoint", "p_max_gpa", "tc_pressure_gpa"]


def test_located_positives_snap_to_grid_and_report_drops():
    pos = located_positives(load_experimental(), DEFAULT_H_PER_METAL, DEFAULT_PRESSURES_GPA)
    lah10 = pos[(pos["metal"] == "La") & (pos["h_per_metal"] == 10)]
    assert sorted(lah10["pressure_gpa"].unique()) == [150.0, 200.0]
    assert set(pos["pressure_gpa"]) <= set(DEFAULT_PRESSURES_GPA)
    dropped = pos.attrs["dropped"]
    assert set(dropped["formula"]) == {"CaH2", "Eu8H46"}  # no pressure reported for either


def test_table_without_sources_is_rejected(tmp_path):
    bad = tmp_path / "bad.csv"
    table = pd.read_csv(default_path()).head(3)
    table.loc[1, "reference"] = None
    table.to_csv(bad, index=False)
    with pytest.raises(CandidateError, match=r"bad.csv: experimental table has no reference on line\(s\) \[3\]"):
        load_experimental(bad)
