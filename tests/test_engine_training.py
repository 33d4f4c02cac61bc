"""Tier-3 training data: configuration families, FPS selection, committee spread, cached labels.

Fast: EMT (Pd-H, Cu) as teacher and labeller, tiny MD; GPAW only for a 2-atom H2 cell.
"""

import importlib.util
import math

import numpy as np
import pytest

from screening.calculators import CalculatorError
from screening.engine.labelling import (committee_disagreement, label_configurations, read_extxyz,
                                        select_configurations, select_stratified, write_extxyz)
from screening.engine.training_set import (FAMILIES, TrainingSetSpec, config_id, generate_configurations,
                                           pool_summary)
from screening.errors import CandidateError
from screening.md import min_separation
from screening.store import ResultStore

PD_SPEC = dict(metal="Pd", h_per_metal=(0, 1, 2), pressures_gpa=(0, 10), n_strain=1, strain_magnitudes=(0.03,),
               n_rattle=1, rattle_amplitudes_a=(0.1,), md_temperatures_k=(1000.0, 3000.0), md_steps=20,
               snapshot_every=10, slab_md_steps=10, max_atoms=32, use_interface_builder=True, seed=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ResultStore(tmp_path_factory.mktemp("train") / "results.sqlite")


@pytest.fixture(scope="module")
def pool(store):
    return generate_configurations(TrainingSetSpec(**PD_SPEC), "emt", store=store, progress=False)


# --------------------------------------------------------------------------- generation
def test_every_family_present_with_requested_contents_and_pressures(pool):
    summary = pool_summary(pool)
    assert set(summary["by_family"]) == set(FAMILIES)
    bulk = {a.info["h_per_metal"] for a in pool if a.info["family"] in ("template", "metal", "strain", "rattle", "hot_md")}
    assert bulk == {0.0, 1.0, 2.0, -1.0}  # the metal, PdH, PdH2 and solid H2 (-1 = no metal)
    assert {a.info["h_per_metal"] for a in pool if a.info["family"] == "h2_fluid"} == {-1.0}
    assert {a.info["pressure_gpa"] for a in pool} == {0.0, 10.0}
    # the H2 layer on the precursor slab only exists under pressure, and adds hydrogen to the PdH slab
    layered = [a for a in pool if a.info["family"] == "slab" and "h2layer" in a.info["parent"]]
    assert layered and all(a.info["pressure_gpa"] == 10.0 and a.info["h_per_metal"] > 1.0 for a in layered)
    if importlib.util.find_spec("screening.engine.interface") is not None:  # the tier-3 interface builder
        built = [a for a in pool if a.info["family"] == "slab" and "interface" in a.info["parent"]]
        assert built and all(a.info["pressure_gpa"] == 10.0 and len(a) <= PD_SPEC["max_atoms"] for a in built)


def test_configurations_are_tagged_small_and_physical(pool):
    ids = [a.info["config_id"] for a in pool]
    assert len(ids) == len(set(ids))
    for a in pool:
        assert {"config_id", "family", "pressure_gpa", "h_per_metal", "source", "parent"} <= set(a.info)
        assert a.info["config_id"] == config_id(a)
        assert len(a) <= PD_SPEC["max_atoms"]
        if len(a) > 1:
            assert min_separation(a)[0] >= 0.55
        if a.info["family"] in ("hot_md", "h2_fluid"):
            assert a.info["temperature_k"] in PD_SPEC["md_temperatures_k"]
            assert math.isfinite(a.info["md_temperature_k"]) and a.info["md_temperature_k"] < 4 * a.info["temperature_k"]
    # masses are the real ones (MD ran with 4 amu for every atom)
    pd = next(a for a in pool if a.info["family"] == "hot_md" and "Pd" in a.get_chemical_symbols())
    assert pd.get_masses().max() > 100


def test_strain_changes_the_cell_and_md_moves_atoms(pool):
    by_parent = {}
    for a in pool:
        by_parent.setdefault(a.info["parent"], []).append(a)
    tmpl = next(a for a in pool if a.info["family"] == "template" and a.info["h_per_metal"] == 2.0)
    strained = [a for a in by_parent[tmpl.info["parent"]] if a.info["family"] == "strain"]
    assert strained and all(abs(a.get_volume() / tmpl.get_volume() - 1) > 1e-4 for a in strained)
    hot = [a for a in pool if a.info["family"] == "hot_md" and a.info["temperature_k"] == 3000.0]
    assert hot and all(np.ptp(a.get_scaled_positions(), axis=0).max() > 0 for a in hot)


def test_generation_is_deterministic_with_the_seed(pool):
    again = generate_configurations(TrainingSetSpec(**PD_SPEC), "emt", store=False, progress=False)  # MD rerun
    assert [a.info["config_id"] for a in again] == [a.info["config_id"] for a in pool]
    other = generate_configurations(TrainingSetSpec(**{**PD_SPEC, "seed": 4, "md_steps": 0, "slab_md_steps": 0}), "emt",
                                    store=False, progress=False)
    strained = lambda cs: {a.info["config_id"] for a in cs if a.info["family"] == "strain"}  # noqa: E731
    assert strained(other).isdisjoint(strained(pool))


@pytest.mark.parametrize("kwargs, named", [
    ({"metal": "Xx"}, "Xx"),
    ({"metal": "H"}, "'H'"),
    ({"h_per_metal": (0, 7)}, "h_per_metal=7"),
    ({"pressures_gpa": (0, -5)}, "-5"),
    ({"md_temperatures_k": (0.0,)}, "0.0"),
])
def test_bad_input_is_rejected_naming_the_value(kwargs, named):
    with pytest.raises(CandidateError, match=named):
        TrainingSetSpec(**{**PD_SPEC, **kwargs})


# --------------------------------------------------------------------------- selection
def _pd_cells():
    from ase.build import bulk

    base = bulk("Pd", "fcc", a=3.89, cubic=True)
    rng = np.random.default_rng(0)
    configs = []
    for _ in range(15):
        a = base.copy()
        a.positions += rng.normal(0, 0.02, a.positions.shape)
        configs.append(a)
    outlier = bulk("Pd", "fcc", a=3.89, cubic=True)
    outlier += bulk("H", "fcc", a=3.89, cubic=True).copy()
    outlier.positions[4:] += [1.945, 0, 0]  # PdH rocksalt: M-H pairs the others lack
    configs.insert(7, outlier)
    return configs


def test_fps_is_deterministic_distinct_and_finds_the_outlier_first():
    configs = _pd_cells()
    first = select_configurations(configs, 6)
    assert first == select_configurations(configs, 6)
    assert len(set(first)) == 6
    assert first[0] == 7  # the only hydride is the farthest point from the mean
    # extending an existing selection never repeats it
    more = select_configurations(configs, 4, already_selected=first)
    assert set(more).isdisjoint(first) and len(more) == 4
    assert select_configurations(configs, 100) and len(select_configurations(configs, 100)) == len(configs)
    with pytest.raises(CandidateError, match="bogus"):
        select_configurations(configs, 3, method="bogus")


def test_stratified_selection_covers_every_family(pool):
    idx = select_stratified(pool, len(FAMILIES))
    assert sorted(pool[i].info["family"] for i in idx) == sorted(FAMILIES)
    idx = select_stratified(pool, 20)
    assert len(set(idx)) == 20 and idx == select_stratified(pool, 20)


def test_committee_disagreement_is_zero_for_identical_and_grows_with_distortion():
    from ase.build import bulk
    from ase.calculators.emt import EMT

    perfect = bulk("Cu", "fcc", a=3.61, cubic=True)
    rattled = perfect.copy()
    rattled.rattle(0.15, seed=1)
    same = committee_disagreement([perfect, rattled], [EMT(), EMT()])
    assert np.allclose(same, 0.0, atol=1e-12)
    spread = committee_disagreement([perfect, rattled], ["emt", "lammps:eam/alloy:Cu_mishin1.eam.alloy"])
    assert spread.shape == (2, 2)
    assert spread[0, 0] > 1e-4 and spread[1, 0] > 1e-4  # two different Cu models disagree on the energy
    assert spread[0, 1] < 1e-6 < 1e-2 < spread[1, 1]  # forces vanish by symmetry in the perfect crystal only
    with pytest.raises(CandidateError, match="at least 2"):
        committee_disagreement([perfect], [EMT()])


# --------------------------------------------------------------------------- labels
def test_labels_are_cached_carry_provenance_and_round_trip(pool, store, tmp_path):
    configs = [a for a in pool if "Pd" in a.get_chemical_symbols()][:5]
    labelled = label_configurations(configs, "emt", store=store, progress=False)
    assert len(labelled) == 5
    assert all(a.info["label_source"].startswith("emt ase") for a in labelled)
    assert all(a.info["config_id"] == c.info["config_id"] for a, c in zip(labelled, configs))
    # a second call reads the stored label: overwrite one stored energy and see it come back
    from screening.calculators import get_calculator
    from screening.engine.training_set import content_hash

    inputs = {"config": content_hash(configs[0]), "symbols": configs[0].get_chemical_symbols(),
              "calculator": get_calculator("emt")[1].as_dict()}
    stored = store.get("engine.label", inputs)
    assert stored is not None and stored["energy"] == pytest.approx(labelled[0].get_potential_energy())
    store.put("engine.label", inputs, {**stored, "energy": stored["energy"] + 123.0})
    again = label_configurations(configs, "emt", store=store, progress=False)
    assert again[0].get_potential_energy() == pytest.approx(labelled[0].get_potential_energy() + 123.0)
    # extxyz keeps energies, forces, stress and info
    path = write_extxyz(labelled, tmp_path / "set.extxyz")
    back = read_extxyz(path)
    assert len(back) == 5
    for a, b in zip(labelled, back):
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-8)
        assert np.allclose(b.get_forces(), a.get_forces(), atol=1e-8)
        assert np.allclose(b.get_stress(), a.get_stress(), atol=1e-8)
        assert b.info["config_id"] == a.info["config_id"] and b.info["family"] == a.info["family"]
        assert b.info["label_source"] == a.info["label_source"]


