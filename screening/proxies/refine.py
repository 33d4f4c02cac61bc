"""DFT refinement as tier 2a's last step: cheap relaxations for all, DFT single points for the short list.

For a computed metal–H system (:class:`~screening.proxies.enthalpy.SystemResult`) and a pressure of its grid,
every phase that enters the hull and the hydrogenation reaction at that pressure (the lowest-enthalpy metal,
solid H2 and the best template per H/M) is recomputed with a reference calculator (GPAW PBE at
:data:`~screening.reference.dft_settings.DEFAULT_DFT_SETTINGS`) at its relaxed geometry: H = E_DFT + P·V at the
target pressure, and the DFT pressure of the cell is reported beside it (how far the relaxed geometry is from
DFT equilibrium at P). The hull and ΔH_r are then rebuilt from the DFT enthalpies, and both numbers and their
difference go into the candidate's row. The single points are labels of the result store (kind
``engine.label``) computed on the Dask runner, so they are shared with the DFT dataset and never repeated.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from screening.proxies.onset import onset_from_points
from screening.relax import EV_PER_GPA_A3

REFINE_COLUMNS = (
    "refine_status", "refine_calculator", "refine_settings", "dH_f_ev_per_atom_dft", "e_above_hull_ev_per_atom_dft",
    "dH_r_kj_per_mol_h2_dft", "dH_r_refine_diff_kj_per_mol_h2", "precursor_dft", "refine_pressure_gpa_dft",
    "onset_pressure_gpa_dft", "onset_status_dft",
)


def phases_to_refine(system, p: float) -> list:
    """The phase curves that enter the hull and ΔH_r at ``p``: best metal, H2, best template per H/M."""
    return [system.metal_ref(p), system.phases["H2"], *system.best_hydrides(p).values()]


def relaxed_primitive_cells(system, pressures: Sequence[float], names: Sequence[str] | None = None, *,
                            every_phase: bool = False) -> list:
    """``(phase curve, P, atoms, space group)`` of every phase of :func:`phases_to_refine` at each pressure (only
    ``names``, if given; with ``every_phase``, of every phase the system relaxed, the templates that lost at P
    included): the relaxed cell as spglib's exact-symmetry primitive cell, so that a DFT code uses its point group
    (:mod:`screening.structures.symmetry`). A phase whose relaxation failed at P is left out."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.structures.symmetry import standardize_primitive

    out = []
    for p in pressures:
        for curve in (list(system.phases.values()) if every_phase else phases_to_refine(system, p)):
            if names is not None and curve.name not in names:
                continue
            struct = system.structures.get((curve.name, p))
            if struct is not None:
                atoms, group = standardize_primitive(AseAtomsAdaptor.get_atoms(Structure.from_dict(struct)))
                out.append((curve, p, atoms, group))
    return out


def refine_enthalpies(system, pressures: Sequence[float], calculator: str = "gpaw",
                      settings: Any = None, *, store=None, scheduler: str | None = None, n_workers: int | None = None,
                      progress: bool = True, names: Sequence[str] | None = None) -> dict:
    """Single points of every phase of :func:`phases_to_refine` at each pressure.

    Args:
        calculator: registry name of the reference (``"gpaw"``; any other name for tests).
        settings: :class:`~screening.reference.dft_settings.DFTSettings` for GPAW (default: the converged ones);
            for other calculators, their keyword settings (dict).
        names: refine only these phases (e.g. the precursor, product and H2 of one reaction).

    Returns:
        ``{(phase name, P): {"enthalpy_ev_per_fu", "pressure_gpa", "energy_ev"}}`` for every phase that labelled
        (failures are left out and show up as a ``refine_status``).
    """
    from screening.reference.campaign import label_distributed

    if calculator == "gpaw":
        from screening.reference.dft_settings import DEFAULT_DFT_SETTINGS

        dft = settings or DEFAULT_DFT_SETTINGS
        settings_of = dft.calculator_settings
    else:
        settings_of = lambda _atoms, s=dict(settings or {}): s  # noqa: E731
    jobs = []
    for curve, p, atoms, _ in relaxed_primitive_cells(system, pressures, names):
        atoms.info["refine_of"] = f"{curve.name} @ {p:g} GPa"
        jobs.append(((curve.name, p, curve.kind), atoms))
    labelled, _ = label_distributed([a for _, a in jobs], calculator, [settings_of(a) for _, a in jobs],
                                    scheduler=scheduler, n_workers=n_workers, store=store, progress=progress)
    out = {}
    for ((name, p, kind), atoms), lab in zip(jobs, labelled):
        if lab is None:
            continue
        n_h = sum(1 for s in atoms.get_chemical_symbols() if s == "H")
        n_fu = n_h / 2 if kind == "h2" else len(atoms) - n_h
        energy = float(lab.get_potential_energy())
        out[(name, p)] = {"enthalpy_ev_per_fu": (energy + p * EV_PER_GPA_A3 * atoms.get_volume()) / n_fu,
                          "energy_ev": energy,
                          "pressure_gpa": float(-lab.get_stress(voigt=True)[:3].mean() / EV_PER_GPA_A3),
                          "label_source": lab.info.get("label_source", calculator),
                          "label_settings": lab.info.get("label_settings", "{}")}
    return out


