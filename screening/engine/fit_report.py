"""The errors of the engine's potential fitted to the committed DFT labels of one M–H system, by set and family.

``python -m screening.engine.fit_report --metal Ca`` (run by ``make engine-fit`` after the POD selection) fits the
POD potential exactly as the engine does (:func:`screening.engine.run.system_potential` with GPAW labels: the
committed training labels, the cross-validated settings of :mod:`screening.engine.pod_selection`) and writes
``data/engine/<M>-H/fit_errors.csv``: energy, force and stress RMSE against the labels on the training set and on
the hold-out set, overall and per family (hot MD, slabs, H2 fluid, …), with the fit's data hash, settings and the
SHA-256 of the label files. The hold-out errors are the potential's reported accuracy; they played no part in
choosing its settings.

The file is committed with the labels, so that a refit on another machine can be checked against it
(``tests/test_engine_fit_report.py``).
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

REPORT_FILE = "fit_errors.csv"
SETS = ("train", "holdout")


def fit_committed(metal: str, out_dir: str | Path | None = None, cache: str | None = None, progress: bool = False,
                  committed: dict | None = None):
    """``(potential, committed)``: the POD fit to the committed labels with the chosen (or default) settings.

    ``committed``: the folder's :func:`~screening.engine.dft_labels.committed_labels`, if the caller has read it.
    """
    from screening.engine.dft_labels import training_labels
    from screening.engine.pod_selection import chosen_settings
    from screening.engine.potential import PodSettings, fit_pod

    directory, committed = training_labels(metal, out_dir, committed)
    settings = chosen_settings(directory) or PodSettings()
    fitted = fit_pod(committed["train"], (metal, "H"), settings, holdout=committed["holdout"] or None, cache=cache,
                     progress=progress)
    return fitted, committed


def error_table(potential, sets: dict[str, Sequence]) -> pd.DataFrame:
    """One row per set and family (and ``all``): counts and RMSE of energy, forces and stress against the labels."""
    from screening.engine.potential import label_errors, predict

    rows = []
    for name, configs in sets.items():
        if not configs:
            continue
        predicted = predict(potential, configs)
        families = sorted({str(a.info.get("family", "unknown")) for a in configs})
        for family in ["all", *families]:
            idx = [i for i, a in enumerate(configs) if family == "all" or a.info.get("family") == family]
            err = label_errors([predicted[i] for i in idx], [configs[i] for i in idx], potential.elements)
            rows.append({"set": name, "family": family, "n_configs": err["n_configs"], "n_atoms": err["n_atoms"],
                         **{k: err[k] for k in ("energy_rmse_mev_per_atom", "energy_mae_mev_per_atom",
                                                "forces_rmse_ev_per_a", "stress_rmse_gpa",
                                                "energy_std_mev_per_atom", "forces_std_ev_per_a")}})
    return pd.DataFrame(rows)


def write_report(metal: str, out_dir: str | Path | None = None, cache: str | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """Fit, measure and write :data:`REPORT_FILE` next to the labels; returns the table."""
    from screening.engine.dft_labels import label_file_hashes, training_labels
    from screening.provenance import atomic_write

    directory, committed = training_labels(metal, out_dir)
    fitted, committed = fit_committed(metal, out_dir, cache, progress, committed)
    table = error_table(fitted, {s: committed[s] for s in SETS})
    files = committed["manifest"].get("files", {})
    table["potential_data_hash"] = fitted.data_hash[:24]
    table["pod_settings"] = json.dumps(asdict(fitted.settings), sort_keys=True)
    table["labels_sha256"] = json.dumps(label_file_hashes(directory, committed))
    table["lammps_version"] = fitted.lammps_version
    table["source"] = (f"computed by screening.engine.fit_report: POD (LAMMPS fitpod) fitted to "
                       f"{files.get('train')}, errors in LAMMPS against the GPAW labels")
    atomic_write(directory / REPORT_FILE, lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g"))
    return table


def print_errors(table: pd.DataFrame) -> None:
    """Print an :func:`error_table` (counts and RMSE by set and family)."""
    cols = ["set", "family", "n_configs", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a", "stress_rmse_gpa"]
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m screening.engine.fit_report --metal Ca``."""
    ap = argparse.ArgumentParser(prog="python -m screening.engine.fit_report", description=__doc__.split("\n")[0])
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--out-dir", default=None, help="root of the committed labels (default data/engine)")
    args = ap.parse_args(argv)
    try:
        table = write_report(args.metal, args.out_dir, progress=True)
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_errors(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
