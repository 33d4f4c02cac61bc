"""Plots of the screening results (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from screening.api import best_by_metal_and_pressure  # noqa: E402
from screening.formulas import hydride_formula  # noqa: E402
from screening.provenance import save_figure  # noqa: E402


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
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def _curve_pressures(system, phases, n: int = 80) -> tuple[np.ndarray, str]:
    """Pressures at which to draw a curve built from ``phases``, and how it is drawn.

    A dense grid only when every phase has an accepted EOS fit (then the curve between grid points is the
    EOS's); otherwise just the grid pressures, joined by straight segments, so nothing between two computed
    points is invented (a cubic through two points can dip where no data support it)."""
    grid = np.array(sorted(system.pressures), float)
    if len(grid) >= 2 and phases and all(c.vinet is not None for c in phases):
        return np.union1d(np.linspace(grid[0], grid[-1], n), grid), "EOS-interpolated"
    return grid, "straight segments"


def _phases_of(system, *xs: float) -> list:
    """Every phase that can enter a quantity of the hydrides ``xs``: the metals, H2, all templates of each x."""
    return [c for c in system.phases.values()
            if c.kind in ("metal", "h2") or (c.kind == "hydride" and any(abs(c.h_per_metal - x) < 1e-9 for x in xs))]


def plot_enthalpy_system(system, path: str | Path) -> Path:
    """ΔH_f(P) per atom of every stoichiometry (best template at each P); markers = computed pressures
    (filled = on the hull), lines = the EOS between them where every phase has a good fit, else straight."""
    xs = sorted({c.h_per_metal for c in system.phases.values() if c.kind == "hydride"})
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    hulls = {p: system.hull(p).set_index("h_per_metal") for p in system.pressures}  # one PhaseDiagram per pressure
    styles = set()
    for x in xs:
        pressures, style = _curve_pressures(system, _phases_of(system, x))
        styles.add(style)
        y = []
        for p in pressures:
            best = system.best_hydrides(p).get(x)
            if best is None:
                y.append(np.nan)
                continue
            h_m, h_h2 = system.metal_ref(p).enthalpy_at(p), system.phases["H2"].enthalpy_at(p)
            y.append((best.enthalpy_at(p) - h_m - x / 2 * h_h2) / (1 + x))
        line, = ax.plot(pressures, y, "-" if style == "EOS-interpolated" else "--",
                        label=hydride_formula(system.metal, x))
        for p, hull in hulls.items():
            if x in hull.index:
                on = bool(hull.at[x, "on_hull"])
                ax.plot(p, hull.at[x, "dH_f_ev_per_atom"], "o", color=line.get_color(),
                        markerfacecolor=line.get_color() if on else "white")
    return _finish_pressure_plot(fig, ax, "ΔH_f (eV/atom) from M + H2",
                                 f"{system.metal}–H formation enthalpy; ● computed (filled = on the hull); lines: "
                                 f"{' / '.join(sorted(styles))}", system, path)


def _finish_pressure_plot(fig, ax, ylabel: str, title: str, system, path) -> Path:
    """Zero line, labels, provenance in the title, legend outside the axes; written atomically."""
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("pressure (GPa)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{system.calculator.label}; static lattice, no ZPE", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def hydrogenation_curves(system, precursors: dict | None = None) -> list[dict]:
    """What :func:`plot_hydrogenation` draws, one dict per reaction MH_n + (x−n)/2 H2 → MH_x:

    ``label``, ``x``, ``n``, ``grid`` (computed pressures) and ``grid_dh`` (ΔH_r there, kJ/mol H2),
    ``pressures``/``dh`` (the drawn curve: EOS-interpolated or the grid points only, see
    :func:`_curve_pressures`), ``style``, and ``onset``/``onset_status`` from :meth:`SystemResult.onset`
    (where ΔH_r turns negative with increasing pressure).

    ``precursors`` maps x to the precursor H/M (default: the hull precursor at the highest pressure).
    """
    xs = sorted({c.h_per_metal for c in system.phases.values() if c.kind == "hydride"})
    grid = np.array(sorted(system.pressures), float)
    top = grid[-1]
    out = []
    for x in xs:
        n = (precursors or {}).get(x)
        if n is None:
            rx = system.reaction(x, top)
            if not rx:
                continue
            n = rx["precursor_h_per_metal"]
        pressures, style = _curve_pressures(system, _phases_of(system, x, n))

        def dh(ps):
            return np.array([system.reaction(x, p, n).get("dH_r_kj_per_mol_h2", np.nan) for p in ps])

        onset, status = system.onset(x, n)
        out.append({"x": x, "n": n, "label": f"{hydride_formula(system.metal, n)} → {hydride_formula(system.metal, x)}",
                    "grid": grid, "grid_dh": dh(grid), "pressures": pressures, "dh": dh(pressures), "style": style,
                    "onset": onset, "onset_status": status})
    return out


def _label_levels(values: list[float], min_gap: float) -> list[int]:
    """Stacking level per label so that labels closer than ``min_gap`` (in x) do not overlap."""
    levels: list[int] = [0] * len(values)
    placed: list[tuple[float, int]] = []
    for i in sorted(range(len(values)), key=lambda k: values[k]):
        used = {lvl for v, lvl in placed if abs(v - values[i]) < min_gap}
        levels[i] = next(k for k in range(len(values) + 1) if k not in used)
        placed.append((values[i], levels[i]))
    return levels


def plot_hydrogenation(system, path: str | Path, precursors: dict | None = None) -> Path:
    """ΔH_r(P) in kJ/mol H2 for each MH_x from its precursor, with the onset pressure marked (▼ where ΔH_r
    turns negative with increasing pressure, i.e. where the reaction becomes favourable).

    ``precursors`` maps x to the precursor H/M (default: the hull precursor at the highest pressure).
    Computed pressures are markers; lines follow the EOS only where every phase has a good fit.
    """
    curves = hydrogenation_curves(system, precursors)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    onsets = [c for c in curves if c["onset_status"] == "within range"]
    span = float(max(system.pressures) - min(system.pressures)) or 1.0
    levels = _label_levels([c["onset"] for c in onsets], 0.08 * span)
    styles = set()
    for c in curves:
        styles.add(c["style"])
        extra = f" (onset {c['onset']:.0f} GPa)" if c["onset_status"] == "within range" else f" ({c['onset_status']})"
        line, = ax.plot(c["pressures"], c["dh"], "-" if c["style"] == "EOS-interpolated" else "--",
                        label=c["label"] + extra)
        ax.plot(c["grid"], c["grid_dh"], "o", color=line.get_color(), ms=4)
        c["color"] = line.get_color()
    if onsets:  # head room above the zero line for the stacked labels: 8 pt + 11 pt per level + the text
        lo, hi = ax.get_ylim()
        need_px, height = (8 + 11 * max(levels) + 14) * fig.dpi / 72.0, 0.9 * ax.bbox.height  # points -> pixels
        if height > need_px and lo < 0:
            ax.set_ylim(lo, max(hi, need_px * -lo / (height - need_px)))
    for c, level in zip(onsets, levels):
        ax.plot(c["onset"], 0, "v", color=c["color"], ms=9, markeredgecolor="k", markeredgewidth=0.5, zorder=5)
        ax.annotate(f"{c['onset']:.0f}", (c["onset"], 0), textcoords="offset points", xytext=(0, 8 + 11 * level),
                    fontsize=7, ha="center", color=c["color"],
                    arrowprops={"arrowstyle": "-", "color": c["color"], "lw": 0.5} if level else None)
    return _finish_pressure_plot(fig, ax, "ΔH_r (kJ/mol H2)",
                                 f"{system.metal}–H hydrogenation enthalpy; ▼ = onset (ΔH_r turns negative); "
                                 f"● computed; lines: {' / '.join(sorted(styles))}", system, path)
