"""Diagnostic figure of a melting estimate (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from screening.md.runner import series_array


def plot_melting(estimate, path: str | Path) -> Path:
    """Crystallinity and per-species MSD vs ramp temperature; T and crystallinity vs time in coexistence.

    T+, T-, the H-diffusion onset and T_m (with its error band) are marked.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = estimate.records
    coex = [k for k in recs if k.startswith("coexistence")]
    ncols = 3 if coex else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.0 * ncols, 4.0), constrained_layout=True)
    ax_sf, ax_msd = axes[0], axes[1]
    for key, style in (("heating", "-"), ("cooling", "--")):
        if key not in recs:
            continue
        x = series_array(recs[key], "ramp", "target_t_k")
        ax_sf.plot(x, series_array(recs[key], "ramp", "solid_fraction"), style, label=f"{key}: crystallinity")
        for sp in sorted({k[8:] for k in recs[key]["stages"].get("ramp", {}) if k.startswith("msd_lag_")}):
            if sp != "metal" and sp != "H" and "metal" in {k[8:] for k in recs[key]["stages"]["ramp"] if k.startswith("msd_lag_")}:
                continue  # individual metal elements are summarised by "metal"
            ax_msd.semilogy(x, np.clip(series_array(recs[key], "ramp", f"msd_lag_{sp}"), 1e-3, None), style,
                            label=f"{key}: {sp}")
    marks = [(estimate.t_plus_k, "T+", "tab:red"), (estimate.t_minus_k, "T-", "tab:blue"),
             (estimate.h_diffusion_onset_k, "H onset", "tab:green")]
    for ax in (ax_sf, ax_msd):
        for t, name, color in marks:
            if t is not None:
                ax.axvline(t, color=color, ls=":", label=name)
        if estimate.tm_metal_k is not None:
            err = estimate.tm_metal_err_k or 0.0
            ax.axvspan(estimate.tm_metal_k - err, estimate.tm_metal_k + err, color="k", alpha=0.15, label="T_m ± err")
        ax.set_xlabel("thermostat temperature (K)")
        ax.legend(fontsize=7)
    ax_sf.set_ylabel("solid-like fraction of metal atoms")
    ax_msd.set_ylabel("MSD over a 1 ps lag (Å²)")
    if coex:
        ax_t = axes[2]
        ax_f = ax_t.twinx()
        for k in coex:
            t = series_array(recs[k], "nph", "time_ps")
            if len(t) == 0:
                continue
            t = t - t[0]
            line, = ax_t.plot(t, series_array(recs[k], "nph", "t_k"), label=f"run {k[-1]}: T")
            ax_f.plot(t, series_array(recs[k], "nph", "solid_fraction"), ":", color=line.get_color())
        if estimate.tm_metal_k is not None:
            ax_t.axhline(estimate.tm_metal_k, color="k", lw=1)
        ax_t.set_xlabel("NPH time (ps)")
        ax_t.set_ylabel("temperature (K)  [solid: T, dotted: crystallinity]")
        ax_f.set_ylabel("solid-like fraction")
        ax_f.set_ylim(0, 1)
        ax_t.legend(fontsize=7)
    tm = "n/a" if estimate.tm_metal_k is None else f"{estimate.tm_metal_k:.0f} ± {estimate.tm_metal_err_k:.0f} K"
    fig.suptitle(f"{estimate.formula} at {estimate.pressure_gpa:g} GPa, {estimate.calculator.get('name')}: "
                 f"T_m(metal) = {tm} [{estimate.method}, {estimate.status}]", fontsize=10)
    from screening.provenance import save_figure

    path = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path
