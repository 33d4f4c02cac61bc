"""Depth-resolved liquid-like fraction, uptake and product-phase check of slab trajectories (engine.depth).

Hand-built trajectories from the CaH2/H2 interface at 40 GPa: disordering the metal atoms near the
surfaces (or, as the opposite case, in the core) must put the liquid-like fraction in those bins.
"""

from __future__ import annotations

import numpy as np
import pytest

from screening.engine.depth import (SEED_PRODUCT_TEMPLATE, analyse_slab_trajectory, mean_profile, plot_depth_uptake,
                                    product_phase_check)
from screening.engine.interface import build_interface
from screening.engine.simulate import calibrate_region, depth_bins, normal_heights, slab_metal_structure
from screening.errors import CandidateError
from screening.md.analysis import metal_mask


@pytest.fixture(scope="module")
def cah2():
    return build_interface("Ca", 2, 40.0, template="cotunnite", seed=3)


def _crystal(atoms, info):
    slab = atoms[:info.n_slab_atoms].copy()
    slab.set_cell([atoms.cell[0], atoms.cell[1], [0.0, 0.0, info.slab_z_range_a[1] - info.slab_z_range_a[0]]])
    return slab


def _disordered(atoms, info, where: str, seed: int = 0):
    """Copy with ~0.6 Å random displacements of the metal atoms at the surface (< 4 Å deep: the first two
    depth bins) or in the core (the last depth bin)."""
    z, lz = normal_heights(atoms.positions, atoms.cell)
    m = metal_mask(atoms.get_chemical_symbols())
    region = calibrate_region(z[m], lz, info.slab_z_range_a)
    depth = region.depth(z[m])
    core_from = depth_bins(float(depth.max()))[-1]  # the analysis's own last (core) bin
    pick = depth < 4.0 if where == "surface" else depth >= core_from
    out = atoms.copy()
    idx = np.where(m)[0][pick]
    out.positions[idx] += np.random.default_rng(seed).normal(scale=0.6, size=(len(idx), 3))
    return out


@pytest.mark.parametrize("where", ["surface", "core"])
def test_depth_profile_puts_the_disorder_where_it_is(cah2, where):
    atoms, info = cah2
    frames = [atoms.copy(), _disordered(atoms, info, where, 1), _disordered(atoms, info, where, 2)]
    res = analyse_slab_trajectory(frames, _crystal(atoms, info), slab_z_range_a=info.slab_z_range_a,
                                  times_ps=[0.0, 1.0, 2.0], target_template=None)
    assert res.product == {}
    bins = res.depth_bins_a
    assert len(bins) >= 3 and bins[0] == 0.0 and np.allclose(np.diff(bins), 2.0)
    m = res.liquid_fraction_by_depth
    assert m.shape == (3, len(bins))
    assert res.metal_count_by_depth[0].sum() == info.n_metal  # every metal atom is in one bin
    assert np.nanmax(m[0]) < 0.15  # the built crystal is solid-like at every depth, surfaces included
    late = mean_profile(m, last_fraction=0.5)  # the two disordered frames
    surface, core = late[0], late[-1]
    if where == "surface":
        assert min(late[0], late[1]) > 0.7 and core < 0.3
    else:  # the ordered surface keeps its order; only the neighbours of the disordered core lose some
        assert core > 0.7 and surface < 0.3


def test_uptake_rate_and_product_phase_of_a_trajectory(cah2):
    """Fluid H moved into the slab frame by frame: H/M rises at the known rate; the crystal stays cotunnite."""
    atoms, info = cah2
    frames = []
    n_fluid_h = 2 * info.n_h2_molecules
    per_frame = 4
    lo, hi = info.slab_z_range_a
    for i in range(5):
        a = atoms.copy()
        moved = np.arange(info.n_slab_atoms, info.n_slab_atoms + per_frame * i)
        assert len(moved) < n_fluid_h
        a.positions[moved, 2] = 0.5 * (lo + hi)  # into the middle of the slab
        frames.append(a)
    res = analyse_slab_trajectory(frames, _crystal(atoms, info), slab_z_range_a=info.slab_z_range_a,
                                  times_ps=[0.0, 0.5, 1.0, 1.5, 2.0])
    assert res.h_per_metal_slab[0] == pytest.approx(2.0)
    assert res.uptake_rate_per_ps == pytest.approx(per_frame / info.n_metal / 0.5, rel=1e-9)
    assert res.uptake_rate_err_per_ps == pytest.approx(0.0, abs=1e-12)
    assert res.product["phase"] == "cotunnite" and res.product["target"] == SEED_PRODUCT_TEMPLATE
    assert res.product["matches_target"] is False


def test_product_phase_check_recognises_the_cah4_sublattice():
    atoms, info = build_interface("Ca", 4, 40.0, n_slab_atoms_target=90, seed=1)
    z, lz = normal_heights(atoms.positions, atoms.cell)
    m = metal_mask(atoms.get_chemical_symbols())
    region = calibrate_region(z[m], lz, info.slab_z_range_a)
    sub = slab_metal_structure(atoms.positions[m], np.array(atoms.cell), region, "Ca")
    res = product_phase_check(sub, h_per_metal=4.0)
    assert res["matches_target"] and res["phase"] == "thcr2si2" and res["target_rms"] is not None
    assert not product_phase_check(sub, "cotunnite")["matches_target"]
    with pytest.raises(CandidateError, match="nonsense"):
        product_phase_check(sub, "nonsense")


def test_depth_figure_is_written(cah2, tmp_path):
    atoms, info = cah2
    frames = [atoms.copy(), _disordered(atoms, info, "surface", 1), _disordered(atoms, info, "surface", 2)]
    res = analyse_slab_trajectory(frames, _crystal(atoms, info), slab_z_range_a=info.slab_z_range_a, target_template=None)
    out = plot_depth_uptake(res.time_ps, res.depth_bins_a, res.liquid_fraction_by_depth, res.h_per_metal_slab,
                            tmp_path / "depth.png", snapshots=frames, snapshot_times_ps=res.time_ps, title="test")
    assert out.exists() and out.stat().st_size > 20_000
    with pytest.raises(CandidateError, match="frames x bins"):
        plot_depth_uptake(res.time_ps, res.depth_bins_a, res.liquid_fraction_by_depth[:, :1], res.h_per_metal_slab,
                          tmp_path / "bad.png")


def test_a_distorted_precursor_is_not_called_the_product():
    """A cotunnite Ca sublattice shaken by 0.4 A still matches I4/mmm within StructureMatcher's tolerances, but
    worse than cotunnite: it is not the CaH4 product (the 10-ps runs of 2026-11-26 were called CaH4 this way)."""
    atoms, info = build_interface("Ca", 2, 40.0, template="cotunnite", n_slab_atoms_target=90, seed=1)
    z, lz = normal_heights(atoms.positions, atoms.cell)
    m = metal_mask(atoms.get_chemical_symbols())
    region = calibrate_region(z[m], lz, info.slab_z_range_a)
    sub = slab_metal_structure(atoms.positions[m], np.array(atoms.cell), region, "Ca")
    np.random.seed(0)
    sub.perturb(0.4)
    res = product_phase_check(sub, h_per_metal=2.0)
    assert res["phase"] == "cotunnite"
    assert SEED_PRODUCT_TEMPLATE in res["matches"] and res["target_rms"] > res["rms"]
    assert res["matches_target"] is False
