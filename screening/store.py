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
* A failed calculation (status ``failed``) is stored with its reason but is not final:
  :meth:`ResultStore.get_or_compute` runs it again on the next run, until it has been
  attempted ``max_attempts`` times (default 2; ``$SCREENING_MAX_ATTEMPTS``), so a failure
  caused by a transient fault or a since-fixed bug does not stick.
* Values read back are checked (:func:`implausibility`): a non-finite or absurd energy
  (|E| > 1,000 eV/atom) or volume is refused with a :class:`StoreWarning` and recomputed.
* A damaged database file gives a :class:`StoreError` naming it and how to recover.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import os
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from screening.errors import CandidateError
from screening.provenance import cache_dir

#: Statuses that mark a calculation as failed: stored for the record, retried on later runs.
FAILED_STATUSES = frozenset({"failed", "error"})
#: How many times a failing calculation is attempted in all, over successive runs.
DEFAULT_MAX_ATTEMPTS = 2
MAX_ATTEMPTS_ENV = "SCREENING_MAX_ATTEMPTS"
#: Largest plausible |energy| per atom (eV): chemistry is within ~10 eV/atom, so 1e3 means a broken number.
MAX_ABS_EV_PER_ATOM = 1e3
ENERGY_KEYS = ("energy_ev", "enthalpy_ev", "energy")

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    result     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at REAL NOT NULL,
    seconds    REAL,
    attempts   INTEGER NOT NULL DEFAULT 1
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


class StoreError(CandidateError):
    """The result database cannot be read (damaged, truncated, not a database); the message names the file."""


class StoreWarning(UserWarning):
    """A stored result was refused (implausible values) and is being recomputed."""


