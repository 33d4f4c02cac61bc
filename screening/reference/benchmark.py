"""Side-by-side benchmark of ML potentials against the held-out DFT frames (``reports/potential_benchmark.csv``).

Models (registry names): stock CHGNet 0.3.0 (``chgnet``), CHGNet r2SCAN (``chgnet-r2scan``) and the fine-tuned
``chgnet-hydride``. Every model labels every frame of the dataset through the registry (the code path tier 2a
uses); the frames are split as the fine-tune split them (:func:`screening.reference.finetune.split_frames`, with
the held-out metals and fraction recorded in the fine-tuned model's provenance), and the errors are reported for

* ``seen``: held-out frames of metals the fine-tune saw, ``unseen``: frames of metals it never saw, and
  ``train`` (for reference: the fine-tuned model was fitted to these);
* pressure bins of the frames' target pressure (0–50, 50–150, 150–300 GPa) and ``all``.

Quantities:

* energy per atom (meV/atom) after **per-element alignment**, done the same way for every model: one offset per
  element fitted by least squares on the ``train`` frames (GPAW and the VASP data behind CHGNet have different
  zeros); an element absent from the training frames (an unseen metal) gets its offset from its own pure-element
  frames, which are then left out of the energy statistics. The offsets are in the sidecar JSON;
* force components (eV/Å), pressure −tr(σ)/3 (GPa);
* formation enthalpy at fixed geometry (meV/atom): ``[H − n_M h_M − n_H h_H] / n`` with ``H = E + P V`` at the
  frame's target pressure, references the lowest-enthalpy DFT pure-metal frame of the same metal and the
  lowest-enthalpy pure-H frame at the same target pressure (the same frames for model and DFT). It does not depend
  on the element alignment;
* speed: atom-steps per second (atoms × single points / wall time, energy + forces + stress).

Relaxed volumes against the DFT volumes of the dataset's EOS points (``data/dft/volumes.csv``, cubic phases
without free coordinates; :func:`volume_benchmark`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from screening.calculators import (CalculatorError, get_calculator, hydride_spec_dir, is_hydride_spec,
                                  read_finetune_provenance)
from screening.errors import CandidateError
from screening.reference.domain import DOMAIN_MAX_PRESSURE_GPA, domain_frames
from screening.reference.finetune import (FinetuneSettings, dataset_hash, file_keys, training_files,
                                          fit_element_offsets, frame_metals, load_frames, split_frames)

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("chgnet", "chgnet-r2scan", "chgnet-hydride")
PRESSURE_BINS_GPA = ((0.0, 50.0), (50.0, 150.0), (150.0, 300.0))
SPLIT_NAMES = {"train": "train", "val": "seen", "unseen": "unseen"}
VOLUME_COLUMNS = ("phase", "pressure_gpa", "dft_volume_a3_per_atom", "structure", "source")
EV_A3_TO_GPA = 160.21766208


def pressure_bin(p: float) -> str:
    """Bin label of a target pressure: ``0-50``, ``50-150``, ``150-300`` (upper edge of the last included)."""
    for lo, hi in PRESSURE_BINS_GPA:
        if lo <= p < hi or (hi == PRESSURE_BINS_GPA[-1][1] and p == hi):
            return f"{lo:g}-{hi:g}"
    return f">{PRESSURE_BINS_GPA[-1][1]:g}" if p > 0 else "<0"


# --------------------------------------------------------------------------- predictions
def predict_with(calculator: Any, frames: Sequence) -> tuple[list, np.ndarray, dict]:
    """Label ``frames`` with a registry calculator: (labelled copies, seconds per frame, info dict).

    The ``warnings`` the calculator reports (elements outside a fine-tune) go into each copy's ``info``.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    calc, info = get_calculator(calculator)
    out, seconds = [], []
    for a in frames:
        b = a.copy()
        b.info = dict(a.info)
        b.calc = calc
        start = time.perf_counter()
        e, f, s = b.get_potential_energy(), b.get_forces(), b.get_stress(voigt=True)
        seconds.append(time.perf_counter() - start)
        warns = list(getattr(calc, "results", {}).get("warnings") or [])
        b.calc = SinglePointCalculator(b, energy=float(e), forces=np.array(f), stress=np.array(s))
        if warns:
            b.info["warnings"] = warns
        out.append(b)
    return out, np.array(seconds), info.as_dict()


