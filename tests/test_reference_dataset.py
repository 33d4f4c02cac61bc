"""The DFT-labelling pipeline of screening.reference, end to end with cheap real calculators (EMT).

GPAW itself is not run here (``make dft-data`` does that); the campaign code is the same for every calculator.
"""

import json

import numpy as np
import pandas as pd
import pytest

from screening.errors import CandidateError


def _pdh_configs():
    from ase.build import bulk

    a = bulk("Pd", "fcc", a=3.95, cubic=True)
    a.append("H")
    a.positions[-1] = [1.975, 0.1, 0.0]
    b = bulk("Pd", "fcc", a=3.9) * (2, 1, 1)
    return [a, b]


def test_label_roundtrip_through_extxyz_keeps_labels_and_provenance(tmp_path):
    from screening.engine.labelling import label_configurations, read_extxyz, write_extxyz

    labelled = label_configurations(_pdh_configs(), "emt", store=False, progress=False)
    path = write_extxyz(labelled, tmp_path / "labels.extxyz")
    back = read_extxyz(path)
    assert len(back) == len(labelled)
    for a, b in zip(labelled, back):
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-6)
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=1e-6)
        np.testing.assert_allclose(b.get_stress(voigt=True), a.get_stress(voigt=True), atol=1e-8)
        assert np.abs(a.get_stress()).max() > 1e-4  # a real, non-zero stress went through
        for key in ("label_source", "label_settings", "label_provenance", "config_id", "label_seconds"):
            assert b.info[key] == a.info[key]
        assert json.loads(b.info["label_provenance"])["name"] == "emt"


def test_seeded_store_reuses_committed_labels(tmp_path):
    from screening.engine.labelling import label_configurations, read_extxyz, seed_labels, write_extxyz
    from screening.store import ResultStore

    labelled = label_configurations(_pdh_configs(), "emt", store=False, progress=False)
    back = read_extxyz(write_extxyz(labelled, tmp_path / "l.extxyz"))
    store = ResultStore(tmp_path / "fresh.sqlite")
    assert seed_labels(back, store) == 2
    assert seed_labels(back, store) == 0  # already there
    again = label_configurations(_pdh_configs(), "emt", store=store, progress=False, only_cached=True)
    assert len(again) == 2  # found in the store: nothing to compute
    assert again[0].get_potential_energy() == pytest.approx(labelled[0].get_potential_energy(), abs=1e-6)


def _tiny_plan():
    from screening.reference.dataset import DatasetPlan

    return DatasetPlan(metals=("Pd",), templates=("rocksalt",), pressures_gpa=(0.0, 10.0), h2_pressures_gpa=(10.0,),
                       metal_lattices=("fcc",), max_atoms=4)


