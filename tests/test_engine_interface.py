"""Tier 3 interface: the slab/H2 builder, the per-frame analysis, the product-phase matcher, an MD smoke test.

Fast (no CHGNet): the MD test runs ASE's EMT on a 60-atom PdH/H2 interface for 20 steps.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list

from descriptors.eos import h2_volume_per_molecule
from screening.engine.interface import H2_BOND_A, TAG_FLUID, TAG_SLAB, InterfaceInfo, build_interface, choose_repeat
from screening.engine.simulate import (NO_MATCH, InterfaceResult, calibrate_region, first_shell_cutoff, linear_rate,
                                       match_product_phase, normal_heights, plot_uptake, simulate_interface,
                                       slab_h_per_metal, slab_metal_structure, slab_region,
                                       surface_liquid_fraction)
from screening.structures.sublattice import template_metal_sublattices
from screening.errors import CandidateError
from screening.store import ResultStore
from screening.md.analysis import crystallinity, metal_mask, shell_size, solid_like_atoms
from screening.structures import load_templates
from screening.structures.builder import target_volume_per_metal


@pytest.fixture(scope="module")
def cah2():
    """CaH2 (cotunnite) slab + dense H2 at 40 GPa: the seed study's interface."""
    return build_interface("Ca", 2, 40.0, template="cotunnite", seed=3)


@pytest.fixture(scope="module")
def cah4():
    return build_interface("Ca", 4, 40.0, n_slab_atoms_target=90, seed=1)


def _region(atoms, info):
    z, lz = normal_heights(atoms.positions, atoms.cell)
    m = metal_mask(atoms.get_chemical_symbols())
    return z, m, calibrate_region(z[m], lz, info.slab_z_range_a)


def _precursor_crystal(atoms, info):
    """The slab alone with its periodic repeat along c: the bulk precursor."""
    slab = atoms[:info.n_slab_atoms].copy()
    slab.set_cell([atoms.cell[0], atoms.cell[1], [0.0, 0.0, info.slab_z_range_a[1] - info.slab_z_range_a[0]]])
    return slab


