"""Labelling campaigns on the engine's Dask runner.

:func:`label_stream` maps :func:`screening.engine.labelling.label_configurations` over configurations, one
configuration per task, on the client of :func:`screening.cluster.get_client` (a ``LocalCluster`` of
single-threaded workers here, a cluster by address or ``$SCREENING_DASK_SCHEDULER`` elsewhere). Configurations
may come from a generator: each is submitted as soon as it exists, so labelling starts while later structures
are still being relaxed. Every worker writes its label to the result store as soon as it exists (kind
``engine.label``, keyed by the configuration's content hash and the calculator provenance), so an interrupted
campaign resumes where it stopped and a label is never computed twice; labels already in the store are read
here and not submitted at all. :func:`label_distributed` is the list form.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Sequence

from screening.errors import CandidateError

log = logging.getLogger(__name__)
#: How often a waiting campaign looks for finished labels (s).
POLL_SECONDS = 0.5


def _label_task(atoms, calculator: str, settings: dict, store_path: str | None):
    """One label on a worker (the store is opened by path: workers share the SQLite file; None: no cache)."""
    from screening.engine.labelling import label_configurations
    from screening.store import ResultStore

    labelled, failures = label_configurations([atoms], calculator, store=ResultStore(store_path) if store_path else False,
                                              calculator_settings=settings, progress=False, return_failures=True)
    return (labelled[0] if labelled else None), (failures[0]["error"] if failures else None)


def _cached(atoms, calculator: str, settings: dict, store):
    from screening.engine.labelling import label_configurations

    done = label_configurations([atoms], calculator, store=store, calculator_settings=settings, progress=False,
                                only_cached=True)
    return done[0] if done else None


def label_stream(configs: Iterable, calculator: str, settings: dict | Callable[[Any], dict] | None = None, *,
                 store=None, scheduler: str | None = None, n_workers: int | None = None, progress: bool = True,
                 on_label: Callable[[Any], None] | None = None,
                 priority: Callable[[Any], int] | None = None, max_pending: int | None = None) -> list[dict]:
    """Label every configuration of ``configs`` (any iterable, consumed lazily) on Dask.

    Args:
        configs: ASE Atoms (``info`` kept).
        calculator: registry name (e.g. ``"gpaw"``).
        settings: keyword settings of the calculator (part of the cache key), or a function of the Atoms.
        store: :class:`~screening.store.ResultStore` (default: the project cache).
        scheduler: address of an existing Dask scheduler (default ``$SCREENING_DASK_SCHEDULER``, else a LocalCluster).
        n_workers: LocalCluster size (default: the CPU count).
        on_label: called in this process with every labelled copy (cached ones first, then in completion order).
        priority: Dask priority of a configuration's task (higher runs first; default: submission order).
        max_pending: most tasks submitted and not finished (default: twice the cluster's worker threads). The
            generator is not advanced past it, so the work that makes configurations (relaxations) runs just in
            time instead of competing with the labels for the same cores; 0 means no bound.

    Returns:
        The failures, as ``{"config_id", "error"}``.
    """
    from tqdm.auto import tqdm

    from screening.cluster import close_client, get_client
    from screening.store import ResultStore

    store = store or ResultStore()
    settings_of = settings if callable(settings) else (lambda _a, s=dict(settings or {}): s)
    failures: list[dict] = []
    client = None
    futures: dict = {}
    bar = tqdm(desc=f"{calculator} labels", unit="label", disable=not progress)

    def finish(fut) -> None:
        atoms = futures.pop(fut)
        labelled, error = fut.result()
        bar.update()
        if labelled is None:
            failures.append({"config_id": atoms.info.get("config_id"), "error": error})
            log.warning("label of %s failed: %s", atoms.info.get("config_id"), error)
        elif on_label is not None:
            on_label(labelled)

    def collect(block: bool) -> None:
        """Finish every completed task; with ``block``, first wait until one completes (polling every
        :data:`POLL_SECONDS`)."""
        while True:
            done = [f for f in list(futures) if f.done()]
            for f in done:
                finish(f)
            if done or not block or not futures:
                return
            time.sleep(POLL_SECONDS)

    try:
        for atoms in configs:
            s = settings_of(atoms)
            done = _cached(atoms, calculator, s, store)
            if done is not None:
                bar.update()
                if on_label is not None:
                    on_label(done)
                continue
            if client is None:
                client = get_client(scheduler, n_workers)
                if max_pending is None:
                    max_pending = 2 * max(1, sum(client.nthreads().values()))
            fut = client.submit(_label_task, atoms, calculator, s, str(store.path), pure=False,
                                priority=priority(atoms) if priority else 0)
            futures[fut] = atoms
            collect(block=False)  # what finished meanwhile
            while max_pending and len(futures) >= max_pending:  # back-pressure: wait for a free slot
                collect(block=True)
        while futures:
            collect(block=True)
    finally:
        bar.close()
        if client is not None:
            close_client(client, scheduler)
    return failures


#: Å: a cell within this of a committed one (lattice and positions) is that cell. Rebuilt cells differ by 1e-12 Å
#: (symmetrised primitive cells) to 1e-5 Å (MD on another CPU); at 150 GPa, 5e-3 Å of lattice is already ~0.1 eV,
#: and two pressures' EOS copies of one phase can lie that close, so the tolerance stays far below it.
LABEL_MATCH_TOL_A = 1e-4


def label_into_folder(todo: Iterable, existing: Sequence, write: Callable[[list, list], Any], calculator: str,
                      settings: dict, *, version: str, store=None, scheduler: str | None = None,
                      n_workers: int | None = None, max_labels: int | None = None, export_every_s: float = 300.0,
                      progress: bool = True) -> dict:
    """Label the frames of ``todo`` that ``existing`` (the folder's committed labels) lacks, by ``config_id`` or as
    the same configuration within :data:`LABEL_MATCH_TOL_A` (:func:`screening.engine.config_ids.match_configurations`:
    a cell rebuilt on another run can differ by 1e-12 Å and get another id), keeping the folder
    current: ``write(frames, failures)`` gets every label so far every ``export_every_s`` seconds and once more at
    the end, also on Ctrl-C or SIGTERM, so an interrupted campaign keeps every finished label. New labels carry
    ``version`` (the code version, :func:`screening.reference.dataset.code_version`) in ``info["code_version"]``.

    Returns ``{"counts": <what the last write returned>, "n_labelled", "failures"}``.
    """
    import itertools

    from screening.engine.config_ids import match_configurations

    labelled = {str(a.info["config_id"]): a for a in existing}
    failures: list[dict] = []
    last = [time.monotonic()]

    def on_label(atoms) -> None:
        if str(atoms.info["config_id"]) in labelled:
            return
        atoms.info["code_version"] = version
        labelled[str(atoms.info["config_id"])] = atoms
        if time.monotonic() - last[0] > export_every_s:
            write(list(labelled.values()), failures)
            last[0] = time.monotonic()

    todo = (a for a in todo if str(a.info["config_id"]) not in labelled
            and (not existing or match_configurations([a], existing, LABEL_MATCH_TOL_A)[0] is None))
    if max_labels is not None:
        todo = itertools.islice(todo, int(max_labels))
    try:
        failures.extend(label_stream(todo, calculator, settings, store=store, scheduler=scheduler,
                                     n_workers=n_workers, progress=progress, on_label=on_label))
    finally:  # also on Ctrl-C or SIGTERM: every finished label reaches the folder
        counts = write(list(labelled.values()), failures)
    return {"counts": counts, "n_labelled": len(labelled), "failures": failures}


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_interruptible(run: Callable[[], Any], where: str) -> Any:
    """``run()`` with SIGTERM treated like Ctrl-C (a batch scheduler stops a job with SIGTERM), so a campaign's
    ``finally`` exports its finished labels. Returns ``run()``'s result, or None after an interruption (reported
    on stderr, naming ``where`` the finished labels are)."""
    import signal
    import sys

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run()
    except KeyboardInterrupt:
        print(f"interrupted; finished labels are in {where} and the result store", file=sys.stderr)
        return None
    finally:
        signal.signal(signal.SIGTERM, previous)


def campaign_exit_code(run: Callable[[], dict], where: str) -> int:
    """A labelling command line's ending: :func:`run_interruptible`, then the summary (``n_labelled``, failures,
    ``counts``) as JSON on stdout and exit 0, or exit 130 after an interruption."""
    import json

    res = run_interruptible(run, where)
    if res is None:
        return 130
    print(json.dumps({"n_labelled": res["n_labelled"], "n_failed": len(res["failures"]), **res["counts"]}, indent=1))
    return 0


def label_distributed(configs: Sequence, calculator: str, settings: dict | Sequence[dict] | None = None, *,
                      store=None, scheduler: str | None = None, n_workers: int | None = None,
                      progress: bool = True) -> tuple[list, list[dict]]:
    """Label a list of configurations with :func:`label_stream`; ``settings`` may be one dict per configuration.

    Returns:
        ``(labelled, failures)``: ``labelled[i]`` is the labelled copy of ``configs[i]``, or None if it failed.
    """
    per = [dict(s) for s in settings] if isinstance(settings, (list, tuple)) else [dict(settings or {})] * len(configs)
    if len(per) != len(configs):
        raise CandidateError(f"got {len(per)} settings for {len(configs)} configurations")
    tagged = []
    for i, a in enumerate(configs):
        b = a.copy()
        b.info = {**a.info, "_campaign_index": i}
        tagged.append(b)
    out: list = [None] * len(configs)

    def keep(labelled) -> None:
        i = labelled.info.pop("_campaign_index")
        out[i] = labelled

    failures = label_stream(tagged, calculator, lambda a: per[a.info["_campaign_index"]], store=store,
                            scheduler=scheduler, n_workers=n_workers, progress=progress, on_label=keep)
    return out, failures


__all__ = ["label_distributed", "label_stream", "campaign_exit_code", "run_interruptible"]
