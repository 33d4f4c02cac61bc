"""DFT labels per hour on this machine: two single-threaded GPAW workers against one worker with two BLAS threads.

    make bench-dft        (after make setup-dft)
    .venv/bin/python benchmarks/bench_dft_labelling.py [--n 4]

Both modes label the same ``n`` configurations (CaH4 I4/mmm at 40 GPa with small rattles, 5 atoms, the
dataset's typical cell) at the dataset's DFT settings, through the same Dask runner the campaign uses, with no
cache (every label is computed). GPAW from PyPI is built without MPI here, so "GPAW's own parallel mode" is
threaded BLAS inside one process; with MPI available, ``gpaw -P 2 python ...`` would be the third option.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def _run_mode(n: int, workers: int, blas_threads: int) -> float:
    code = f"""
import time, numpy as np
from screening.reference.campaign import _label_task
from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS
from screening.reference.convergence import system_cells, SYSTEMS
from dask.distributed import Client, LocalCluster, wait
base = system_cells(SYSTEMS[0])["hydride"]
configs = []
for i in range({n}):
    a = base.copy(); a.positions += np.random.default_rng(i).normal(0, 0.03, a.positions.shape); configs.append(a)
cluster = LocalCluster(n_workers={workers}, threads_per_worker=1, processes=True, dashboard_address=None)
client = Client(cluster)
t = time.perf_counter()
futs = [client.submit(_label_task, a, "gpaw", DEFAULT_DFT_SETTINGS.calculator_settings(), None, pure=False) for a in configs]
wait(futs)
assert all(f.result()[0] is not None for f in futs), [f.result()[1] for f in futs]
print(time.perf_counter() - t)
client.close(); cluster.close()
"""
    env = dict(os.environ, OMP_NUM_THREADS=str(blas_threads), OPENBLAS_NUM_THREADS=str(blas_threads),
               MKL_NUM_THREADS=str(blas_threads))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4, help="configurations per mode (default 4)")
    args = ap.parse_args(argv)
    rows = []
    for name, workers, threads in (("2 workers x 1 thread", 2, 1), ("1 worker x 2 BLAS threads", 1, 2)):
        wall = _run_mode(args.n, workers, threads)
        rows.append((name, wall, args.n / wall * 3600))
        print(f"{name:28s} {args.n} labels in {wall:7.1f} s = {args.n / wall * 3600:6.1f} labels/h", flush=True)
    ratio = rows[0][2] / rows[1][2]
    print(f"ratio (2 workers / 1 worker with 2 threads): {ratio:.2f}x labels per hour -> "
          f"{'two worker processes' if ratio >= 1 else 'one threaded worker'} is the campaign default")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
