"""A fitted model as plain arrays in a ``.npz`` file: nothing in it can run code when read.

The tier-1 prior used to be cached with ``joblib`` (pickle), so a crafted file at the
predictable cache path ran its payload, and 16 garbled bytes made the interpreter
segfault. Here the file holds only numeric arrays plus one JSON text, read with
``numpy.load(allow_pickle=False)``; the zip members carry CRC-32 checksums, so damage is
detected on read. Decision trees are rebuilt from their node arrays only after the
arrays pass :func:`check_tree_arrays` (every child index points forward inside its own
tree, every split feature exists), so even a crafted but well-formed file cannot make
scikit-learn's tree walker read outside its arrays or loop forever.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import NODE_DTYPE, Tree

from screening.provenance import atomic_write

META_KEY = "meta_json"
#: scikit-learn's node record without its padding (``.npy`` headers store packed records).
PACKED_NODE_DTYPE = np.dtype([(name, NODE_DTYPE.fields[name][0]) for name in NODE_DTYPE.names])


class ModelFileError(ValueError):
    """A model file is missing, damaged, foreign or inconsistent; the message names the file."""


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and the JSON-serialisable ``meta`` to a compressed ``.npz``, atomically."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    if any(a.dtype.hasobject for a in payload.values()):
        raise TypeError("object arrays would need pickle; store numbers or text only")
    payload[META_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    return atomic_write(path, write)


def load_arrays(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_arrays`; never unpickles.

    Raises:
        ModelFileError: the file is unreadable, not such a file, or damaged (CRC mismatch).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
    except Exception as exc:  # noqa: BLE001 - whatever fails while decoding these bytes means a damaged file
        raise ModelFileError(f"{path}: not a readable model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: metadata is not a JSON object")
    return arrays, meta


def trees_to_arrays(trees: Sequence[DecisionTreeClassifier]) -> dict[str, np.ndarray]:
    """Node and value arrays of fitted binary decision trees, concatenated, with per-tree node counts."""
    states = [t.tree_.__getstate__() for t in trees]
    for t in trees:
        if list(t.classes_) != [0, 1] or t.n_outputs_ != 1:
            raise ValueError("only single-output trees with classes [0, 1] are supported")
    return {
        "tree_nodes": np.concatenate([s["nodes"] for s in states]).astype(PACKED_NODE_DTYPE),
        "tree_values": np.concatenate([s["values"] for s in states]),
        "tree_node_count": np.array([s["node_count"] for s in states], dtype=np.int64),
        "tree_max_depth": np.array([s["max_depth"] for s in states], dtype=np.int64),
    }


def check_tree_arrays(arrays: dict[str, np.ndarray], n_features: int) -> None:
    """Raise ``ValueError`` unless the arrays describe valid, terminating binary trees over ``n_features``."""
    for key in ("tree_nodes", "tree_values", "tree_node_count", "tree_max_depth"):
        if key not in arrays:
            raise ValueError(f"missing array {key!r}")
    nodes, values = arrays["tree_nodes"], arrays["tree_values"]
    counts, depth = arrays["tree_node_count"], arrays["tree_max_depth"]
    if nodes.dtype != PACKED_NODE_DTYPE:
        raise ValueError(f"node records have dtype {nodes.dtype}, expected {PACKED_NODE_DTYPE}")
    if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind != "i" or (counts < 1).any():
        raise ValueError("per-tree node counts must be positive integers")
    if depth.shape != counts.shape or depth.dtype.kind != "i" or (depth < 0).any():
        raise ValueError("per-tree depths must be non-negative integers, one per tree")
    total = int(counts.sum())
    if nodes.shape != (total,) or values.shape != (total, 1, 2) or values.dtype != np.float64:
        raise ValueError(f"{nodes.shape[0]} nodes and values {values.shape} for {total} declared nodes")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("leaf values must be finite and non-negative")
    local = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # index of a node inside its tree
    size = np.repeat(counts, counts)
    left, right = nodes["left_child"], nodes["right_child"]
    leaf = left == -1
    if ((right == -1) != leaf).any():
        raise ValueError("a node has exactly one child")
    inner = ~leaf
    # Children after their parent (scikit-learn's builders add nodes in that order): no cycles.
    for child in (left, right):
        if ((child[inner] <= local[inner]) | (child[inner] >= size[inner])).any():
            raise ValueError("a child index points backwards or outside its tree")
    feature = nodes["feature"][inner]
    if ((feature < 0) | (feature >= n_features)).any():
        raise ValueError(f"a split uses a feature outside 0..{n_features - 1}")
    if not np.isfinite(nodes["threshold"][inner]).all():
        raise ValueError("a split threshold is not finite")
    if (values[leaf].sum(axis=(1, 2)) <= 0).any():
        raise ValueError("a leaf holds no samples")


def trees_from_arrays(arrays: dict[str, np.ndarray], n_features: int,
                      template: DecisionTreeClassifier) -> list[DecisionTreeClassifier]:
    """Fitted classifiers rebuilt from :func:`trees_to_arrays` output (checked first), with ``template``'s parameters."""
    check_tree_arrays(arrays, n_features)
    nodes, values = arrays["tree_nodes"].astype(NODE_DTYPE), arrays["tree_values"]
    params = template.get_params()
    out = []
    start = 0
    for count, depth in zip(arrays["tree_node_count"].tolist(), arrays["tree_max_depth"].tolist()):
        tree = Tree(n_features, np.array([2], dtype=np.intp), 1)
        tree.__setstate__({"max_depth": depth, "node_count": count,
                           "nodes": nodes[start:start + count].copy(),
                           "values": np.ascontiguousarray(values[start:start + count])})
        start += count
        est = DecisionTreeClassifier(**params)
        est.tree_ = tree
        est.classes_ = np.array([0, 1])
        est.n_classes_ = 2
        est.n_outputs_ = 1
        est.n_features_in_ = n_features
        out.append(est)
    return out
