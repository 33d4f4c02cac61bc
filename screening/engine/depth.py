"""Where the disorder sits in a slab: the depth-resolved liquid-like fraction over time, the uptake,
the product phase, and the figure that shows them together.

The seed study's claim is about *where* the metal sublattice disorders (a transiently molten
surface over a crystalline core), so a single liquid fraction is not enough. For every frame of a
slab trajectory (slab normal along z) :func:`analyse_slab_trajectory` applies the engine's own
per-frame analysis (:func:`screening.engine.simulate.analyse_frame`: the slab region from the metal
density, the melting tier's q6 solid-bond order parameter per metal atom with the first-shell cutoff
of the precursor crystal) and bins the metal atoms by their distance from the nearer slab surface
(:func:`~screening.engine.simulate.depth_profile`, bins of ``DEPTH_BIN_A`` = 2 Å from the surface
down to the deepest metal atom of the first frame, the last bin holding the core). It also returns H/M in the slab over time, the uptake rate (OLS
slope and its standard error over the production frames) and the product-phase check of the final
metal sublattice against a target template with the project's sublattice matcher
(:func:`product_phase_check`; the seed's product is CaH4, I4/mmm, template ``thcr2si2``).

Engine runs compute the same profile while they run (``InterfaceResult.liquid_fraction_by_depth``);
:func:`plot_interface_result` draws it with :func:`plot_depth_uptake`: a depth x time heat map of the
liquid-like fraction beside the uptake curve, and side views of the cell at the start, the middle
and the end of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.engine.simulate import (DEPTH_BIN_A, NO_MATCH, SLAB_MARGIN_A, analyse_frame, calibrate_region, depth_bins,
                                       first_shell_cutoff, is_best_match, linear_rate, match_product_phase, normal_heights,
                                       save_figure, slab_metal_structure, slab_region)
from screening.errors import CandidateError

SEED_PRODUCT_TEMPLATE = "thcr2si2"  # CaH4, I4/mmm: the seed study's product


@dataclass
class SlabTrajectoryAnalysis:
    """Result of :func:`analyse_slab_trajectory` (arrays over frames; depth bins from the surface)."""

    time_ps: np.ndarray
    depth_bins_a: np.ndarray
    liquid_fraction_by_depth: np.ndarray  # (n_frames, n_bins), NaN for an empty bin
    metal_count_by_depth: np.ndarray  # (n_frames, n_bins)
    h_per_metal_slab: np.ndarray
    uptake_rate_per_ps: float
    uptake_rate_err_per_ps: float
    product: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def mean_profile(self, last_fraction: float = 0.5) -> np.ndarray:
        """Liquid-like fraction per depth bin averaged over the last ``last_fraction`` of the frames."""
        return mean_profile(self.liquid_fraction_by_depth, last_fraction)


def mean_profile(liquid_by_depth: Any, last_fraction: float = 0.5) -> np.ndarray:
    """Per-bin mean (NaN-aware) of a frames x bins map over its last ``last_fraction`` of frames."""
    m = np.asarray(liquid_by_depth, dtype=float)
    if m.ndim != 2 or not len(m):
        return np.array([])
    tail = m[-max(1, int(math.ceil(last_fraction * len(m)))):]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(tail)
        return np.where(ok.any(axis=0), np.nansum(np.where(ok, tail, 0.0), axis=0) / np.maximum(ok.sum(axis=0), 1),
                        np.nan)


def reference_shell(reference) -> tuple[int, float, float]:
    """``(k, first-shell cutoff Å, volume per metal Å^3)`` of a bulk reference crystal (ASE Atoms, periodic)."""
    from screening.md.analysis import metal_mask, shell_size

    m = metal_mask(reference.get_chemical_symbols())
    if m.sum() < 2:
        raise CandidateError(f"the reference crystal {reference.get_chemical_formula()} needs at least 2 metal atoms")
    cell = np.array(reference.cell)
    k = shell_size(reference.positions[m], cell)
    return k, first_shell_cutoff(reference.positions[m], cell, k), abs(np.linalg.det(cell)) / int(m.sum())


def product_phase_check(structure, target_template: str = SEED_PRODUCT_TEMPLATE, h_per_metal: float | None = None) -> dict:
    """:func:`~screening.engine.simulate.match_product_phase` of a metal sublattice against every template,
    plus whether it matches ``target_template`` (``matches_target``, ``target_rms``)."""
    from screening.structures import load_templates

    if target_template not in load_templates():
        raise CandidateError(f"unknown target template {target_template!r}; valid: {sorted(load_templates())}")
    res = match_product_phase(structure, h_per_metal=h_per_metal)
    return {**res, "target": target_template, "matches_target": is_best_match(res, target_template),
            "target_rms": res["matches"].get(target_template)}


def analyse_slab_trajectory(frames: Sequence, reference, *, slab_z_range_a: tuple[float, float] | None = None,
                            times_ps: Sequence[float] | None = None, bin_a: float = DEPTH_BIN_A,
                            production_start_ps: float | None = None,
                            target_template: str | None = SEED_PRODUCT_TEMPLATE) -> SlabTrajectoryAnalysis:
    """Depth-resolved liquid-like fraction, H/M, uptake rate and final product phase of a slab trajectory.

    Args:
        frames: ASE Atoms of one run (same atoms in the same order, slab normal along z; any H2 fluid included).
        reference: the bulk precursor crystal (ASE Atoms): its first-shell size and cutoff define the
            order parameter, as in the engine runs.
        slab_z_range_a: the slab of the first frame (``InterfaceInfo.slab_z_range_a``): the region's ends
            are calibrated to it; None: the half-density points of the metal profile.
        times_ps: frame times (default ``frame.info["time_ps"]``, else the frame index).
        bin_a: depth-bin width (Å); bins run from each surface down to the deepest metal atom of the first frame.
        production_start_ps: the uptake rate uses frames from this time on (default: frames with
            ``info["stage"] == "production"`` if any, else all).
        target_template: the product phase to check the final metal sublattice against (None: no check).
    """
    from screening.md.analysis import metal_mask

    frames = list(frames)
    if not frames:
        raise CandidateError("analyse_slab_trajectory needs at least one frame")
    n = len(frames[0])
    if any(len(f) != n for f in frames):
        raise CandidateError(f"every frame must have the same atoms; frame sizes {sorted({len(f) for f in frames})}")
    is_metal = metal_mask(frames[0].get_chemical_symbols())
    if not is_metal.any():
        raise CandidateError("the trajectory has no metal atoms")
    species = next(s for s in frames[0].get_chemical_symbols() if s != "H")
    k, cutoff, v_ref = reference_shell(reference)
    cell0 = np.array(frames[0].cell)
    z0, lz0 = normal_heights(frames[0].positions, cell0)
    if slab_z_range_a is not None:
        region0 = calibrate_region(z0[is_metal], lz0, slab_z_range_a, margin_a=SLAB_MARGIN_A)
    else:
        region0 = slab_region(z0[is_metal], lz0, margin_a=SLAB_MARGIN_A)
    offsets = (region0.offset_lo, region0.offset_hi)
    bins = depth_bins(float(region0.depth(z0[is_metal]).max()), bin_a)
    if times_ps is None:
        times = np.array([float(f.info.get("time_ps", i)) for i, f in enumerate(frames)])
    else:
        times = np.asarray(times_ps, dtype=float)
        if len(times) != len(frames):
            raise CandidateError(f"times_ps has {len(times)} values for {len(frames)} frames")
    liquid, counts, hm, last = [], [], [], None
    for f in frames:
        a = analyse_frame(f.positions, np.array(f.cell), is_metal, offsets, k, cutoff, v_ref, bins)
        liquid.append(a["liquid_fraction_by_depth"])
        counts.append(a["metal_count_by_depth"])
        hm.append(a["h_per_metal_slab"])
        last = (f, a)
    hm = np.array(hm, dtype=float)
    if production_start_ps is not None:
        prod = times >= production_start_ps
    else:
        stages = [f.info.get("stage") for f in frames]
        prod = np.array([s == "production" for s in stages]) if "production" in stages else np.ones(len(frames), bool)
    rate, err = linear_rate(times[prod], hm[prod])
    f, a = last
    if target_template is None:
        product: dict = {}
    else:
        product = _final_product(f, a, is_metal, species, target_template, float(hm[-1]))
    return SlabTrajectoryAnalysis(times, bins, np.array(liquid, dtype=float), np.array(counts, dtype=int), hm, rate, err,
                                  product, {"bin_a": float(bin_a), "shell_k": int(k), "first_shell_cutoff_a": cutoff,
                                            "metal_volume_ref_a3": v_ref, "region_offsets_a": list(offsets)})


def _final_product(f, a: dict, is_metal, species: str, target_template: str, h_per_metal: float) -> dict:
    try:
        return product_phase_check(slab_metal_structure(f.positions[is_metal], np.array(f.cell), a["region"], species),
                                   target_template, h_per_metal=h_per_metal)
    except CandidateError as exc:
        return {"phase": NO_MATCH, "rms": None, "matches": {}, "equivalent": [], "target": target_template,
                "matches_target": False, "target_rms": None, "note": str(exc)}


# --------------------------------------------------------------------------- figure
def _snapshot_indices(n: int) -> list[int]:
    return sorted({0, (n - 1) // 2, n - 1}) if n else []


def plot_depth_uptake(time_ps: Sequence[float], depth_bins_a: Sequence[float], liquid_by_depth: Any,
                      h_per_metal: Sequence[float], path: str | Path, *, snapshots: Sequence = (),
                      snapshot_times_ps: Sequence[float] = (), rate: float | None = None, rate_err: float | None = None,
                      production_start_ps: float | None = None, title: str = "") -> Path:
    """Depth x time heat map of the liquid-like metal fraction beside H/M(slab) vs time, and side views
    (normal vertical) of the cell in ``snapshots`` (e.g. start, middle, end). Returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase.visualize.plot import plot_atoms

    t = np.asarray(time_ps, dtype=float)
    bins = np.asarray(depth_bins_a, dtype=float)
    m = np.asarray(liquid_by_depth, dtype=float)
    if m.ndim != 2 or m.shape != (len(t), len(bins)) or not len(t):
        raise CandidateError(f"liquid_by_depth must be frames x bins = ({len(t)}, {len(bins)}), got shape {m.shape}")
    n_snap = len(snapshots)
    fig = plt.figure(figsize=(12.0 + 1.2 * n_snap, 4.8), constrained_layout=True)
    grid = fig.add_gridspec(1, 2 + max(n_snap, 0), width_ratios=[3.2, 3.0] + [1.0] * n_snap)
    ax_map, ax_h = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    width = bins[1] - bins[0] if len(bins) > 1 else DEPTH_BIN_A
    y_edges = np.append(bins, bins[-1] + width)
    dt = np.diff(t)
    half = np.concatenate([[dt[0] if len(dt) else 0.05], dt]) / 2.0
    x_edges = np.append(t - half, t[-1] + half[-1])
    mesh = ax_map.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(m.T), vmin=0.0, vmax=1.0, cmap="inferno",
                             shading="flat")
    ax_map.invert_yaxis()  # surface on top
    ax_map.set_xlabel("time (ps)")
    ax_map.set_ylabel("depth below the slab surface (Å)")
    labels = [f"{lo:.0f}–{lo + width:.0f}" for lo in bins[:-1]] + [f"≥ {bins[-1]:.0f} (core)"]
    ax_map.set_yticks(bins + width / 2.0, labels, fontsize=7)
    fig.colorbar(mesh, ax=ax_map, label="liquid-like fraction of metal")
    ax_h.plot(t, np.asarray(h_per_metal, dtype=float), color="C0")
    rate_text = "" if rate is None or not math.isfinite(rate) else f": {rate:+.3f} ± {rate_err:.3f} (H/M)/ps"
    ax_h.set_title(f"uptake{rate_text}", fontsize=9)
    ax_h.set_xlabel("time (ps)")
    ax_h.set_ylabel("H/M in the slab")
    for ax in (ax_map, ax_h):
        if production_start_ps is not None and math.isfinite(production_start_ps):
            ax.axvline(production_start_ps, color="0.5", lw=0.8, ls="--")
    for i, atoms in enumerate(snapshots):
        ax = fig.add_subplot(grid[0, 2 + i])
        plot_atoms(atoms, ax, rotation="-90x", radii=0.5)  # viewed along y: the slab normal z points up
        ax.set_axis_off()
        when = f"{snapshot_times_ps[i]:.2f} ps" if i < len(snapshot_times_ps) else f"frame {i}"
        ax.set_title(when, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_interface_result(result, path: str | Path, frames: Sequence | None = None) -> Path:
    """:func:`plot_depth_uptake` of an engine run (:class:`~screening.engine.simulate.InterfaceResult`).

    Snapshots at the start, middle and end come from ``frames`` or, by default, the run's trajectory file
    (none if it has none).
    """
    if frames is None and result.trajectory and Path(result.trajectory).is_file():
        from ase.io import read

        frames = read(result.trajectory, ":")
    frames = list(frames or [])
    picks = _snapshot_indices(len(frames))
    cal = result.calculator or {}
    iface = result.interface or {}
    title = (f"{iface.get('precursor_formula', '')} ({iface.get('template', '')}) / H2 at {result.target_pressure_gpa:g} GPa, "
             f"{result.target_temperature_k:.0f} K, {result.status}; calculator: {cal.get('name', '')} "
             f"({cal.get('kind', '')})")
    return plot_depth_uptake(result.time_ps, result.depth_bins_a, result.depth_map(), result.h_per_metal_slab, path,
                             snapshots=[frames[i] for i in picks],
                             snapshot_times_ps=[float(frames[i].info.get("time_ps", i)) for i in picks],
                             rate=result.uptake_rate_per_ps, rate_err=result.uptake_rate_err_per_ps,
                             production_start_ps=result.production_start_ps, title=title)


__all__ = ["SEED_PRODUCT_TEMPLATE", "SlabTrajectoryAnalysis", "analyse_slab_trajectory", "mean_profile",
           "plot_depth_uptake", "plot_interface_result", "product_phase_check", "reference_shell"]
