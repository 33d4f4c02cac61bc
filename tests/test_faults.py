"""Issue 13, security and faults: untrusted paths, cluster addresses, bad input files, unphysical runs.

Each test reproduces one finding of the issue and checks the fixed behaviour: ``error:`` naming the
file or value, exit code 2, nothing rewritten; unphysical structures and runs reported as such.
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from screening.cli import main
from screening.errors import CandidateError


def _ranking(path: Path, **overrides) -> Path:
    table = pd.DataFrame({
        "candidate_id": ["CaH6@150GPa", "LaH10@150GPa"], "formula": ["CaH6", "LaH10"], "metals": ["Ca", "La"],
        "h_per_metal": [6.0, 10.0], "pressure_gpa": [150.0, 150.0], "prior_score": [0.9, 0.4], "rank": [1, 2],
        "prior_training_positive": [False, False],
    })
    for col, value in overrides.items():
        table[col] = value
    table.to_csv(path, index=False)
    return path


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- paths
def test_safe_stem_keeps_names_inside_their_folder(tmp_path):
    from screening.paths import file_in, safe_stem

    assert safe_stem("LaH10@150GPa") == "LaH10_at_150GPa"
    for bare in ("..", ".", "/", "../.."):
        with pytest.raises(CandidateError, match="cannot be turned into a file name"):
            file_in(tmp_path, bare)
    for evil in ("../../etc/passwd", "/abs/path", "a/../../b", "..\\..\\x", ".hidden"):
        path = file_in(tmp_path / "reports", evil, prefix="engine_", suffix=".extxyz")
        assert path.resolve().parent == (tmp_path / "reports").resolve(), evil
        assert "/" not in safe_stem(evil) and not safe_stem(evil).startswith(".")
    with pytest.raises(CandidateError):
        safe_stem("")
    with pytest.raises(CandidateError, match="would leave"):
        file_in(tmp_path, "x", prefix="../")


def test_engine_trajectory_of_a_traversal_id_stays_in_reports(tmp_path, monkeypatch):
    import screening.engine.interface as interface
    import screening.engine.simulate as simulate
    from screening.engine.run import EngineSettings, interface_job

    seen = {}

    class _Result:
        def as_dict(self):
            return {"status": "ok"}

    class _Info:
        precursor_formula = "CaH2"

    monkeypatch.setattr(interface, "build_interface", lambda *a, **k: (None, _Info()))
    monkeypatch.setattr(simulate, "simulate_interface",
                        lambda *a, trajectory=None, **k: seen.setdefault("traj", Path(trajectory)) and _Result())
    reports = tmp_path / "reports"
    row = {"candidate_id": "../../outside/CaH6@150GPa", "metals": "Ca", "h_per_metal": 6.0, "pressure_gpa": 150.0}
    interface_job(row, "hot", 900.0, "emt", EngineSettings(), out_dir=str(reports), cache=str(tmp_path / "c"))
    assert seen["traj"].resolve().parent == reports.resolve()
    assert not (tmp_path / "outside").exists()


def test_melting_structure_lookup_does_not_leave_the_folder(tmp_path):
    from ase.build import bulk
    from ase.io import write

    from screening.proxies.melting import find_structure

    folder = tmp_path / "structures"
    folder.mkdir()
    write(tmp_path / "secret.cif", bulk("Cu"))
    structure, source = find_structure({"candidate_id": "../secret", "formula": "../secret", "metals": "Cu,Ag",
                                        "h_per_metal": 1.0, "pressure_gpa": 0.0}, folder)
    assert structure is None and "secret" not in source
    write(folder / "CuH_at_0GPa.cif", bulk("Cu"))
    structure, _ = find_structure({"candidate_id": "CuH@0GPa", "formula": "CuH"}, folder)
    assert Path(structure) == folder / "CuH_at_0GPa.cif"


# --------------------------------------------------------------------------- dask scheduler
def test_scheduler_address_is_validated(monkeypatch):
    from screening.cluster import SCHEDULER_ENV, scheduler_address

    assert scheduler_address("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert scheduler_address("tls://head.example.org:8786") == "tls://head.example.org:8786"
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert scheduler_address(None) is None
    for bad in ("10.0.0.5:8786", "http://x:8786", "tcp://:8786", "tcp://host", "tcp://host:99999",
                "tcp://host:8786/path", "tcp://user:pw@host:8786", "tcp://host:port"):
        with pytest.raises(CandidateError, match="scheduler address"):
            scheduler_address(bad)
    monkeypatch.setenv(SCHEDULER_ENV, "file:///etc/passwd")
    with pytest.raises(CandidateError, match=r"file:///etc/passwd.*SCREENING_DASK_SCHEDULER"):
        scheduler_address(None)


def test_unreachable_scheduler_fails_fast_before_any_model(tmp_path, capsys, monkeypatch):
    import screening.engine.run as run

    monkeypatch.setattr(run, "require_calculator", lambda *a: pytest.fail("a model was loaded before the check"))
    monkeypatch.setattr(run, "system_potential", lambda *a, **k: pytest.fail("a potential was trained"))
    ranking = _ranking(tmp_path / "ranking.csv")
    before = ranking.read_bytes()
    start = time.perf_counter()
    code, _, err = _run(capsys, ["engine", "--ranking", str(ranking), "--scheduler", "tcp://127.0.0.1:1",
                                 "--reports", str(tmp_path / "r"), "--quiet"])
    assert time.perf_counter() - start < 10.0
    assert code == 2 and err.startswith("error:") and "tcp://127.0.0.1:1" in err
    assert "Traceback" not in err and len(err.splitlines()) <= 2
    assert ranking.read_bytes() == before


# --------------------------------------------------------------------------- bad input files
def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty": b"",
        "binary": bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
        "malformed": b'candidate_id,metals\n"LaH10@150GPa,La\nx,y,z,w,v\n',
        "header-only": b"candidate_id,metals,h_per_metal,pressure_gpa\n",
        "not-csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    }
    out = {}
    for name, data in files.items():
        out[name] = tmp_path / f"{name}.csv"
        out[name].write_bytes(data)
    return out


@pytest.mark.parametrize("command", [
    ["score"], ["proxies", "--calculator", "emt", "--quiet"], ["engine", "--serial", "--quiet"],
])
def test_bad_ranking_files_give_error_naming_the_file(command, tmp_path, capsys):
    for name, path in _bad_files(tmp_path).items():
        before = path.read_bytes()
        code, _, err = _run(capsys, [command[0], "--ranking", str(path), *command[1:]])
        assert code == 2, (name, err)
        assert err.startswith(f"error: {path}:"), (name, err)
        assert path.read_bytes() == before


def test_bad_experimental_table_for_validate(tmp_path, capsys):
    from screening.experimental import default_path

    for name, path in _bad_files(tmp_path).items():
        code, _, err = _run(capsys, ["validate", "--data", str(path), "--out-dir", str(tmp_path / "out"), "--quiet"])
        assert code == 2 and err.startswith(f"error: {path}:"), (name, err)
    table = pd.read_csv(default_path())
    unknown = table.copy()
    unknown.loc[3, "metal"] = "Xx"
    negative = table.copy()
    negative.loc[5, "synthesis_pressure_gpa"] = -500.0
    for label, frame, needle in (("unknown", unknown, "'Xx'"), ("negative", negative, "-500")):
        path = tmp_path / f"{label}.csv"
        frame.to_csv(path, index=False)
        code, _, err = _run(capsys, ["validate", "--data", str(path), "--out-dir", str(tmp_path / "out"), "--quiet"])
        assert code == 2 and err.startswith(f"error: {path}:") and needle in err, err
        assert "line" in err
    assert not (tmp_path / "out" / "validation.csv").exists()


def test_bad_ranking_for_report(tmp_path):
    from screening.cli import main as cli_main

    for name, path in _bad_files(tmp_path).items():
        assert cli_main(["report", "--ranking", str(path), "--out", str(tmp_path / "r.html")]) == 2, name
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("edit, needle", [
    ({"prior_score": [7.5, 0.4]}, "prior_score=7.5"),
    ({"h_per_metal": [-3.0, 10.0]}, "h_per_metal=-3.0"),
    ({"pressure_gpa": [150.0, "lots"]}, "'lots' is not a number"),
    ({"metals": ["Ca", "Xx"]}, "Xx"),
    ({"candidate_id": ["CaH6@150GPa", "CaH6@150GPa"]}, "appears twice"),
])
def test_score_refuses_bad_values_and_leaves_the_ranking_unchanged(edit, needle, tmp_path, capsys):
    ranking = _ranking(tmp_path / "ranking.csv", **edit)
    before = ranking.read_bytes()
    code, _, err = _run(capsys, ["score", "--ranking", str(ranking)])
    assert code == 2 and err.startswith(f"error: {ranking}:") and needle in err, err
    assert ranking.read_bytes() == before


def test_score_refuses_truncated_or_columnless_ranking(tmp_path, capsys):
    ranking = _ranking(tmp_path / "ranking.csv")
    text = ranking.read_text()
    ranking.write_text(text[: text.index("LaH10@150GPa") + 20])  # cut inside the last row
    before = ranking.read_bytes()
    code, _, err = _run(capsys, ["score", "--ranking", str(ranking)])
    assert code == 2 and "truncated" in err and ranking.read_bytes() == before
    pd.read_csv(_ranking(ranking)).drop(columns="candidate_id").to_csv(ranking, index=False)
    before = ranking.read_bytes()
    code, _, err = _run(capsys, ["score", "--ranking", str(ranking)])
    assert code == 2 and "candidate_id" in err and ranking.read_bytes() == before


def test_melting_cli_reports_a_bad_structure_and_writes_the_rest(tmp_path, capsys, monkeypatch):
    from ase.build import bulk
    from ase.io import write

    from screening.cli import main as cli_main

    monkeypatch.setenv("SCREENING_CACHE_DIR", str(tmp_path / "cache"))
    structures = tmp_path / "structures"
    structures.mkdir()
    (structures / "Cu_at_0GPa.cif").write_text("data_broken\n_cell_length_a 3.6\nthis is not a CIF\n")
    write(structures / "Ni_at_0GPa.cif", bulk("Ni", "fcc", a=3.52))
    ranking = tmp_path / "ranking.csv"
    pd.DataFrame({"candidate_id": ["Cu@0GPa", "Ni@0GPa"], "formula": ["Cu", "Ni"], "metals": ["Cu", "Ni"],
                  "h_per_metal": [0.0, 0.0], "pressure_gpa": [0.0, 0.0], "rank": [1, 2]}).to_csv(ranking, index=False)
    out = tmp_path / "out.csv"
    code = cli_main(["melting", "--top", "2", "--ranking", str(ranking), "--structures", str(structures), "--calculator", "emt",
                "--budget-s", "1e-9", "--out", str(out), "--reports-dir", str(tmp_path / "r"), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Cu_at_0GPa.cif" in printed and "not a readable structure file" in printed
    table = pd.read_csv(out).set_index("candidate_id")
    assert table.loc["Cu@0GPa", "melting_status"] == "failed"
    assert table.loc["Ni@0GPa", "melting_status"] == "over-budget"  # the other candidate finished


# --------------------------------------------------------------------------- unphysical structures and runs
def test_relaxation_refuses_overlapping_atoms():
    from ase.calculators.emt import EMT
    from pymatgen.core import Lattice, Structure

    from screening.relax import RelaxSettings, relax_at_pressure

    overlapping = Structure(Lattice.cubic(4.0), ["Pd", "H", "H"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.55]],
                            coords_are_cartesian=False)
    assert overlapping.get_distance(1, 2) == pytest.approx(0.2)
    res = relax_at_pressure(overlapping, 10.0, EMT(), RelaxSettings(max_steps=20))
    assert res["status"] == "rejected" and "H-H" in res["error"] and "0.20" in res["error"]


def test_collapsing_relaxation_is_stopped_early_and_failed():
    """A potential that pulls two H atoms together is stopped at the distance floor, long before max_steps."""
    from ase.calculators.calculator import Calculator, all_changes
    from pymatgen.core import Lattice, Structure

    from screening.relax import COLLAPSE_CHECK_EVERY, RelaxSettings, relax_at_pressure

    class Attract(Calculator):
        implemented_properties = ("energy", "forces", "stress")

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            d = self.atoms.get_distance(1, 2, mic=True, vector=True)
            forces = np.zeros((len(self.atoms), 3))
            forces[1], forces[2] = 5.0 * d, -5.0 * d  # a spring of zero rest length between the two H
            self.results = {"energy": 2.5 * float(d @ d), "forces": forces, "stress": np.zeros(6)}

    start = Structure(Lattice.cubic(4.0), ["Pd", "H", "H"], [[0, 0, 0], [0.5, 0.5, 0.3], [0.5, 0.5, 0.7]])
    res = relax_at_pressure(start, 0.0, Attract(), RelaxSettings(max_steps=300))
    assert res["status"] == "failed" and "collapsed" in res["error"] and "H-H" in res["error"], res
    assert res["steps"] < 300 and res["steps"] % COLLAPSE_CHECK_EVERY == 0


def test_a_sheared_one_atom_cell_is_measured_by_its_shortest_lattice_vector():
    """Edges of 3.0 Å with a − b = 1.0 Å: the atom sits 1.0 Å from its own image, not 3.0 Å."""
    from pymatgen.core import Lattice, Structure

    from screening.structures import StructureError, check_distances
    from screening.structures.builder import shortest_distances

    theta = 2 * np.arcsin(1 / 6)  # |a - b| = 2 * 3.0 * sin(theta / 2) = 1.0 Å
    sheared = Structure(Lattice([[3.0, 0.0, 0.0], [3.0 * np.cos(theta), 3.0 * np.sin(theta), 0.0], [0.0, 0.0, 3.0]]),
                        ["Ca"], [[0, 0, 0]])
    assert min(sheared.lattice.abc) == pytest.approx(3.0)
    assert shortest_distances(sheared)["M-M"] == pytest.approx(1.0)
    with pytest.raises(StructureError, match="M-M"):
        check_distances(sheared)


def test_a_stored_collapsed_relaxation_is_failed_when_read(tmp_path):
    """A result cached before the floors existed (fcc Sr at 0.95 Å^3/atom, as CHGNet 0.3.0 gave at 150 GPa)
    is refused on every read path: the cached relaxation and the store export."""
    from pymatgen.core import Lattice, Structure

    from screening.calculators import CalculatorInfo
    from screening.export import stored_relaxations
    from screening.relax import RelaxSettings, cached_relaxation, relaxation_inputs
    from screening.store import ResultStore

    store = ResultStore(tmp_path / "s.sqlite")
    info = CalculatorInfo(name="emt", version="x", kind="EMT")
    label = {"metal": "Sr", "phase": "metal", "template": "fcc"}
    collapsed = Structure(Lattice.cubic(1.56), ["Sr"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    stale = {"status": "ok", "converged": True, "pressure_gpa": 150.0, "energy_ev": 2860.0, "n_atoms": 4,
             "volume_a3": collapsed.volume, "enthalpy_ev": 2860.0, "structure": collapsed.as_dict()}
    store.put("relax", relaxation_inputs(label, 150.0, info, RelaxSettings()), stale, "ok", 1.0)

    res, cached = cached_relaxation(store, label, lambda: pytest.fail("must not recompute"), 150.0, None, info,
                                    RelaxSettings())
    assert cached and res["status"] == "failed" and "M-M" in res["error"] and "structure" not in res
    [(_, exported)] = stored_relaxations("Sr", store)
    assert exported["status"] == "failed"


def test_ase_md_blow_up_is_failed_not_liquid():
    from ase.build import bulk

    from screening.proxies.melting import phase_at

    hot = phase_at(bulk("Cu", "fcc", a=3.61, cubic=True), 1e5, 0.0, "emt", n_atoms=32, max_ps=0.2, min_ps=0.1,
                   store=False, progress=False)
    assert hot.phase == "failed" and hot.status == "failed" and "blow-up" in hot.message


def test_emt_without_parameters_for_the_metal_says_so(tmp_path, capsys):
    ranking = _ranking(tmp_path / "ranking.csv")
    before = ranking.read_bytes()
    start = time.perf_counter()
    code, _, err = _run(capsys, ["proxies", "--top", "1", "--ranking", str(ranking), "--calculator", "emt",
                                 "--pressures", "0,10", "--reports", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and err.startswith("error: No EMT potential for Ca"), err
    assert time.perf_counter() - start < 60.0, "the calculator is checked before any relaxation"
    assert ranking.read_bytes() == before


def test_whole_failed_phase_surfaces_its_error(tmp_path, monkeypatch):
    import screening.proxies.enthalpy as enthalpy
    from screening.store import ResultStore

    monkeypatch.setattr(enthalpy, "check_elements", lambda *a: None)  # as if the calculator could not tell
    with pytest.raises(CandidateError, match=r"every Ca metal reference relaxation failed.*EMT"):
        enthalpy.compute_system("Ca", [0, 10], "emt", templates=["rocksalt"], store=ResultStore(tmp_path / "s.sqlite"),
                                progress=False)


# --------------------------------------------------------------------------- atomic writes
def test_streamed_files_appear_only_when_complete(tmp_path):
    from screening.provenance import atomic_stream

    target = tmp_path / "traj.extxyz"
    with pytest.raises(RuntimeError):
        with atomic_stream(target) as fh:
            fh.write("frame 1\n")
            raise RuntimeError("killed mid-run")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_stream(target) as fh:
        fh.write("frame 1\n")
        assert not target.exists()
    assert target.read_text() == "frame 1\n" and len(list(tmp_path.iterdir())) == 1


def test_bad_tier2a_knobs_for_validate(tmp_path, capsys):
    """Bad tier-2a knobs of ``validate`` name the value and exit 2 before anything is computed."""
    for args, needle in ((["--tier2a-max-atoms", "0"], "--tier2a-max-atoms"), (["--tier2a-templates", "nope"], "'nope'"),
                         (["--tier2a-pressures", "100,-5"], "-5")):
        code, _, err = _run(capsys, ["validate", "--compute-tier2a", *args, "--out-dir", str(tmp_path / "out"), "--quiet"])
        assert code == 2 and err.startswith("error:") and needle in err, err
    assert not (tmp_path / "out").exists()


def test_a_failing_speed_probe_gives_a_failed_melting_row_that_says_why(monkeypatch):
    """The budget check measures the calculator on the ramp cell first; if that short run fails (a potential that
    blows up at once), the estimate is a failed row naming the probe, not an exception or a fake speed."""
    from ase.build import bulk

    import screening.md.speed as speed
    from screening.errors import CandidateError
    from screening.proxies.melting import melting_temperature

    def broken(*args, **kwargs):
        raise CandidateError("speed run of emt stopped after 3 of 200 steps: lost atoms")

    monkeypatch.setattr(speed, "atom_steps_per_s", broken)
    est = melting_temperature(bulk("Cu", "fcc", a=3.615), 0.0, calculator="emt", budget_s=60.0)
    assert est.status == "failed" and est.tm_metal_k is None
    assert "speed probe failed" in est.message and "lost atoms" in est.message