# --------------------------------------------------------------------------- builder
@pytest.mark.parametrize("case", ["cah2", "cah4"])
def test_builder_counts_densities_and_no_overlaps(case, request):
    atoms, info = request.getfixturevalue(case)
    p = info.pressure_gpa
    sym = np.array(atoms.get_chemical_symbols())
    # atom counts: metal, slab H and 2 H per molecule add up to the structure; stoichiometry kept
    assert (sym != "H").sum() == info.n_metal
    assert (sym == "H").sum() == info.n_h_slab + 2 * info.n_h2_molecules
    assert info.n_h_slab == pytest.approx(info.h_per_metal * info.n_metal)
    assert len(atoms) == info.n_atoms
    assert (atoms.get_tags() == TAG_SLAB).sum() == info.n_slab_atoms
    assert (atoms.get_tags() == TAG_FLUID).sum() == 2 * info.n_h2_molecules
    # orthorhombic cell, c along z, laterally about square
    cell = np.array(atoms.cell)
    assert np.allclose(cell, np.diag(np.diag(cell)))
    assert 0.7 < cell[0, 0] / cell[1, 1] < 1.4
    # slab density = the project's volume model at P (exact: whole unit cells, thickness = their repeat)
    v_model = target_volume_per_metal("Ca", info.h_per_metal, p)
    assert info.target_volume_per_metal_a3 == pytest.approx(v_model, rel=1e-9)
    area = cell[0, 0] * cell[1, 1]
    thickness = info.slab_z_range_a[1] - info.slab_z_range_a[0]
    assert area * thickness / info.n_metal == pytest.approx(v_model, rel=1e-6)
    # H2 density = Loubeyre EOS at P: N = round(A h / v) so within 1/(2N); interior (middle half) within 15 %
    v_h2 = float(h2_volume_per_molecule(p))
    assert info.achieved_h2_volume_per_molecule_a3 == pytest.approx(v_h2, rel=0.5 / info.n_h2_molecules + 1e-9)
    assert info.interior_h2_volume_per_molecule_a3 == pytest.approx(v_h2, rel=0.15)
    # H2 thickness defaults to the slab thickness; the cell is exactly slab + fluid
    h = info.h2_z_range_a[1] - info.h2_z_range_a[0]
    assert h == pytest.approx(thickness)
    assert cell[2, 2] == pytest.approx(thickness + h)
    # molecules are intact (0.74 Å) and do not overlap each other or the slab
    fluid = atoms.positions[info.n_slab_atoms:]
    bond = np.array([atoms.get_distance(info.n_slab_atoms + 2 * k, info.n_slab_atoms + 2 * k + 1, mic=True)
                     for k in range(info.n_h2_molecules)])
    assert np.allclose(bond, H2_BOND_A, atol=1e-6)
    i, j, d = neighbor_list("ijd", atoms, 3.0)
    other = ~((i >= info.n_slab_atoms) & (j >= info.n_slab_atoms) & ((i - info.n_slab_atoms) // 2 == (j - info.n_slab_atoms) // 2))
    fluid_h = (i >= info.n_slab_atoms) & other
    floor_hh = 0.9 * (v_h2 / 2) ** (1 / 3)  # 1.36 Å at 40 GPa
    assert d[fluid_h & (sym[j] == "H")].min() >= floor_hh - 1e-6
    assert d[fluid_h & (sym[j] != "H")].min() >= 1.5  # no fluid H closer to a metal than a short M-H bond
    assert d[other].min() > 1.0  # nothing but the H2 bonds is shorter than 1 Å
    assert info.min_hh_intermolecular_a >= floor_hh - 1e-6
    # fluid stays in its region (every atom at least floor/2 from the slab's cut planes)
    zf = np.mod(fluid[:, 2], cell[2, 2])
    assert (zf >= info.h2_z_range_a[0] + floor_hh / 2 - 1e-6).all() and (zf <= cell[2, 2] - floor_hh / 2 + 1e-6).all()
    json.dumps(info.as_dict())
    assert InterfaceInfo.from_dict(info.as_dict()) == info


def test_builder_size_seed_and_hexagonal_template():
    a1, i1 = build_interface("Ca", 2, 40.0, template="cotunnite", n_slab_atoms_target=50, seed=5)
    a2, i2 = build_interface("Ca", 2, 40.0, template="cotunnite", n_slab_atoms_target=50, seed=5)
    assert np.array_equal(a1.positions, a2.positions)  # deterministic for a seed
    a3, _ = build_interface("Ca", 2, 40.0, template="cotunnite", n_slab_atoms_target=50, seed=6)
    assert not np.allclose(a1.positions[i1.n_slab_atoms:], a3.positions[i1.n_slab_atoms:])
    assert 25 <= i1.n_metal * 3 <= 100
    # explicit repeat and H2 thickness
    _, i4 = build_interface("Ca", 2, 40.0, template="cotunnite", repeat=(1, 2, 1), h2_thickness_a=10.0)
    assert i4.repeat == (1, 2, 1) and i4.n_metal == 8
    assert i4.h2_z_range_a[1] - i4.h2_z_range_a[0] == pytest.approx(10.0)
    # hexagonal template (LaH9, P6_3/mmc) is orthogonalised: a ⟂ b, still the model density
    a5, i5 = build_interface("La", 9, 150.0, n_slab_atoms_target=100)
    cell = np.array(a5.cell)
    assert np.allclose(cell, np.diag(np.diag(cell)))
    assert i5.achieved_volume_per_metal_a3 == pytest.approx(target_volume_per_metal("La", 9, 150.0), rel=1e-6)
    assert choose_repeat((5.45, 3.29, 6.23), 12, 150) == (2, 3, 2)  # 144 atoms, 10.9 x 9.9 x 12.5 Å


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(metal="Ca", h_per_metal=7, pressure_gpa=40), "no structure template for H/M = 7"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=40), "several templates"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=-5, template="cotunnite"), "pressure_gpa must be a positive number, got -5"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=0.0, template="cotunnite"), "got 0.0"),
    (dict(metal="Xx", h_per_metal=2, pressure_gpa=40), "'Xx'"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=40, template="sodalite"), "'sodalite' has H/M = 6"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=40, template="nope"), "unknown template 'nope'"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=40, template="cotunnite", n_slab_atoms_target=0), "got 0"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=40, template="cotunnite", h2_thickness_a=-1.0), "got -1.0"),
    (dict(metal="Ca", h_per_metal=2, pressure_gpa=40, template="cotunnite", repeat=(1, 0, 1)), "(1, 0, 1)"),
])
def test_builder_bad_input_names_the_value(kwargs, fragment):
    with pytest.raises(CandidateError) as exc:
        build_interface(**kwargs)
    assert fragment in str(exc.value)


