"""Physics checks of the pressure–enthalpy tier with the default calculator (CHGNet).

    make validate-enthalpy          (results cached in $SCREENING_CACHE_DIR/results.sqlite)

1. Solid H2 volume per molecule at 50/100/150 GPa vs the Loubeyre et al. (2020) Vinet EOS.
2. Fm-3m LaH10 volume at 150 GPa vs 33.2 Å^3/La (Drozdov et al. 2019).
3. Ca–H: ΔH_r of CaH2 + H2 -> CaH4 at 40 GPa (sign) and its onset pressure.

Metal references (fcc, bcc, hcp) are relaxed too, as part of each system. Dense hydrogen is slow with CHGNet on
2 cores (a 4-atom H2 cell at 100 GPa: ~14 s per evaluation), so the first run takes long; reruns read the cache.
"""

from __future__ import annotations

import sys
import time
import warnings

warnings.filterwarnings("ignore")

import pandas as pd  # noqa: E402

from descriptors.eos import h2_volume_per_molecule  # noqa: E402
from screening.proxies.enthalpy import compute_system  # noqa: E402
from screening.structures.builder import target_volume_per_metal  # noqa: E402

CALC = sys.argv[1] if len(sys.argv) > 1 else "chgnet"


def main() -> None:
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
                     "converged": bool(r["converged"]), "steps": r["steps"]})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"  H2 Vinet fit rms {h2.fit_rms_gpa:.1f} GPa ({'used' if h2.vinet else 'rejected: Hermite interpolation used'})")

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
    conv = ca.relaxations
    print(f"  relaxations: {int(conv['converged'].sum())}/{len(conv)} converged")
    print(f"\nwall time {time.perf_counter() - t0:.0f} s (cached relaxations are reused)")


if __name__ == "__main__":
    main()