def test_failed_labels_are_reported_not_dropped_silently(store):
    from ase.build import bulk

    ok = bulk("Cu", "fcc", a=3.61)
    not_emt = bulk("Ca", "fcc", a=5.5)  # EMT has no Ca parameters
    labelled, failures = label_configurations([ok, not_emt], "emt", store=store, progress=False, return_failures=True)
    assert len(labelled) == 1 and len(failures) == 1
    assert failures[0]["index"] == 1 and failures[0]["config_id"] == config_id(not_emt) and failures[0]["error"]


def test_gpaw_labels_or_names_make_setup_dft():
    from ase import Atoms

    def h2(d):
        return Atoms("H2", positions=[[0, 0, 0], [d, 0, 0]], cell=[3.0, 3.0, 3.0], pbc=True)

    settings = {"ecut_ev": 250, "kpt_density": 1.0}
    if importlib.util.find_spec("gpaw") is None:
        with pytest.raises(CalculatorError, match="make setup-dft"):
            label_configurations([h2(0.75)], "gpaw", store=False, calculator_settings=settings, progress=False)
        return
    near, stretched = label_configurations([h2(0.75), h2(0.95)], "gpaw", store=False, calculator_settings=settings,
                                           progress=False)
    assert "DFT" in near.info["label_source"] and '"ecut_ev": 250' in near.info["label_settings"]
    # PBE H2 bond ~0.75 Å: a stretched bond pulls the atoms together and costs energy
    assert stretched.get_forces()[0, 0] > 0.5 > abs(near.get_forces()[0, 0])
    assert stretched.get_potential_energy() > near.get_potential_energy() + 0.3


