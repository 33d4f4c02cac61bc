"""Which crystal each metal atom's neighbourhood resembles: the product phase of a slab's core, atom by atom.

The product check of :mod:`screening.engine.depth` turns the whole slab into one periodic crystal (its thickness
becomes the c axis) and matches it against the templates. That answers "is the slab CaH4?" only when the slab is
crystalline from surface to surface *and* its thickness is still a whole number of periods; a disordered surface
or an expanded slab gives "no match" even over an ordered interior. The seed's claim is about the interior (a
molten surface over a core that recrystallises as CaH4), so this module looks at atoms instead:

Per-atom shell fingerprint (:func:`site_fingerprints`)
    The sorted distances from a metal atom to its :data:`N_NEIGHBOURS` nearest metal atoms (periodic images
    included), divided by their mean: scale-free, so a compressed or expanded crystal has the fingerprint of its
    arrangement. It is :func:`screening.structures.sublattice.shell_fingerprint` per atom instead of averaged over
    sites, with a local length scale because a slab has no volume per metal.
Template sites (:func:`template_site_fingerprints`)
    The same fingerprint for every site of every template's metal sublattice (data/structure_templates.json).
    Templates whose sublattices are the same (rock salt, fluorite, BiF3 and the fcc clathrate are all fcc) give
    the same fingerprints and form one group, named by its members joined with ``/``.
Classification (:func:`classify_sites`)
    Each atom takes the group with the smallest mean absolute difference to one of its sites (``delta``). An
    atom whose best delta exceeds ``max_delta`` (default :data:`MAX_DELTA`) is ``unassigned`` (an arrangement not
    in the library, or a distorted one). I4/mmm (ThCr2Si2) lies 0.06-0.09 from every other group; fcc, hcp,
    cotunnite and A15 lie only 0.018-0.035 from each other, so the check answers "I4/mmm or not" more surely
    than it tells the close-packed stackings apart (the tests measure both).
Liquid-like atoms and thermal noise (:func:`core_phase`)
    The fingerprint alone does not recognise a liquid: the averaged positions of a dense liquid have
    close-packed-like shells. So an atom counts as crystalline only when the engine's own q6 criterion
    (:func:`screening.engine.simulate.analyse_frame`, first shell of the precursor crystal) finds it solid-like in
    at least half of the frames of the window; the others are :data:`LIQUID`. The fingerprints of the crystalline
    atoms come from their positions averaged over the window (:func:`unwrapped_positions`), which removes most of
    the thermal blur of a 1473-K crystal.
Core (:func:`core_phase`)
    The metal atoms at least ``core_depth_a`` (default the surface set's 4 Å) inside the slab of the averaged
    positions (:func:`screening.engine.simulate.slab_region`, half-density points of the metal profile): the
    fraction of them in each group, and H/M in that band.

The start of each engine run (the precursor's core) is part of the output, so a reader sees the method recognise
the precursor before it says anything about the product: ``python -m screening.engine.local_phase
reports/engine_*.extxyz --out core_phase.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screening.errors import CandidateError

N_NEIGHBOURS = 14
#: An atom is assigned its nearest template group only when its fingerprint is within this mean |difference| of one
#: of the group's sites (fingerprints are distances over their mean, 0.85-1.34). Between groups of the library the
#: smallest distances are 0.018-0.035 (fcc, hcp clathrate, cotunnite, A15: close-packed-like shells) and
#: 0.06-0.09 for ThCr2Si2 (I4/mmm) against every other group (printed by the tests): the check tells I4/mmm apart
#: from the rest more surely than it tells the close-packed arrangements apart from each other.
MAX_DELTA = 0.05
UNASSIGNED = "unassigned"
LIQUID = "liquid-like"
WINDOW_PS = 1.0


def site_fingerprints(positions: np.ndarray, cell: np.ndarray, pbc: Sequence[bool] | bool = True,
                      n_neighbours: int = N_NEIGHBOURS, atoms_of_interest: np.ndarray | None = None) -> np.ndarray:
    """Sorted distances to the ``n_neighbours`` nearest atoms, over their mean, per atom (rows).

    Args:
        positions: (n, 3) Cartesian positions of the metal atoms (Å).
        cell: 3x3 cell (rows, Å).
        pbc: periodicity per axis.
        atoms_of_interest: indices whose fingerprints are wanted (default: all); every atom counts as a neighbour.
    """
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    pos = np.asarray(positions, dtype=float).reshape(-1, 3)
    if len(pos) < 2:
        raise CandidateError(f"site fingerprints need at least 2 atoms, got {len(pos)}")
    atoms = Atoms("X" * len(pos), positions=pos, cell=cell, pbc=pbc)
    want = np.arange(len(pos)) if atoms_of_interest is None else np.asarray(atoms_of_interest, dtype=int)
    volume = abs(np.linalg.det(np.asarray(cell, dtype=float)))
    r = 2.0 * (volume / len(pos)) ** (1.0 / 3.0) if volume > 0 else 6.0
    for _ in range(20):
        i, d = neighbor_list("id", atoms, r)
        counts = np.bincount(i, minlength=len(pos))
        if counts[want].min() >= n_neighbours:
            break
        r *= 1.3
    else:
        raise CandidateError(f"fewer than {n_neighbours} neighbours within {r:.1f} Å of some atom")
    order = np.lexsort((d, i))
    i, d = i[order], d[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    shells = np.array([d[starts[a]:starts[a] + n_neighbours] for a in want])
    return shells / shells.mean(axis=1, keepdims=True)


@functools.lru_cache(maxsize=4)
def _template_groups(n_neighbours: int) -> tuple[tuple[str, np.ndarray], ...]:
    from screening.structures.sublattice import template_metal_sublattices

    groups: list[tuple[list[str], np.ndarray]] = []
    for name, s in template_metal_sublattices().items():
        fp = site_fingerprints(s.cart_coords, s.lattice.matrix, True, n_neighbours)  # periodic images included
        fp = np.unique(np.round(fp, 6), axis=0)
        for members, ref in groups:
            if ref.shape == fp.shape and np.abs(ref - fp).max() < 1e-4:
                members.append(name)
                break
        else:
            groups.append(([name], fp))
    return tuple(("/".join(m), fp) for m, fp in groups)


def template_site_fingerprints(n_neighbours: int = N_NEIGHBOURS) -> dict[str, np.ndarray]:
    """Group name (templates sharing a metal sublattice joined by ``/``) -> (n_sites, n_neighbours) fingerprints."""
    return {name: fp.copy() for name, fp in _template_groups(n_neighbours)}


def classify_sites(fingerprints: np.ndarray, templates: dict[str, np.ndarray] | None = None,
                   max_delta: float = MAX_DELTA) -> tuple[list[str], np.ndarray, list[str]]:
    """Best template group per atom.

    Returns:
        ``(labels, deltas, names)``: ``labels[i]`` is the group with the smallest mean |difference| to one of its
        sites, or :data:`UNASSIGNED` when that exceeds ``max_delta``; ``deltas`` is (n_atoms, n_groups) in the
        order of ``names``.
    """
    fps = np.atleast_2d(np.asarray(fingerprints, dtype=float))
    groups = template_site_fingerprints(fps.shape[1]) if templates is None else templates
    names = list(groups)
    deltas = np.column_stack([np.abs(fps[:, None, :] - groups[n][None, :, :]).mean(axis=2).min(axis=1)
                              for n in names])
    best = deltas.argmin(axis=1)
    labels = [names[b] if deltas[k, b] <= max_delta else UNASSIGNED for k, b in enumerate(best)]
    return labels, deltas, names


def unwrapped_positions(frames: Sequence) -> np.ndarray:
    """(n_frames, n_atoms, 3) positions of ``frames`` (same atoms, same order), each frame unwrapped against the one
    before by the minimum image of the displacement (the cell of each frame)."""
    if not frames:
        raise CandidateError("unwrapped_positions needs at least one frame")
    ref = np.array(frames[0].positions, dtype=float)
    out = [ref]
    for f in frames[1:]:
        cell = np.array(f.cell, dtype=float)
        frac = (np.array(f.positions, dtype=float) - ref) @ np.linalg.inv(cell)
        ref = ref + (frac - np.round(frac)) @ cell
        out.append(ref)
    return np.array(out)


def core_phase(frames: Sequence, reference, *, core_depth_a: float | None = None, max_delta: float = MAX_DELTA,
               n_neighbours: int = N_NEIGHBOURS) -> dict[str, Any]:
    """Per-atom phase of the metal atoms in a slab's core over a window of frames.

    An atom that is solid-like (the engine's q6 criterion, :func:`screening.engine.simulate.analyse_frame`, with the
    first shell of ``reference``) in fewer than half of the frames is :data:`LIQUID`; any other atom takes the template
    group of its shell fingerprint in the averaged positions (:func:`classify_sites`). The fingerprint alone cannot
    tell a dense liquid from a close-packed crystal: averaged over a picosecond, most liquid-like atoms of the 1473-K
    engine run have cotunnite-like shells.

    Args:
        frames: consecutive ASE Atoms of one run (slab normal along z), e.g. one picosecond.
        reference: the bulk precursor crystal (ASE Atoms), as for
            :func:`screening.engine.depth.analyse_slab_trajectory`.
        core_depth_a: minimum depth below the nearer slab surface (default ``SURFACE_DEPTH_A``, 4 Å).

    Returns:
        ``{"n_core", "fractions" (label -> fraction of core atoms, largest first), "phase" (the largest),
        "h_per_metal_core", "h_per_metal_surface" (H/M in the core band and in the band above it),
        "mean_delta" (template group -> mean fingerprint delta over the core's crystalline atoms), "n_slab",
        "fractions_slab" (the same over every metal atom of the slab), "core_depth_a", "max_delta", "n_neighbours",
        "n_frames", "time_ps": [first, last]}``.
    """
    from screening.engine.depth import reference_shell
    from screening.engine.simulate import SLAB_MARGIN_A, SURFACE_DEPTH_A, analyse_frame, normal_heights, slab_region
    from screening.md.analysis import metal_mask

    frames = list(frames)
    if not frames:
        raise CandidateError("core_phase needs at least one frame")
    depth_min = SURFACE_DEPTH_A if core_depth_a is None else float(core_depth_a)
    is_metal = metal_mask(frames[0].get_chemical_symbols())
    if is_metal.sum() < n_neighbours + 1:
        raise CandidateError(f"{int(is_metal.sum())} metal atoms; need more than {n_neighbours}")
    k, cutoff, v_ref = reference_shell(reference)
    solid, core_band, surface_band = [], [], []
    for f in frames:  # one slab analysis per frame: q6 flags, and the region that defines the H/M bands
        a = analyse_frame(f.positions, np.array(f.cell), is_metal, (0.0, 0.0), k, cutoff, v_ref)
        solid.append(a["solid_like"])
        depth_all = a["region"].depth(normal_heights(f.positions, np.array(f.cell))[0])
        core_band.append(_band_h_per_metal(depth_all, is_metal, depth_min))
        surface_band.append(_band_h_per_metal(depth_all, is_metal, -SLAB_MARGIN_A, depth_min))
    solid = np.mean(solid, axis=0)
    cell = np.array(frames[-1].cell, dtype=float)
    metal_idx = np.flatnonzero(is_metal)
    pos = unwrapped_positions([f[metal_idx] for f in frames]).mean(axis=0)
    z, lz = normal_heights(pos, cell)
    depth = slab_region(z, lz).depth(z)
    in_slab = np.flatnonzero(depth >= 0.0)
    if not (depth >= depth_min).any():
        raise CandidateError(f"no metal atom is {depth_min} Å inside the slab (deepest {depth.max():.2f} Å)")
    groups, deltas, names = classify_sites(site_fingerprints(pos, cell, True, n_neighbours, in_slab),
                                           max_delta=max_delta)
    crystalline = solid[in_slab] >= 0.5
    labels = np.where(crystalline, groups, LIQUID)
    in_core = depth[in_slab] >= depth_min
    core = _fractions(labels[in_core])
    ordered = in_core & crystalline
    times = [float(f.info.get("time_ps", np.nan)) for f in (frames[0], frames[-1])]
    return {"n_core": int(in_core.sum()), "fractions": core, "phase": next(iter(core)),
            "h_per_metal_core": float(np.nanmean(core_band)),
            "h_per_metal_surface": float(np.nanmean(surface_band)),
            "mean_delta": {n: (float(deltas[ordered, j].mean()) if ordered.any() else None)
                           for j, n in enumerate(names)},
            "n_slab": int(len(in_slab)), "fractions_slab": _fractions(labels),
            "core_depth_a": depth_min, "max_delta": max_delta, "n_neighbours": n_neighbours,
            "n_frames": len(frames), "time_ps": times}


def _band_h_per_metal(depth: np.ndarray, is_metal: np.ndarray, lo_a: float, hi_a: float = np.inf) -> float:
    """H atoms over metal atoms with ``depth`` (every atom's, below the nearer surface of its frame's slab) in
    [lo_a, hi_a); NaN without metal in the band. Band counts carry a boundary bias (a CaH2 crystal reads about 2.4 in
    the core band and 3.1-3.3 in the surface band), so compare them over time, not with the formula."""
    inside = (depth >= lo_a) & (depth < hi_a)
    n_m = int((inside & is_metal).sum())
    return float((inside & ~is_metal).sum()) / n_m if n_m else float("nan")


def _fractions(labels: np.ndarray) -> dict[str, float]:
    if not len(labels):
        return {}
    names, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(names[k]): float(counts[k] / len(labels)) for k in order}


def read_trajectory(path: str | Path) -> list:
    """Every frame of an engine trajectory (extxyz); a missing file is a :class:`CandidateError` naming it."""
    from ase.io import read

    if not Path(path).is_file():
        raise CandidateError(f"trajectory {path} not found")
    return read(path, ":")


def core_phase_series(frames: Sequence, reference, window_ps: float = WINDOW_PS, **kwargs) -> list[dict[str, Any]]:
    """:func:`core_phase` over consecutive windows of ``window_ps`` (frames carry ``info["time_ps"]``)."""
    frames = list(frames)
    t = np.array([float(f.info.get("time_ps", np.nan)) for f in frames])
    if not len(t) or not np.isfinite(t).all():
        raise CandidateError("every frame needs info['time_ps'] for a windowed series")
    if not window_ps > 0:
        raise CandidateError(f"window_ps must be positive, got {window_ps!r}")
    out = []
    for lo in np.arange(t[0], t[-1] + 1e-9, window_ps):
        sel = [f for f, ti in zip(frames, t) if lo - 1e-9 <= ti < lo + window_ps - 1e-9]
        if len(sel) >= 2:
            out.append(core_phase(sel, reference, **kwargs))
    return out


def final_core_phase(trajectory: str | Path, reference, window_ps: float = WINDOW_PS) -> dict[str, Any]:
    """:func:`core_phase` of the last ``window_ps`` of an engine trajectory (extxyz with ``time_ps`` per frame);
    ``{"phase": "", "note": why}`` when the file is missing or cannot be analysed."""
    path = Path(trajectory)
    try:
        frames = read_trajectory(path)
        t = np.array([float(f.info.get("time_ps", np.nan)) for f in frames])
        if np.isfinite(t).all():
            last = [f for f, ti in zip(frames, t) if ti >= t[-1] - window_ps + 1e-9]
        else:
            last = frames[-1:]
        return core_phase(last, reference)
    except (CandidateError, ValueError, KeyError, IndexError) as exc:
        return {"phase": "", "note": f"{path.name}: {exc}"}


def plot_core_phase(runs: dict[str, Sequence[dict]], path: str | Path, title: str = "") -> Path:
    """Stacked fractions of the core's Ca atoms by phase over time (one panel per run, windows from
    :func:`core_phase_series`), with H/M of the core band on a second axis. Returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from screening.provenance import save_figure

    if not runs:
        raise CandidateError("plot_core_phase needs at least one run")
    labels: list[str] = []
    for series in runs.values():
        for w in series:
            labels += [k for k in w["fractions"] if k not in labels]
    first = [k for k in (LIQUID, "cotunnite", "thcr2si2") if k in labels]
    labels = first + sorted(k for k in labels if k not in first)
    colours = dict(zip(labels, plt.cm.tab10(np.arange(len(labels)) % 10)))
    hms = [w["h_per_metal_core"] for series in runs.values() for w in series if np.isfinite(w["h_per_metal_core"])]
    hm_lim = (min(hms) - 0.1, max(hms) + 0.1) if hms else (0.0, 1.0)  # one H/M scale for every panel
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.8), squeeze=False, constrained_layout=True)
    for ax, (name, series) in zip(axes[0], runs.items()):
        if not series:
            raise CandidateError(f"run {name!r} has no windows to plot")
        t = np.array([0.5 * (w["time_ps"][0] + w["time_ps"][1]) for w in series])
        stack = np.array([[w["fractions"].get(k, 0.0) for w in series] for k in labels])
        ax.stackplot(t, stack, labels=labels, colors=[colours[k] for k in labels], alpha=0.85)
        ax.set_xlim(t.min(), t.max())
        ax.set_ylim(0, 1)
        ax.set_xlabel("time (ps)")
        ax.set_ylabel("fraction of core metal atoms")
        ax.set_title(name, fontsize=9)
        hm = ax.twinx()
        hm.plot(t, [w["h_per_metal_core"] for w in series], "k.-", lw=1.2, label="H/M, core band")
        hm.set_ylabel("H/M in the core band")
        hm.set_ylim(*hm_lim)
    axes[0][0].legend(loc="lower left", fontsize=7, framealpha=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def precursor_crystal(metal: str, h_per_metal: float, pressure_gpa: float, template: str | None = None):
    """The bulk precursor crystal of an engine interface (ASE Atoms): the template the interface builder cuts."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.engine.interface import choose_template
    from screening.structures import build_structure

    tmpl = choose_template(float(h_per_metal), template)
    return AseAtomsAdaptor.get_atoms(build_structure(tmpl, metal, float(pressure_gpa), primitive=False))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screening.engine.local_phase TRAJ.extxyz [...] --out core_phase.json``: the phase of the slab core
    of each engine trajectory in windows of ``--window`` ps."""
    ap = argparse.ArgumentParser(prog="python -m screening.engine.local_phase", description=__doc__.split("\n")[0])
    ap.add_argument("trajectories", nargs="+", help="extxyz trajectories of interface runs (frames with time_ps)")
    ap.add_argument("--metal", default="Ca")
    ap.add_argument("--precursor-h", type=float, default=2.0, help="H/M of the precursor slab")
    ap.add_argument("--template", default="cotunnite", help="the precursor's template")
    ap.add_argument("--pressure", type=float, default=40.0, help="GPa (the precursor crystal's density)")
    ap.add_argument("--window", type=float, default=WINDOW_PS, help="averaging window, ps")
    ap.add_argument("--core-depth", type=float, default=None, help="Å below the nearer surface (default 4)")
    ap.add_argument("--out", default=None, help="JSON file for the series (default: print only)")
    ap.add_argument("--plot", default=None, help="PNG of the core's phase fractions over time, one panel per run")
    args = ap.parse_args(argv)

    try:
        reference = precursor_crystal(args.metal, args.precursor_h, args.pressure, args.template)
    except (CandidateError, KeyError, ValueError) as exc:
        print(f"error: precursor {args.metal}H{args.precursor_h:g} ({args.template}): {exc}", file=sys.stderr)
        return 2
    result = {"settings": {"metal": args.metal, "precursor_h_per_metal": args.precursor_h, "template": args.template,
                           "pressure_gpa": args.pressure, "window_ps": args.window, "n_neighbours": N_NEIGHBOURS,
                           "max_delta": MAX_DELTA, "code_version": _code_version()}, "runs": {}}
    for path in args.trajectories:
        p = Path(path)
        try:
            series = core_phase_series(read_trajectory(p), reference, args.window, core_depth_a=args.core_depth)
        except (CandidateError, ValueError, KeyError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        result["runs"][p.name] = series
        for w in series:
            top = ", ".join(f"{k} {v:.2f}" for k, v in list(w["fractions"].items())[:3])
            print(f"{p.name} {w['time_ps'][0]:6.2f}-{w['time_ps'][1]:6.2f} ps  core n={w['n_core']:3d}  {top}")
    if args.plot:
        plot_core_phase(result["runs"], args.plot, title=f"core (>= {args.core_depth or 4:g} Å deep) of "
                        f"{args.metal}H{args.precursor_h:g} slabs at {args.pressure:g} GPa, {args.window:g}-ps windows")
    if args.out:
        from screening.provenance import atomic_write

        atomic_write(args.out, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=1)))
    return 0


def _code_version() -> str:
    from screening.reference.dataset import code_version

    return code_version()


if __name__ == "__main__":
    sys.exit(main())
