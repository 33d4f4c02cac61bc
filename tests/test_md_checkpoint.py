"""MD checkpoints: a session continued from a saved state is the run that never stopped, in both back ends, and a
checkpoint file that is not one is named, not unpickled."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from screening.errors import CandidateError
from screening.md import Stage, open_session
from screening.md.checkpoint import checkpoint_paths, clear_checkpoint, load_checkpoint, save_checkpoint

CU = "lammps:eam/alloy:Cu_mishin1.eam.alloy"


def _minimum_image(d, cell):
    return d - np.round(d @ np.linalg.inv(cell)) @ cell


@pytest.mark.parametrize("calculator", ["emt", CU])
def test_a_run_continued_from_a_saved_state_is_the_run_that_never_stopped(tmp_path, calculator):
    cu = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    cu.rattle(0.05, seed=1)
    with open_session(cu, calculator, 1.0) as s:
        s.run(Stage("nve", 1, 300.0, init_velocities_k=600.0, seed=3))
        start = s.get_state()
        s.run(Stage("nve", 40, 300.0, sample_every=40))
        straight = s.get_state()
    assert np.abs(start.get_velocities()).max() > 0
    with open_session(start, calculator, 1.0, keep_velocities=True) as s:
        s.run(Stage("nve", 20, 300.0, sample_every=20))
        save_checkpoint(tmp_path / "ck", s.get_state(), s.time_ps, {"done": 20}, {"extra": np.arange(3.0)})
    saved = load_checkpoint(tmp_path / "ck")
    assert saved.meta == {"done": 20} and saved.time_ps == pytest.approx(0.020)
    assert np.array_equal(saved.arrays["extra"], np.arange(3.0)) and saved.frames == []
    with open_session(saved.state, calculator, 1.0, keep_velocities=True) as s:
        s.run(Stage("nve", 20, 300.0, sample_every=20))
        resumed = s.get_state()
    assert np.abs(_minimum_image(resumed.positions - straight.positions, straight.cell)).max() < 1e-9
    assert np.abs(resumed.get_velocities() - straight.get_velocities()).max() < 1e-9
    assert resumed.get_temperature() == pytest.approx(straight.get_temperature(), rel=1e-9)
    # without keep_velocities a session starts at rest, as before
    with open_session(saved.state, calculator, 1.0) as s:
        assert np.abs(s.get_state().get_velocities()).max() == 0.0


def test_a_bad_checkpoint_is_named_and_a_missing_one_is_none(tmp_path):
    assert load_checkpoint(tmp_path / "none") is None
    npz, _ = checkpoint_paths(tmp_path / "bad")
    npz.write_bytes(b"not a checkpoint")
    with pytest.raises(CandidateError, match="bad.npz is not a readable MD checkpoint"):
        load_checkpoint(tmp_path / "bad")
    cu = bulk("Cu", "fcc", a=3.615)
    save_checkpoint(tmp_path / "frames", cu, 0.0, {}, frames=[cu, cu])
    checkpoint_paths(tmp_path / "frames")[1].unlink()
    with pytest.raises(CandidateError, match="2 kept frames"):
        load_checkpoint(tmp_path / "frames")
    clear_checkpoint(tmp_path / "frames")
    assert load_checkpoint(tmp_path / "frames") is None


def test_kept_frames_are_appended_and_a_killed_append_is_cut_off(tmp_path):
    """Each checkpoint writes only the frames beyond the previous one; bytes a killed run appended after its last
    checkpoint are neither read nor kept."""
    cu = bulk("Cu", "fcc", a=3.615)
    frames = []
    for i in range(6):
        a = cu.copy()
        a.positions += 0.01 * i
        frames.append(a)
    stem = tmp_path / "ck"
    traj = checkpoint_paths(stem)[1]
    save_checkpoint(stem, cu, 1.0, {}, frames=frames[:2])
    first = traj.read_bytes()
    save_checkpoint(stem, cu, 2.0, {}, frames=frames[:4])
    assert traj.read_bytes().startswith(first) and len(traj.read_bytes()) > len(first)  # appended, not rewritten
    with open(traj, "a") as fh:  # a run killed while appending frames 5-6, before its .npz was written
        fh.write("3\nLattice=\"half a fr")
    got = load_checkpoint(stem)
    assert len(got.frames) == 4 and np.allclose(got.frames[3].positions, frames[3].positions)
    save_checkpoint(stem, cu, 3.0, {}, frames=frames)
    got = load_checkpoint(stem)
    assert [round(f.positions[0, 0], 6) for f in got.frames] == [round(0.01 * i, 6) for i in range(6)]
    save_checkpoint(stem, cu, 4.0, {}, frames=frames[:1])  # fewer frames than before: the file is rewritten
    assert len(load_checkpoint(stem).frames) == 1