def test_gpaw_training_labels_use_the_converged_settings_on_the_dask_runner(monkeypatch, pool):
    """The engine's DFT labels are the dataset's: DEFAULT_DFT_SETTINGS per cell (metal k-points for metal-only
    cells), through the campaign's label_distributed. GPAW itself is stood in for by EMT here."""
    import screening.calculators as calculators
    import screening.reference.campaign as campaign
    from screening.engine.training_set import label_training_configurations
    from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS

    seen = {}
    real = campaign.label_distributed

    def emt_instead(configs, calculator, settings, **kw):
        seen["calculator"], seen["settings"] = calculator, settings
        return real(configs, "emt", None, n_workers=1, **kw)

    monkeypatch.setattr(campaign, "label_distributed", emt_instead)
    checked = []
    monkeypatch.setattr(calculators, "require_gpaw", checked.append)  # GPAW and its datasets need not be here
    configs = [a for a in pool if a.info["family"] in ("metal", "template")][:4]
    assert any("H" not in a.get_chemical_symbols() for a in configs) and any("H" in a.get_chemical_symbols() for a in configs)
    labelled, failures = label_training_configurations(configs, "gpaw", store=False, progress=False)
    assert seen["calculator"] == "gpaw"
    assert checked == [sorted({s for a in configs for s in a.get_chemical_symbols()})]  # checked before labelling
    assert seen["settings"] == [DEFAULT_DFT_SETTINGS.calculator_settings(a) for a in configs]
    assert {s["kpt_density"] for s in seen["settings"]} == {DEFAULT_DFT_SETTINGS.kpt_density,
                                                            DEFAULT_DFT_SETTINGS.metal_kpt_density}
    assert len(labelled) == len(configs) and not failures
    assert [a.info["config_id"] for a in labelled] == [a.info["config_id"] for a in configs]


