"""The learning curve of the engine's potential: hold-out errors against the number of DFT training labels.

How many labels a system needs is the question that sets the labelling budget (at about 17 Ca–H labels per hour on
two cores, 200 labels are 12 hours). ``python -m screening.engine.learning_curve --metal Ca`` (run by ``make
engine-fit``) refits the POD potential, with the settings the engine uses
(:func:`~screening.engine.pod_selection.chosen_settings`), on the first n committed training labels for a few n,
and measures each fit on the whole hold-out set. The first n are the first n committed labels in the selection
order (``info["selection_rank"]``: round-robin over the families), i.e. the training set a labelling campaign
stopped after n labels would have had (the costly cells it labels last aside). Written to ``data/engine/<M>-H/learning_curve.csv``.

Each fit is an ordinary :func:`~screening.engine.potential.fit_pod` (cached by data hash).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import pandas as pd

from screening.errors import CandidateError

CURVE_FILE = "learning_curve.csv"


def default_sizes(n_train: int, smallest: int = 5) -> list[int]:
    """Training-set sizes of the curve: ``n_train`` halved until below ``smallest`` (at least one size)."""
    if n_train < 1:
        raise CandidateError(f"a learning curve needs training labels, got {n_train}")
    sizes, n = [], n_train
    while n >= smallest or not sizes:
        sizes.append(n)
        n //= 2
    return sorted(set(sizes))


def learning_curve(train: Sequence, holdout: Sequence, elements: Sequence[str], settings=None,
                   sizes: Sequence[int] | None = None, cache: str | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """One row per training-set size: errors of the fit to the first n ``train`` labels (selection order) on
    those n labels and on all of ``holdout`` (energy and force RMSE, stress RMSE in GPa)."""
    from tqdm import tqdm

    from screening.engine.potential import PodSettings, evaluate, fit_pod

    if not holdout:
        raise CandidateError("a learning curve needs hold-out labels")
    settings = settings or PodSettings()
    ordered = sorted(train, key=lambda a: (int(a.info.get("selection_rank", 10**9)), str(a.info.get("config_id"))))
    sizes = default_sizes(len(ordered)) if sizes is None else sorted({int(n) for n in sizes})
    if not sizes or sizes[0] < 1 or sizes[-1] > len(ordered):
        raise CandidateError(f"learning-curve sizes {sizes} outside 1..{len(ordered)} training labels")
    rows = []
    for n in tqdm(sizes, desc="learning curve", unit="fit", disable=not progress):
        fit = fit_pod(ordered[:n], elements, settings, cache=cache, progress=False)
        for name, configs in (("train", ordered[:n]), ("holdout", list(holdout))):
            err = evaluate(fit, configs)
            rows.append({"n_train": n, "set": name, "n_configs": err["n_configs"],
                         "energy_rmse_mev_per_atom": err["energy_rmse_mev_per_atom"],
                         "forces_rmse_ev_per_a": err["forces_rmse_ev_per_a"],
                         "stress_rmse_gpa": err["stress_rmse_gpa"], "potential_data_hash": fit.data_hash[:24]})
    return pd.DataFrame(rows)


def write_curve(metal: str, out_dir: str | Path | None = None, cache: str | None = None,
                progress: bool = True) -> pd.DataFrame:
    """Compute the learning curve of the committed labels of ``metal`` and write :data:`CURVE_FILE` beside them."""
    from screening.engine.dft_labels import label_file_hashes, training_labels
    from screening.engine.pod_selection import chosen_settings
    from screening.engine.potential import PodSettings
    from screening.provenance import atomic_write

    directory, committed = training_labels(metal, out_dir)
    settings = chosen_settings(directory) or PodSettings()
    table = learning_curve(committed["train"], committed["holdout"], (metal, "H"), settings, cache=cache,
                           progress=progress)
    files = committed["manifest"].get("files", {})
    table["pod_settings"] = json.dumps(asdict(settings), sort_keys=True)
    table["labels_sha256"] = json.dumps(label_file_hashes(directory, committed))
    table["source"] = (f"computed by screening.engine.learning_curve: POD fits to the first n labels of "
                       f"{files.get('train')} (selection order), errors in LAMMPS against the GPAW labels")
    atomic_write(directory / CURVE_FILE, lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g"))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m screening.engine.learning_curve --metal Ca``."""
    ap = argparse.ArgumentParser(prog="python -m screening.engine.learning_curve", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--out-dir", default=None, help="root of the committed labels (default data/engine)")
    args = ap.parse_args(argv)
    try:
        table = write_curve(args.metal, args.out_dir)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cols = ["n_train", "set", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a", "stress_rmse_gpa"]
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
