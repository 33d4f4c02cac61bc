import dataclasses

import numpy as np
import pytest

from screening.structures import StructureError, build_structure, check_distances, h2_structure, load_templates
from screening.structures.builder import shortest_distances, target_volume_per_metal


@pytest.mark.parametrize("name", list(load_templates()))
def test_every_template_builds_with_its_space_group_and_sane_distances(name):
    t = load_templates()[name]
    s = build_structure(t, "La", 150.0)
    assert s.composition.reduced_composition["H"] / s.composition.reduced_composition["La"] == pytest.approx(t.h_per_metal)
    assert s.get_space_group_info(symprec=1e-3)[1] == t.number
    n_la = s.composition["La"]
    assert s.volume / n_la == pytest.approx(target_volume_per_metal("La", t.h_per_metal, 150.0), rel=1e-6)
    assert t.source and t.wyckoff_status in ("prototype", "starting-guess")


def test_cotunnite_cah2_reproduces_neutron_bond_lengths():
    # Alonso et al., Z. Kristallogr. 225, 225 (2010): mean Ca-H1 2.279 Å, Ca-H2 2.544 Å.
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    s = load_templates()["cotunnite"].conventional("Ca")
    means = []
    for orbit in SpacegroupAnalyzer(s).get_symmetrized_structure().equivalent_sites:
        if orbit[0].specie.symbol == "H":
            means.append(np.mean([n.nn_distance for n in s.get_neighbors(orbit[0], 2.8) if n.specie.symbol == "Ca"]))
    assert sorted(means) == pytest.approx([2.279, 2.544], abs=0.03)


def test_wrong_wyckoff_parameter_is_caught():
    # x = 0.12 instead of 0.379 for the LaH10 32f site puts H 1.07 Å from La (the classic silent error).
    t = load_templates()["fcc_clathrate"]
    sites = tuple(dict(s, coords=[0.12, 0.12, 0.12]) if s["wyckoff"] == "32f" else s for s in t.sites)
    bad = dataclasses.replace(t, sites=sites)
    with pytest.raises(StructureError, match=r"M-H distance 1\.\d+ Å is below"):
        build_structure(bad, "La", 150.0)


def test_h2_reference_has_molecular_bond_and_eos_volume():
    s = h2_structure(100.0)
    assert shortest_distances(s)["H-H"] == pytest.approx(0.74, abs=1e-3)
    assert s.volume / 2 == pytest.approx(4.89, rel=0.01)  # Loubeyre et al. 2020 at 100 GPa
    check_distances(s)