def test_h2_layer_cells_use_the_interface_builders_packer(monkeypatch):
    """One H2 packer: the slab + H2-layer cells of the pool are packed by the interface builder's
    pack_h2, so they obey its floors (H–H between molecules >= 0.9 (v_H2/2)^(1/3), fluid H – metal >=
    the precursor's shortest M–H) and keep every fluid atom inside the layer."""
    from ase.neighborlist import neighbor_list

    import screening.engine.interface as interface
    from descriptors.eos import h2_volume_per_molecule
    from screening.engine.training_set import small_slabs

    calls = []
    real = interface.pack_h2

    def spy(n, *args, **kwargs):
        calls.append(n)
        return real(n, *args, **kwargs)

    monkeypatch.setattr(interface, "pack_h2", spy)
    spec = TrainingSetSpec(**{**PD_SPEC, "pressures_gpa": (10.0,), "use_interface_builder": False})
    cells = dict(small_slabs(spec, 10.0))
    layered = cells["rocksalt-h2layer"]
    assert calls and 2 * calls[0] == len(layered) - len(cells["rocksalt-vacuum"])
    slab_n = len(cells["rocksalt-vacuum"])
    floor = interface.HH_FLOOR_FACTOR * (float(h2_volume_per_molecule(10.0)) / 2.0) ** (1.0 / 3.0)
    i, j, d = neighbor_list("ijd", layered, 3.0)
    sym = np.array(layered.get_chemical_symbols())
    fluid_i, fluid_j = i >= slab_n, j >= slab_n
    other_molecule = fluid_i & (fluid_j & ((i - slab_n) // 2 != (j - slab_n) // 2) | ~fluid_j & (sym[j] == "H"))
    assert d[other_molecule].min() >= floor - 1e-6
    metal_floor = interface.shortest_metal_h(layered[:slab_n])
    assert d[fluid_i & (sym[j] != "H")].min() >= metal_floor - 1e-6
    z = layered.positions[slab_n:, 2]
    top = layered.cell[2, 2] - spec.h2_layer_a
    assert z.min() >= top and z.max() <= layered.cell[2, 2]  # the fluid stays in its layer
    assert len(layered) <= spec.max_atoms
