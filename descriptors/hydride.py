"""Hydride-specific featurizers (matminer ``BaseFeaturizer`` subclasses).

All three work on a :class:`CompositionMatrix` at once; ``featurize(comp[, p])``
is the matminer-compatible one-row entry point. "Metal" means every non-H
element (so S in H3S); for ternaries, metal properties are averages weighted by
the metal-sublattice fractions.

Column names and meanings are listed in each class's ``feature_docs``; the
README table is generated from them (:func:`descriptors.pipeline.column_docs`).
"""

from __future__ import annotations

import numpy as np

from descriptors.base import MatrixFeaturizer
from descriptors.composition_matrix import CompositionMatrix
from descriptors.elements import element_table
from descriptors.eos import GPA_A3_TO_EV, h2_volume_per_molecule, reference_constants, vinet_volume

AVOGADRO = 6.02214076e23

_IMPLEMENTORS = ["superhydride-screening developers"]

_WARD_2016 = (
    "@article{ward2016, title={A general-purpose machine learning framework for predicting properties "
    "of inorganic materials}, author={Ward, Logan and Agrawal, Ankit and Choudhary, Alok and "
    "Wolverton, Christopher}, journal={npj Computational Materials}, volume={2}, pages={16028}, "
    "year={2016}, doi={10.1038/npjcompumats.2016.28}}"
)


def _metal_average(cm: CompositionMatrix, column: str) -> np.ndarray:
    """Metal-sublattice-weighted mean of an element property."""
    values = element_table(cm.elements)[column].to_numpy(dtype=float)
    values = np.where(np.array(cm.elements) == "H", 0.0, values)
    return cm.metal_fractions @ values


def _h_per_metal(cm: CompositionMatrix) -> np.ndarray:
    h = cm.h_fraction
    with np.errstate(divide="ignore"):
        return np.where(h < 1.0, h / (1.0 - h), np.inf)


class HydrogenContent(MatrixFeaturizer):
    """Hydrogen content and mass ratios of a hydride composition."""

    feature_docs = {
        "h_fraction": "atomic fraction of hydrogen, x/(1+x) for MH_x",
        "h_per_metal": "H atoms per metal atom (x in MH_x)",
        "gravimetric_h_wt_pct": "hydrogen mass fraction, wt% (100 m_H / m_total)",
        "mx_over_mh": "mass of non-H atoms over mass of H atoms, M_X/M_H (Wrona et al. 2024)",
    }

    def featurize_matrix(self, cm: CompositionMatrix, pressure_gpa: np.ndarray | None = None) -> np.ndarray:
        mass = element_table(cm.elements)["atomic_mass_amu"].to_numpy(dtype=float)
        weighted = cm.fractions * mass  # (N, M) mass per formula atom
        m_h = weighted[:, cm.h_index]
        m_total = weighted.sum(axis=1)
        return np.column_stack(
            [cm.h_fraction, _h_per_metal(cm), 100.0 * m_h / m_total, (m_total - m_h) / m_h]
        )

    def feature_labels(self) -> list[str]:
        return list(self.feature_docs)

    def citations(self) -> list[str]:
        return [
            "@article{wrona2024, title={A recipe for an effective selection of promising candidates for "
            "high-temperature superconductors among binary hydrides}, author={Wrona, Izabela A. and "
            "Niegodajew, Pawe{\\l} and Durajski, Artur P.}, journal={arXiv:2409.16070}, year={2024}}"
        ]

    def implementors(self) -> list[str]:
        return _IMPLEMENTORS


class MetalProperties(MatrixFeaturizer):
    """Elemental properties of the metal sublattice relevant to hydride formation."""

    feature_docs = {
        "metal_electronegativity_pauling": "Pauling electronegativity of the metal (pymatgen)",
        "electronegativity_gap_to_h": "X(H) - X(metal), Pauling; positive for hydridic H",
        "metal_metallic_radius_A": "metallic radius of the metal, Å (pymatgen; atomic radius where none)",
        "metal_covalent_radius_A": "covalent radius of the metal, Å (Magpie)",
        "metal_valence_electrons": "valence electron count of the metal (Magpie NValence)",
        "valence_electrons_per_h": "metal valence electrons available per H atom",
        "metal_atomic_mass_amu": "atomic mass of the metal, amu",
        "metal_group": "periodic-table group of the metal (3 for lanthanides/actinides)",
        "metal_period": "periodic-table period (row) of the metal",
        "metal_block_s": "1 if the metal is s-block (fraction for mixed-metal candidates)",
        "metal_block_p": "1 if the metal is p-block",
        "metal_block_d": "1 if the metal is d-block",
        "metal_block_f": "1 if the metal is f-block",
    }

    def featurize_matrix(self, cm: CompositionMatrix, pressure_gpa: np.ndarray | None = None) -> np.ndarray:
        table = element_table(cm.elements)
        x_h = float(table.at["H", "electronegativity_pauling"])
        chi = _metal_average(cm, "electronegativity_pauling")
        valence = _metal_average(cm, "valence_electrons")
        group = table["group"].to_numpy(dtype=float)
        group = np.where(np.isnan(group), 3.0, group)  # pymatgen has no group for La/Ac series
        blocks = [(table["block"] == b).to_numpy(dtype=float) for b in ("s", "p", "d", "f")]
        mf = cm.metal_fractions
        return np.column_stack(
            [
                chi,
                x_h - chi,
                _metal_average(cm, "metallic_radius_A"),
                _metal_average(cm, "covalent_radius_A"),
                valence,
                valence / _h_per_metal(cm),
                _metal_average(cm, "atomic_mass_amu"),
                mf @ group,
                _metal_average(cm, "period"),
                *[mf @ b for b in blocks],
            ]
        )

    def feature_labels(self) -> list[str]:
        return list(self.feature_docs)

    def citations(self) -> list[str]:
        return [_WARD_2016]

    def implementors(self) -> list[str]:
        return _IMPLEMENTORS


