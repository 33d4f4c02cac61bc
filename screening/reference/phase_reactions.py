"""Reaction enthalpies of the labelled reaction phases: the relaxing model against GPAW at the model's own cells.

    make phase-reactions [CALC=chgnet-hydride]      (python -m screening.reference.phase_reactions [CALC] [--out CSV])

Reads ``data/dft_phases`` (``make phase-labels``; nothing is relabelled) and, for every metal and pressure there,
compares the hydrogenation enthalpies of the labelled hydrides MH_x in excess H2,

    g(x) = H(MH_x) − (x/2) H(H2)      per metal atom, and   ΔH_r(x0 → x) = [g(x) − g(x0)] / ((x − x0)/2),

the reference x0 being the lowest labelled H/M (kJ/mol H2), from three sources at the same cells:

* ``model``: CALC (default: the default calculator) at the relaxed cell, H = E + P·V at the target pressure;
* ``dft_point``: GPAW at that cell, H = E + P·V (the cell's own GPAW pressure is reported beside it);
* ``dft_scan``: GPAW's E(V) through the cell and its two isotropic EOS copies (a parabola in V), H = min over V of
  E(V) + P·V inside the sampled range (internal coordinates are not relaxed).

The phase with the lowest g(x) is the one that coexists with excess H2 at that pressure: the product the hull
predicts when hydrogen is in excess. Every row names the model's checkpoint and the labels' settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from screening.proxies.enthalpy import EV_TO_KJ_PER_MOL as KJ_PER_MOL_PER_EV
from screening.relax import EV_PER_GPA_A3


def _enthalpies(frames: list, p: float) -> dict:
    """GPAW single-point and volume-scan enthalpy (eV per cell) of a relaxed cell and its EOS copies."""
    base = next(a for a in frames if float(a.info["volume_factor"]) == 1.0)
    point = base.get_potential_energy() + p * EV_PER_GPA_A3 * base.get_volume()
    v = np.array([a.get_volume() for a in frames])
    e = np.array([a.get_potential_energy() for a in frames])
    scan = np.nan
    if len(frames) >= 3:
        grid = np.linspace(v.min(), v.max(), 401)
        scan = float(np.min(np.polyval(np.polyfit(v, e, 2), grid) + p * EV_PER_GPA_A3 * grid))
    return {"base": base, "dft_point": float(point), "dft_scan": scan,
            "dft_pressure_gpa": float(-np.mean(base.get_stress()[:3]) / EV_PER_GPA_A3)}


def phase_reactions(frames: Sequence, calculator) -> pd.DataFrame:
    """One row per (metal, pressure, hydride phase) of labelled reaction-phase frames (``info``: ``metal``,
    ``pressure_gpa``, ``phase``, ``volume_factor``; solid H2 as phase ``"H2"`` of any metal at that pressure): g(x)
    per source (eV per metal atom), ΔH_r from the lowest labelled H/M (kJ/mol H2; NaN for that phase itself), and
    ``with_excess_h2_<source>``, the phase of lowest g at its (metal, P). ``calculator`` is the model (an ASE
    calculator). A (metal, P) without solid H2 is left out."""
    from pymatgen.core import Composition

    rows = []
    groups: dict = {}
    for a in frames:
        groups.setdefault((str(a.info["metal"]), float(a.info["pressure_gpa"]), str(a.info["phase"])), []).append(a)
    def with_model(ph: dict, p: float) -> dict:
        b = ph["base"].copy()
        b.calc = calculator
        ph["model"] = b.get_potential_energy() + p * EV_PER_GPA_A3 * b.get_volume()
        return ph

    # solid H2 at P is one cell whatever the metal: its label is stored once, under the metal labelled first
    h2_at = {k[1]: with_model(_enthalpies(v, k[1]), k[1]) for k, v in groups.items() if k[2] == "H2"}
    for metal, p in sorted({k[:2] for k in groups if k[2] != "H2"}):
        if p not in h2_at:
            continue
        phases = {k[2]: with_model(_enthalpies(v, p), p) for k, v in groups.items()
                  if k[:2] == (metal, p) and k[2] != "H2"}
        h2 = h2_at[p]
        n_h2 = len(h2["base"]) / 2
        for name, ph in phases.items():
            comp = Composition(ph["base"].get_chemical_formula())
            n_m = comp.num_atoms - comp["H"]
            x = comp["H"] / n_m
            row = {"metal": metal, "pressure_gpa": p, "phase": name, "h_per_metal": x,
                   "dft_pressure_gpa": ph["dft_pressure_gpa"]}
            for src in ("model", "dft_point", "dft_scan"):
                row[f"g_{src}_ev_per_metal"] = ph[src] / n_m - x / 2 * h2[src] / n_h2
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # the reference phase of each (metal, P): its lowest labelled H/M
    ref = table.loc[table.groupby(["metal", "pressure_gpa"])["h_per_metal"].idxmin()].set_index(
        ["metal", "pressure_gpa"]).reindex(pd.MultiIndex.from_frame(table[["metal", "pressure_gpa"]]))
    dx = (table["h_per_metal"] - ref["h_per_metal"].to_numpy()).to_numpy()
    for src in ("model", "dft_point", "dft_scan"):
        g = table[f"g_{src}_ev_per_metal"]
        g0 = ref[f"g_{src}_ev_per_metal"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            table[f"dH_r_{src}_kj_per_mol_h2"] = np.where(dx > 0, (g - g0) / (dx / 2) * KJ_PER_MOL_PER_EV, np.nan)
        by_system = table.groupby(["metal", "pressure_gpa"])[f"g_{src}_ev_per_metal"]
        complete = by_system.transform(lambda v: bool(v.notna().all())).astype(bool)  # no choice among partial data
        table[f"with_excess_h2_{src}"] = table.index.isin(by_system.idxmin().dropna().to_numpy()) & complete
    return table


def plot_parity(table: pd.DataFrame, path: str | Path, model_label: str) -> Path:
    """ΔH_r by the model against the GPAW volume scan, one colour per metal, marker by pressure; the diagonal and
    the zero lines (a point off the diagonal across a zero line has the wrong sign)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.lines import Line2D

    t = table.dropna(subset=["dH_r_model_kj_per_mol_h2", "dH_r_dft_scan_kj_per_mol_h2"])
    fig, ax = plt.subplots(figsize=(6.0, 5.5))
    markers = dict(zip(sorted(t["pressure_gpa"].unique()), "ov^sDP*X"))
    metals = sorted(t["metal"].unique())
    for i, metal in enumerate(metals):
        for p, gp in t[t["metal"] == metal].groupby("pressure_gpa"):
            ax.scatter(gp["dH_r_dft_scan_kj_per_mol_h2"], gp["dH_r_model_kj_per_mol_h2"], color=f"C{i % 10}",
                       marker=markers[p], s=28)
    lim = np.nanmax(np.abs(t[["dH_r_model_kj_per_mol_h2", "dH_r_dft_scan_kj_per_mol_h2"]].to_numpy())) * 1.05
    ax.plot([-lim, lim], [-lim, lim], "k-", lw=0.8)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.axvline(0, color="0.6", lw=0.6)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="ΔH_r, GPAW PBE volume scan (kJ/mol H2)",
           ylabel=f"ΔH_r, {model_label} (kJ/mol H2)", title="MH_x0 + H2 → MH_x at the model's relaxed cells")
    by_metal = [Line2D([], [], color=f"C{i % 10}", marker="o", ls="", label=m) for i, m in enumerate(metals)]
    by_p = [Line2D([], [], color="k", marker=m, ls="", label=f"{p:g} GPa") for p, m in markers.items()]
    ax.add_artist(ax.legend(handles=by_metal, fontsize=7, ncol=2, loc="upper left"))
    ax.legend(handles=by_p, fontsize=7, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def error_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per metal (and ``all``): the number of reactions, the RMS and mean of model − GPAW scan ΔH_r, and the RMS of
    GPAW single point − GPAW scan (how much the volume scan moves the DFT number), in kJ/mol H2."""
    d = table.dropna(subset=["dH_r_model_kj_per_mol_h2", "dH_r_dft_scan_kj_per_mol_h2"]).assign(
        model=lambda t: t["dH_r_model_kj_per_mol_h2"] - t["dH_r_dft_scan_kj_per_mol_h2"],
        point=lambda t: t["dH_r_dft_point_kj_per_mol_h2"] - t["dH_r_dft_scan_kj_per_mol_h2"])

    def row(t: pd.DataFrame) -> dict:
        return {"n": len(t), "model_rms": float(np.sqrt((t["model"] ** 2).mean())),
                "model_mean": float(t["model"].mean()),
                "dft_point_rms": float(np.sqrt((t["point"] ** 2).mean()))}

    rows = {metal: row(t) for metal, t in d.groupby("metal")}
    rows["all"] = row(d)
    return pd.DataFrame.from_dict(rows, orient="index")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.reference.phase_reactions [CALC] [--labels DIR] [--out CSV]``; exit 2 on bad input."""
    import warnings

    from screening.calculators import CalculatorError, checkpoint_identity, get_calculator
    from screening.reference.phase_labels import DEFAULT_OUT_DIR, committed_frames

    warnings.filterwarnings("ignore", module="chgnet")
    ap = argparse.ArgumentParser(prog="python -m screening.reference.phase_reactions",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("calculator", nargs="?", default="chgnet-hydride")
    ap.add_argument("--labels", default=str(DEFAULT_OUT_DIR))
    ap.add_argument("--out", default="reports/phase_reactions.csv")
    ap.add_argument("--plot", default=None, help="parity figure (default: the CSV's path with .png)")
    args = ap.parse_args(argv)
    frames = committed_frames(args.labels)
    if not frames:
        print(f"error: no phase labels in {args.labels} (make phase-labels)", file=sys.stderr)
        return 2
    try:
        calc, info = get_calculator(args.calculator)
    except CalculatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = phase_reactions(frames, calc)
    manifest = json.loads((Path(args.labels) / "manifest.json").read_text())
    table["model"] = info.label
    table["model_checkpoint_sha256"] = checkpoint_identity(args.calculator)
    table["dft_settings"] = json.dumps(manifest.get("dft_settings"), sort_keys=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.6g")
    from screening.figure_provenance import write_plot_provenance

    png = plot_parity(table, args.plot or Path(args.out).with_suffix(".png"), info.name)
    write_plot_provenance(png, info, {"labels": str(args.labels), "dft_settings": manifest.get("dft_settings")},
                          "Hydrogenation enthalpies of the labelled reaction phases: the model against GPAW "
                          "(volume scan through the EOS copies) at the model's relaxed cells.")
    show = table[["metal", "pressure_gpa", "phase", "dft_pressure_gpa", "dH_r_model_kj_per_mol_h2",
                  "dH_r_dft_point_kj_per_mol_h2", "dH_r_dft_scan_kj_per_mol_h2", "with_excess_h2_model",
                  "with_excess_h2_dft_scan"]]
    print(show.to_string(index=False, float_format=lambda v: f"{v:+.1f}"))
    print("\nΔH_r, the model and the GPAW single point against the GPAW volume scan (kJ/mol H2):")
    print(error_summary(table).to_string(float_format=lambda v: f"{v:.1f}"))
    chosen = table[table["with_excess_h2_dft_scan"]].set_index(["metal", "pressure_gpa"])["phase"]
    by_model = table[table["with_excess_h2_model"]].set_index(["metal", "pressure_gpa"])["phase"]
    agree = chosen.eq(by_model.reindex(chosen.index))
    print(f"\nphase in excess H2, model = GPAW (scan): {int(agree.sum())} of {len(agree)} (metal, P) with every "
          f"phase labelled")
    print(f"wrote {args.out}, {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
