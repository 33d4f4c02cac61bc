import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from screening import BaggingPUClassifier, PriorConfig, leave_one_metal_out, load_or_train_prior
from screening.prior import summarize_lomo
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
    files = sorted(cache.glob("prior-*.joblib"))
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
    assert len(list(cache.glob("prior-*.joblib"))) == 2


def test_torn_cache_file_is_replaced(tmp_path):
    cfg = PriorConfig(n_estimators=5)
    first = load_or_train_prior(cfg, cache=tmp_path, progress=False)
    path = next(tmp_path.glob("prior-*.joblib"))
    path.write_bytes(b"truncated")
    second = load_or_train_prior(cfg, cache=tmp_path, progress=False)
    assert second.cache_key == first.cache_key
    assert path.stat().st_size > 1000


def test_leave_one_metal_out_beats_random():
    result = leave_one_metal_out(progress=False)
    summary = summarize_lomo(result)
    assert summary["n_metals"] >= 10 and summary["n_positives"] >= 30
    assert (result["in_top"] == (result["rank_in_metal"] <= result["top_k"])).all()
    # A held-out metal's made phases must land in its top 10 % more often than chance (~11 %).
    assert summary["recall_top10pct"] > 2 * summary["random_baseline_recall"]


def test_fast_tree_path_equals_sklearn_predict_proba():
    X, s, _ = _pu_problem()
    clf = BaggingPUClassifier(n_estimators=20, random_state=0).fit(X, s)
    fast = clf.predict_proba(X)[:, 1]
    slow = np.mean([e.predict_proba(X)[:, 1] for e in clf.estimators_], axis=0)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
