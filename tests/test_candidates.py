import math

import pytest

from screening import (
    DEFAULT_H_PER_METAL,
    DEFAULT_PRESSURES_GPA,
    FAMILIES,
    CandidateError,
    DuplicateCandidateWarning,
    candidate_grid,
    candidates_from_formulas,
)


def test_default_grid_covers_families_ratios_and_pressures(default_grid):
    metals = set(default_grid["metal"])
    for family in ("alkali", "alkaline_earth", "rare_earth", "actinide", "transition", "post_transition", "metalloid"):
        assert set(FAMILIES[family]) <= metals, family
    assert {"La", "Y", "Ca", "Ce", "U", "Pu", "Th", "Li", "Na", "Ba"} <= metals
    assert {1, 2, 3, 4, 5, 6, 8, 9, 10, 12} <= set(default_grid["h_per_metal"])
    assert {0, 25, 50, 100, 150, 200, 300} <= set(default_grid["pressure_gpa"])
    assert len(default_grid) == len(metals) * len(DEFAULT_H_PER_METAL) * len(DEFAULT_PRESSURES_GPA)
    assert len(default_grid) >= 6000
    assert default_grid["candidate_id"].is_unique


def test_formulas_follow_pymatgen_conventions():
    df = candidates_from_formulas(["LaH10", "H3S", "La4H23", "CaH6"], [150])
    assert df["formula"].tolist() == ["LaH10", "H3S", "La4H23", "CaH6"]
    assert df["h_per_metal"].tolist() == pytest.approx([10, 3, 5.75, 6])
    assert df.loc[1, "metal"] == "S"


def test_override_axes():
    df = candidate_grid(["La", "Y"], [6, 9, 10], [100, 200])
    assert len(df) == 2 * 3 * 2
    assert set(df["pressure_gpa"]) == {100.0, 200.0}


def test_ternary_schema():
    df = candidate_grid(["La0.75Y0.25", "LaY"], [10], [150])
    assert df["metals"].tolist() == ["La,Y", "La,Y"]
    assert df["metal_fractions"].tolist() == ["0.75,0.25", "0.5,0.5"]
    assert df["formula"].tolist() == ["La3YH40", "LaYH20"]
    assert (df["metal_family"] == "mixed").all()
    assert df.loc[0, "chemsys"] == "H-La-Y"


@pytest.mark.parametrize("bad", ["Xx", "Qq2"])
def test_unknown_element_names_value_and_choices(bad):
    with pytest.raises(CandidateError) as err:
        candidate_grid([bad], [2], [0])
    msg = str(err.value)
    assert bad in msg and "Valid choices" in msg and "La" in msg


def test_non_hydride_former_element_is_rejected():
    with pytest.raises(CandidateError, match=r"'Ne'.*not a supported"):
        candidate_grid(["Ne"], [2], [0])


@pytest.mark.parametrize("formula, why", [("LaO", "no H"), ("La", "no H"), ("H2", "no metal"), ("XeH2", "not a supported")])
def test_bad_formulas(formula, why):
    with pytest.raises(CandidateError, match=why) as err:
        candidates_from_formulas([formula], [100])
    assert formula in str(err.value) or "Xe" in str(err.value)


def test_metal_system_with_h_is_rejected():
    with pytest.raises(CandidateError, match="contains H"):
        candidate_grid(["LaH3"], [2], [0])


@pytest.mark.parametrize("p, shown", [(-5, "-5.0"), (float("nan"), "nan"), ("abc", "'abc'"), (None, "None"), (True, "True"), (math.inf, "inf")])
def test_bad_pressures(p, shown):
    with pytest.raises(CandidateError, match="pressure_gpa") as err:
        candidate_grid(["La"], [10], [100, p])
    assert shown in str(err.value)


@pytest.mark.parametrize("x", [0, -1, -0.5])
def test_nonpositive_h_per_metal(x):
    with pytest.raises(CandidateError, match=r"h_per_metal must be > 0") as err:
        candidate_grid(["La"], [x], [100])
    assert repr(float(x)) in str(err.value)


def test_non_numeric_h_per_metal():
    with pytest.raises(CandidateError, match="'ten'"):
        candidate_grid(["La"], ["ten"], [100])


@pytest.mark.parametrize("kwargs", [dict(metals=[]), dict(h_per_metal=[]), dict(pressures_gpa=[])])
def test_empty_grid(kwargs):
    with pytest.raises(CandidateError, match="empty"):
        candidate_grid(**kwargs)


def test_duplicates_are_dropped_with_warning():
    with pytest.warns(DuplicateCandidateWarning, match=r"dropped 3 duplicated"):
        df = candidate_grid(["La", "La"], [10], [150, 150.0])
    assert len(df) == 1
    with pytest.warns(DuplicateCandidateWarning, match="LaH10@150GPa"):
        df = candidates_from_formulas(["LaH10", "La2H20"], [150])
    assert len(df) == 1
