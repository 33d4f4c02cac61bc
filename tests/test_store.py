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
