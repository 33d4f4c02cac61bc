import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from screening import BaggingPUClassifier, PriorConfig, load_or_train_prior
from screening.model_file import ModelFileError, load_arrays, save_arrays
from screening.prior import CacheWarning, load_prior, prior_cache_path
from screening.experimental import default_path


def _pu_problem(seed=0):
    """Two Gaussian blobs; only 20 % of the positive blob is labelled, the rest hides among the unlabeled."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(2.0, 1.0, size=(200, 4))
    neg = rng.normal(-2.0, 1.0, size=(800, 4))
    X = np.vstack([pos, neg])
    truth = np.r_[np.ones(200), np.zeros(800)]
    labelled = np.zeros(1000, dtype=int)
    labelled[:40] = 1
    return X, labelled, truth


def test_pu_bagging_recovers_hidden_positives():
    X, s, truth = _pu_problem()
    clf = BaggingPUClassifier(n_estimators=50, random_state=1).fit(X, s)
    unl = s == 0
    # Scored as if all unlabeled were negative, a good PU model still ranks the hidden positives first.
    assert roc_auc_score(truth[unl], clf.predict_proba(X[unl])[:, 1]) > 0.95
    assert roc_auc_score(truth[unl], clf.oob_score_[unl]) > 0.95
    assert np.isnan(clf.oob_score_[~unl]).all()


def test_pu_bagging_is_deterministic():
    X, s, _ = _pu_problem()
    a = BaggingPUClassifier(n_estimators=10, random_state=3).fit(X, s).predict_proba(X)
    b = BaggingPUClassifier(n_estimators=10, random_state=3).fit(X, s).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_pu_bagging_needs_both_classes():
    X, s, _ = _pu_problem()
    with pytest.raises(ValueError, match="positives"):
        BaggingPUClassifier().fit(X, np.zeros(len(s)))


def test_prior_is_a_pipeline_trained_on_experimental_positives(prior):
    assert isinstance(prior.pipeline, Pipeline)
    assert isinstance(prior.pipeline[-1], BaggingPUClassifier)
    assert prior.n_positives >= 30
    assert ("La", 10.0, 150.0) in prior.positive_keys and ("S", 3.0, 150.0) in prior.positive_keys


def test_model_cache_reused_and_rebuilt_only_when_data_changes(prior, cache, tmp_path):
    files = sorted(cache.glob("prior-*.npz"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    again = load_or_train_prior(cache=cache, progress=False)
    assert again.cache_key == prior.cache_key
    assert files[0].stat().st_mtime_ns == mtime, "cached model must be reused, not rewritten"

    changed = tmp_path / "experimental.csv"
    shutil.copy(default_path(), changed)
    with changed.open("a") as fh:
        fh.write("YH10,Y,10.0,Fm-3m,250.0,,,,laser,Y + H2,,,,,Test row,,low,test,\n")
    retrained = load_or_train_prior(data_path=changed, cache=cache, progress=False)
    assert retrained.data_sha256 != prior.data_sha256
    assert retrained.cache_key != prior.cache_key
    assert len(list(cache.glob("prior-*.npz"))) == 2


def _small_prior(cache):
    cfg = PriorConfig(n_estimators=5)
    model = load_or_train_prior(cfg, cache=cache, progress=False)
    return cfg, model, prior_cache_path(model.cache_key, cache)


def test_torn_cache_file_is_replaced(tmp_path):
    cfg, first, path = _small_prior(tmp_path)
    path.write_bytes(b"truncated")
    with pytest.warns(CacheWarning, match=str(path)):
        second = load_or_train_prior(cfg, cache=tmp_path, progress=False)
    assert second.cache_key == first.cache_key
    assert path.stat().st_size > 1000


class _Payload:
    """Unpickling this runs ``open(marker, 'w')``: what a crafted cache file could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_pickle_at_the_cache_path_is_never_run(tmp_path):
    cfg, first, path = _small_prior(tmp_path)
    marker = tmp_path / "payload-ran"
    with path.open("wb") as fh:
        pickle.dump(_Payload(marker), fh)
    with pytest.warns(CacheWarning, match=str(path)):
        again = load_or_train_prior(cfg, cache=tmp_path, progress=False)
    assert not marker.exists(), "the cached file was unpickled"
    assert again.cache_key == first.cache_key
    # The rebuilt file is plain arrays again and loads without warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_or_train_prior(cfg, cache=tmp_path, progress=False)