def _energy_stress(a) -> tuple[float, np.ndarray | None]:
    res = a.calc.results
    s = res.get("stress")
    return float(res["energy"]), (None if s is None else np.asarray(s, float))


# --------------------------------------------------------------------------- alignment and formation enthalpy
def element_offsets(pred: Sequence, ref: Sequence, train_idx: Sequence[int]) -> tuple[dict[str, float], list[int]]:
    """Per-element offsets (eV/atom, to add to the model) and the frames used to calibrate elements outside training.

    Offsets of elements in the training frames: least squares over them. An element absent from the training
    frames: mean of ``(E_ref − E_pred − Σ_known n μ) / n_el`` over the frames made of that element alone (its
    pure-element references); those frame indices are returned so they can be left out of the energy errors.
    """
    offsets = fit_element_offsets([pred[i] for i in train_idx], [ref[i] for i in train_idx]) if len(train_idx) else {}
    calibration: list[int] = []
    everything = sorted(set().union(*(set(a.get_chemical_symbols()) for a in ref))) if len(ref) else []
    for el in [e for e in everything if e not in offsets]:
        pure = [i for i, a in enumerate(ref) if set(a.get_chemical_symbols()) == {el}]
        if not pure:
            log.warning("no pure-%s frame to calibrate its energy offset; %s frames keep the model's zero", el, el)
            offsets[el] = 0.0
            continue
        offsets[el] = float(np.mean([(_energy_stress(ref[i])[0] - _energy_stress(pred[i])[0]) / len(ref[i])
                                     for i in pure]))
        calibration.extend(pure)
    return offsets, sorted(calibration)


def _shift(a, offsets: dict[str, float]) -> float:
    return float(sum(offsets.get(s, 0.0) for s in a.get_chemical_symbols()))


def formation_references(ref: Sequence) -> dict[int, tuple[int, int]]:
    """For each M–H frame with a pure-metal and a pure-H reference at its target pressure: (metal ref, H ref).

    References are the frames of lowest DFT enthalpy per atom (``E + P V`` at the target pressure) among the
    pure-metal frames of that metal and the pure-H frames at the same target pressure.
    """
    def h_per_atom(a) -> float:
        return (_energy_stress(a)[0] + float(a.info["pressure_gpa"]) / EV_A3_TO_GPA * a.get_volume()) / len(a)

    best: dict[tuple[str, float], int] = {}
    for i, a in enumerate(ref):
        els = set(a.get_chemical_symbols())
        if len(els) != 1:
            continue
        key = (next(iter(els)), round(float(a.info["pressure_gpa"]), 6))
        if key not in best or h_per_atom(a) < h_per_atom(ref[best[key]]):
            best[key] = i
    out = {}
    for i, a in enumerate(ref):
        metals = frame_metals(a)
        if len(metals) != 1 or "H" not in a.get_chemical_symbols():
            continue
        p = round(float(a.info["pressure_gpa"]), 6)
        m_ref, h_ref = best.get((next(iter(metals)), p)), best.get(("H", p))
        if m_ref is not None and h_ref is not None:
            out[i] = (m_ref, h_ref)
    return out


def formation_enthalpy(frames: Sequence, i: int, refs: tuple[int, int]) -> float:
    """Formation enthalpy per atom (eV) of ``frames[i]`` against ``frames[refs[0]]`` (metal), ``frames[refs[1]]`` (H)."""
    def h(a) -> float:
        return _energy_stress(a)[0] + float(a.info["pressure_gpa"]) / EV_A3_TO_GPA * a.get_volume()

    a, m, hh = frames[i], frames[refs[0]], frames[refs[1]]
    sym = a.get_chemical_symbols()
    n_h = sym.count("H")
    return (h(a) - (len(a) - n_h) * h(m) / len(m) - n_h * h(hh) / len(hh)) / len(a)


