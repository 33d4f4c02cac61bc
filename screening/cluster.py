"""The Dask client every distributed job of the project runs on (engine MD, DFT labels, tier-2a campaigns).

A LocalCluster of single-threaded worker processes by default; an existing cluster by address
(``scheduler=`` or ``$SCREENING_DASK_SCHEDULER``), validated and checked for reachability before any work starts.
"""

from __future__ import annotations

import os

from screening.errors import CandidateError

#: Environment variable naming an existing Dask scheduler.
SCHEDULER_ENV = "SCREENING_DASK_SCHEDULER"


def single_thread() -> None:
    """One BLAS/OpenMP/torch thread per process (worker processes inherit the environment)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch

        torch.set_num_threads(1)
    except Exception:  # torch is optional for LAMMPS-only jobs
        pass


#: URL schemes of dask.distributed's communication back ends.
SCHEDULER_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The dask scheduler to use (``scheduler``, else ``$SCREENING_DASK_SCHEDULER``), validated; None: a LocalCluster.

    Raises:
        CandidateError: not of the form ``scheme://host:port`` with a scheme of :data:`SCHEDULER_SCHEMES`
            and a port in 1-65535 (``inproc://`` addresses need no port).
    """
    from urllib.parse import urlsplit

    source = "--scheduler" if scheduler else f"${SCHEDULER_ENV}"
    address = (scheduler or os.environ.get(SCHEDULER_ENV) or "").strip()
    if not address:
        return None
    expected = f"expected scheme://host:port with scheme one of {', '.join(SCHEDULER_SCHEMES)} (e.g. tcp://10.0.0.5:8786)"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as exc:
        raise CandidateError(f"dask scheduler address {address!r} (from {source}) is malformed ({exc}); {expected}") from None
    if parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username or parts.password:
        raise CandidateError(f"dask scheduler address {address!r} (from {source}) is not valid; {expected}")
    if parts.scheme != "inproc" and port is None:
        raise CandidateError(f"dask scheduler address {address!r} (from {source}) has no port; {expected}")
    return address


def check_scheduler_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Open (and close) a TCP connection to the scheduler within ``timeout_s``, before any model is loaded.

    Raises:
        CandidateError: nothing answers at that address (the message names it).
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "tls", "ws", "wss"):
        return  # in-process and UCX addresses are not plain TCP endpoints
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=timeout_s).close()
    except OSError as exc:
        raise CandidateError(f"dask scheduler {address} is not reachable within {timeout_s:g} s ({exc}); start it "
                             f"(dask scheduler) or give another --scheduler / ${SCHEDULER_ENV}, or use --serial") from None


def get_client(scheduler: str | None = None, n_workers: int | None = None, timeout_s: float = 10.0):
    """A dask ``Client``: to ``scheduler`` (or ``$SCREENING_DASK_SCHEDULER``) if given, else a new LocalCluster.

    The address is validated (:func:`scheduler_address`) and connected to with a ``timeout_s`` limit.
    Results come back from that cluster unpickled: use only a scheduler you control; see the README
    for dask's TLS security options on shared clusters.
    """
    from dask.distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address:
        check_scheduler_reachable(address, timeout_s)
        try:
            return Client(address, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise CandidateError(f"dask scheduler {address}: could not connect ({exc})") from None
    single_thread()  # inherited by the worker processes
    n = n_workers or max(1, min(os.cpu_count() or 1, 8))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)


def close_client(client, scheduler: str | None = None) -> None:
    """Close ``client`` and, if it made its own LocalCluster (no ``scheduler`` and no ``$SCREENING_DASK_SCHEDULER``),
    that cluster too."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None and not scheduler and not os.environ.get(SCHEDULER_ENV):
        cluster.close()


__all__ = ["SCHEDULER_ENV", "SCHEDULER_SCHEMES", "check_scheduler_reachable", "close_client", "get_client",
           "scheduler_address", "single_thread"]
