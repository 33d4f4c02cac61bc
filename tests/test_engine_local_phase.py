"""Per-atom local phase of a slab's core (engine.local_phase): template fingerprints, bulk crystals, built slabs."""

from __future__ import annotations

import numpy as np
import pytest
from screening.engine.interface import build_interface
from screening.engine.local_phase import (LIQUID, classify_sites, core_phase, core_phase_series, main,
                                          precursor_crystal, site_fingerprints, template_site_fingerprints,
                                          unwrapped_positions)
from screening.engine.simulate import calibrate_region, normal_heights
from screening.errors import CandidateError
from screening.md.analysis import metal_mask
from screening.structures import load_templates


@pytest.fixture(scope="module")
def cah2():
    return build_interface("Ca", 2, 40.0, template="cotunnite", seed=3)


def _group_of(template: str) -> str:
    return next(name for name in template_site_fingerprints() if template in name.split("/"))


def test_templates_sharing_a_sublattice_form_one_group_and_i4mmm_stands_apart():
    groups = template_site_fingerprints()
    fcc = _group_of("fluorite")
    assert set(fcc.split("/")) == {"rocksalt", "fluorite", "bif3", "fcc_clathrate"}
    assert _group_of("cotunnite") == "cotunnite" and _group_of("thcr2si2") == "thcr2si2"
    for fp in groups.values():  # distances over their own mean: sorted, mean 1
        assert np.allclose(fp.mean(axis=1), 1.0) and (np.diff(fp, axis=1) >= -1e-9).all()
    i4 = groups["thcr2si2"]
    gaps = {n: np.abs(i4[:, None, :] - fp[None]).mean(axis=2).min() for n, fp in groups.items() if n != "thcr2si2"}
    print({n: round(float(g), 3) for n, g in gaps.items()})
    assert min(gaps.values()) > 0.05  # every other group is farther than MAX_DELTA from the I4/mmm shell


@pytest.mark.parametrize("template, pressure, noise_a", [("thcr2si2", 40.0, 0.08), ("cotunnite", 40.0, 0.08),
                                                      ("fluorite", 10.0, 0.02)])
def test_a_bulk_crystal_is_its_own_template_even_compressed_and_rattled(template, pressure, noise_a):
    """I4/mmm and cotunnite survive 0.08 Å of noise; fcc only 0.02 Å (at 0.03 Å some of its sites read hcp, whose
    shell is 0.018 away): the check separates I4/mmm from the rest, not the close-packed stackings from each other."""
    atoms = precursor_crystal("Ca", load_templates()[template].h_per_metal, pressure, template).repeat((2, 2, 2))
    m = metal_mask(atoms.get_chemical_symbols())
    pos = atoms.positions[m] * 0.93  # compressed 7 % along every axis: the fingerprint is scale-free
    pos += np.random.default_rng(0).normal(scale=noise_a, size=pos.shape)
    labels, deltas, names = classify_sites(site_fingerprints(pos, np.array(atoms.cell) * 0.93))
    assert set(labels) == {_group_of(template)}
    assert deltas.shape == (len(pos), len(names))


def test_unwrapping_follows_an_atom_across_the_boundary():
    from ase import Atoms

    frames = [Atoms("X", positions=[[9.9 + 0.05 * i, 0, 0]], cell=np.eye(3) * 10.0, pbc=True) for i in range(5)]
    for f in frames:
        f.wrap()
    u = unwrapped_positions(frames)
    assert np.allclose(np.diff(u[:, 0, 0]), 0.05)


def _frames(atoms, info, disorder_core: bool, n: int = 4):
    z, lz = normal_heights(atoms.positions, atoms.cell)
    m = metal_mask(atoms.get_chemical_symbols())
    depth = calibrate_region(z[m], lz, info.slab_z_range_a).depth(z[m])
    core = np.flatnonzero(m)[depth >= 4.0]
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        f = atoms.copy()
        f.positions[np.flatnonzero(m)] += rng.normal(scale=0.03, size=(int(m.sum()), 3))  # thermal-like jitter
        if disorder_core:
            f.positions[core] += rng.normal(scale=0.7, size=(len(core), 3))  # a new random arrangement each frame
        f.info["time_ps"] = 0.25 * i
        out.append(f)
    return out, len(core)


def test_the_crystalline_core_of_a_built_slab_is_the_precursor(cah2):
    atoms, info = cah2
    frames, n_core = _frames(atoms, info, disorder_core=False)
    res = core_phase(frames, precursor_crystal("Ca", 2, 40.0, "cotunnite"))
    assert 0 < res["n_core"] <= n_core  # the core of the half-density slab lies inside the built slab's
    assert res["phase"] == "cotunnite" and res["fractions"]["cotunnite"] == 1.0
    assert res["h_per_metal_core"] == pytest.approx(2.0, abs=0.6)  # bands of a CaH2 crystal (boundary bias)
    assert res["h_per_metal_surface"] == pytest.approx(2.0, abs=1.5)
    assert res["mean_delta"]["cotunnite"] < res["mean_delta"]["thcr2si2"]


def test_a_disordered_core_reads_liquid_like_not_as_a_template(cah2):
    atoms, info = cah2
    frames, _ = _frames(atoms, info, disorder_core=True)
    res = core_phase(frames, precursor_crystal("Ca", 2, 40.0, "cotunnite"))
    assert res["fractions"].get(LIQUID, 0.0) >= 0.7
    assert res["fractions_slab"].get("cotunnite", 0.0) > 0.0  # the intact surface layers are still the precursor


def test_windowed_series_and_the_command_line(cah2, tmp_path, capsys):
    from ase.io import write

    atoms, info = cah2
    frames, _ = _frames(atoms, info, disorder_core=False, n=8)
    series = core_phase_series(frames, precursor_crystal("Ca", 2, 40.0, "cotunnite"), window_ps=1.0)
    assert len(series) == 2 and all(w["phase"] == "cotunnite" for w in series)
    with pytest.raises(CandidateError, match="window_ps"):
        core_phase_series(frames, precursor_crystal("Ca", 2, 40.0, "cotunnite"), window_ps=0.0)
    traj = tmp_path / "run.extxyz"
    write(traj, frames)
    out = tmp_path / "core.json"
    png = tmp_path / "core.png"
    assert main([str(traj), "--out", str(out), "--plot", str(png)]) == 0
    assert out.is_file() and "cotunnite 1.00" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([str(tmp_path / "missing.extxyz")]) == 2
    assert "error: trajectory" in capsys.readouterr().err
    assert main([str(traj), "--template", "nonesuch"]) == 2
    assert "error: precursor" in capsys.readouterr().err
