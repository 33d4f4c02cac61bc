"""The relaxed reaction phases of one M–H system, with EOS copies: the ``phase_relaxed`` and ``phase_eos`` cells of
the engine's DFT label set.

The engine's training pool (:mod:`screening.engine.training_set`) holds templates at the volume model's size and
strained, rattled, hot, slab and H2-fluid cells, but no cell at the geometry where tier 2a compares enthalpies: the
relaxed phases of the hull and the hydrogenation reaction. A potential fine-tuned on the pool alone got the
enthalpy of exactly those cells wrong (I4/mmm CaH4 0.34–0.54 eV per formula unit above GPAW at its own relaxed
cells, 20–60 GPa, while cotunnite CaH2 and H2 were within 0.25 eV), and that error is the sign of ΔH_r.

:func:`reaction_phase_cells` relaxes the system with tier 2a itself (:func:`~screening.proxies.enthalpy.
compute_system`, cached in the result store) at each pressure, takes the phases that enter the hull and the
reaction there (the lowest-enthalpy metal, solid H2 and the best template of each requested H/M, as
:func:`~screening.proxies.refine.phases_to_refine` picks them for refinement), and returns each one's
exact-symmetry primitive cell plus copies scaled to ``volume_factors`` of its volume (they bracket the DFT volume
at that pressure and keep the point group, so they cost no more than the cell). These are DFT *inputs*; nothing
here is a label.
"""

from __future__ import annotations

from typing import Sequence

from screening.errors import CandidateError

RELAXED_FAMILY = "phase_relaxed"
EOS_FAMILY = "phase_eos"
#: default EOS copies: ±6 % in volume, about ±15 GPa around 40 GPa for these hydrides
DEFAULT_VOLUME_FACTORS = (0.94, 1.06)


def reaction_phase_cells(metal: str, pressures_gpa: Sequence[float], calculator: str,
                         h_per_metal: Sequence[float] | None = (2.0, 4.0, 6.0), *,
                         volume_factors: Sequence[float] = DEFAULT_VOLUME_FACTORS, max_atoms: int = 12,
                         with_metal: bool = True, every_phase: bool = False, store=None,
                         progress: bool = True) -> list:
    """Relaxed reaction phases of ``metal``–H at each pressure and their EOS copies (unlabelled, tagged).

    Args:
        metal: the metal, e.g. ``"Ca"``.
        pressures_gpa: at least two pressures (tier 2a's H(P) needs two).
        calculator: registry name of the relaxing potential (the engine's teacher).
        h_per_metal: H contents whose best template at each pressure is included (those without a template are
            skipped; None: every H content of the library); H2 is always included, the metal when ``with_metal``.
        volume_factors: volumes of the EOS copies relative to the relaxed primitive cell.
        max_atoms: a primitive cell with more atoms is left out (the label must stay within minutes).
        every_phase: every relaxed phase of the requested kinds, not only the best template per H/M and the
            lowest metal: the hull of a fitted potential is decided among all of them, so a template that loses
            with the teacher must also lose with the fit.

    Returns:
        ``Atoms`` with ``info`` ``family`` (:data:`RELAXED_FAMILY` or :data:`EOS_FAMILY`), ``pressure_gpa`` (the
        relaxation's target), ``source`` (phase, calculator, space group, scaling), ``parent`` (the relaxed cell's
        ``config_id``, shared by its copies), ``phase``, ``volume_factor`` and ``config_id``, in the order
        pressure, phase, relaxed cell before its copies.

    Raises:
        CandidateError: a volume factor outside 0.5–1.5 or equal to 1, or fewer than two pressures.
    """
    from screening.engine.training_set import tag_configuration
    from screening.proxies.enthalpy import compute_system
    from screening.proxies.refine import relaxed_primitive_cells
    from screening.structures.symmetry import scaled_primitives

    for f in volume_factors:
        if not 0.5 <= float(f) <= 1.5 or abs(float(f) - 1.0) < 1e-9:
            raise CandidateError(f"volume factor {f!r} must be in 0.5–1.5 and not 1")
    system = compute_system(metal, sorted(set(float(p) for p in pressures_gpa)), calculator, store=store,
                            progress=progress)
    wanted = None if h_per_metal is None else {float(x) for x in h_per_metal}
    out = []
    for curve, p, primitive, group in relaxed_primitive_cells(system, system.pressures, every_phase=every_phase):
        if ((curve.kind == "hydride" and wanted is not None and curve.h_per_metal not in wanted)
                or (curve.kind == "metal" and not with_metal)):
            continue
        if len(primitive) > max_atoms:
            continue
        what = f"{curve.name} relaxed with {system.calculator.label} at {p:g} GPa (tier 2a); {group} primitive cell"
        base = tag_configuration(primitive, RELAXED_FAMILY, p, what, parent="")
        base.info.update(parent=base.info["config_id"], phase=curve.name, volume_factor=1.0)
        out.append(base)
        for factor, cell in zip(volume_factors, scaled_primitives(primitive, volume_factors)[0]):
            copy = tag_configuration(cell, EOS_FAMILY, p, f"{what}; scaled isotropically to {factor:g} x its volume",
                                     parent=base.info["config_id"])
            copy.info.update(phase=curve.name, volume_factor=float(factor))
            out.append(copy)
    return out


__all__ = ["DEFAULT_VOLUME_FACTORS", "EOS_FAMILY", "RELAXED_FAMILY", "reaction_phase_cells"]
