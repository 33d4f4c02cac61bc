"""Tier-1 learned prior: a positive-unlabeled (PU) bagging classifier.

Method: PU bagging (Mordelet & Vert, Pattern Recognit. Lett. 37, 201 (2014),
doi:10.1016/j.patrec.2013.06.010). The positives are the experimentally made
(metal, H/M, P) points of ``data/experimental_hydrides.csv``, placed on the
default grid; every other grid point is *unlabeled*, not negative. Each of
``n_estimators`` bags trains a randomised decision tree on all positives versus
an equally large random draw of unlabeled points; the score of a candidate is
the mean positive-class probability over the bags.

What the score is: how much a candidate's descriptors resemble those of the
hydrides experimentalists have made at high pressure, on a 0-1 scale, useful
for *ranking*. What it is not: a calibrated probability of synthesis, nor a
statement about thermodynamic stability. See the README.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from descriptors.pipeline import descriptor_columns, featurize_candidates
from screening.candidates import DEFAULT_H_PER_METAL, DEFAULT_PRESSURES_GPA, candidate_grid
from screening.experimental import default_path, load_experimental, located_positives
from screening.model_file import ModelFileError, load_arrays, save_arrays, trees_from_arrays, trees_to_arrays
from screening.provenance import cache_dir, package_versions, sha256_file, sha256_text


class BaggingPUClassifier(ClassifierMixin, BaseEstimator):
    """PU bagging (Mordelet & Vert 2014) as a scikit-learn classifier.

    ``y`` is 1 for labelled positives and 0 for *unlabeled* samples.

    Args:
        estimator: base classifier, cloned per bag (default: a randomised decision tree).
        n_estimators: number of bags.
        unlabeled_ratio: unlabeled samples drawn per bag, as a multiple of the number of positives.
        random_state: seed; bags are reproducible.
        progress: show a progress bar while fitting.
    """

    def __init__(self, estimator=None, n_estimators: int = 200, unlabeled_ratio: float = 1.0,
                 random_state: int = 0, progress: bool = False) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.unlabeled_ratio = unlabeled_ratio
        self.random_state = random_state
        self.progress = progress

    def fit(self, X, y):
        X = validate_data(self, X, dtype=np.float32, order="C")
        y = np.asarray(y).astype(int)
        pos = np.flatnonzero(y == 1)
        unl = np.flatnonzero(y == 0)
        if pos.size == 0 or unl.size == 0:
            raise ValueError(f"PU learning needs positives and unlabeled samples, got {pos.size} and {unl.size}")
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        base = self.estimator if self.estimator is not None else DecisionTreeClassifier(max_features="sqrt")
        k = min(unl.size, max(1, int(round(self.unlabeled_ratio * pos.size))))
        rng = np.random.default_rng(self.random_state)
        self.classes_ = np.array([0, 1])
        self.estimators_ = []
        self._node_fractions = None  # per-node P(labelled) of the fitted trees, built by predict_proba
        oob_sum = np.zeros(len(y))
        oob_n = np.zeros(len(y))
        for i in tqdm(range(self.n_estimators), desc="PU bags", disable=not self.progress, leave=False):
            draw = rng.choice(unl, size=k, replace=False)
            idx = np.concatenate([pos, draw])
            est = clone(base)
            if "random_state" in est.get_params():
                est.set_params(random_state=int(rng.integers(2**31 - 1)))
            est.fit(X[idx], np.r_[np.ones(pos.size), np.zeros(k)].astype(int))
            self.estimators_.append(est)
            out = np.setdiff1d(unl, draw, assume_unique=True)
            oob_sum[out] += self._positive_proba(est, X[out])
            oob_n[out] += 1
        with np.errstate(invalid="ignore"):
            #: Out-of-bag score of the unlabeled training samples (NaN for positives).
            self.oob_score_ = np.where(oob_n > 0, oob_sum / np.maximum(oob_n, 1), np.nan)
        return self

    @staticmethod
    def _node_positive_fraction(est) -> np.ndarray | None:
        """P(labelled) at every node of a fitted decision tree (None for other estimators).

        Looked up at each sample's leaf (``tree_.apply``), it gives the same numbers as ``predict_proba``
        (a test checks this) without sklearn re-validating the input and normalising class counts per sample,
        1000 times over.
        """
        if not isinstance(est, DecisionTreeClassifier):
            return None
        classes = list(est.classes_)
        value = est.tree_.value[:, 0, :]  # (nodes, classes)
        if 1 not in classes:
            return np.zeros(len(value))
        return value[:, classes.index(1)] / value.sum(axis=1)

    @classmethod
    def _positive_proba(cls, est, X, node_fraction: np.ndarray | None = None) -> np.ndarray:
        """P(labelled | x) of one fitted bag member (``node_fraction``: its :meth:`_node_positive_fraction`,
        if already computed)."""
        if node_fraction is None:
            node_fraction = cls._node_positive_fraction(est)
        if node_fraction is not None and X.dtype == np.float32 and X.flags.c_contiguous:
            return node_fraction[est.tree_.apply(X)]
        classes = list(est.classes_)
        if 1 not in classes:
            return np.zeros(len(X))
        return est.predict_proba(X)[:, classes.index(1)]

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        X = validate_data(self, X, reset=False, dtype=np.float32, order="C")
        fractions = getattr(self, "_node_fractions", None)
        if fractions is None or len(fractions) != len(self.estimators_):  # computed once per fitted ensemble
            fractions = self._node_fractions = [self._node_positive_fraction(e) for e in self.estimators_]
        total = np.zeros(len(X))
        for est, frac in zip(self.estimators_, fractions):
            total += self._positive_proba(est, X, frac)
        p = total / len(self.estimators_)
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


@dataclass(frozen=True)
class PriorConfig:
    """Settings of the tier-1 prior. Changing any of them retrains (new cache key)."""

    n_estimators: int = 1000
    unlabeled_ratio: float = 1.0
    max_features: str = "sqrt"
    min_samples_leaf: int = 1
    random_state: int = 0
    h_per_metal: tuple[float, ...] = DEFAULT_H_PER_METAL
    pressures_gpa: tuple[float, ...] = DEFAULT_PRESSURES_GPA
    features: tuple[str, ...] = field(default_factory=lambda: tuple(descriptor_columns()))

    @property
    def label(self) -> str:
        return f"PU-bagging(DecisionTree, bags={self.n_estimators}, seed={self.random_state})"


def make_pipeline(config: PriorConfig, progress: bool = False) -> Pipeline:
    """The scikit-learn Pipeline: median imputation, scaling, PU bagging of decision trees."""
    tree = DecisionTreeClassifier(max_features=config.max_features, min_samples_leaf=config.min_samples_leaf)
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("pu", BaggingPUClassifier(tree, config.n_estimators, config.unlabeled_ratio, config.random_state, progress)),
        ]
    )


def training_frame(config: PriorConfig, experimental: pd.DataFrame, progress: bool = False) -> pd.DataFrame:
    """Default-metal grid on the config's H/M and pressure axes, featurized, with a ``label`` column.

    ``label`` is 1 where an experimental phase lies (nearest grid point), else 0 (unlabeled).
    """
    grid = featurize_candidates(candidate_grid(None, config.h_per_metal, config.pressures_gpa), progress=progress)
    pos = located_positives(experimental, config.h_per_metal, config.pressures_gpa)
    keys = set(zip(pos["metal"], pos["h_per_metal"].round(6), pos["pressure_gpa"].round(6)))
    grid["label"] = [int(k in keys) for k in zip(grid["metals"], grid["h_per_metal"].round(6), grid["pressure_gpa"].round(6))]
    return grid


@dataclass
class PriorModel:
    """A fitted prior with the provenance needed to reproduce it."""

    pipeline: Pipeline
    config: PriorConfig
    data_sha256: str
    cache_key: str
    n_positives: int
    versions: dict
    #: (metals, h_per_metal, pressure_gpa) of the labelled positives; their scores are in-sample.
    positive_keys: frozenset = frozenset()

    @property
    def model_id(self) -> str:
        return f"{self.config.label}#{self.cache_key[:12]}"

    def is_training_positive(self, candidates: pd.DataFrame) -> np.ndarray:
        """True where a candidate was a labelled positive of the training grid (in-sample score)."""
        keys = zip(candidates["metals"], candidates["h_per_metal"].round(6), candidates["pressure_gpa"].round(6))
        return np.array([k in self.positive_keys for k in keys], dtype=bool)

    def score(self, featurized: pd.DataFrame) -> np.ndarray:
        """Prior score in [0, 1] for every row of a featurized candidate frame."""
        missing = [c for c in self.config.features if c not in featurized.columns]
        if missing:
            raise KeyError(f"featurized frame lacks descriptor columns {missing[:5]}")
        return self.pipeline.predict_proba(featurized[list(self.config.features)].to_numpy(dtype=float))[:, 1]


def _code_sha() -> str:
    """Hash of the source that determines the model: the descriptors package and this module."""
    import descriptors

    files = sorted(Path(descriptors.__file__).parent.glob("*.py")) + [Path(__file__)]
    return sha256_text("".join(f.read_text() for f in files))


def _cache_key(config: PriorConfig, data_sha: str) -> str:
    versions = package_versions()
    payload = {"config": asdict(config), "data": data_sha, "versions": versions, "code": _code_sha()}
    return sha256_text(json.dumps(payload, sort_keys=True, default=str))


def fit_prior(config: PriorConfig, experimental: pd.DataFrame, progress: bool = False) -> tuple[Pipeline, frozenset]:
    """Fit the pipeline on the labelled grid; returns (pipeline, keys of the labelled positives)."""
    frame = training_frame(config, experimental, progress)
    pipe = make_pipeline(config, progress)
    pipe.fit(frame[list(config.features)].to_numpy(dtype=float), frame["label"].to_numpy())
    pos = frame[frame["label"] == 1]
    return pipe, frozenset(zip(pos["metals"], pos["h_per_metal"].round(6), pos["pressure_gpa"].round(6)))


class CacheWarning(UserWarning):
    """A cached file was unusable (damaged, foreign or stale) and is being rebuilt."""


#: Version of the prior file layout written by :func:`save_prior`.
PRIOR_FILE_FORMAT = 1


def save_prior(model: PriorModel, path: str | Path) -> Path:
    """Write a fitted prior as arrays + JSON (``.npz``, no pickle), atomically."""
    imputer, scaler, pu = model.pipeline[0], model.pipeline[1], model.pipeline[-1]
    arrays = {
        "impute_statistics": imputer.statistics_,
        "scale_mean": scaler.mean_,
        "scale_var": scaler.var_,
        "scale_scale": scaler.scale_,
        "oob_score": pu.oob_score_,
        **trees_to_arrays(pu.estimators_),
    }
    meta = {
        "format": PRIOR_FILE_FORMAT,
        "cache_key": model.cache_key,
        "data_sha256": model.data_sha256,
        "n_positives": model.n_positives,
        "versions": model.versions,
        "n_features": len(model.config.features),
        "n_samples_seen": int(scaler.n_samples_seen_),
        "positive_keys": sorted([list(k) for k in model.positive_keys]),
    }
    return save_arrays(path, arrays, meta)


def load_prior(path: str | Path, config: PriorConfig, cache_key: str) -> PriorModel:
    """Read a prior written by :func:`save_prior` for this ``config`` and ``cache_key``.

    Nothing is unpickled: the file holds arrays and JSON only, checked before use.

    Raises:
        ModelFileError: the file is damaged, foreign, of another key or inconsistent (message names it).
    """
    arrays, meta = load_arrays(path)
    n = len(config.features)
    if meta.get("format") != PRIOR_FILE_FORMAT or meta.get("cache_key") != cache_key:
        raise ModelFileError(f"{path}: written for another model (format {meta.get('format')!r}, "
                             f"key {str(meta.get('cache_key'))[:16]!r}, expected {cache_key[:16]!r})")
    try:
        if meta["n_features"] != n:
            raise ValueError(f"{meta['n_features']} features, expected {n}")
        for key in ("impute_statistics", "scale_mean", "scale_var", "scale_scale"):
            if arrays[key].shape != (n,) or arrays[key].dtype != np.float64:
                raise ValueError(f"{key} has shape {arrays[key].shape}, expected ({n},)")
        if not (np.isfinite(arrays["scale_scale"]).all() and (arrays["scale_scale"] > 0).all()):
            raise ValueError("scale factors must be finite and positive")
        pipe = make_pipeline(config)
        imputer, scaler, pu = pipe[0], pipe[1], pipe[-1]
        # Refit the imputer on its own medians (a one-row median is that row): public API, same statistics_.
        imputer.fit(arrays["impute_statistics"][None, :])
        scaler.fit(arrays["scale_mean"][None, :])
        scaler.mean_, scaler.var_, scaler.scale_ = arrays["scale_mean"], arrays["scale_var"], arrays["scale_scale"]
        scaler.n_samples_seen_ = int(meta["n_samples_seen"])
        pu.estimators_ = trees_from_arrays(arrays, n, pu.estimator)
        pu.classes_ = np.array([0, 1])
        pu.n_features_in_ = n
        pu.oob_score_ = arrays["oob_score"]
        positives = frozenset((str(m), float(h), float(p)) for m, h, p in meta["positive_keys"])
        model = PriorModel(pipe, config, str(meta["data_sha256"]), cache_key, int(meta["n_positives"]),
                           dict(meta["versions"]), positives)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: inconsistent model file ({exc})") from None
    return model


def prior_cache_path(cache_key: str, cache: str | Path | None = None) -> Path:
    """Where the prior with this cache key is stored."""
    return cache_dir(cache) / f"prior-{cache_key[:16]}.npz"


def load_or_train_prior(
    config: PriorConfig | None = None,
    data_path: str | Path | None = None,
    cache: str | Path | None = None,
    progress: bool = True,
) -> PriorModel:
    """Return the cached prior for (config, data, package versions), training it if absent.

    The cache key hashes the experimental table's bytes, every config field and the
    package versions, so editing the data retrains and nothing else does. The cache is
    a ``.npz`` of arrays (see :mod:`screening.model_file`), never a pickle; a damaged or
    foreign file is reported with its path (:class:`CacheWarning`) and rebuilt.
    """
    config = config or PriorConfig()
    data_path = Path(data_path) if data_path is not None else default_path()
    data_sha = sha256_file(data_path)
    key = _cache_key(config, data_sha)
    path = prior_cache_path(key, cache)
    if path.exists():
        try:
            return load_prior(path, config, key)
        except ModelFileError as exc:
            warnings.warn(f"{exc}; retraining the prior and overwriting {path}", CacheWarning, stacklevel=2)
    pipe, positives = fit_prior(config, load_experimental(data_path), progress)
    model = PriorModel(pipe, config, data_sha, key, len(positives), package_versions(), positives)
    save_prior(model, path)
    return model


def training_mask(frame: pd.DataFrame, exclude) -> np.ndarray:
    """Rows of a training grid that a fold may use: none of the ``exclude`` metals' (candidates or positives)."""
    return ~frame["metals"].isin(list(exclude)).to_numpy()


