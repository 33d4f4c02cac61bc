"""The tier-3 funnel: run_engine on dask vs serial, resume after a kill, and bad input.

Tiny real cases: a rocksalt PdH slab in H2 with ASE's EMT calculator (fast, deterministic),
so the funnel is tested without a trained potential.
"""

import importlib.util
import json
from dataclasses import replace
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from screening.calculators import CalculatorError
from screening.engine.run import ENGINE_COLUMNS, EngineSettings, run_engine, top_candidates
from screening.errors import CandidateError
from screening.store import ResultStore

TINY = EngineSettings(temperature_k=600.0, time_ps=0.01, timestep_fs=0.5, n_slab_atoms_target=16)


def _ranking(n: int = 1) -> pd.DataFrame:
    # different pressures: candidates sharing precursor, P and T share one interface run
    rows = [{"candidate_id": f"PdH{k + 2}@{5 + k}GPa", "metals": "Pd", "h_per_metal": float(k + 2), "pressure_gpa": 5.0 + k,
             "synth_rank": k + 1, "precursor": "PdH", "t_max_k": 1500.0} for k in range(n)]
    rows.append({"candidate_id": "LaH10@150GPa", "metals": "La", "h_per_metal": 10.0, "pressure_gpa": 150.0,
                 "synth_rank": n + 5, "precursor": "LaH3", "t_max_k": 3000.0})
    return pd.DataFrame(rows)


def test_top_candidates_orders_by_score_and_checks_top():
    df = _ranking(2)
    assert list(top_candidates(df, 2)["candidate_id"]) == ["PdH2@5GPa", "PdH3@6GPa"]
    with pytest.raises(CandidateError, match="got 0"):
        top_candidates(df, 0)
    with pytest.raises(CandidateError, match="pressure_gpa"):
        top_candidates(df.drop(columns="pressure_gpa"), 1)


def test_local_cluster_matches_serial(tmp_path):
    """Two dask workers give exactly the serial result (same seeds, same code path)."""
    df = _ranking(2)
    serial = run_engine(df, top=2, settings=TINY, potential="emt", distributed=False, out_dir=tmp_path / "a",
                        cache=tmp_path / "ca", progress=False)
    dist = run_engine(df, top=2, settings=TINY, potential="emt", distributed=True, n_workers=2, out_dir=tmp_path / "b",
                      cache=tmp_path / "cb", progress=False)
    done = serial["engine_status"].notna()
    assert done.sum() == 2 and dist["engine_status"].notna().sum() == 2
    numeric = ["engine_h_per_metal_initial", "engine_h_per_metal_final", "engine_uptake_rate_per_ps",
               "engine_liquid_fraction_surface"]
    a = serial.loc[done].set_index("candidate_id")
    b = dist.loc[dist["engine_status"].notna()].set_index("candidate_id")
    np.testing.assert_allclose(a[numeric].to_numpy(float), b.loc[a.index, numeric].to_numpy(float), rtol=0, atol=1e-12)
    assert list(a["engine_product_phase"]) == list(b.loc[a.index, "engine_product_phase"])
    for cid in a.index:  # the full time series too
        ha = serial.attrs["engine_results"][cid]["hot"]["h_per_metal_slab"]
        hb = dist.attrs["engine_results"][cid]["hot"]["h_per_metal_slab"]
        assert ha == hb and len(ha) > 1
    # provenance and outputs
    assert json.loads(a["engine_calculator"].iloc[0])["name"] == "emt"
    assert (tmp_path / "a" / "engine_Pd-H_uptake.png").exists()
    # the depth-resolved liquid-like fraction and the product-phase check reach the row and a figure per run
    for cid in a.index:
        profile = json.loads(a.loc[cid, "engine_liquid_fraction_by_depth"])
        assert profile["depth_bins_a"][0] == 0.0 and len(profile["liquid_fraction"]) == len(profile["depth_bins_a"])
        hot = serial.attrs["engine_results"][cid]["hot"]
        prod = [i for i, lab in enumerate(hot["stage"]) if lab == "production"]
        core_counts = [hot["metal_count_by_depth"][i][-1] for i in prod[len(prod) // 2:]]
        if any(core_counts):  # a tiny EMT slab can contract so that no metal atom is left in the core bin
            assert 0.0 <= a.loc[cid, "engine_liquid_fraction_core"] <= 1.0
        else:
            assert np.isnan(a.loc[cid, "engine_liquid_fraction_core"])
        assert a.loc[cid, "engine_product_target"] in ("fluorite", "cotunnite", "bif3", "beta_uh3")
        assert a.loc[cid, "engine_product_matches_target"] in (True, False)
        core = hot["core_phase"]  # the last picosecond's core, or why there is none (a tiny slab may have no core)
        assert a.loc[cid, "engine_core_phase"] == core["phase"]
        assert (core["phase"] and sum(core["fractions"].values()) == pytest.approx(1.0)) or core["note"]
        png = tmp_path / "a" / f"engine_{cid.replace('@', '_at_')}_hot_600_K_depth.png"
        assert png.exists() and png.with_suffix(".json").exists()
    assert all(os.path.exists(p) for p in a["engine_trajectory"])
    assert set(ENGINE_COLUMNS) <= set(serial.columns)
    assert serial.loc[~done, "engine_status"].isna().all()  # LaH10 was not in the top 2


KILL_SCRIPT = textwrap.dedent("""
    import sys
    import pandas as pd
    sys.path.insert(0, ".")
    from tests.test_engine_run import _ranking
    from screening.engine.run import EngineSettings, run_engine
    settings = EngineSettings(temperature_k=600.0, time_ps=0.3, n_slab_atoms_target=16)
    run_engine(_ranking(2), top=2, settings=settings, potential="emt", distributed=False, out_dir=sys.argv[1],
               cache=sys.argv[2], progress=False)
""")


def test_killed_engine_run_resumes_from_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    db = cache / "results.sqlite"
    store = ResultStore(db)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "out"), str(cache)], cwd=os.getcwd(),
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 900  # generous: a loaded machine runs the first job slowly
    while store.count("engine.interface_md") < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the engine run finished before it could be killed; make the second job longer"
    proc.kill()
    proc.wait()
    assert store.count("engine.interface_md") == 1 and store.integrity_ok()
    settings = EngineSettings(temperature_k=600.0, time_ps=0.3, n_slab_atoms_target=16)
    out = run_engine(_ranking(2), top=2, settings=settings, potential="emt", distributed=False,
                     out_dir=tmp_path / "out", cache=cache, progress=False)
    cached = {cid: r["hot"]["cached"] for cid, r in out.attrs["engine_results"].items()}
    assert sorted(cached.values()) == [False, True]  # one job reused, the one in flight recomputed
    assert store.count("engine.interface_md") == 2