def test_cache_file_is_never_unpickled(tmp_path, monkeypatch):
    cfg, _, path = _small_prior(tmp_path)
    calls = []
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append(a))
    load_or_train_prior(cfg, cache=tmp_path, progress=False)
    assert calls == []


def test_garbled_cache_bytes_are_detected_in_a_fresh_interpreter(tmp_path):
    """16 garbled bytes used to segfault every later screen; now each damaged copy is refused or reads correctly."""
    cfg, first, path = _small_prior(tmp_path)
    good = path.read_bytes()
    expected = first.pipeline.predict_proba(np.zeros((1, len(cfg.features))))[0, 1]
    rng = np.random.default_rng(0)
    copies = []
    for i, offset in enumerate(rng.integers(0, len(good) - 16, size=12)):
        damaged = bytearray(good)
        damaged[offset:offset + 16] = rng.integers(0, 256, size=16, dtype=np.uint8).tobytes()
        copies.append(tmp_path / f"damaged-{i}.npz")
        copies[-1].write_bytes(bytes(damaged))
    script = (
        "import sys, numpy as np\n"
        "from screening.model_file import ModelFileError\n"
        "from screening.prior import PriorConfig, load_prior\n"
        f"cfg, key = PriorConfig(n_estimators=5), {first.cache_key!r}\n"
        f"for p in {[str(c) for c in copies]!r}:\n"
        "    try:\n"
        "        m = load_prior(p, cfg, key)\n"
        "        print(m.pipeline.predict_proba(np.zeros((1, len(cfg.features))))[0, 1])\n"
        "    except ModelFileError as exc:\n"
        "        print('refused', str(exc).split(':')[0])\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert len(lines) == len(copies)
    refused = 0
    for line, copy in zip(lines, copies):
        if line.startswith("refused"):
            assert line == f"refused {copy}"
            refused += 1
        else:  # the garbled bytes fell where they change nothing that is used
            assert float(line) == pytest.approx(expected, abs=1e-12)
    assert refused >= len(copies) // 2


def test_crafted_tree_arrays_are_rejected(tmp_path):
    """A well-formed file whose trees point backwards (an endless walk) or outside the features is refused."""
    cfg, first, path = _small_prior(tmp_path)
    arrays, meta = load_arrays(path)
    for field, value in (("left_child", 0), ("feature", 10_000), ("threshold", np.nan)):
        bad = {k: v.copy() for k, v in arrays.items()}
        inner = np.flatnonzero(bad["tree_nodes"]["left_child"] != -1)[0]
        bad["tree_nodes"][field][inner] = value
        save_arrays(path, bad, meta)
        with pytest.raises(ModelFileError, match=str(path)):
            load_prior(path, cfg, first.cache_key)


def test_fast_ensemble_probability_equals_sklearns_own_tree_predictions():
    """predict_proba looks each sample's leaf up instead of asking sklearn: same numbers, also after a refit."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    s = (X[:, 0] + 0.3 * rng.normal(size=300) > 1.0).astype(int)
    clf = BaggingPUClassifier(n_estimators=20, random_state=1).fit(X, s)
    Xf = X.astype(np.float32)
    expected = np.mean([e.predict_proba(Xf)[:, list(e.classes_).index(1)] for e in clf.estimators_], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], expected, rtol=0, atol=1e-12)
    clf.fit(X, 1 - s)  # a refit must not reuse the first ensemble's node table
    expected = np.mean([e.predict_proba(Xf)[:, list(e.classes_).index(1)] for e in clf.estimators_], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], expected, rtol=0, atol=1e-12)
