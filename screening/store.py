"""SQLite cache of finished calculations, keyed by a hash of their inputs.

Every expensive unit of work (one relaxation at one pressure, one MD run) is
stored once it finishes, under ``sha256(kind + canonical JSON of its inputs)``.
The inputs include the calculator name, version and settings, so a result is
reused only for exactly the same calculation.

* A rerun reads finished results instead of recomputing them.
* A killed run loses only the calculation in flight: each result is committed
  in its own transaction as soon as it exists.
* Several processes may read and write at once: the database runs in WAL mode
  and writers wait (``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

from screening.provenance import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    result     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at REAL NOT NULL,
    seconds    REAL
);
CREATE INDEX IF NOT EXISTS results_kind ON results(kind);
"""


def _canonical(obj: Any) -> Any:
    """JSON-stable form: sorted keys, floats rounded to 12 significant digits, tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float):
        if math.isnan(obj) or math.isinf(obj):
            return str(obj)
        return float(f"{obj:.12g}")
    if hasattr(obj, "tolist") and getattr(obj, "ndim", 0) > 0:  # numpy arrays (before .item: it fails on size > 1)
        return _canonical(obj.tolist())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _canonical(obj.item())
    return obj


def input_key(kind: str, inputs: dict) -> str:
    """Hex SHA-256 identifying a calculation of ``kind`` with these inputs."""
    text = json.dumps({"kind": kind, "inputs": _canonical(inputs)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ResultStore:
    """The embedded result database (one SQLite file).

    Args:
        path: database file; default ``$SCREENING_CACHE_DIR/results.sqlite``.
        timeout_s: how long a writer waits for another writer's lock.
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout_s: float = 120.0) -> None:
        self.path = Path(path) if path is not None else cache_dir() / "results.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        with self._connect() as con:
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
        return con

    def get(self, kind: str, inputs: dict) -> dict | None:
        """The stored result of this calculation, or None."""
        con = self._connect()
        try:
            row = con.execute("SELECT result FROM results WHERE key = ?", (input_key(kind, inputs),)).fetchone()
        finally:
            con.close()
        return None if row is None else json.loads(row[0])

    def put(self, kind: str, inputs: dict, result: dict, status: str = "ok", seconds: float | None = None) -> str:
        """Store (or replace) a finished result in its own transaction; returns its key."""
        key = input_key(kind, inputs)
        payload = json.dumps(_canonical(result))
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "INSERT OR REPLACE INTO results(key, kind, inputs, result, status, created_at, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, kind, json.dumps(_canonical(inputs)), payload, status, time.time(), seconds),
            )
            con.execute("COMMIT")
        finally:
            con.close()
        return key

    def get_or_compute(self, kind: str, inputs: dict, compute: Callable[[], dict]) -> tuple[dict, bool]:
        """Return ``(result, was_cached)``; computes and stores the result if absent.

        ``compute`` may return a dict with ``"status"``; anything but ``"ok"`` is still
        stored (a non-converged relaxation is a result, not a reason to recompute).
        """
        cached = self.get(kind, inputs)
        if cached is not None:
            return cached, True
        start = time.perf_counter()
        result = compute()
        self.put(kind, inputs, result, str(result.get("status", "ok")), time.perf_counter() - start)
        return result, False

    def count(self, kind: str | None = None) -> int:
        con = self._connect()
        try:
            if kind is None:
                return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            return con.execute("SELECT COUNT(*) FROM results WHERE kind = ?", (kind,)).fetchone()[0]
        finally:
            con.close()

    def integrity_ok(self) -> bool:
        con = self._connect()
        try:
            return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