def test_bad_engine_input(tmp_path, monkeypatch):
    from screening.engine.potential import FittedPotential, PodSettings

    fake_dir = tmp_path / "pod"
    fake_dir.mkdir()
    pd_h = FittedPotential(directory=fake_dir, files={}, elements=("Pd", "H"), settings=PodSettings(), data_hash="x",
                           label_sources=["emt"], training_range={"pressure_gpa": [0.0, 10.0]})
    # a composition the potential was not trained for: La in a Pd-H potential
    df = _ranking(1).sort_values("synth_rank", ascending=False)
    with pytest.raises(CandidateError, match="La"):
        run_engine(df, top=2, settings=TINY, potential=pd_h, distributed=False, out_dir=tmp_path, cache=tmp_path)
    # a pressure outside the training range is a warning in the result, not a silent extrapolation
    assert pd_h.check_range(pressure_gpa=150.0) and not pd_h.check_range(pressure_gpa=5.0)
    # a missing reference calculator names make setup-dft
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gpaw" else real(name, *a))
    with pytest.raises(CalculatorError, match="make setup-dft"):
        run_engine(_ranking(1), top=1, settings=EngineSettings(label_calculator="gpaw"), distributed=False,
                   out_dir=tmp_path, cache=tmp_path)
    with pytest.raises(CandidateError, match="time_ps"):
        EngineSettings(time_ps=-1.0)


def test_pressure_outside_training_range_is_a_warning_in_the_result(tmp_path):
    """A fitted potential used beyond its training pressures and H/M: the run happens, the row says so,
    whether the potential is given as an object or as its ``lammps:pod:<dir>:...`` spec."""
    from screening.engine.potential import fit_pod
    from test_engine_potential import _pdh_configs  # tests/ is on sys.path under pytest (rootdir mode)

    fp = fit_pod(_pdh_configs(16, seed=1), ["Pd", "H"], cache=tmp_path / "pod", progress=False)
    lo, hi = fp.training_range["pressure_gpa"]
    h_lo, h_hi = fp.training_range["h_per_metal"]
    assert h_hi < 2.0  # PdH2 lies beyond the training H/M
    far = float(round(hi + 100.0))
    df = pd.DataFrame([{"candidate_id": f"PdH2@{far:g}GPa", "metals": "Pd", "h_per_metal": 2.0, "pressure_gpa": far,
                        "synth_rank": 1, "precursor": "PdH", "t_max_k": 1500.0}])
    rows = {}
    for how, potential in (("object", fp), ("spec", fp.spec)):
        out = run_engine(df, top=1, settings=replace(TINY, time_ps=0.005), potential=potential, distributed=False,
                         out_dir=tmp_path / how, cache=tmp_path / "c", progress=False)
        rows[how] = out.iloc[0]
        assert rows[how]["engine_status"] in ("ok", "failed")
        warnings = rows[how]["engine_warnings"]
        assert f"pressure {far:g} GPa is outside the training range" in warnings
        assert "H/metal 2 is outside the training range" in warnings and "(target)" in warnings
        assert "H/metal 1 " not in warnings  # the PdH precursor lies inside the training H/M
        assert json.loads(rows[how]["engine_calculator"])["data_hash"] == fp.data_hash
    assert rows["spec"]["engine_warnings"] == rows["object"]["engine_warnings"]
    # inside the range: no warning
    inside = df.assign(pressure_gpa=0.5 * (lo + hi), h_per_metal=h_hi, candidate_id="PdH@in")
    from screening.engine.run import candidate_warnings

    assert candidate_warnings(inside.iloc[0].to_dict(), fp.training_range) == []