def refined_onset(system, refined: dict, h_per_metal: float, precursor_x: float) -> tuple[float, str]:
    """Onset pressure of MH_n + H2 -> MH_x (n = ``precursor_x``) from the reference enthalpies alone: ΔH_r at every
    pressure where all phases of :func:`phases_to_refine` were refined (the short list's pressures of this system),
    then :func:`~screening.proxies.onset.onset_from_points`. Fewer than two such pressures: ``(nan,
    "unavailable: ...")`` (refine candidates at several pressures, e.g. 20, 40 and 60 GPa, to get one)."""
    pressures, dh = [], []
    for q in sorted({q for _, q in refined}):
        names = [c.name for c in phases_to_refine(system, q)]
        if any((n, q) not in refined for n in names):
            continue
        try:
            rx = system.reaction(h_per_metal, q, precursor_x=precursor_x,
                                 enthalpies={n: refined[(n, q)]["enthalpy_ev_per_fu"] for n in names})
        except KeyError:  # no relaxed precursor phase at q
            continue
        if rx:
            pressures.append(q)
            dh.append(rx["dH_r_ev_per_metal"])
    if len(pressures) < 2:
        return math.nan, f"unavailable: refined at {len(pressures)} pressure(s) of this reaction"
    return onset_from_points(pressures, dh)


def refined_columns(system, refined: dict, h_per_metal: float, p: float) -> dict:
    """The :data:`REFINE_COLUMNS` of candidate MH_x at P (P must be a grid pressure that was refined)."""
    names = [c.name for c in phases_to_refine(system, p)]
    missing = [n for n in names if (n, p) not in refined]
    if missing:
        return {"refine_status": f"not refined at {p:g} GPa: {', '.join(missing)}"}
    enthalpies = {n: refined[(n, p)]["enthalpy_ev_per_fu"] for n in names}
    table = system.hull(p, enthalpies).set_index("h_per_metal")
    if h_per_metal not in table.index:
        return {"refine_status": f"no relaxed phase with H/M = {h_per_metal:g}"}
    rx_dft = system.reaction(h_per_metal, p, enthalpies=enthalpies)
    rx = system.reaction(h_per_metal, p, precursor_x=rx_dft["precursor_h_per_metal"])
    product = system.best_hydrides(p)[h_per_metal].name
    first = refined[(product, p)]
    n = rx_dft["precursor_h_per_metal"]
    onset, onset_status = refined_onset(system, refined, h_per_metal, n)
    return {
        "refine_status": "ok",
        "refine_calculator": first["label_source"],
        "refine_settings": first["label_settings"],
        "dH_f_ev_per_atom_dft": float(table.at[h_per_metal, "dH_f_ev_per_atom"]),
        "e_above_hull_ev_per_atom_dft": float(table.at[h_per_metal, "e_above_hull_ev_per_atom"]),
        "dH_r_kj_per_mol_h2_dft": rx_dft["dH_r_kj_per_mol_h2"],
        # the same reaction (the DFT hull's precursor) with the relaxation's enthalpies
        "dH_r_refine_diff_kj_per_mol_h2": rx_dft["dH_r_kj_per_mol_h2"] - rx["dH_r_kj_per_mol_h2"],
        "precursor_dft": system.metal if n == 0 else f"{system.metal}H{n:g}",
        "refine_pressure_gpa_dft": first["pressure_gpa"],
        "onset_pressure_gpa_dft": onset,
        "onset_status_dft": onset_status,
    }


__all__ = ["REFINE_COLUMNS", "phases_to_refine", "refine_enthalpies", "refined_columns", "refined_onset",
           "relaxed_primitive_cells"]
