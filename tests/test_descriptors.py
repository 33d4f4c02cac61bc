"""Descriptor values: against hand computation, against stock matminer, and physical trends."""

import math

import numpy as np
import pandas as pd
import pytest
from matminer.featurizers.base import BaseFeaturizer
from matminer.featurizers.composition import ElementProperty, Stoichiometry, ValenceOrbital
from pymatgen.core import Composition

from descriptors import (
    CompositionMatrix,
    HydrogenContent,
    MetalProperties,
    PressureVolume,
    VectorizedElementProperty,
    VectorizedStoichiometry,
    VectorizedValenceOrbital,
    featurize_candidates,
)
from descriptors.eos import h2_volume_per_molecule
from screening import candidate_grid, candidates_from_formulas

# Atomic masses as tabulated by pymatgen (amu).
M_H, M_LA, M_CA, M_S = 1.00794, 138.90547, 40.078, 32.065


@pytest.fixture(scope="module")
def three():
    df = candidates_from_formulas(["LaH10", "CaH6", "H3S"], [150])
    return featurize_candidates(df, progress=False).set_index("formula")


# ----------------------------------------------------------------------------- by hand
HAND = {
    "LaH10": dict(
        h_fraction=10 / 11,
        gravimetric_h_wt_pct=100 * 10 * M_H / (M_LA + 10 * M_H),
        mx_over_mh=M_LA / (10 * M_H),
        metal_electronegativity_pauling=1.10,
        electronegativity_gap_to_h=2.20 - 1.10,
        metal_valence_electrons=3,
        valence_electrons_per_h=3 / 10,
        metal_group=3,
        metal_period=6,
        metal_block_f=1,
        metal_metallic_radius_A=1.87,
        metal_covalent_radius_A=2.07,
    ),
    "CaH6": dict(
        h_fraction=6 / 7,
        gravimetric_h_wt_pct=100 * 6 * M_H / (M_CA + 6 * M_H),
        mx_over_mh=M_CA / (6 * M_H),
        metal_electronegativity_pauling=1.00,
        electronegativity_gap_to_h=1.20,
        metal_valence_electrons=2,
        valence_electrons_per_h=2 / 6,
        metal_group=2,
        metal_period=4,
        metal_block_s=1,
        metal_metallic_radius_A=1.97,
        metal_covalent_radius_A=1.76,
    ),
    "H3S": dict(
        h_fraction=3 / 4,
        gravimetric_h_wt_pct=100 * 3 * M_H / (M_S + 3 * M_H),
        mx_over_mh=M_S / (3 * M_H),
        metal_electronegativity_pauling=2.58,
        electronegativity_gap_to_h=2.20 - 2.58,
        metal_valence_electrons=6,
        valence_electrons_per_h=2.0,
        metal_group=16,
        metal_period=3,
        metal_block_p=1,
        metal_covalent_radius_A=1.05,
    ),
}

# Magpie statistics of Z (the "Number" property) and Stoichiometry norms, by hand.
MAGPIE_HAND = {
    # formula: (x_metal, Z_metal, n_H per formula unit)
    "LaH10": (1 / 11, 57),
    "CaH6": (1 / 7, 20),
    "H3S": (1 / 4, 16),
}


@pytest.mark.parametrize("formula", list(HAND))
def test_hydride_descriptors_match_hand_values(three, formula):
    row = three.loc[formula]
    for column, expected in HAND[formula].items():
        assert row[column] == pytest.approx(expected, rel=1e-9, abs=1e-12), column


@pytest.mark.parametrize("formula", list(MAGPIE_HAND))
def test_magpie_and_stoichiometry_match_hand_values(three, formula):
    x_m, z = MAGPIE_HAND[formula]
    x_h = 1 - x_m
    row = three.loc[formula]
    mean = x_m * z + x_h * 1
    assert row["MagpieData mean Number"] == pytest.approx(mean)
    assert row["MagpieData minimum Number"] == 1
    assert row["MagpieData maximum Number"] == z
    assert row["MagpieData range Number"] == z - 1
    assert row["MagpieData avg_dev Number"] == pytest.approx(x_m * abs(z - mean) + x_h * abs(1 - mean))
    assert row["MagpieData mode Number"] == 1  # H is the majority element
    assert row["0-norm"] == 2
    assert row["2-norm"] == pytest.approx(math.sqrt(x_m**2 + x_h**2))
    assert row["10-norm"] == pytest.approx((x_m**10 + x_h**10) ** 0.1)


def test_h3s_valence_orbitals_by_hand(three):
    # S: 2 s + 4 p valence electrons; H: 1 s. x_S = 1/4.
    row = three.loc["H3S"]
    avg_s = 0.25 * 2 + 0.75 * 1
    avg_p = 0.25 * 4
    assert row["avg s valence electrons"] == pytest.approx(avg_s)
    assert row["avg p valence electrons"] == pytest.approx(avg_p)
    assert row["frac p valence electrons"] == pytest.approx(avg_p / (avg_s + avg_p))


