"""Plots of the screening results (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from screening.api import best_by_metal_and_pressure  # noqa: E402
from screening.provenance import atomic_write  # noqa: E402


def plot_prior_by_metal(table: pd.DataFrame, path: str | Path) -> Path:
    """Metal-by-pressure heatmap of the best prior score, annotated with the best H/M.

    Rows are metal systems ordered by atomic number of the majority metal.
    The figure states the model and the data hash that produced it.
    """
    prov = table.attrs.get("provenance", {})
    title = ("Tier-1 prior: best score over H/M\n"
             f"{prov.get('prior_model', '')}; data sha256 {str(prov.get('prior_training_data_sha256', ''))[:12]}")
    return _best_heatmap(table, path, "prior_score", title, "best prior score (number = its H/M)")


def plot_score_by_metal(table: pd.DataFrame, path: str | Path) -> Path:
    """Metal-by-pressure heatmap of the best ``synth_score`` (the score the ranking is sorted by), annotated
    with its H/M; the title gives the weights and which tiers the terms came from."""
    weights = str(table["score_weights"].iloc[0]) if "score_weights" in table else ""
    tiers = "tier-2a hull/reaction for some rows" if table.get("e_above_hull_ev_per_atom", pd.Series(dtype=float)).notna().any() \
        else "tier-1 terms only (no tier-2a results merged)"
    title = f"Synthesizability score: best over H/M ({tiers})\nweights {weights}"
    return _best_heatmap(table, path, "synth_score", title, "best synth_score (number = its H/M)")


def _best_heatmap(table: pd.DataFrame, path: str | Path, column: str, title: str, label: str) -> Path:
    from pymatgen.core import Element

    best = best_by_metal_and_pressure(table, column)
    best["system"] = np.where(best["metal_fractions"] == "1", best["metals"], best["metals"] + " (" + best["metal_fractions"] + ")")
    order = best.drop_duplicates("system").assign(Z=lambda d: [Element(m).Z for m in d["metal"]]).sort_values(["Z", "system"])
    systems = order["system"].tolist()
    pressures = sorted(best["pressure_gpa"].unique())
    score = best.pivot(index="system", columns="pressure_gpa", values=column).reindex(index=systems, columns=pressures)
    hm = best.pivot(index="system", columns="pressure_gpa", values="h_per_metal").reindex(index=systems, columns=pressures)

    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(pressures), 1.5 + 0.22 * len(systems)))
    im = ax.imshow(score.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(pressures)), [f"{p:g}" for p in pressures])
    ax.set_yticks(range(len(systems)), systems, fontsize=7)
    ax.set_xlabel("pressure (GPa)")
    ax.set_ylabel("metal")
    for i in range(len(systems)):
        for j in range(len(pressures)):
            v, x = score.iat[i, j], hm.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{x:g}", ha="center", va="center", fontsize=6, color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label=label)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png"))
    plt.close(fig)
    return out


def _dense(system, n: int = 80) -> np.ndarray:
    return np.linspace(min(system.pressures), max(system.pressures), n)


def plot_enthalpy_system(system, path: str | Path) -> Path:
    """ΔH_f(P) per atom of every stoichiometry (best template at each P); filled markers = on the hull."""
    xs = sorted({c.h_per_metal for c in system.phases.values() if c.kind == "hydride"})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    dense = _dense(system)
    hulls = {p: system.hull(p).set_index("h_per_metal") for p in system.pressures}  # one PhaseDiagram per pressure
    for x in xs:
        y = []
        for p in dense:
            best = system.best_hydrides(p).get(x)
            if best is None:
                y.append(np.nan)
                continue
            h_m, h_h2 = system.metal_ref(p).enthalpy_at(p), system.phases["H2"].enthalpy_at(p)
            y.append((best.enthalpy_at(p) - h_m - x / 2 * h_h2) / (1 + x))
        line, = ax.plot(dense, y, label=f"{system.metal}H{x:g}")
        for p, hull in hulls.items():
            if x in hull.index:
                on = bool(hull.at[x, "on_hull"])
                ax.plot(p, hull.at[x, "dH_f_ev_per_atom"], "o", color=line.get_color(),
                        markerfacecolor=line.get_color() if on else "white")
    return _finish_pressure_plot(fig, ax, "ΔH_f (eV/atom) from M + H2",
                                 f"{system.metal}–H formation enthalpy; filled = on the hull", system, path)


def _finish_pressure_plot(fig, ax, ylabel: str, title: str, system, path) -> Path:
    """Zero line, labels, provenance in the title, legend; written atomically."""
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("pressure (GPa)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{system.calculator.label}; static lattice, no ZPE", fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out


def plot_hydrogenation(system, path: str | Path, precursors: dict | None = None) -> Path:
    """ΔH_r(P) in kJ/mol H2 for each MH_x from its precursor, with the onset pressure marked.

    ``precursors`` maps x to the precursor H/M (default: the hull precursor at the highest pressure).
    """
    xs = sorted({c.h_per_metal for c in system.phases.values() if c.kind == "hydride"})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    dense = _dense(system)
    top = max(system.pressures)
    for x in xs:
        n = (precursors or {}).get(x)
        if n is None:
            rx = system.reaction(x, top)
            if not rx:
                continue
            n = rx["precursor_h_per_metal"]
        y = [system.reaction(x, p, n).get("dH_r_kj_per_mol_h2", np.nan) for p in dense]
        label = f"{system.metal}H{n:g} → {system.metal}H{x:g}" if n else f"{system.metal} → {system.metal}H{x:g}"
        line, = ax.plot(dense, y, label=label)
        onset, status = system.onset(x, n)
        if status == "within range":
            ax.plot(onset, 0, "v", color=line.get_color(), ms=8)
            ax.annotate(f"{onset:.0f}", (onset, 0), textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center")
    return _finish_pressure_plot(fig, ax, "ΔH_r (kJ/mol H2)", f"{system.metal}–H hydrogenation enthalpy; ▼ = onset pressure",
                                 system, path)
