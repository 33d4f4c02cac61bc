"""Where is the default calculator trustworthy? GPAW (PBE) single points on CHGNet-relaxed structures.

    make setup-dft && .venv/bin/python benchmarks/compare_dft.py

For each structure CHGNet relaxed at pressure P (read from the result store; run
benchmarks/validate_enthalpy.py first), GPAW gives the pressure at the same geometry:
P_DFT − P is how far CHGNet's equation of state is from PBE there. For the reaction
CaH2 + H2 -> CaH4 it also compares the reaction energy at fixed geometries.
"""

from __future__ import annotations

import time
import warnings

warnings.filterwarnings("ignore")

import pandas as pd  # noqa: E402

from screening.calculators import get_calculator  # noqa: E402
from screening.relax import EV_PER_GPA_A3, RelaxSettings, relaxation_inputs  # noqa: E402
from screening.store import ResultStore  # noqa: E402
from screening.proxies.enthalpy import BUILDER_VERSION  # noqa: E402

# (phase label, template, metal, pressure)
CASES = [
    ("LaH10/fcc_clathrate", "fcc_clathrate", "La", 150.0),
    ("CaH4/thcr2si2", "thcr2si2", "Ca", 40.0),
    ("CaH2/fluorite", "fluorite", "Ca", 40.0),
    ("CaH2/cotunnite", "cotunnite", "Ca", 40.0),
    ("H2", "mhcp", "Ca", 40.0),
    ("H2", "mhcp", "Ca", 100.0),
    ("Ca/fcc", "fcc", "Ca", 40.0),
]


def main() -> None:
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    store = ResultStore()
    _, chg = get_calculator("chgnet")
    dft, dft_info = get_calculator("gpaw")
    print(f"reference: {dft_info.label} {dft_info.settings}")
    rows = []
    energies = {}
    for phase, template, metal, p in CASES:
        label = {"phase": phase, "template": template, "metal": metal, "builder": BUILDER_VERSION}
        res = store.get("relax", relaxation_inputs(label, p, chg, RelaxSettings()))
        if res is None or "structure" not in res:
            print(f"  {phase} at {p:g} GPa: no CHGNet relaxation in the store, skipped")
            continue
        atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(res["structure"]))
        atoms.calc = dft
        t0 = time.perf_counter()
        e = atoms.get_potential_energy()
        p_dft = -atoms.get_stress(voigt=True)[:3].mean() / EV_PER_GPA_A3
        n_fu = res["n_atoms"] / 2 if phase == "H2" else sum(1 for s in atoms.get_chemical_symbols() if s != "H")
        energies[(phase, p)] = (e / n_fu, res["energy_ev"] / n_fu)
        rows.append({"phase": phase, "pressure_gpa": p, "n_atoms": len(atoms), "P_chgnet_gpa": res["achieved_pressure_gpa"],
                     "P_gpaw_gpa": p_dft, "P_diff_gpa": p_dft - res["achieved_pressure_gpa"], "gpaw_s": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print("\nPressure at CHGNet-relaxed geometries:")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    best2 = min(("CaH2/fluorite", "CaH2/cotunnite"), key=lambda k: energies.get((k, 40.0), (9e9, 9e9))[1])
    if all(k in energies for k in (("CaH4/thcr2si2", 40.0), (best2, 40.0), ("H2", 40.0))):
        d = {src: energies[("CaH4/thcr2si2", 40.0)][i] - energies[(best2, 40.0)][i] - energies[("H2", 40.0)][i]
             for i, src in enumerate(("gpaw", "chgnet"))}
        print(f"\nReaction energy {best2} + H2 -> CaH4 at the CHGNet 40 GPa geometries (eV per Ca): "
              f"GPAW {d['gpaw']:+.3f}, CHGNet {d['chgnet']:+.3f}, difference {d['chgnet'] - d['gpaw']:+.3f}")


if __name__ == "__main__":
    main()
