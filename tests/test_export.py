"""Tier-2a relaxed structures exported as CIF / POSCAR / extxyz with provenance (EMT Pd-H, fast)."""

import json

import pytest

from screening.export import export_from_store, export_system_structures, system_from_store
from screening.proxies.enthalpy import compute_system
from screening.store import ResultStore

PRESSURES = [0, 20, 40]


@pytest.fixture(scope="module")
def pd_h(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    store = ResultStore(cache / "results.sqlite")
    system = compute_system("Pd", PRESSURES, "emt", templates=["rocksalt"], store=store, progress=False)
    return system, store, cache


def test_hull_phases_written_readable_with_provenance(pd_h, tmp_path):
    from ase.io import read
    from pymatgen.core import Structure

    system, _, _ = pd_h
    paths = export_system_structures(system, tmp_path, formats=("cif", "poscar", "extxyz"))
    names = {p.name for p in paths}
    for p in PRESSURES:
        hull = system.hull(p)
        for row in hull[hull["on_hull"]].itertuples():
            formula = "Pd" if row.h_per_metal == 0 else "PdH"
            template = row.phase.split("/")[1]
            stem = f"{formula}_{template}_{p:g}GPa"
            assert {f"{stem}.cif", f"{stem}.vasp", f"{stem}.extxyz", f"{stem}.json"} <= names, (stem, sorted(names))
            side = json.loads((tmp_path / f"{stem}.json").read_text())
            assert side["pressure_gpa"] == p and side["calculator"]["name"] == "emt" and side["on_hull"]
            assert "not a DFT structure" in side["note"]
            cif = Structure.from_file(tmp_path / f"{stem}.cif")
            assert cif.composition.reduced_formula == Structure.from_dict(
                system.relaxations.set_index(["phase", "pressure_gpa"]).loc[(row.phase, p), "structure"]
            ).composition.reduced_formula
            assert len(read(tmp_path / f"{stem}.vasp", format="vasp")) == len(cif)
            assert "emt" in (tmp_path / f"{stem}.vasp").read_text().splitlines()[0]
        # off-hull hydrides are not exported by default
        for row in hull[~hull["on_hull"]].itertuples():
            assert not any(n.startswith(row.phase.split("/")[0] + "_" + row.phase.split("/")[1] + f"_{p:g}GPa")
                           for n in names)


def test_store_rebuild_matches_the_computed_system(pd_h, tmp_path):
    system, store, _ = pd_h
    again = system_from_store("Pd", "emt", store)
    assert list(again.pressures) == PRESSURES
    for p in PRESSURES:
        a, b = system.hull(p), again.hull(p)
        assert a["phase"].tolist() == b["phase"].tolist()
        assert a["dH_f_ev_per_atom"].to_numpy() == pytest.approx(b["dH_f_ev_per_atom"].to_numpy(), abs=1e-9)  # store keeps 12 digits
    direct = {p.name for p in export_system_structures(system, tmp_path / "a")}
    stored = {p.name for p in export_from_store("Pd", tmp_path / "b", calculator="emt", store=store)}
    assert direct == stored and direct


def test_cli_exports_from_the_store_and_rejects_bad_format(pd_h, tmp_path, monkeypatch, capsys):
    from screening.cli import main

    _, _, cache = pd_h
    monkeypatch.setenv("SCREENING_CACHE_DIR", str(cache))
    out = tmp_path / "structures"
    assert main(["export-structures", "--metals", "Pd", "--format", "cif,poscar", "--out", str(out)]) == 0
    cifs = sorted(p.name for p in out.glob("*GPa.cif"))
    assert any(n.startswith("H2_") for n in cifs) and any(n.startswith("Pd_") for n in cifs), cifs
    assert len(list(out.glob("*.vasp"))) == len(cifs) == len(list(out.glob("*.json")))
    assert main(["export-structures", "--metals", "Pd", "--format", "xyz", "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["export-structures", "--metals", "Ca", "--out", str(out)]) == 2