# ----------------------------------------------------------------------------- vs matminer
@pytest.fixture(scope="module")
def sample():
    grid = candidate_grid()
    rng = np.random.default_rng(7)
    binaries = grid.iloc[rng.choice(len(grid), 40, replace=False)]
    ternaries = candidate_grid(["La0.5Y0.5", "Ca0.25Th0.75", "Li2Mg"], [3, 6.5, 9], [0, 100])
    return pd.concat([binaries, ternaries], ignore_index=True)


@pytest.mark.parametrize(
    "vectorized, stock",
    [
        (VectorizedElementProperty.from_preset("magpie"), ElementProperty.from_preset("magpie", impute_nan=False)),
        (VectorizedStoichiometry(), Stoichiometry()),
        (VectorizedValenceOrbital(), ValenceOrbital()),
    ],
    ids=["ElementProperty-magpie", "Stoichiometry", "ValenceOrbital"],
)
def test_vectorized_equals_stock_matminer(sample, vectorized, stock):
    ours = vectorized.featurize_matrix(CompositionMatrix.from_candidates(sample))
    theirs = np.array([stock.featurize(Composition(f)) for f in sample["formula"]], dtype=float)
    assert vectorized.feature_labels() == stock.feature_labels()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("featurizer", [HydrogenContent(), MetalProperties(), PressureVolume()])
def test_hydride_featurizers_are_matminer_featurizers(featurizer):
    assert isinstance(featurizer, BaseFeaturizer)
    assert featurizer.feature_labels() and featurizer.citations() and featurizer.implementors()
    df = pd.DataFrame({"composition": [Composition("LaH10"), Composition("YH6")], "pressure_gpa": [150.0, 150.0]})
    cols = ["composition", "pressure_gpa"] if featurizer.needs_pressure else "composition"
    out = featurizer.featurize_dataframe(df, cols, pbar=False)
    assert out[featurizer.feature_labels()].notna().all().all()


def test_row_and_matrix_paths_agree(sample):
    cm = CompositionMatrix.from_candidates(sample)
    p = sample["pressure_gpa"].to_numpy()
    f = PressureVolume()
    matrix = f.featurize_matrix(cm, p)
    for i in (0, 17, len(sample) - 1):
        np.testing.assert_allclose(f.featurize(sample["formula"].iloc[i], p[i]), matrix[i], rtol=1e-10)


# ----------------------------------------------------------------------------- physics
def test_solid_h2_eos_reproduces_loubeyre_volumes():
    # shared/data/README.md: 6.36, 4.89, 4.15 Å^3 per H2 at 50, 100, 150 GPa.
    np.testing.assert_allclose(h2_volume_per_molecule([50, 100, 150]), [6.36, 4.89, 4.15], rtol=5e-3)


def test_lah10_volume_estimate_against_experiment():
    # Drozdov et al. 2019: 33.2 Å^3 per La at 150 GPa. The ideal-mixing estimate is held to ±10 %.
    row = dict(zip(PressureVolume().feature_labels(), PressureVolume().featurize("LaH10", 150.0)))
    assert row["volume_per_metal_est_A3"] == pytest.approx(33.2, rel=0.10)


def test_pressure_trends():
    df = featurize_candidates(candidates_from_formulas(["LaH10", "CaH6"], [0, 25, 50, 100, 150, 200, 300]), progress=False)
    for _, g in df.groupby("formula"):
        g = g.sort_values("pressure_gpa")
        assert np.all(np.diff(g["volume_per_metal_est_A3"]) < 0), "volume must fall with pressure"
        assert np.all(np.diff(g["metallic_radius_at_p_A"]) < 0)
        assert np.all(np.diff(g["volumetric_h_density_g_per_l"]) > 0), "H density must rise with pressure"
        assert np.all(np.diff(g["pv_per_metal_ev"]) > 0)
        assert g["metal_compression_est"].iloc[0] == pytest.approx(1.0)
        assert (g["metal_compression_est"].iloc[1:] < 1).all()


def test_gravimetric_density_of_cah4_matches_seed_study():
    # Sato et al. (PNAS 2025): CaH4 stores about 90 g H2 per kg.
    row = dict(zip(HydrogenContent().feature_labels(), HydrogenContent().featurize("CaH4")))
    assert row["gravimetric_h_wt_pct"] * 10 == pytest.approx(90, rel=0.03)


def test_default_grid_descriptors_are_complete(default_grid):
    df = featurize_candidates(default_grid, progress=False)
    numeric = df.select_dtypes("number")
    assert numeric.shape[1] > 150
    assert not numeric.isna().any().any(), numeric.columns[numeric.isna().any()].tolist()