class PressureVolume(MatrixFeaturizer):
    """Pressure and pressure-scaled size descriptors from an ideal-mixing volume estimate.

    Volume per metal atom at pressure P (Zen's law / ideal mixing):

        V(P) = sum_i w_i V_i(P) + x * v_H(P)

    * ``V_i(P)``: Vinet EOS of the elemental metal with V0 = pymatgen molar volume,
      K0 = pymatgen bulk modulus (block median where missing) and K0' = 4.
    * ``v_H(P) = min(2.9 Å^3, V_H2(P)/2)``: the interstitial-H volume of metal hydrides
      (Fukai 2005) until dense molecular hydrogen (Loubeyre et al. 2020 Vinet EOS of
      solid H2) becomes the smaller of the two, above ~60 GPa.

    It is an *estimate* for ranking, not a structure: for LaH10 at 150 GPa it gives
    ~38 Å^3/La against the measured 33.2 Å^3/La (Drozdov et al. 2019).
    """

    needs_pressure = True

    feature_docs = {
        "metal_compression_est": "V_metal(P)/V_metal(0) from the elemental Vinet EOS",
        "metallic_radius_at_p_A": "metallic radius scaled by (V(P)/V(0))^(1/3), Å",
        "covalent_radius_at_p_A": "covalent radius scaled by (V(P)/V(0))^(1/3), Å",
        "h_volume_est_A3": "volume per H atom, min(interstitial 2.9 Å^3, V_H2(P)/2), Å^3",
        "volume_per_metal_est_A3": "ideal-mixing volume per metal atom at P, Å^3",
        "volumetric_h_density_g_per_l": "hydrogen mass per volume from the volume estimate, g/L",
        "pv_per_metal_ev": "P*V term of the enthalpy per metal atom from the volume estimate, eV",
    }

    def featurize_matrix(self, cm: CompositionMatrix, pressure_gpa: np.ndarray | None = None) -> np.ndarray:
        if pressure_gpa is None:
            raise ValueError("PressureVolume needs a pressure_gpa vector")
        p = np.asarray(pressure_gpa, dtype=float)
        table = element_table(cm.elements)
        consts = reference_constants()
        is_metal = np.array(cm.elements) != "H"
        v0 = table["molar_volume_A3"].to_numpy(dtype=float)
        k0 = table["bulk_modulus_gpa"].to_numpy(dtype=float)
        mf = cm.metal_fractions  # (N, M)
        # Only distinct (element, pressure) pairs need an EOS solve.
        pressures, inverse = np.unique(p, return_inverse=True)
        v_el = np.ones((pressures.size, len(cm.elements)))
        v_el[:, is_metal] = vinet_volume(
            pressures[:, None], v0[is_metal], k0[is_metal], consts["metal_vinet_k0p"]
        )
        v_el_rows = v_el[inverse]  # (N, M), H column is a dummy 1.0 with zero metal weight
        v_metal_p = np.einsum("nm,nm->n", mf, np.where(is_metal, v_el_rows, 0.0))
        v_metal_0 = mf @ np.where(is_metal, v0, 0.0)
        scale = np.cbrt(np.where(is_metal, v_el_rows / np.where(is_metal, v0, 1.0), 0.0))
        r_met = np.nan_to_num(table["metallic_radius_A"].to_numpy(dtype=float))
        r_cov = np.nan_to_num(table["covalent_radius_A"].to_numpy(dtype=float))
        v_h = np.minimum(consts["interstitial_h_volume"], 0.5 * h2_volume_per_molecule(pressures))[inverse]
        x = _h_per_metal(cm)
        v_fu = v_metal_p + x * v_h
        h_mass = float(table.at["H", "atomic_mass_amu"])
        rho_h = x * h_mass / (AVOGADRO * v_fu * 1.0e-24) * 1000.0  # g/L
        return np.column_stack(
            [
                v_metal_p / v_metal_0,
                np.einsum("nm,nm->n", mf, scale * r_met),
                np.einsum("nm,nm->n", mf, scale * r_cov),
                v_h,
                v_fu,
                rho_h,
                p * v_fu * GPA_A3_TO_EV,
            ]
        )

    def feature_labels(self) -> list[str]:
        return list(self.feature_docs)

    def citations(self) -> list[str]:
        return [
            "@article{loubeyre2020, title={Synchrotron infrared spectroscopic evidence of the probable "
            "transition to metal hydrogen}, author={Loubeyre, Paul and Occelli, Florent and Dumas, Paul}, "
            "journal={Nature}, volume={577}, pages={631--635}, year={2020}, doi={10.1038/s41586-019-1927-3}}",
            "@book{fukai2005, title={The Metal-Hydrogen System: Basic Bulk Properties}, author={Fukai, Yuh}, "
            "edition={2}, series={Springer Series in Materials Science 21}, publisher={Springer}, year={2005}}",
        ]

    def implementors(self) -> list[str]:
        return _IMPLEMENTORS
