import multiprocessing as mp


from screening.store import ResultStore, input_key


def test_key_is_canonical():
    assert input_key("relax", {"p": 1.0, "a": [1, 2]}) == input_key("relax", {"a": (1, 2), "p": 1.0000000000001})
    assert input_key("relax", {"p": 1.0}) != input_key("relax", {"p": 2.0})
    assert input_key("relax", {"p": 1.0}) != input_key("md", {"p": 1.0})


def test_numpy_inputs_are_canonical():
    import numpy as np

    assert input_key("md", {"cell": np.eye(3), "t": np.float64(300.0)}) == input_key("md", {"cell": np.eye(3).tolist(), "t": 300.0})


def test_get_or_compute_stores_once(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    calls = []
    fn = lambda: calls.append(1) or {"energy": -1.5, "status": "not_converged"}  # noqa: E731
    first, cached1 = store.get_or_compute("relax", {"x": 1}, fn)
    second, cached2 = store.get_or_compute("relax", {"x": 1}, fn)
    assert (cached1, cached2) == (False, True) and len(calls) == 1
    assert second == first


def _writer(path, offset, n):
    store = ResultStore(path)
    for i in range(n):
        store.put("job", {"i": offset + i}, {"value": offset + i})


def test_two_processes_writing_at_once_do_not_corrupt(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), k * 1000, 60)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = ResultStore(path)
    assert store.count("job") == 120
    assert store.integrity_ok()
    assert store.get("job", {"i": 1059}) == {"value": 1059}


def test_failure_is_retried_on_the_next_run_up_to_the_bound(tmp_path):
    """A stored failure (e.g. from a calculator left broken by a bug) is not final."""
    path = tmp_path / "r.sqlite"
    outcomes = iter([{"status": "failed", "error": "No EMT potential for Ca"}, {"status": "ok", "energy_ev": -3.0,
                                                                                  "n_atoms": 1}])
    first, cached = ResultStore(path).get_or_compute("relax", {"x": 1}, lambda: next(outcomes))
    assert (first["status"], cached) == ("failed", False)
    assert ResultStore(path).failures("relax")[0]["reason"] == "No EMT potential for Ca"
    second, cached = ResultStore(path).get_or_compute("relax", {"x": 1}, lambda: next(outcomes))  # the next run
    assert (second["status"], cached) == ("ok", False)
    third, cached = ResultStore(path).get_or_compute("relax", {"x": 1}, lambda: 1 / 0)
    assert (third, cached) == (second, True)
    assert ResultStore(path).failures() == []

    calls = []
    always = lambda: calls.append(1) or {"status": "failed", "error": "boom"}  # noqa: E731
    for _ in range(4):
        ResultStore(path, max_attempts=3).get_or_compute("md", {"y": 2}, always)
    assert len(calls) == 3, "attempted max_attempts times, then the stored failure is returned"
    assert ResultStore(path).failures("md")[0]["attempts"] == 3


def test_max_attempts_from_environment(tmp_path, monkeypatch):
    import pytest

    from screening.errors import CandidateError

    monkeypatch.setenv("SCREENING_MAX_ATTEMPTS", "1")
    calls = []
    for _ in range(2):
        ResultStore(tmp_path / "r.sqlite").get_or_compute("md", {}, lambda: calls.append(1) or {"status": "failed"})
    assert len(calls) == 1
    monkeypatch.setenv("SCREENING_MAX_ATTEMPTS", "zero")
    with pytest.raises(CandidateError, match="SCREENING_MAX_ATTEMPTS"):
        ResultStore(tmp_path / "r.sqlite")


def test_edited_enthalpy_is_refused_and_recomputed(tmp_path):
    import json
    import sqlite3

    import pytest

    from screening.store import StoreWarning

    path = tmp_path / "r.sqlite"
    good = {"status": "ok", "energy_ev": -16.0, "enthalpy_ev": -15.2, "volume_a3": 40.0, "n_atoms": 4}
    store = ResultStore(path)
    store.put("relax", {"x": 1}, good)
    for edit in ({"enthalpy_ev": -1e6}, {"energy_ev": "nan"}, {"volume_a3": -1.0}):
        with sqlite3.connect(path) as con:
            con.execute("UPDATE results SET result = ?", (json.dumps({**good, **edit}),))
        with pytest.warns(StoreWarning, match=str(path)):
            result, cached = ResultStore(path).get_or_compute("relax", {"x": 1}, lambda: dict(good))
        assert (result, cached) == (good, False)
        with pytest.warns(StoreWarning):
            with sqlite3.connect(path) as con:
                con.execute("UPDATE results SET result = ?", (json.dumps({**good, **edit}),))
            assert ResultStore(path).get("relax", {"x": 1}) is None


def test_damaged_database_names_the_file(tmp_path):
    import pytest

    from screening.store import StoreError

    path = tmp_path / "r.sqlite"
    store = ResultStore(path)
    for i in range(300):
        store.put("job", {"i": i}, {"value": "x" * 500})
    with __import__("sqlite3").connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    other = tmp_path / "other.txt"
    other.write_text("untouched")
    for damaged in (data[: len(data) // 3], b"\x13" * 16 + data[16:], b"garbage" * 100):
        path.write_bytes(damaged)
        for wal in tmp_path.glob("r.sqlite-*"):
            wal.unlink()
        with pytest.raises(StoreError, match=str(path)):
            s = ResultStore(path)
            s.count()
            for i in range(300):
                s.get("job", {"i": i})
            assert s.integrity_ok()
    assert other.read_text() == "untouched"