# --------------------------------------------------------------------------- per-frame errors and aggregation
def frame_errors(model: str, pred: Sequence, ref: Sequence, seconds: np.ndarray, split_of: dict[int, str],
                 offsets: dict[str, float], calibration: Sequence[int], refs: dict[int, tuple[int, int]]) -> pd.DataFrame:
    """One row per frame: aligned energy error (meV/atom), force squared-error sum, pressure and formation errors."""
    calib = set(calibration)
    rows = []
    for i, (p, r) in enumerate(zip(pred, ref)):
        (ep, sp), (er, sr) = _energy_stress(p), _energy_stress(r)
        n = len(r)
        df = np.asarray(p.calc.results["forces"], float) - np.asarray(r.calc.results["forces"], float)
        dp = (-sp[:3].mean() + sr[:3].mean()) * EV_A3_TO_GPA if sp is not None and sr is not None else math.nan
        dhf = math.nan
        if i in refs:
            dhf = (formation_enthalpy(pred, i, refs[i]) - formation_enthalpy(ref, i, refs[i])) * 1000.0
        rows.append({
            "model": model, "config_id": r.info.get("config_id"), "metal": r.info.get("metal"),
            "family": r.info.get("family"), "pressure_gpa": float(r.info["pressure_gpa"]),
            "pressure_bin": pressure_bin(float(r.info["pressure_gpa"])), "split": split_of[i], "n_atoms": n,
            "energy_error_mev_per_atom": math.nan if i in calib else (ep + _shift(p, offsets) - er) / n * 1000.0,
            "force_sq_sum": float(np.sum(df**2)), "force_abs_sum": float(np.sum(np.abs(df))), "force_n": int(df.size),
            "pressure_error_gpa": dp, "formation_error_mev_per_atom": dhf, "seconds": float(seconds[i]),
            "warnings": "; ".join(p.info.get("warnings", [])),
        })
    return pd.DataFrame(rows)


def _rmse(x: pd.Series) -> float:
    x = x.dropna()
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else math.nan


def _mae(x: pd.Series) -> float:
    x = x.dropna()
    return float(np.mean(np.abs(x))) if len(x) else math.nan


def summarize(frames: pd.DataFrame) -> pd.DataFrame:
    """Errors by model, split and pressure bin (and ``all``) from :func:`frame_errors` rows."""
    rows = []
    for (model, split), g in frames.groupby(["model", "split"], sort=False):
        for b, gb in [("all", g), *sorted(g.groupby("pressure_bin"), key=lambda t: _bin_order(t[0]))]:
            rows.append({
                "model": model, "split": split, "pressure_bin": b, "n_frames": len(gb), "n_atoms": int(gb["n_atoms"].sum()),
                "energy_rmse_mev_per_atom": _rmse(gb["energy_error_mev_per_atom"]),
                "energy_mae_mev_per_atom": _mae(gb["energy_error_mev_per_atom"]),
                "n_energy": int(gb["energy_error_mev_per_atom"].notna().sum()),
                "forces_rmse_ev_per_a": float(np.sqrt(gb["force_sq_sum"].sum() / gb["force_n"].sum())),
                "forces_mae_ev_per_a": float(gb["force_abs_sum"].sum() / gb["force_n"].sum()),
                "pressure_rmse_gpa": _rmse(gb["pressure_error_gpa"]), "pressure_mae_gpa": _mae(gb["pressure_error_gpa"]),
                "pressure_bias_gpa": float(gb["pressure_error_gpa"].mean()),
                "formation_rmse_mev_per_atom": _rmse(gb["formation_error_mev_per_atom"]),
                "formation_mae_mev_per_atom": _mae(gb["formation_error_mev_per_atom"]),
                "n_formation": int(gb["formation_error_mev_per_atom"].notna().sum()),
                "atom_steps_per_s": float(gb["n_atoms"].sum() / gb["seconds"].sum()) if gb["seconds"].sum() > 0 else math.nan,
                "n_warned": int((gb["warnings"] != "").sum()),
            })
    return pd.DataFrame(rows)