# --------------------------------------------------------------------------- analysis on synthetic frames
@pytest.mark.parametrize("case", ["cah2", "cah4"])
def test_perfect_interface_gives_precursor_h_per_metal_and_no_liquid(case, request):
    atoms, info = request.getfixturevalue(case)
    z, m, region = _region(atoms, info)
    lz = atoms.cell[2, 2]
    gap = np.mod(region.start - info.slab_z_range_a[0] + 0.5 * lz, lz) - 0.5 * lz  # periodic difference
    assert gap == pytest.approx(0.0, abs=1e-6)
    assert region.thickness == pytest.approx(info.slab_z_range_a[1] - info.slab_z_range_a[0], abs=1e-6)
    hm, nh, nm = slab_h_per_metal(z, m, region)
    assert (nh, nm) == (info.n_h_slab, info.n_metal)
    assert hm == pytest.approx(info.h_per_metal)
    # every slab atom inside, every fluid atom outside, with room to spare (> the 0.25 Å margin)
    assert region.depth(z[:info.n_slab_atoms]).min() > 0.3
    assert region.depth(z[info.n_slab_atoms:]).max() < -0.5
    # order parameter: the bulk precursor is solid; its free surfaces too with the shell cutoff
    crystal = _precursor_crystal(atoms, info)
    bm = metal_mask(crystal.get_chemical_symbols())
    k = shell_size(crystal.positions[bm], np.array(crystal.cell))
    rc = first_shell_cutoff(crystal.positions[bm], np.array(crystal.cell), k)
    solid = solid_like_atoms(atoms.positions[m], np.array(atoms.cell), k, cutoff=rc)
    liquid, n_surface = surface_liquid_fraction(z[m], solid, region)
    assert liquid == pytest.approx(0.0, abs=1e-12)
    assert 0 < n_surface <= info.n_metal
    # the melting tier's k-nearest version misreads a perfect surface as partly liquid: why the cutoff is needed
    assert crystallinity(atoms.positions[m], np.array(atoms.cell), k)[0] < 1.0 or case == "cah4"


def test_slab_region_across_periodic_boundary_and_shifted(cah2):
    atoms, info = cah2
    lz = atoms.cell[2, 2]
    z, m, ref = _region(atoms, info)
    for shift in (0.3 * lz, 0.77 * lz, -1.3 * lz):  # slab straddles z = 0 in some of these
        zs = z + shift
        region = slab_region(zs[m], lz, offsets=(ref.offset_lo, ref.offset_hi))
        assert 0.0 <= region.start < lz
        assert region.thickness == pytest.approx(ref.thickness, abs=1e-3)  # exact profile, bisected crossings
        gap = np.mod(region.start - shift - ref.start + 0.5 * lz, lz) - 0.5 * lz
        assert gap == pytest.approx(0.0, abs=1e-3)
        assert slab_h_per_metal(zs, m, region)[0] == pytest.approx(2.0)


def test_moving_fluid_h_into_the_slab_raises_h_per_metal(cah2):
    atoms, info = cah2
    z, m, region = _region(atoms, info)
    moved = z.copy()
    n_move = 12  # six molecules' worth of H pushed to mid-slab heights
    fluid_idx = np.arange(info.n_slab_atoms, info.n_slab_atoms + n_move)
    moved[fluid_idx] = region.start + region.thickness * np.linspace(0.2, 0.8, n_move)
    region2 = slab_region(moved[m], atoms.cell[2, 2], offsets=(region.offset_lo, region.offset_hi))
    hm, nh, nm = slab_h_per_metal(moved, m, region2)
    assert nh == info.n_h_slab + n_move
    assert hm == pytest.approx(info.h_per_metal + n_move / info.n_metal)  # 2 + 12/48 = 2.25
    # a metal atom dissolved in the fluid neither counts nor moves the slab boundaries
    moved[0] = info.h2_z_range_a[0] + 0.5 * (info.h2_z_range_a[1] - info.h2_z_range_a[0])
    region3 = slab_region(moved[m], atoms.cell[2, 2], offsets=(region.offset_lo, region.offset_hi))
    assert region3.thickness == pytest.approx(region.thickness, abs=0.2)
    assert slab_h_per_metal(moved, m, region3)[2] == info.n_metal - 1


