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
    from pymatgen.core import Element

    best = best_by_metal_and_pressure(table)
    best["system"] = np.where(best["metal_fractions"] == "1", best["metals"], best["metals"] + " (" + best["metal_fractions"] + ")")
    order = best.drop_duplicates("system").assign(Z=lambda d: [Element(m).Z for m in d["metal"]]).sort_values(["Z", "system"])
    systems = order["system"].tolist()
    pressures = sorted(best["pressure_gpa"].unique())
    score = best.pivot(index="system", columns="pressure_gpa", values="prior_score").reindex(index=systems, columns=pressures)
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
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="best prior score (number = its H/M)")
    prov = table.attrs.get("provenance", {})
    ax.set_title(
        "Tier-1 prior: best score over H/M\n"
        f"{prov.get('prior_model', '')}; data sha256 {str(prov.get('prior_training_data_sha256', ''))[:12]}",
        fontsize=8,
    )
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png"))
    plt.close(fig)
    return out