def _bin_order(label: str) -> float:
    try:
        return float(label.split("-")[0].lstrip("<>"))
    except ValueError:
        return math.inf


# --------------------------------------------------------------------------- driver
def benchmark_frames(frames: Sequence, models: Sequence[str] = DEFAULT_MODELS, *, holdout_metals: Sequence[str],
                     holdout_fraction: float, progress: bool = False,
                     max_pressure_gpa: float | None = DOMAIN_MAX_PRESSURE_GPA) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Run every model on every frame; returns (summary table, per-frame table, provenance dict).

    Frames whose DFT pressure is above ``max_pressure_gpa`` are left out and counted in the provenance
    (:mod:`screening.reference.domain`), as the fine-tune leaves them out.

    Raises:
        CalculatorError: a model cannot be loaded (checked for every model before any frame is computed).
    """
    infos = {m: get_calculator(m)[1].as_dict() for m in models}  # fail early, before hours of predictions
    frames, out_of_domain = domain_frames(frames, max_pressure_gpa)
    split = split_frames(frames, holdout_metals, holdout_fraction)
    split_of = {i: SPLIT_NAMES[k] for k, idx in split.items() for i in idx}
    refs = formation_references(frames)
    per_frame, offsets_by_model, calibration_by_model = [], {}, {}
    for m in models:
        if progress:
            print(f"benchmark: {m} on {len(frames)} frames", flush=True)
        pred, seconds, infos[m] = predict_with(m, frames)
        offsets, calibration = element_offsets(pred, frames, split["train"])
        offsets_by_model[m], calibration_by_model[m] = offsets, [frames[i].info.get("config_id") for i in calibration]
        per_frame.append(frame_errors(m, pred, frames, seconds, split_of, offsets, calibration, refs))
    table = pd.concat(per_frame, ignore_index=True)
    summary = summarize(table)
    summary["alignment"] = (f"per-element offsets, least squares on {len(split['train'])} training frames; elements "
                            "absent from them calibrated on their pure-element frames (left out of energy errors)")
    prov = {"models": infos, "split": {SPLIT_NAMES[k]: len(v) for k, v in split.items()},
            "holdout_metals": list(holdout_metals), "holdout_fraction": holdout_fraction,
            "element_offsets_ev_per_atom": offsets_by_model, "calibration_frames": calibration_by_model,
            "n_formation_frames": len(refs),
            "out_of_domain": {"max_pressure_gpa": max_pressure_gpa, "n_frames": len(out_of_domain),
                              "config_ids": out_of_domain}, "pressure_bins_gpa": [list(b) for b in PRESSURE_BINS_GPA]}
    return summary, table, prov


def volume_benchmark(table_path: str | Path, models: Sequence[str] = DEFAULT_MODELS, settings=None) -> pd.DataFrame:
    """Relaxed volume per atom of each model against DFT-relaxed volumes.

    ``table_path``: CSV with columns ``phase, pressure_gpa, dft_volume_a3_per_atom, structure, source`` (for
    example ``data/dft/volumes.csv``, written by the dataset from its EOS points); ``structure`` is a file ASE can
    read, or ``<file>#<config_id>`` for one frame of an extxyz file (relative paths from the CSV's folder), the
    starting geometry. Rows without a DFT volume are skipped. Each model relaxes the structure at
    ``pressure_gpa`` (:func:`screening.relax.relax_at_pressure`).
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.reference.volumes import read_structure
    from screening.relax import RelaxSettings, relax_at_pressure

    path = Path(table_path)
    if not path.is_file():
        raise CandidateError(f"DFT volume table {str(path)!r} does not exist")
    dft = pd.read_csv(path)
    missing = [c for c in VOLUME_COLUMNS if c not in dft.columns]
    if missing:
        raise CandidateError(f"DFT volume table {str(path)!r} lacks column(s) {missing}; needs {list(VOLUME_COLUMNS)}")
    dft = dft[np.isfinite(pd.to_numeric(dft["dft_volume_a3_per_atom"], errors="coerce"))].reset_index(drop=True)
    structures = []
    for row in dft.itertuples():
        try:
            atoms = read_structure(row.structure, path.parent)
        except CandidateError as exc:
            raise CandidateError(f"{exc} (phase {row.phase!r} in {path.name})") from None
        atoms.calc = None
        structures.append(AseAtomsAdaptor.get_structure(atoms))
    settings = settings or RelaxSettings()
    rows = []
    for m in models:
        calc, info = get_calculator(m)
        for row, s in zip(dft.itertuples(), structures):
            res = relax_at_pressure(s, float(row.pressure_gpa), calc, settings)
            v = res["volume_a3"] / res["n_atoms"] if "volume_a3" in res else math.nan
            rows.append({"model": m, "phase": row.phase, "pressure_gpa": float(row.pressure_gpa),
                         "volume_a3_per_atom": v, "dft_volume_a3_per_atom": float(row.dft_volume_a3_per_atom),
                         "volume_error_pct": 100.0 * (v / float(row.dft_volume_a3_per_atom) - 1.0),
                         "status": res.get("status"), "warnings": "; ".join(res.get("warnings", [])),
                         "dft_source": row.source, "calculator": info.label})
    return pd.DataFrame(rows)