def test_liquid_fraction_of_a_disordered_surface(cah2):
    """Randomising the outer metal atoms of the slab makes the surface liquid-like, not the core."""
    atoms, info = cah2
    z, m, region = _region(atoms, info)
    crystal = _precursor_crystal(atoms, info)
    bm = metal_mask(crystal.get_chemical_symbols())
    k = shell_size(crystal.positions[bm], np.array(crystal.cell))
    rc = first_shell_cutoff(crystal.positions[bm], np.array(crystal.cell), k)
    pos = atoms.positions[m].copy()
    zm = z[m]
    outer = region.depth(zm) < 4.0
    rng = np.random.default_rng(0)
    pos[outer] += rng.normal(scale=0.6, size=(outer.sum(), 3))  # ~0.6 Å random displacements: no order left
    solid = solid_like_atoms(pos, np.array(atoms.cell), k, cutoff=rc)
    liquid, _ = surface_liquid_fraction(zm, solid, region)
    assert liquid > 0.7
    core = region.depth(zm) > 5.0
    assert solid[core].mean() > 0.5  # the interior keeps most of its order


def test_solid_like_atoms_reproduces_melting_tier_in_bulk():
    cu = bulk("Cu", "fcc", a=3.615, cubic=True).repeat((3, 3, 3))
    rng = np.random.default_rng(1)
    for noise in (0.05, 0.5):
        pos = cu.positions + rng.normal(scale=noise, size=cu.positions.shape)
        per_atom = solid_like_atoms(pos, np.array(cu.cell), 12)
        assert per_atom.mean() == pytest.approx(crystallinity(pos, np.array(cu.cell), 12)[0])
        with_cut = solid_like_atoms(pos, np.array(cu.cell), 12, cutoff=first_shell_cutoff(cu.positions, np.array(cu.cell), 12))
        if noise == 0.05:
            assert per_atom.all() and with_cut.all()
        else:
            assert per_atom.mean() < 0.2 and with_cut.mean() < 0.2


def test_linear_rate_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 20.0, 201)
    y = 2.0 + 0.05 * t + rng.normal(scale=0.02, size=t.size)
    slope, err = linear_rate(t, y)
    assert abs(slope - 0.05) < 4 * err
    assert 0 < err < 0.002  # OLS error for σ = 0.02 over 20 ps: 0.02 / (20 * sqrt(201/12)) ≈ 2.4e-4
    assert linear_rate(t, np.full_like(t, 2.0)) == (0.0, 0.0)
    assert all(math.isnan(v) for v in linear_rate([0.0, 1.0], [1.0, 2.0]))


# --------------------------------------------------------------------------- product phase
def test_matcher_identifies_the_precursor_sublattice(cah2, cah4):
    cands = {n: s for n, s in template_metal_sublattices().items() if n in ("cotunnite", "fluorite", "thcr2si2",
                                                                         "sodalite")}
    atoms, info = cah2
    z, m, region = _region(atoms, info)
    sub = slab_metal_structure(atoms.positions[m], np.array(atoms.cell), region, "Ca")
    assert len(sub) == info.n_metal
    assert sub.volume / len(sub) == pytest.approx(info.target_volume_per_metal_a3, rel=1e-6)
    res = match_product_phase(sub, cands, h_per_metal=2.0)
    assert res["phase"] == "cotunnite"
    assert "fluorite" not in res["matches"]  # fcc Ca is not the cotunnite sublattice
    atoms4, info4 = cah4
    z4, m4, region4 = _region(atoms4, info4)
    res4 = match_product_phase(slab_metal_structure(atoms4.positions[m4], np.array(atoms4.cell), region4, "Ca"), cands)
    assert res4["phase"] == "thcr2si2"  # CaH4 (I4/mmm): the seed study's product
    assert "cotunnite" not in res4["matches"]
    # random metal positions match nothing
    rng = np.random.default_rng(2)
    from pymatgen.core import Lattice, Structure

    rand = Structure(Lattice.cubic(8.0), ["Ca"] * 16, rng.random((16, 3)))
    assert match_product_phase(rand, cands)["phase"] == NO_MATCH


def test_matcher_breaks_fcc_ties_with_h_per_metal():
    fcc = load_templates()["rocksalt"].conventional("Pd")
    res = match_product_phase(fcc, h_per_metal=1.0)
    assert {"rocksalt", "fluorite", "bif3"} <= set(res["equivalent"])
    assert res["phase"] == "rocksalt"
    assert match_product_phase(fcc, h_per_metal=2.2)["phase"] == "fluorite"


