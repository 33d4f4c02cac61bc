"""Active learning of the distilled route (screening.engine.active_learning) on EMT-labelled Pd–H: which frames are
picked, a round's frames and provenance, resuming, and a file its log does not describe (no CHGNet, no DFT)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_engine_distilled import folder  # noqa: F401  (fixture: committed Pd-H distilled labels)

from screening.engine import active_learning as al
from screening.engine import distilled
from screening.errors import CandidateError


def test_off_frames_are_the_worst_above_a_threshold_capped_and_not_adjacent():
    gaps = np.array([[0.001, 0.1], [0.002, 0.9], [0.001, 0.8], [0.05, 0.2], [0.0, 0.1], [0.0, 0.6]])
    # scores (max of dE/0.03, dF/0.5): 0.2, 1.8, 1.6, 1.67, 0.2, 1.2
    assert al.pick_off_frames(gaps, 4) == [1, 3, 5]  # 2 is next to 1; 0 and 4 are within both tolerances
    assert al.pick_off_frames(gaps, 2) == [1, 3]
    assert al.pick_off_frames(gaps[[0, 4]], 4) == []


def test_examined_frames_drop_the_overheated_and_keep_the_last_before_the_end():
    from ase import Atoms

    frames = [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[5, 5, 5], pbc=True) for _ in range(30)]
    for k, a in enumerate(frames):
        a.info.update(md_step=k, md_temperature_k=1000.0 + (5000.0 if k >= 25 else 0.0))
    steps = [a.info["md_step"] for a in al.examined(frames, 1000.0, n=8)]
    assert len(steps) == 8 and max(steps) == 24 and steps[-4:] == [21, 22, 23, 24] and steps[0] == 0


def test_probe_rejects_bad_input():
    with pytest.raises(CandidateError, match="unknown kind 'gas'"):
        al.Probe("x", "gas", 1000.0)
    with pytest.raises(CandidateError, match="needs h_per_metal"):
        al.Probe("x", "bulk", 1000.0)
    with pytest.raises(CandidateError, match="positive"):
        al.Probe("x", "h2", -5.0)


PROBE = al.Probe("PdH_hot", "bulk", 1200.0, pressure_gpa=5.0, h_per_metal=1.0, time_ps=0.05, min_atoms=16)


def test_a_round_adds_teacher_frames_with_provenance_the_fit_reads_them_and_the_loop_resumes(folder, tmp_path):
    root, d, cells, _ = folder
    kw = dict(probes=(PROBE,), per_probe=2, teacher="emt", out_dir=root, cache=str(tmp_path / "c"), store=False,
              progress=False)
    entry = al.run_round("Pd", 0, force_tol=1e-9, energy_tol=1e-9, **kw)  # every examined frame is off
    assert entry["n_added"] == 2 and not entry["converged"]
    assert entry["probes"][0]["steps_done"] == entry["probes"][0]["steps_planned"] == 100
    added = al.active_frames("Pd", root)
    assert len(added) == 2
    for a in added:
        assert a.info["family"] == "active" and a.info["active_round"] == 0 and a.info["probe"] == "PdH_hot"
        assert a.info["explorer"] == f"POD {entry['potential_data_hash']}" and "emt" in a.info["label_source"].lower()
        assert a.info["gap_force_rmse_ev_per_a"] > 0
    frames, _ = distilled._require("Pd", root)
    assert len(frames) == len(cells) + 2 and distilled.label_files("Pd", root)[-1] == distilled.ACTIVE_FILE
    log = json.loads((d / al.ACTIVE_LOG).read_text())
    assert [r["round"] for r in log["rounds"]] == [0] and log["regenerate"] == "make engine-active METAL=Pd"

    # a run killed after writing round 1's frames but before its log entry: those frames are dropped on resume
    from screening.engine.labelling import write_extxyz

    orphan = added[0].copy()
    orphan.calc = added[0].calc
    orphan.info["active_round"] = 1
    write_extxyz(added + [orphan], d / distilled.ACTIVE_FILE)
    with pytest.raises(CandidateError, match="make engine-active"):
        distilled._require("Pd", root)
    assert al.repair_active("Pd", root) == 1 and len(al.active_frames("Pd", root)) == 2
    assert len(distilled._require("Pd", root)[0]) == len(cells) + 2

    rounds = al.run_active_learning("Pd", 2, force_tol=1e9, energy_tol=1e9, **kw)  # resumes at round 1
    assert [r["round"] for r in rounds] == [0, 1] and rounds[1]["converged"] and rounds[1]["n_added"] == 0
    assert len(al.active_frames("Pd", root)) == 2
    assert al.run_active_learning("Pd", 5, **kw)[-1]["round"] == 1  # converged: nothing more runs

    # a new teacher labels the active frames again; their provenance stays, the log records the new file
    assert distilled.relabel_active("Pd", "emt", out_dir=root, store=False) == 2
    assert [a.info["config_id"] for a in al.active_frames("Pd", root)] == [a.info["config_id"] for a in added]
    assert len(distilled._require("Pd", root)[0]) == len(cells) + 2

    with open(d / distilled.ACTIVE_FILE, "a") as fh:
        fh.write("\n")
    with pytest.raises(CandidateError, match="make engine-active METAL=Pd"):
        distilled.fit_distilled("Pd", root)
