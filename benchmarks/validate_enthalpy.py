"""Physics checks of the pressure–enthalpy tier with a calculator (default: the project default, ``chgnet-hydride``).

    make validate-enthalpy          (results cached in $SCREENING_CACHE_DIR/results.sqlite)
    .venv/bin/python benchmarks/validate_enthalpy.py chgnet --refine gpaw   (3. also with GPAW single points)

1. Solid H2 volume per molecule at 50/100/150 GPa vs the Loubeyre et al. (2020) Vinet EOS.
2. Fm-3m LaH10 volume at 150 GPa vs 33.2 Å^3/La (Drozdov et al. 2019).
3. Ca–H: ΔH_r of CaH2 + H2 -> CaH4 at 40 GPa (sign) and its onset pressure; with ``--refine gpaw`` also from
   GPAW PBE single points of the precursor, product and H2 at the relaxed geometries (tier 2a's last step,
   :mod:`screening.proxies.refine`; H = E + PV is variational in V, so geometry errors enter to second order).

With ``--refine gpaw``, 1. also relaxes the same H2 cell with GPAW at the dataset's converged settings: what the
label theory itself gives (static lattice, no zero-point motion, no van der Waals term). A potential fine-tuned on
these labels cannot be expected to come closer to the experimental EOS than that. Each GPAW relaxation takes
~4 min on one core; all go through the result store.

Metal references (fcc, bcc, hcp) are relaxed too, as part of each system. Dense hydrogen is slow with CHGNet on
2 cores (a 4-atom H2 cell at 100 GPa: ~14 s per evaluation), so the first run takes long; reruns read the cache.
"""

from __future__ import annotations

import time
import warnings

warnings.filterwarnings("ignore")

import pandas as pd  # noqa: E402

from descriptors.eos import h2_volume_per_molecule  # noqa: E402
from screening.proxies.enthalpy import compute_system  # noqa: E402
from screening.proxies.onset import onset_from_points  # noqa: E402
from screening.relax import RelaxSettings  # noqa: E402
from screening.structures.builder import target_volume_per_metal  # noqa: E402



#: BFGS on the 4-atom H2 cell converges in ~6 steps; every step is a DFT SCF.
DFT_RELAX = RelaxSettings(fmax_ev_per_a=0.02, max_steps=80, optimizer="BFGS")