# --------------------------------------------------------------------------- MD smoke test (EMT)
def test_md_smoke_emt_pdh_interface(tmp_path):
    atoms, info = build_interface("Pd", 1, 1.0, n_slab_atoms_target=32, seed=0)
    assert info.template == "rocksalt" and info.n_metal == 16 and info.n_h_slab == 16
    traj = tmp_path / "pdh.extxyz"
    res = simulate_interface(atoms, info, "emt", 1.0, 300.0, time_ps=0.01, timestep_fs=0.5, sample_every=5,
                             ramp_ps=0.0, relax_steps=300, trajectory=traj, progress=False)
    assert res.status == "ok", res.message
    assert res.calculator["name"] == "emt"
    assert res.settings["barostat"] == "z" and res.settings["relax"]["steps"] > 0
    n_frames = len(res.time_ps)
    assert n_frames == 5  # step 0 and every 5 of 20 steps
    for key in ("h_per_metal_slab", "liquid_fraction_surface", "temperature_k", "pressure_gpa", "box_z_a"):
        assert len(getattr(res, key)) == n_frames
        assert np.isfinite(res.series(key)).all()
    assert res.time_ps[-1] == pytest.approx(0.01)
    # atoms are conserved: metal stays in the slab, H is either in the slab or in the fluid
    assert all(n <= info.n_metal for n in res.n_metal_slab)
    assert all(0 <= n <= info.n_h_slab + 2 * info.n_h2_molecules for n in res.n_h_slab)
    from ase.io import read

    frames = read(traj, ":")
    assert len(frames) == n_frames
    assert all(len(f) == info.n_atoms for f in frames)
    assert all((f.get_chemical_symbols() == atoms.get_chemical_symbols()) for f in frames)
    assert np.allclose(frames[-1].cell[:2], atoms.cell[:2])  # z-only barostat: a, b unchanged
    # JSON round trip
    d = json.loads(json.dumps(res.as_dict()))
    back = InterfaceResult.from_dict(d)
    assert back.status == res.status and back.h_per_metal_slab == res.h_per_metal_slab
    assert back.interface["n_h2_molecules"] == info.n_h2_molecules
    out = plot_uptake({"300 K": res, "copy": back}, tmp_path / "uptake.png")
    assert out.exists() and out.stat().st_size > 10_000
    # cached through the ResultStore: the second call does no MD and returns the same record
    store = ResultStore(tmp_path / "results.sqlite")
    kwargs = dict(time_ps=0.005, timestep_fs=0.5, sample_every=5, ramp_ps=0.0, relax_steps=300, progress=False,
                  store=store)
    first = simulate_interface(atoms, info, "emt", 1.0, 300.0, **kwargs)
    second = simulate_interface(atoms, info, "emt", 1.0, 300.0, **kwargs)
    assert not first.cached and second.cached
    assert second.h_per_metal_slab == first.h_per_metal_slab and second.status == first.status


def test_simulate_bad_input_names_the_value():
    atoms, info = build_interface("Pd", 1, 1.0, n_slab_atoms_target=32, seed=0)
    with pytest.raises(CandidateError, match="temperature_k must be a positive number, got -10"):
        simulate_interface(atoms, info, "emt", 1.0, -10.0, time_ps=0.01, progress=False)
    with pytest.raises(CandidateError, match="time_ps must be a positive number, got 0"):
        simulate_interface(atoms, info, "emt", 1.0, 300.0, time_ps=0, progress=False)
    with pytest.raises(CandidateError, match=f"{len(atoms) - 1} atoms"):
        simulate_interface(atoms[:-1], info, "emt", 1.0, 300.0, time_ps=0.01, progress=False)


def test_trajectory_is_atomic_and_every_rerun_writes_its_own(tmp_path, monkeypatch):
    """The trajectory appears only complete (never while the run writes it), and a cached run asked to
    write into another reports folder writes its own copy instead of skipping it."""
    import screening.engine.simulate as sim
    from ase.io import read

    atoms, info = build_interface("Pd", 1, 1.0, n_slab_atoms_target=32, seed=0)
    store = ResultStore(tmp_path / "cache" / "results.sqlite")
    kwargs = dict(time_ps=0.005, timestep_fs=0.5, sample_every=5, ramp_ps=0.0, relax_steps=20, progress=False,
                  store=store)
    first_path = tmp_path / "reports_a" / "run.extxyz"
    seen = []
    original = sim._FrameAnalyser.__call__

    def watching(self, frame):
        seen.append(first_path.exists())
        return original(self, frame)

    monkeypatch.setattr(sim._FrameAnalyser, "__call__", watching)
    first = simulate_interface(atoms, info, "emt", 1.0, 300.0, trajectory=first_path, **kwargs)
    assert seen and not any(seen)  # nothing at the final path while frames were being produced
    assert first_path.is_file() and not first.cached
    second_path = tmp_path / "reports_b" / "run.extxyz"
    seen.clear()
    second = simulate_interface(atoms, info, "emt", 1.0, 300.0, trajectory=second_path, **kwargs)
    assert second.cached and not seen  # no MD ran
    assert second.trajectory == str(second_path) and second_path.is_file()
    a, b = read(first_path, ":"), read(second_path, ":")
    assert len(a) == len(b) == len(first.time_ps)
    assert np.array_equal(a[-1].positions, b[-1].positions)
    # a cached run whose trajectory was not kept (run without one) is recomputed when one is asked for
    third_path = tmp_path / "reports_c" / "run.extxyz"
    other = dict(kwargs, relax_steps=10)
    simulate_interface(atoms, info, "emt", 1.0, 300.0, **other)
    third = simulate_interface(atoms, info, "emt", 1.0, 300.0, trajectory=third_path, **other)
    assert not third.cached and len(read(third_path, ":")) == len(third.time_ps)