def leave_one_metal_out(
    config: PriorConfig | None = None,
    data_path: str | Path | None = None,
    top_fraction: float = 0.10,
    progress: bool = True,
) -> pd.DataFrame:
    """Leave-one-metal-out evaluation of the prior.

    For every metal with located positives, the prior is refitted without *any*
    row of that metal (its positives and its unlabeled points), then that metal's
    candidates are ranked by score. A held-out positive is recovered if it lies in
    the top ``ceil(top_fraction * n)`` of the metal's ``n`` candidates.

    Returns:
        One row per held-out positive: metal, h_per_metal, pressure_gpa, score,
        rank_in_metal, n_candidates, top_k, in_top.
    """
    config = config or PriorConfig()
    experimental = load_experimental(data_path)
    frame = training_frame(config, experimental, progress)
    X = frame[list(config.features)].to_numpy(dtype=float)
    y = frame["label"].to_numpy()
    metals = sorted(frame.loc[y == 1, "metals"].unique())
    rows = []
    for metal in tqdm(metals, desc="leave-one-metal-out", disable=not progress):
        keep = training_mask(frame, {metal})
        held = ~keep
        pipe = make_pipeline(config).fit(X[keep], y[keep])
        scores = pipe.predict_proba(X[held])[:, 1]
        sub = frame.loc[held, ["metals", "formula", "h_per_metal", "pressure_gpa", "label"]].assign(score=scores)
        # Rank 1 = highest score; ties broken by the order of the grid (deterministic).
        sub["rank_in_metal"] = sub["score"].rank(ascending=False, method="first").astype(int)
        n = len(sub)
        k = math.ceil(top_fraction * n)
        for _, r in sub[sub["label"] == 1].iterrows():
            rows.append(
                {
                    "metal": metal,
                    "formula": r["formula"],
                    "h_per_metal": r["h_per_metal"],
                    "pressure_gpa": r["pressure_gpa"],
                    "score": r["score"],
                    "rank_in_metal": int(r["rank_in_metal"]),
                    "n_candidates": n,
                    "top_k": k,
                    "in_top": bool(r["rank_in_metal"] <= k),
                }
            )
    return pd.DataFrame(rows)


