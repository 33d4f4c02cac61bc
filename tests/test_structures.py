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


def _ibz_kpoints(atoms, density: float = 4.0) -> int:
    import spglib
    from ase.calculators.calculator import kptdensity2monkhorstpack

    mesh = kptdensity2monkhorstpack(atoms, density, even=False)
    mapping, _ = spglib.get_ir_reciprocal_mesh(mesh, (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers),
                                               is_shift=[0, 0, 0], symprec=1e-7)
    return len(np.unique(mapping))


def test_standardize_primitive_restores_the_exact_space_group_of_a_noisy_relaxed_cell():
    import spglib
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.structures.symmetry import standardize_primitive

    ideal = AseAtomsAdaptor.get_atoms(build_structure(load_templates()["fluorite"], "Ca", 150.0))
    noisy = ideal.copy()
    rng = np.random.default_rng(0)
    noisy.positions += rng.normal(0.0, 2e-6, noisy.positions.shape)  # the float32 noise an ML relaxation leaves
    noisy.set_cell(noisy.cell[:] @ (np.eye(3) + rng.normal(0.0, 1e-6, (3, 3))), scale_atoms=True)
    assert spglib.get_spacegroup((noisy.cell[:], noisy.get_scaled_positions(), noisy.numbers), symprec=1e-7) == "P1 (1)"

    fixed, group = standardize_primitive(noisy)
    assert group == "Fm-3m (225)"
    assert len(fixed) == 3  # primitive cell of the conventional 12-atom input
    assert spglib.get_spacegroup((fixed.cell[:], fixed.get_scaled_positions(), fixed.numbers), symprec=1e-7) == group
    assert fixed.get_volume() / len(fixed) == pytest.approx(noisy.get_volume() / len(noisy), rel=1e-5)
    assert sorted(fixed.get_chemical_symbols()) == ["Ca", "H", "H"]
    # what it buys: the irreducible k-points of the converged density in the same primitive cell (GPAW samples the
    # same way), exact symmetry against the same noise as above
    noisy_primitive = fixed.copy()
    noisy_primitive.positions += rng.normal(0.0, 2e-6, noisy_primitive.positions.shape)
    assert _ibz_kpoints(fixed) * 5 < _ibz_kpoints(noisy_primitive)


def test_standardize_primitive_keeps_a_real_distortion():
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.structures.symmetry import standardize_primitive

    atoms = AseAtomsAdaptor.get_atoms(build_structure(load_templates()["fluorite"], "Ca", 150.0))
    atoms.positions[1] += [0.05, 0.0, 0.0]  # 50x the tolerance: a distortion, not noise
    fixed, group = standardize_primitive(atoms)
    assert group != "Fm-3m (225)"
    assert len(fixed) == len(atoms)


def test_kpoint_mesh_keeps_the_point_group_of_a_body_centred_tetragonal_cell():
    import spglib
    from ase.calculators.calculator import kptdensity2monkhorstpack
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS
    from screening.structures.symmetry import kpoint_mesh, standardize_primitive

    def ibz(atoms, mesh):
        mapping, _ = spglib.get_ir_reciprocal_mesh(mesh, (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers),
                                                   is_shift=[0, 0, 0], symprec=1e-7)
        return len(np.unique(mapping))

    def ops_keeping(atoms, mesh):  # point-group operations that map the Γ-centred grid onto itself
        rotations = spglib.get_symmetry((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=1e-7)["rotations"]
        n = np.array(mesh)
        grid = np.stack(np.meshgrid(*[np.arange(k) for k in mesh], indexing="ij"), -1).reshape(-1, 3) / n
        keep = 0
        for r in rotations:
            image = (grid @ np.linalg.inv(r)) * n  # k' = (r^-1)^T k: reciprocal coordinates
            keep += bool(np.allclose(image, np.round(image), atol=1e-9))
        return keep, len(rotations)

    bct, group = standardize_primitive(AseAtomsAdaptor.get_atoms(build_structure(load_templates()["thcr2si2"], "La", 150.0)))
    assert group == "I4/mmm (139)"
    rule = [int(n) for n in kptdensity2monkhorstpack(bct, 4.0, even=False)]
    mesh = kpoint_mesh(bct, 4.0)
    assert len(set(rule)) > 1 and len(set(mesh)) == 1  # the rule breaks the symmetry, the mesh does not
    assert all(m >= r for m, r in zip(mesh, rule))  # never coarser than asked for
    kept, total = ops_keeping(bct, mesh)
    assert kept == total and ops_keeping(bct, rule)[0] < total
    assert DEFAULT_DFT_SETTINGS.calculator_settings(bct)["kpts_size"] == list(mesh)

    fcc, _ = standardize_primitive(AseAtomsAdaptor.get_atoms(build_structure(load_templates()["fluorite"], "Ca", 150.0)))
    assert kpoint_mesh(fcc, 4.0) == tuple(int(n) for n in kptdensity2monkhorstpack(fcc, 4.0, even=False))
    assert "kpts_size" not in DEFAULT_DFT_SETTINGS.calculator_settings(fcc)  # cache keys of cubic cells unchanged
    from ase.build import bulk

    hcp = bulk("Mg", "hcp", a=3.2, c=5.2)
    assert kpoint_mesh(hcp, 4.0)[0] == kpoint_mesh(hcp, 4.0)[1] != kpoint_mesh(hcp, 4.0)[2]  # c is not mixed with a, b
