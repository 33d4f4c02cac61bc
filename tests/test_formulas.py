"""Chemists' formulas (metal first, H last; H first for S/Se/Te) in every column that prints one."""

import pytest

from screening.candidates import candidate_grid, candidates_from_formulas
from screening.formulas import chemical_formula, hydride_formula


@pytest.mark.parametrize("given, expected", [
    ("H3Pd", "PdH3"), ("H23Pd4", "Pd4H23"), ("HPd", "PdH"), ("Pd8H46", "Pd4H23"), ("H10La", "LaH10"),
    ("SH2", "H2S"), ("SH3", "H3S"), ("SeH3", "H3Se"), ("TeH2", "H2Te"), ("AsH3", "AsH3"),
    ("LaYH20", "LaYH20"), ("H", "H"), ("La", "La"),
])
def test_chemical_formula_orders_metal_first(given, expected):
    assert chemical_formula(given) == expected


@pytest.mark.parametrize("metal, x, expected", [
    ("Pd", 3, "PdH3"), ("Pd", 5.75, "Pd4H23"), ("Pd", 1, "PdH"), ("S", 2, "H2S"), ("La", 10, "LaH10"),
    ("La", 9.999999999999996, "LaH10"), ("Ca", 2.5, "Ca2H5"), ("Ca", 0, "Ca"), (("La", "Y"), 10, "LaYH20"),
])
def test_hydride_formula(metal, x, expected):
    assert hydride_formula(metal, x) == expected


def test_candidate_formulas_and_ids_are_metal_first():
    df = candidates_from_formulas(["PdH3", "H23Pd4", "HPd", "H3S", "LaH10"], [100])
    assert df["formula"].tolist() == ["PdH3", "Pd4H23", "PdH", "H3S", "LaH10"]
    assert df["candidate_id"].tolist() == ["PdH3@100GPa", "Pd4H23@100GPa", "PdH@100GPa", "H3S@100GPa", "LaH10@100GPa"]
    grid = candidate_grid(metals=["Pd", "Pt", "Au"], pressures_gpa=[0])
    assert not grid["formula"].str.match(r"^H").any(), grid["formula"].tolist()


def test_precursor_columns_use_the_same_function():
    from screening.window import hydride_formula as window_formula

    assert window_formula("S", 2) == "H2S"
    assert window_formula("Pd", 0.75) == "Pd4H3"