def _h2_relaxed_with_dft(calculator: str, model_rows: list[dict]) -> list[dict]:
    """Solid H2 relaxed with ``calculator`` at the DFT dataset's settings, beside the model's volumes."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from screening.calculators import get_calculator
    from screening.proxies.enthalpy import relaxation_label
    from screening.reference.dft_settings import DFTSettings
    from screening.relax import cached_relaxation
    from screening.store import ResultStore
    from screening.structures.builder import h2_structure

    store, out = ResultStore(), []
    for row in model_rows:
        p = row["pressure_gpa"]
        calc, info = get_calculator(calculator, **DFTSettings().calculator_settings(AseAtomsAdaptor.get_atoms(h2_structure(p))))
        res, _ = cached_relaxation(store, relaxation_label("H2", "mhcp", "H", "h2"), lambda p=p: h2_structure(p),
                                   p, calc, info, DFT_RELAX)
        if res.get("status") not in ("ok", "not_converged"):
            out.append({"pressure_gpa": p, "dft_A3": float("nan"), "error": res.get("error")})
            continue
        v = res["volume_a3"] / res["n_atoms"] * 2
        out.append({"pressure_gpa": p, "dft_A3": v, "loubeyre_A3": row["loubeyre_A3"],
                    "dft_vs_loubeyre_pct": 100 * (v / row["loubeyre_A3"] - 1),
                    "model_vs_dft_pct": 100 * (row["calc_A3"] / v - 1),
                    "d_HH_A": _shortest_distance(res["structure"]),
                    "converged": bool(res["converged"]), "steps": res["steps"]})
    return out


def _shortest_distance(structure) -> float:
    """Shortest H–H distance (Å) of a relaxed H2 structure (a pymatgen dict; NaN without one): 0.7–0.8 Å in
    molecular H2, ~1 Å and more once the molecules dissociate."""
    from pymatgen.core import Structure

    from screening.structures.builder import shortest_distances

    if not isinstance(structure, dict):
        return float("nan")
    return shortest_distances(Structure.from_dict(structure))["H-H"]


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="physics checks of the pressure-enthalpy tier")
    from screening.calculators import DEFAULT_CALCULATOR

    ap.add_argument("calculator", nargs="?", default=DEFAULT_CALCULATOR, help=f"registry name (default {DEFAULT_CALCULATOR})")
    ap.add_argument("--refine", choices=["gpaw"], default=None, help="also check 3. with DFT single points")
    args = ap.parse_args(argv)
    CALC, REFINE = args.calculator, args.refine  # noqa: N806
    t0 = time.perf_counter()
    print(f"calculator: {CALC}")
    # 1. Solid H2 at 50/100/150 GPa (the metal/hydride phases are not needed for this check).
    h2sys = compute_system("Ca", [50, 100, 150], CALC, templates=[])
    h2 = h2sys.phases["H2"]
    print("\n1. Solid H2 volume per molecule (Å^3), raw relaxed values")
    rows = []
    for p in (50, 100, 150):
        v_ref = float(h2_volume_per_molecule(p))
        v = h2.volume_at(p)
        r = h2sys.relaxations.query("phase == 'H2' and pressure_gpa == @p").iloc[0]
        rows.append({"pressure_gpa": p, "calc_A3": v, "loubeyre_A3": v_ref, "error_pct": 100 * (v / v_ref - 1),
                     "d_HH_A": _shortest_distance(r["structure"]), "converged": bool(r["converged"]),
                     "steps": r["steps"]})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"  H2 Vinet fit rms {h2.fit_rms_gpa:.1f} GPa ({'used' if h2.vinet else 'rejected: Hermite interpolation used'})")
    if REFINE:
        print(f"\n1b. The same H2 cell relaxed with {REFINE} (converged dataset settings, static lattice)")
        print(pd.DataFrame(_h2_relaxed_with_dft(REFINE, rows)).to_string(index=False, float_format=lambda x: f"{x:.3f}"))

    # 2. LaH10 at 150 GPa.
    la = compute_system("La", [100, 150], CALC, templates=["fcc_clathrate"])
    v = float(la.phases["LaH10/fcc_clathrate"].volumes[1])
    print(f"\n2. Fm-3m LaH10 at 150 GPa: {v:.2f} Å^3/La vs 33.2 experiment ({100 * (v / 33.2 - 1):+.1f} %); "
          f"tier-1 estimate {target_volume_per_metal('La', 10.0, 150):.2f}")

    # 3. Ca-H around 40 GPa: CaH2 (fluorite, cotunnite) + H2 -> CaH4 (I4/mmm).
    ca = compute_system("Ca", [20, 40, 60], CALC, templates=["fluorite", "cotunnite", "thcr2si2"])
    print("\n3. Ca-H: CaH2 + H2 -> CaH4")
    for p in (20, 40, 60):
        rx = ca.reaction(4.0, p, precursor_x=2.0)
        print(f"  {p:5.0f} GPa  dH_r = {rx['dH_r_kj_per_mol_h2']:+8.2f} kJ/mol H2  ({rx['dH_r_ev_per_metal']:+.3f} eV/Ca), "
              f"dV_r = {rx['dV_r_a3_per_metal']:+.2f} Å^3/Ca, precursor {rx['precursor_phase']}, product {rx['product_phase']}")
    onset, status = ca.onset(4.0, 2.0)
    print(f"  onset pressure of CaH2 + H2 -> CaH4: {onset:.1f} GPa ({status})")
    print(ca.hull(40).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if REFINE:
        from screening.proxies.refine import refine_enthalpies

        rxs = {p: ca.reaction(4.0, p, precursor_x=2.0) for p in (20, 40, 60)}
        names = {"H2"} | {rx["precursor_phase"] for rx in rxs.values()} | {rx["product_phase"] for rx in rxs.values()}
        refined = refine_enthalpies(ca, [20, 40, 60], REFINE, names=sorted(names), n_workers=1)
        print(f"\n3b. the same reaction from {REFINE} single points at the {CALC} geometries")
        dh_dft = []
        for p, rx in rxs.items():
            need = (rx["precursor_phase"], rx["product_phase"], "H2")
            if any((n, p) not in refined for n in need):
                print(f"  {p:5.0f} GPa  not refined: {[n for n in need if (n, p) not in refined]}")
                dh_dft.append(float("nan"))
                continue
            dft = ca.reaction(4.0, p, precursor_x=2.0, enthalpies={n: refined[(n, p)]["enthalpy_ev_per_fu"] for n in need})
            dh_dft.append(dft["dH_r_ev_per_metal"])
            dp = "  ".join(f"P_{n.split('/')[0]} {refined[(n, p)]['pressure_gpa']:6.1f}" for n in need)
            print(f"  {p:5.0f} GPa  dH_r = {dft['dH_r_kj_per_mol_h2']:+8.2f} kJ/mol H2 ({REFINE}) vs "
                  f"{rx['dH_r_kj_per_mol_h2']:+8.2f} ({CALC});  {REFINE} pressure of the cells (GPa): {dp}")
        onset, status = onset_from_points([20, 40, 60], dh_dft)
        print(f"  onset pressure from {REFINE}: {onset:.1f} GPa ({status}); settings "
              f"{next(iter(refined.values()))['label_settings'] if refined else '-'}")
    conv = ca.relaxations
    print(f"  relaxations: {int(conv['converged'].sum())}/{len(conv)} converged")
    print(f"\nwall time {time.perf_counter() - t0:.0f} s (cached relaxations are reused)")


if __name__ == "__main__":
    main()