def plot_benchmark(per_frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Error against target pressure: |energy|, per-frame force RMSE and pressure error, by model and seen/unseen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from screening.provenance import atomic_write

    held = per_frame[per_frame["split"] != "train"].copy()
    held["force_rmse"] = np.sqrt(held["force_sq_sum"] / held["force_n"])
    panels = (("energy_error_mev_per_atom", "|energy error| (meV/atom, aligned)", True),
              ("force_rmse", "force RMSE per frame (eV/Å)", False),
              ("pressure_error_gpa", "pressure error (GPa)", False),
              ("formation_error_mev_per_atom", "formation enthalpy error (meV/atom)", False))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), constrained_layout=True)
    colors = dict(zip(held["model"].unique(), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, (col, label, absolute) in zip(axes, panels):
        for (m, split), g in held.groupby(["model", "split"], sort=False):
            y = g[col].abs() if absolute else g[col]
            ax.scatter(g["pressure_gpa"], y, s=12, alpha=0.6, edgecolors=colors[m],
                       facecolors=colors[m] if split == "seen" else "none", label=f"{m} ({split})")
        ax.set_xlabel("target pressure (GPa)")
        ax.set_ylabel(label)
        if col == "pressure_error_gpa" or col == "formation_error_mev_per_atom":
            ax.axhline(0.0, color="k", lw=0.6)
        for lo, _ in PRESSURE_BINS_GPA[1:]:
            ax.axvline(lo, color="0.7", lw=0.6, ls=":")
    axes[0].legend(fontsize=6)
    fig.suptitle(title or "ML potentials against held-out DFT frames (filled: seen metals, open: unseen)", fontsize=9)
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out


def write_benchmark(summary: pd.DataFrame, per_frame: pd.DataFrame, prov: dict, out_csv: str | Path,
                    plot: str | Path | None = None, volumes: pd.DataFrame | None = None) -> list[Path]:
    """Write the summary CSV, the per-frame CSV, the optional volume CSV and the plot with its sidecar."""
    from screening.provenance import atomic_write
    from screening.figure_provenance import write_plot_provenance

    out_csv = Path(out_csv)
    written = [atomic_write(out_csv, lambda tmp: summary.to_csv(tmp, index=False, float_format="%.5g"))]
    frames_csv = out_csv.with_name(out_csv.stem + "_frames.csv")
    written.append(atomic_write(frames_csv, lambda tmp: per_frame.to_csv(tmp, index=False, float_format="%.6g")))
    if volumes is not None:
        vol_csv = out_csv.with_name(out_csv.stem + "_volumes.csv")
        written.append(atomic_write(vol_csv, lambda tmp: volumes.to_csv(tmp, index=False, float_format="%.5g")))
    side = out_csv.with_name(out_csv.stem + "_provenance.json")  # <stem>.json is the plot's sidecar
    written.append(atomic_write(side, lambda tmp: Path(tmp).write_text(json.dumps(prov, indent=1, default=str) + "\n")))
    if plot is not None:
        png = plot_benchmark(per_frame, plot)
        models = ", ".join(prov.get("models", {}))
        write_plot_provenance(png, {"name": "potential benchmark", "models": prov.get("models", {})},
                              {k: v for k, v in prov.items() if k != "models"},
                              f"Errors of {models} against held-out GPAW frames vs target pressure "
                              f"(seen metals filled, unseen open; energies aligned per element on the training frames).")
        written.append(png)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.reference.benchmark [--data data/dft] [--models chgnet,chgnet-r2scan,chgnet-hydride]``."""
    ap = argparse.ArgumentParser(prog="python -m screening.reference.benchmark", description=__doc__.split("\n")[0])
    ap.add_argument("--data", action="append", default=None,
                    help="folder or extxyz file, repeatable (default: data/dft)")
    ap.add_argument("--with-engine-labels", action="store_true",
                    help="also every tier-3 system's GPAW training labels (what make finetune-engine trains on)")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--holdout-metals", default=None, help="default: those of the fine-tuned model's provenance")
    ap.add_argument("--holdout-fraction", type=float, default=None)
    ap.add_argument("--volumes", default=None, help="CSV of DFT volumes (phase, pressure_gpa, dft_volume_a3_per_atom, "
                                                    "structure, source); default: <data>/volumes.csv if it exists, "
                                                    "'none' to skip")
    ap.add_argument("--out", default="reports/potential_benchmark.csv")
    ap.add_argument("--plot", default="reports/potential_benchmark.png")
    args = ap.parse_args(argv)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    try:
        files = training_files(args.data, with_engine_labels=args.with_engine_labels)
        frames = load_frames(files)
        data_hash = dataset_hash(files)
        spec = next((m for m in models if is_hydride_spec(m)), None)
        ft = read_finetune_provenance(hydride_spec_dir(spec)) if spec else {}
        defaults = ft.get("settings") or FinetuneSettings().as_dict()
        holdout = (tuple(x.strip() for x in args.holdout_metals.split(",") if x.strip())
                   if args.holdout_metals is not None else tuple(defaults["holdout_metals"]))
        fraction = args.holdout_fraction if args.holdout_fraction is not None else float(defaults["holdout_fraction"])
        summary, per_frame, prov = benchmark_frames(frames, models, holdout_metals=holdout, holdout_fraction=fraction,
                                                    progress=True,
                                                    max_pressure_gpa=defaults.get("max_pressure_gpa",
                                                                                  DOMAIN_MAX_PRESSURE_GPA))
        found = [d / "volumes.csv" for d in sorted({Path(f).parent for f in files}) if (d / "volumes.csv").is_file()]
        table = args.volumes or (str(found[0]) if found else "none")
        volumes = volume_benchmark(table, models) if table != "none" else None
    except (CandidateError, CalculatorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    prov["data_hash"] = data_hash
    prov["data_files"] = file_keys(files)
    if ft and ft.get("data_hash") != data_hash:
        prov["warning"] = (f"the dataset changed since the fine-tune (data hash {str(ft.get('data_hash'))[:12]} then, "
                           f"{data_hash[:12]} now): frames added since were not trained on, whatever their split")
        print(f"warning: {prov['warning']}", file=sys.stderr)
    for p in write_benchmark(summary, per_frame, prov, args.out, args.plot, volumes):
        print(f"wrote {p}")
    cols = ["model", "split", "pressure_bin", "n_frames", "energy_rmse_mev_per_atom", "forces_rmse_ev_per_a",
            "pressure_rmse_gpa", "formation_rmse_mev_per_atom", "atom_steps_per_s"]
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