def lomo_over_seeds(
    config: PriorConfig | None = None,
    seeds: int = 3,
    data_path: str | Path | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`leave_one_metal_out` repeated with seeds ``config.random_state + 0..seeds-1``.

    Returns:
        (per-positive rows of every seed with a ``seed`` column, one summary row per seed).
    """
    from dataclasses import replace

    config = config or PriorConfig()
    results, summaries = [], []
    for i in range(seeds):
        cfg = replace(config, random_state=config.random_state + i)
        result = leave_one_metal_out(cfg, data_path, progress=progress).assign(seed=cfg.random_state)
        results.append(result)
        summaries.append({"seed": cfg.random_state, **summarize_lomo(result)})
    return pd.concat(results, ignore_index=True), pd.DataFrame(summaries)


def summarize_lomo(result: pd.DataFrame) -> dict[str, float]:
    """Headline figures of :func:`leave_one_metal_out`."""
    per_metal = result.groupby("metal")["in_top"].mean()
    return {
        "n_positives": int(len(result)),
        "n_metals": int(result["metal"].nunique()),
        "recall_top10pct": float(result["in_top"].mean()),
        "recall_top10pct_metal_macro": float(per_metal.mean()),
        "median_rank_percentile": float((result["rank_in_metal"] / result["n_candidates"]).median() * 100),
        "random_baseline_recall": float((result["top_k"] / result["n_candidates"]).mean()),
    }