def _number(value: Any) -> float | None:
    """``value`` as a float if it is a number or a stored non-finite marker (``"nan"``, ``"inf"``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf"):
        return float(value)
    return None


def implausibility(result: dict) -> str | None:
    """Why a stored successful result cannot be right, or None.

    Checks the top-level energies (``energy_ev``, ``enthalpy_ev``, ``energy``): finite and
    |E| / atom <= :data:`MAX_ABS_EV_PER_ATOM` (atoms from ``n_atoms`` or the length of ``forces``),
    and a volume (``volume_a3``) that is finite and positive. Failed results are not checked.
    """
    if not isinstance(result, dict):
        return f"result is a {type(result).__name__}, not a record"
    if str(result.get("status", "ok")) in FAILED_STATUSES:
        return None
    n_atoms = _number(result.get("n_atoms"))
    if n_atoms is None and isinstance(result.get("forces"), list):
        n_atoms = float(len(result["forces"]))
    for key in ENERGY_KEYS:
        if key not in result or result[key] is None:
            continue
        value = _number(result[key])
        if value is None or not math.isfinite(value):
            return f"{key}={result[key]!r} is not a finite number"
        if n_atoms and n_atoms > 0 and abs(value) / n_atoms > MAX_ABS_EV_PER_ATOM:
            return f"{key}={value:g} eV is {value / n_atoms:.3g} eV/atom, beyond +-{MAX_ABS_EV_PER_ATOM:g} eV/atom"
    if result.get("volume_a3") is not None:
        volume = _number(result["volume_a3"])
        if volume is None or not math.isfinite(volume) or volume <= 0:
            return f"volume_a3={result['volume_a3']!r} is not a positive finite number"
    return None


def max_attempts_default() -> int:
    """``$SCREENING_MAX_ATTEMPTS`` if set (an integer >= 1), else :data:`DEFAULT_MAX_ATTEMPTS`."""
    text = os.environ.get(MAX_ATTEMPTS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_ATTEMPTS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise CandidateError(f"${MAX_ATTEMPTS_ENV}={text!r} must be an integer >= 1")
    return value


class ResultStore:
    """The embedded result database (one SQLite file).

    Args:
        path: database file; default ``$SCREENING_CACHE_DIR/results.sqlite``.
        timeout_s: how long a writer waits for another writer's lock.
        max_attempts: how many times :meth:`get_or_compute` attempts a calculation that keeps failing
            (over successive runs) before it returns the stored failure; default ``$SCREENING_MAX_ATTEMPTS``
            or 2. Use 1 to never retry.

    Raises:
        StoreError: the file is not a readable SQLite database.
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout_s: float = 120.0,
                 max_attempts: int | None = None) -> None:
        self.path = Path(path) if path is not None else cache_dir() / "results.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts_default() if max_attempts is None else int(max_attempts)
        if self.max_attempts < 1:
            raise CandidateError(f"max_attempts must be >= 1, got {max_attempts!r}")
        with self._db() as con:
            con.executescript(SCHEMA)
            columns = {row[1] for row in con.execute("PRAGMA table_info(results)")}
            if "attempts" not in columns:  # databases written before failures were retried
                con.execute("ALTER TABLE results ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
        return con

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection, closed afterwards; a damaged file becomes a :class:`StoreError` naming it."""
        con = None
        try:
            con = self._connect()
            yield con
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            raise StoreError(
                f"{self.path}: result database is damaged or not a database ({exc}). Move it aside "
                f"(mv '{self.path}' '{self.path}.damaged') and rerun: finished calculations it held will be "
                "recomputed; no other file is affected") from None
        finally:
            if con is not None:
                con.close()

    def _row(self, kind: str, inputs: dict) -> tuple[dict, str, int] | None:
        with self._db() as con:
            row = con.execute("SELECT result, status, attempts FROM results WHERE key = ?",
                              (input_key(kind, inputs),)).fetchone()
        if row is None:
            return None
        try:
            result = json.loads(row[0])
        except ValueError:
            result = None
        return result, str(row[1]), int(row[2] or 1)

    def get(self, kind: str, inputs: dict) -> dict | None:
        """The stored result of this calculation, or None (also when it fails :func:`implausibility`, with a warning)."""
        row = self._row(kind, inputs)
        if row is None:
            return None
        result, _, _ = row
        why = implausibility(result)
        if why:
            warnings.warn(f"{self.path}: stored {kind} result {input_key(kind, inputs)[:12]} refused ({why}); "
                          "recomputing it", StoreWarning, stacklevel=2)
            return None
        return result

    def seconds(self, kind: str, inputs: dict) -> float | None:
        """The wall time (s) the stored calculation took when it was computed (None: not stored or not recorded)."""
        with self._db() as con:
            row = con.execute("SELECT seconds FROM results WHERE key = ?", (input_key(kind, inputs),)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def put(self, kind: str, inputs: dict, result: dict, status: str = "ok", seconds: float | None = None,
            attempts: int = 1) -> str:
        """Store (or replace) a finished result in its own transaction; returns its key."""
        key = input_key(kind, inputs)
        payload = json.dumps(_canonical(result))
        with self._db() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "INSERT OR REPLACE INTO results(key, kind, inputs, result, status, created_at, seconds, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, kind, json.dumps(_canonical(inputs)), payload, status, time.time(), seconds, int(attempts)),
            )
            con.execute("COMMIT")
        return key

    def get_or_compute(self, kind: str, inputs: dict, compute: Callable[[], dict]) -> tuple[dict, bool]:
        """Return ``(result, was_cached)``; computes and stores the result if absent.

        ``compute`` may return a dict with ``"status"``; a non-converged relaxation is a result and
        is reused. A ``failed`` one is reused only once it has been attempted ``max_attempts`` times;
        before that it is computed again (the attempt count is kept in the database). A stored
        result that fails :func:`implausibility` is recomputed with a :class:`StoreWarning`.
        """
        row = self._row(kind, inputs)
        attempts = 0
        if row is not None:
            result, status, attempts = row
            why = implausibility(result)
            if why:
                warnings.warn(f"{self.path}: stored {kind} result {input_key(kind, inputs)[:12]} refused ({why}); "
                              "recomputing it", StoreWarning, stacklevel=2)
                attempts = 0
            elif status not in FAILED_STATUSES or attempts >= self.max_attempts:
                return result, True
        start = time.perf_counter()
        result = compute()
        status = str(result.get("status", "ok"))
        self.put(kind, inputs, result, status, time.perf_counter() - start,
                 attempts=attempts + 1 if status in FAILED_STATUSES else 1)
        return result, False

    def failures(self, kind: str | None = None) -> list[dict]:
        """Stored failed calculations with their reason and attempt count (for reports)."""
        query = "SELECT key, kind, status, attempts, result FROM results WHERE status IN ('failed', 'error')"
        with self._db() as con:
            rows = con.execute(query + (" AND kind = ?" if kind else ""), (kind,) if kind else ()).fetchall()
        out = []
        for key, k, status, attempts, payload in rows:
            try:
                reason = json.loads(payload).get("error") or json.loads(payload).get("message")
            except (ValueError, AttributeError):
                reason = None
            out.append({"key": key, "kind": k, "status": status, "attempts": attempts, "reason": reason})
        return out

    def count(self, kind: str | None = None) -> int:
        with self._db() as con:
            if kind is None:
                return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            return con.execute("SELECT COUNT(*) FROM results WHERE kind = ?", (kind,)).fetchone()[0]

    def integrity_ok(self) -> bool:
        with self._db() as con:
            return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