def test_dataset_campaign_writes_provenance_and_resumes_from_files(tmp_path, monkeypatch):
    from screening.provenance import sha256_file
    from screening.reference.dataset import load_dataset, run_campaign
    from screening.store import ResultStore

    out = tmp_path / "dft"
    res = run_campaign(_tiny_plan(), out_dir=out, store=ResultStore(tmp_path / "a.sqlite"), relax_calculator="emt",
                       label_calculator="emt", n_workers=1, progress=False)
    frames = load_dataset(out)
    assert res["n_labelled"] == len(frames) >= 8
    fam = {a.info["family"] for a in frames}
    assert {"template_relaxed", "metal_ref", "metal_volume", "h2", "eos", "rattled", "strained"} <= fam
    for a in frames:
        for key in ("label_source", "label_provenance", "label_seconds", "source", "code_version", "metal",
                    "pressure_gpa", "family", "config_id"):
            assert key in a.info, key
        assert any(k in a.info["source"] for k in ("relaxed at", "EOS volume", "tier-1 volume"))
        if a.info["family"] == "metal_ref":  # relaxed only at the lowest pressure; above it, metal_volume cells
            assert a.info["pressure_gpa"] == 0.0
    import spglib

    for a in frames:  # relaxed cells are labelled with exact symmetry (GPAW's tolerance is 1e-7)
        if a.info["family"] in ("template_relaxed", "metal_ref"):
            assert "symmetrized to" in a.info["source"]
            tight = spglib.get_spacegroup((a.cell[:], a.get_scaled_positions(), a.numbers), symprec=1e-7)
            assert tight == a.info["source"].split("symmetrized to ")[1].split(" (spglib")[0]
    rattled = [a for a in frames if a.info["family"] == "rattled"]
    parents = {a.info["config_id"]: a for a in frames}
    for e in (a for a in frames if a.info["family"] == "eos"):  # isotropic copies: same space group, scaled volume
        parent = parents[e.info["parent"]]
        assert e.get_volume() / len(e) == pytest.approx(e.info["volume_factor"] * parent.get_volume() / len(parent))
        sg = lambda x: spglib.get_spacegroup((x.cell[:], x.get_scaled_positions(), x.numbers), symprec=1e-5)
        assert sg(e) == sg(parent)
    # the EOS points give EMT's own volume at the target pressure (fcc Pd and rocksalt PdH have no free coordinates)
    from screening.relax import RelaxSettings, relax_at_pressure
    from screening.calculators import get_calculator
    from pymatgen.io.ase import AseAtomsAdaptor

    volumes = pd.read_csv(out / "volumes.csv")
    ok = volumes[volumes["status"] == "ok"]
    assert len(ok) >= 3 and set(ok["template"]) == {"fcc", "rocksalt"}
    emt = get_calculator("emt")[0]
    for row in ok.itertuples():
        cell = parents[row.structure.split("#")[1]].copy()
        cell.calc = None
        cell.set_cell(cell.cell[:] * 1.05, scale_atoms=True)  # start away from the answer
        relaxed = relax_at_pressure(AseAtomsAdaptor.get_structure(cell), row.pressure_gpa, emt, RelaxSettings())
        assert relaxed["volume_a3"] / relaxed["n_atoms"] == pytest.approx(row.dft_volume_a3_per_atom, rel=0.01)
    assert all(r.info["parent"] in parents for r in rattled)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_frames"] == len(frames)
    assert sum(manifest["counts"]["by_metal"].values()) == len(frames)
    assert set(manifest["counts"]["by_metal"]) == {"Pd", "H"}
    hashes = {p.name: sha256_file(p) for p in out.glob("*.extxyz")}

    # A fresh machine: the result store is gone, the committed files are there. Nothing is relaxed or labelled again,
    # and the folder's frames are not even offered to the labeller (their labels stand as they were made).
    import screening.reference.campaign as campaign

    offered = []
    real_stream = campaign.label_stream
    monkeypatch.setattr(campaign, "label_stream",
                        lambda stream, *a, **kw: real_stream(offered.extend(stream) or [], *a, **kw))
    store = ResultStore(tmp_path / "b.sqlite")
    res2 = run_campaign(_tiny_plan(), out_dir=out, store=store, relax_calculator="emt", label_calculator="emt",
                        n_workers=1, progress=False)
    assert res2["n_labelled"] == len(frames)
    assert offered == []
    assert store.count("relax") == 0
    assert {p.name: sha256_file(p) for p in out.glob("*.extxyz")} == hashes


def test_dataset_plan_rejects_bad_input():
    from screening.reference.dataset import DatasetPlan

    with pytest.raises(CandidateError, match="template"):
        DatasetPlan(templates=("nope",))
    with pytest.raises(CandidateError, match="Xx"):
        DatasetPlan(metals=("Xx",))
    with pytest.raises(CandidateError, match="-5"):
        DatasetPlan(pressures_gpa=(-5.0,))


def test_dft_settings_validate_and_map_to_gpaw_keywords():
    from screening.reference.dft_settings import DFTSettings

    s = DFTSettings(ecut_ev=500, kpt_density=3.5, smearing="marzari-vanderbilt", smearing_width_ev=0.05)
    kw = s.calculator_settings()
    assert kw["ecut_ev"] == 500 and kw["kpt_density"] == 3.5
    assert kw["occupations"] == {"name": "marzari-vanderbilt", "width": 0.05}
    for bad in ({"ecut_ev": 50}, {"kpt_density": 0}, {"smearing": "gauss"}, {"smearing_width_ev": -0.1}):
        with pytest.raises(CandidateError):
            DFTSettings(**bad)