def test_an_interrupted_interface_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """With ``checkpoint_ps`` the production runs in segments; a run killed in its third segment continues from the
    checkpoint of the second, and its result and trajectory are those of the run that was never interrupted."""
    import screening.engine.simulate as sim
    from ase.io import read

    atoms, info = build_interface("Pd", 1, 1.0, n_slab_atoms_target=32, seed=0)
    kwargs = dict(time_ps=0.02, timestep_fs=0.5, sample_every=5, ramp_ps=0.005, relax_steps=300, progress=False,
                  checkpoint_ps=0.005)
    straight = simulate_interface(atoms, info, "emt", 1.0, 300.0, store=ResultStore(tmp_path / "a" / "results.sqlite"),
                                  trajectory=tmp_path / "a.extxyz", **kwargs)
    assert straight.status == "ok" and straight.settings["checkpoint_ps"] == 0.005
    assert len(straight.time_ps) == 11  # ramp 0..10 steps, production 10..50 steps: every 5 steps, no repeats

    store = ResultStore(tmp_path / "b" / "results.sqlite")
    original = sim._FrameAnalyser.__call__
    calls = []

    def killed_in_segment_three(self, frame):
        calls.append(frame.time_ps)
        if frame.time_ps > 0.0175:
            raise KeyboardInterrupt
        return original(self, frame)

    monkeypatch.setattr(sim._FrameAnalyser, "__call__", killed_in_segment_three)
    with pytest.raises(KeyboardInterrupt):
        simulate_interface(atoms, info, "emt", 1.0, 300.0, store=store, trajectory=tmp_path / "b.extxyz", **kwargs)
    checkpoints = list((tmp_path / "b" / "checkpoints").glob("*.npz"))
    assert len(checkpoints) == 1 and not (tmp_path / "b.extxyz").exists()
    from screening.md.checkpoint import load_checkpoint

    before_kill_s = load_checkpoint(checkpoints[0].with_suffix("")).meta["compute_s"]
    assert before_kill_s > 0.0  # the compute time up to the checkpoint is kept with it
    monkeypatch.setattr(sim._FrameAnalyser, "__call__", lambda self, frame: calls.append(frame.time_ps)
                        or original(self, frame))
    calls.clear()
    resumed = simulate_interface(atoms, info, "emt", 1.0, 300.0, store=store, trajectory=tmp_path / "b.extxyz",
                                 **kwargs)
    assert min(calls) == pytest.approx(0.015)  # it started at the last checkpoint, not from the beginning
    assert resumed.wall_s > before_kill_s  # the result's compute time counts the interrupted process's part too
    assert not list((tmp_path / "b" / "checkpoints").glob("*"))  # removed once the result is stored
    assert resumed.time_ps == straight.time_ps and resumed.stage == straight.stage
    for key in ("h_per_metal_slab", "temperature_k", "pressure_gpa", "box_z_a"):
        assert np.allclose(resumed.series(key), straight.series(key), rtol=1e-9, atol=1e-9), key
    a, b = read(tmp_path / "a.extxyz", ":"), read(tmp_path / "b.extxyz", ":")
    assert len(a) == len(b) == 11 and np.allclose(a[-1].positions, b[-1].positions, atol=1e-8)
    with pytest.raises(CandidateError, match="checkpoint_ps must be a positive number"):
        simulate_interface(atoms, info, "emt", 1.0, 300.0, time_ps=0.01, checkpoint_ps=0.0, progress=False)