def test_convergence_choice_needs_every_higher_setting_within_tolerance():
    from screening.reference.convergence import add_errors, choose_settings
    from screening.reference.dft_settings import DFTSettings

    rows = []
    # ecut scan: 400 is 8 meV/atom off, 500 within 2, 600 within 6 (noise), 800 the reference
    for e, dh in ((400, 0.008), (500, 0.002), (600, 0.006), (800, 0.0)):
        rows.append({"scan": "ecut", "metal": "Ca", "ecut_ev": e, "kpt_density": 4.0, "dH_f_ev_per_atom": -0.1 + dh,
                     "pressure_gpa_dft": 40.0, "status": "ok"})
    for k, p in ((2.0, 43.0), (3.0, 40.5), (4.0, 40.2), (6.0, 40.0)):
        rows.append({"scan": "kpts", "metal": "Ca", "ecut_ev": 600, "kpt_density": k, "dH_f_ev_per_atom": -0.1,
                     "pressure_gpa_dft": p, "status": "ok"})
    table = add_errors(pd.DataFrame(rows))
    chosen = choose_settings(table, DFTSettings())
    assert chosen.ecut_ev == 800  # 500 passes alone, but 600 above it does not
    assert chosen.kpt_density == 3.0  # 2.0 is 3 GPa off


def test_default_dft_settings_are_the_converged_ones_of_the_committed_table():
    from pathlib import Path

    from screening.reference.convergence import choose_settings
    from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS, DFTSettings

    table = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "dft" / "convergence.csv")
    chosen = choose_settings(table, DFTSettings())
    assert (chosen.ecut_ev, chosen.kpt_density, chosen.metal_kpt_density) == (
        DEFAULT_DFT_SETTINGS.ecut_ev, DEFAULT_DFT_SETTINGS.kpt_density, DEFAULT_DFT_SETTINGS.metal_kpt_density)
    ok = table[table["chosen"]]
    assert (ok["dH_f_error_mev_per_atom"].abs() <= 5).all() and (ok["pressure_error_gpa"].abs() <= 1).all()
    assert set(ok["scan"]) == {"ecut", "kpts", "kpts_metal"}


def test_campaign_order_covers_every_pressure_of_a_structure_before_the_next():
    """A campaign stopped after one structure has it at every pressure for every metal; core templates come
    before the metal lattices and the other templates."""
    from screening.reference.dataset import DatasetPlan, campaign_order

    plan = DatasetPlan(metals=("Ca", "La"), templates=("fluorite", "thcr2si2", "rocksalt"), n_core_templates=2)
    jobs = campaign_order(plan, list(plan.templates))
    n = len(plan.metals) * len(plan.pressures_gpa)
    first = jobs[:n]
    assert {j[1] for j in first} == {"fluorite"}
    assert {(j[2], j[3]) for j in first} == {(p, m) for p in plan.pressures_gpa for m in plan.metals}
    names = [j[1] for j in jobs]
    assert max(names.index(t) for t in ("fluorite", "thcr2si2")) < min(names.index(x) for x in ("rocksalt", "fcc", "bcc"))
    assert len(jobs) == len(set(jobs)) == n * (len(plan.templates) + len(plan.metal_lattices))


def test_label_stream_does_not_run_ahead_of_the_workers(tmp_path):
    """With max_pending=1 the generator is advanced only after the previous label has come back, so slow
    structure generation (relaxations) never competes with the labels for the cores."""
    from ase.build import bulk

    from screening.reference.campaign import label_stream
    from screening.store import ResultStore

    got: list = []
    seen_at_yield: list[int] = []

    def configs():
        for k in range(4):
            seen_at_yield.append(len(got))
            yield bulk("Cu", "fcc", a=3.55 + 0.02 * k)

    failures = label_stream(configs(), "emt", store=ResultStore(tmp_path / "s.sqlite"), n_workers=1, progress=False,
                            on_label=got.append, max_pending=1)
    assert not failures and len(got) == 4
    assert seen_at_yield == [0, 1, 2, 3]


def test_volume_at_pressure_recovers_a_birch_murnaghan_volume_between_eos_points():
    from screening.reference.volumes import volume_at_pressure

    v0, b0, b1 = 10.0, 100.0, 4.0  # A^3/atom, GPa: a compressed hydride-like EOS

    def p_of(v):
        x = (v0 / v) ** (2.0 / 3.0)
        return 1.5 * b0 * (x ** 3.5 - x ** 2.5) * (1 + 0.75 * (b1 - 4) * (x - 1))

    from scipy.optimize import brentq

    v_true = brentq(lambda v: p_of(v) - 150.0, 3.0, v0)
    v_model = v_true * 1.06  # a potential 6 % too large: the EOS points bracket the DFT volume
    points = [v_model * f for f in (1.0, 0.92, 1.08)]
    got = volume_at_pressure(points, [p_of(v) for v in points], 150.0)
    assert got == pytest.approx(v_true, rel=2e-3)
    assert np.isnan(volume_at_pressure(points, [p_of(v) for v in points], 400.0))  # no extrapolation
